"""Production: no defaults for secrets, so a missing one stops the site at start."""

from django.core.exceptions import ImproperlyConfigured

from config.email_webhooks import tracking_provider, webhook_auth_problem

from .base import *  # noqa: F403
from .base import env

DEBUG = False
SECRET_KEY = env("SECRET_KEY")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
DATABASES = {"default": env.db("DATABASE_URL")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
# Wagtail's live preview shows our own pages in a same-origin frame, so DENY
# would break page editing; other sites still cannot frame us.
X_FRAME_OPTIONS = "SAMEORIGIN"
SILENCED_SYSTEM_CHECKS = ["security.W019"]
SESSION_COOKIE_HTTPONLY = True
# A working day at most, however busy (idle sessions end sooner: STAFF_SESSION_IDLE_MINUTES):
# staff sessions carry personal data.
STAFF_SESSION_MAX_HOURS = env.float("STAFF_SESSION_MAX_HOURS", default=8)

EMAIL_BACKEND = env("EMAIL_BACKEND")
EMAIL_TRACKING_PROVIDER = tracking_provider(EMAIL_BACKEND)
# The tracking webhook suppresses addresses: open to anyone, it would let anyone stop our email.
_webhook_problem = webhook_auth_problem(EMAIL_TRACKING_PROVIDER, ANYMAIL)  # noqa: F405
if _webhook_problem:
    raise ImproperlyConfigured(_webhook_problem)
CACHE_MIDDLEWARE_SECONDS = env.int("PAGE_CACHE_SECONDS", default=30)
TASKS["default"]["BACKEND"] = "django_tasks_db.DatabaseBackend"  # noqa: F405  (run `manage.py db_worker`)
# Read here, refused by donations/checks.py if missing or wrong (every managed
# command and gunicorn's start run the checks), each with its own message.
PRODUCTION = True
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", default="")
STRIPE_PUBLISHABLE_KEY = env("STRIPE_PUBLISHABLE_KEY", default="")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET", default="")
# Where rate limits read the visitor's address: must be chosen (the proxy's header, or REMOTE_ADDR).
RATELIMIT_IP_META_KEY = env("RATELIMIT_IP_META_KEY", default="")
# Redis (redis://…, through django-redis), shared by every worker so that rate limits count across them.
CACHES = {"default": cache_optional(env.cache("CACHE_URL", default="locmemcache://"))}  # noqa: F405
# The load balancer's health check may come over plain HTTP (see config/health.py).
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
ADMINS = [("Site admins", address) for address in env.list("ADMIN_EMAILS", default=[])]
