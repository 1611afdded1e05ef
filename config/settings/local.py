"""Development: safe defaults so `make run` works with no variables set."""

from pathlib import Path

import environ

from .base import *  # noqa: F403
from .base import BASE_DIR, STRIPE_JS_URL, WAGTAILADMIN_BASE_URL, env

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env("SECRET_KEY", default="development-only-not-secret-0f6c1d4e9b8a")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405
# One process in development and tests, so its memory cache is shared enough for rate limits.
SILENCED_SYSTEM_CHECKS = ["django_ratelimit.E003", "django_ratelimit.W001"]

# While `make run` runs, its local Stripe writes its address and test keys to this
# file, so that manage.py in a second shell (charge_monthly_gifts, …) reaches it too.
# A STRIPE_SECRET_KEY in the environment means real keys: the file is then ignored.
LOCAL_STRIPE_ENV = Path(env("LOCAL_STRIPE_ENV", default=str(BASE_DIR / ".local-stripe.env")))
if not env("STRIPE_SECRET_KEY", default="") and LOCAL_STRIPE_ENV.is_file():
    environ.Env.read_env(LOCAL_STRIPE_ENV)
    STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", default="")
    STRIPE_PUBLISHABLE_KEY = env("STRIPE_PUBLISHABLE_KEY", default="")
    STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET", default="")
    STRIPE_API_BASE = env("STRIPE_API_BASE", default="")
    STRIPE_JS_URL = env("STRIPE_JS_URL", default=STRIPE_JS_URL)
    WAGTAILADMIN_BASE_URL = env("WAGTAILADMIN_BASE_URL", default=WAGTAILADMIN_BASE_URL)  # links in emails

# The demo logins' authenticator key (load_demo_data gives it to admin, fundraiser and
# finance), published in the README so the demo needs no phone: development only,
# never in production, where every person enrols their own authenticator.
DEMO_STAFF_TOTP_KEY = env("DEMO_STAFF_TOTP_KEY", default="62726967687477656c6c2d64656d6f2d32666121")
