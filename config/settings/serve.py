"""`make serve`: production's settings and start-up checks, served over plain
HTTP on 127.0.0.1 with the local Stripe and mail printed to the console.

Only what this machine supplies is given a default here (a local database, Redis,
console mail, REMOTE_ADDR since no proxy stands in front); the Stripe keys come
from the local Stripe's file while `make serve` runs it, so without it the
checks refuse to start, as production's would. Nothing else of production changes
but HTTPS, which plain HTTP on 127.0.0.1 cannot have."""

import os
from pathlib import Path

import environ

_PROJECT = Path(__file__).resolve().parent.parent.parent
# Written by make serve's local Stripe while it runs (keys, address, webhook secret).
environ.Env.read_env(os.environ.get("SERVE_STRIPE_ENV", str(_PROJECT / ".serve-stripe.env")))
# Its own database and cache, whatever DATABASE_URL a shell holds for the tests.
os.environ["DATABASE_URL"] = os.environ.get("SERVE_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/brightwell_serve")
os.environ["CACHE_URL"] = os.environ.get("SERVE_CACHE_URL", "redis://127.0.0.1:6379/13")
for _name, _value in {
    "SECRET_KEY": "serve-on-127.0.0.1-only-not-secret-5c2e8f1a9d7b4e6f0a3c8d2b7e9f1a4c",
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend",
    "RATELIMIT_IP_META_KEY": "REMOTE_ADDR",
}.items():
    os.environ.setdefault(_name, _value)

from .production import *  # noqa: E402, F403

# Plain HTTP: no redirect to HTTPS, cookies sent without TLS, no HSTS.
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_HSTS_SECONDS = 0
SECURE_PROXY_SSL_HEADER = None
