"""Tests: fast hashers, mail kept in memory, the real database from DATABASE_URL."""

from .base import *  # noqa: F403

DEBUG = False
SECRET_KEY = "test-only-not-secret"
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
EMAIL_TRACKING_PROVIDER = "postmark"  # locmem stands in for Postmark, whose tracking webhook the tests call
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405
WAGTAILADMIN_BASE_URL = "http://testserver"
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
# One process in development and tests, so its memory cache is shared enough for rate limits.
SILENCED_SYSTEM_CHECKS = ["django_ratelimit.E003", "django_ratelimit.W001"]
import tempfile  # noqa: E402

MEDIA_ROOT = tempfile.mkdtemp(prefix="brightwell-test-media-")  # demo images and uploads stay out of the project
PRIVATE_FILES_ROOT = tempfile.mkdtemp(prefix="brightwell-test-private-")  # and imported files too

# SQLite's in-memory test database uses shared-cache table locks, which fail at once
# (rather than wait) when the browser tests' live server writes while a test reads.
# A file-based test database waits like a real one.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / ".test-db.sqlite3")}  # noqa: F405
