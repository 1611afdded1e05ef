"""Settings shared by every environment. Everything that differs between
machines comes from environment variables, each one documented in README.md."""

from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONCE, NONE, SELF, UNSAFE_INLINE

from config.email_webhooks import tracking_provider

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)
# True in production only: the start-up checks (donations/checks.py) then refuse to run without Stripe, etc.
PRODUCTION = False
SECRET_KEY = env("SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    # Ours, lowest floor first (an app imports only those below it: README, Architecture).
    "supporters",
    "campaigns",
    "donations",
    "finance",
    "cms",
    # Wagtail
    "wagtail.contrib.forms",
    "wagtail.contrib.redirects",
    "wagtail.contrib.settings",
    "wagtail.embeds",
    "wagtail.sites",
    "wagtail.users",
    "wagtail.snippets",
    "wagtail.documents",
    "wagtail.images",
    "wagtail.search",
    "wagtail.admin",
    "wagtail",
    "modelcluster",
    "taggit",
    # Third party
    "anymail",
    "import_export",
    "phonenumber_field",
    "django_countries",
    "django_filters",
    "django_ratelimit",
    "django_tasks",
    "django_tasks_db",
    # Staff sign-in: a second factor (TOTP) and lockout after repeated failures
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "auditlog",
    "csp",
    # Django
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sitemaps",
    "django.contrib.humanize",
]

MIDDLEWARE = [
    # Whole public pages are cached for a short while (PAGE_CACHE_SECONDS): a
    # campaign on TV is read by far more people than give. Staff, admin and
    # personal pages are never cached (Vary: Cookie, never_cache).
    "django.middleware.cache.UpdateCacheMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "config.security.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # A signed-in staff member reaches nothing of the admin until their code is
    # checked (or, with no device yet, until they enrol one).
    "config.staff_sign_in.StaffTwoFactorMiddleware",
    "config.staff_sign_in.StaffSessionLimitMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Changes to personal data made in the admin are logged with who made them (supporters.audit).
    "supporters.audit.StaffAuditMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "wagtail.contrib.redirects.middleware.RedirectMiddleware",
    "django.middleware.cache.FetchFromCacheMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes asks
]
CACHE_MIDDLEWARE_SECONDS = env.int("PAGE_CACHE_SECONDS", default=0)
CACHE_MIDDLEWARE_KEY_PREFIX = "pages"

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "wagtail.contrib.settings.context_processors.settings",
                "csp.context_processors.nonce",
            ],
        },
    },
]

# SQLite file in the project unless DATABASE_URL says otherwise (PostgreSQL in production).
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
# A kept connection is checked before reuse, so one that a database restart
# dropped is replaced, not handed to a request to fail.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = DATABASES["default"]["CONN_MAX_AGE"] != 0
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A transaction takes SQLite's write lock when it begins, so two writers at once
    # (the browser's return and the webhook for one gift) wait their turn rather than
    # one failing with "database is locked" when it upgrades from reading to writing.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"transaction_mode": "IMMEDIATE", "timeout": 20})
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Staff sign-in (README: Staff accounts and sign-in). Every staff login needs a
# TOTP code after its password; repeated failures for a username from one address
# lock that pair out for a while (axes_reset_username / axes_reset unlock early).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("STAFF_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.float("STAFF_LOCKOUT_MINUTES", default=30))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# The address is read where the rate limits read it (RATELIMIT_IP_META_KEY): one setting for both.
AXES_CLIENT_IP_CALLABLE = "config.client_address.client_ip"
AXES_LOCKOUT_CALLABLE = "config.staff_sign_in.locked_out"
# Sessions end after this long without a request, and when the browser closes;
# production also ends them this many hours after signing in, however busy.
SESSION_COOKIE_AGE = env.int("STAFF_SESSION_IDLE_MINUTES", default=30) * 60
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
STAFF_SESSION_MAX_HOURS = env.float("STAFF_SESSION_MAX_HOURS", default=0)  # 0: no cap
DEMO_STAFF_TOTP_KEY = ""  # development only (local.py): the demo logins' published authenticator key

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "static_collected"
STATICFILES_DIRS = [BASE_DIR / "cms" / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = env("MEDIA_ROOT", default=str(BASE_DIR / "media"))
# Files staff upload that hold personal data (imports): never served, unlike MEDIA_ROOT.
PRIVATE_FILES_ROOT = env("PRIVATE_FILES_ROOT", default=str(BASE_DIR / "private"))
# The largest file an import takes (a larger one is refused with a message: split it).
IMPORT_MAX_MB = env.int("IMPORT_MAX_MB", default=40)
# How long an imported file (and the rows its report shows) is kept: purge_import_files, nightly.
IMPORT_FILE_DAYS = env.int("IMPORT_FILE_DAYS", default=90)
# A file larger than this is checked and imported by the task worker, not in the web request.
IMPORT_BACKGROUND_MB = env.float("IMPORT_BACKGROUND_MB", default=2.0)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

LOGIN_URL = "wagtailadmin_login"

# Mail: every message goes through Django's mail API, so any django-anymail
# backend can carry it. Provider settings are read from ANYMAIL_* variables,
# e.g. ANYMAIL_POSTMARK_SERVER_TOKEN becomes ANYMAIL["POSTMARK_SERVER_TOKEN"].
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Brightwell Children's Trust <supporters@brightwell.example>")
SERVER_EMAIL = env("SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)
ANYMAIL = {key.removeprefix("ANYMAIL_"): value for key, value in env.ENVIRON.items() if key.startswith("ANYMAIL_")}
# Only this provider's tracking webhook is mounted (config/email_webhooks.py).
EMAIL_TRACKING_PROVIDER = tracking_provider(EMAIL_BACKEND)

# Stripe. With no secret key the site pays against localstripe (see README).
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", default="")
STRIPE_PUBLISHABLE_KEY = env("STRIPE_PUBLISHABLE_KEY", default="")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET", default="")
STRIPE_API_BASE = env("STRIPE_API_BASE", default="")
STRIPE_JS_URL = env("STRIPE_JS_URL", default="https://js.stripe.com/v3/")
# A call to Stripe gives up after STRIPE_TIMEOUT_SECONDS without an answer and is
# tried again STRIPE_MAX_NETWORK_RETRIES times (same idempotency key): at most
# about 2 x 10 s + 1 s, inside gunicorn's 30 s worker timeout, when Stripe stalls.
STRIPE_MAX_NETWORK_RETRIES = env.int("STRIPE_MAX_NETWORK_RETRIES", default=1)
STRIPE_TIMEOUT_SECONDS = env.float("STRIPE_TIMEOUT_SECONDS", default=10.0)
# Estimate of Stripe's UK card fee, offered to donors who choose to cover it.
STRIPE_FEE_BASIS_POINTS = env.int("STRIPE_FEE_BASIS_POINTS", default=150)
STRIPE_FEE_FIXED_PENCE = env.int("STRIPE_FEE_FIXED_PENCE", default=20)

# Giving
DONATION_MINIMUM_PENCE = env.int("DONATION_MINIMUM_PENCE", default=100)
DONATION_MAXIMUM_PENCE = env.int("DONATION_MAXIMUM_PENCE", default=1_000_000)
DONATION_RATE_LIMIT_PER_IP = env("DONATION_RATE_LIMIT_PER_IP", default="10/h")
DONATION_RATE_LIMIT_PER_EMAIL = env("DONATION_RATE_LIMIT_PER_EMAIL", default="5/h")
# Where the visitor's address is, for rate limits: REMOTE_ADDR, or the proxy's header.
RATELIMIT_IP_META_KEY = env("RATELIMIT_IP_META_KEY", default="REMOTE_ADDR")
MONTHLY_RETRY_DAYS = [3, 7]  # after a failed monthly charge: retry 3 days later, then 7; then past due

# Rate limits need a cache that every worker shares: Redis in production
# (production.py requires CACHE_URL); one process's memory in development.
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}


def cache_optional(cache: dict) -> dict:
    """Redis is a cache here, never the only copy of anything: if it stops, every
    cache call misses (logged) and the site goes on without it, rather than each
    request failing. Short timeouts, so a Redis that hangs costs little more."""
    if cache["BACKEND"] == "django_redis.cache.RedisCache":
        cache.setdefault("OPTIONS", {}).update(
            {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 1})
    return cache


CACHES["default"] = cache_optional(CACHES["default"])
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
# With the cache down the rate limits cannot count, and django-ratelimit would then
# refuse every gift (fail closed). We let gifts through (fail open): turning every
# donor away is a certain loss, while card testing in the same minutes still meets
# Stripe Radar, the form's honeypot and CSRF, and the logged cache errors alert us.
RATELIMIT_FAIL_OPEN = True

# Background work (Django's task framework, django-tasks). In production the
# database backend queues work for `manage.py db_worker`; TASK_BACKEND=immediate
# runs each task at once, in the process that enqueued it (development, tests).
TASKS = {
    "default": {
        "BACKEND": {
            "database": "django_tasks_db.DatabaseBackend",
            "immediate": "django_tasks.backends.immediate.ImmediateBackend",
        }[env("TASK_BACKEND", default="immediate")],
    }
}

# Mailings: recipients per batch a worker claims, batch chains started per
# mailing (run at least as many `db_worker` processes), and how long a claimed
# or in-flight row may sit untouched before `resume_mailings` treats its worker as dead.
MAILING_BATCH_SIZE = env.int("MAILING_BATCH_SIZE", default=200)
MAILING_WORKERS = env.int("MAILING_WORKERS", default=2)
MAILING_STALE_MINUTES = env.int("MAILING_STALE_MINUTES", default=15)

# Wagtail
CHARITY_NAME = env("CHARITY_NAME", default="Brightwell Children's Trust")
WAGTAIL_SITE_NAME = CHARITY_NAME
OTP_TOTP_ISSUER = CHARITY_NAME  # the name staff see beside the code in their authenticator app

# Gift Aid (HMRC's rules as applied here: docs/gift-aid.md). The accounting year end
# bounds aggregated rows and the four-year claim limit.
GIFT_AID_ACCOUNTING_YEAR_END = tuple(int(part) for part in env("GIFT_AID_ACCOUNTING_YEAR_END", default="03-31").split("-"))
# Gifts of this much or less go on aggregated schedule rows (HMRC: £20); 0 never aggregates.
GIFT_AID_AGGREGATE_MAX_PENCE = env.int("GIFT_AID_AGGREGATE_MAX_PENCE", default=2000)
GIFT_AID_DEADLINE_WARNING_DAYS = env.int("GIFT_AID_DEADLINE_WARNING_DAYS", default=90)
# What the Charities Online claim (R68 XML) says of the charity and who sends it.
GIFT_AID_HMRC = {
    "CHARITY_REFERENCE": env("HMRC_CHARITY_REFERENCE", default="AB12345"),
    "REGULATOR": env("HMRC_REGULATOR", default="CCEW"),
    "REGULATOR_NUMBER": env("HMRC_REGULATOR_NUMBER", default="1234567"),
    "OFFICIAL_TITLE": env("HMRC_OFFICIAL_TITLE", default=""),
    "OFFICIAL_FIRST_NAME": env("HMRC_OFFICIAL_FIRST_NAME", default="Finance"),
    "OFFICIAL_LAST_NAME": env("HMRC_OFFICIAL_LAST_NAME", default="Officer"),
    "OFFICIAL_POSTCODE": env("HMRC_OFFICIAL_POSTCODE", default="SW1A 1AA"),
    "OFFICIAL_PHONE": env("HMRC_OFFICIAL_PHONE", default="02070000000"),
    "SENDER_ID": env("HMRC_SENDER_ID", default=""),
    "SENDER_PASSWORD": env("HMRC_SENDER_PASSWORD", default=""),
    "VENDOR_ID": env("HMRC_VENDOR_ID", default=""),
    "PRODUCT_NAME": "Brightwell",
    "PRODUCT_VERSION": "1.0",
    "GATEWAY_TEST": env.bool("HMRC_GATEWAY_TEST", default=True),
    # GASDS: whether the charity is connected to others (they then share one £8,000 limit).
    "GASDS_CONNECTED_CHARITIES": env.bool("HMRC_GASDS_CONNECTED_CHARITIES", default=False),
}
WAGTAILADMIN_BASE_URL = env("WAGTAILADMIN_BASE_URL", default="http://127.0.0.1:8000")
WAGTAILSEARCH_BACKENDS = {"default": {"BACKEND": "wagtail.search.backends.database"}}
WAGTAIL_I18N_ENABLED = False
WAGTAILIMAGES_EXTENSIONS = ["gif", "jpg", "jpeg", "png", "webp"]
# Uploads are bounded in size and kind: the fundraising page's photo comes from the public.
WAGTAILIMAGES_MAX_UPLOAD_SIZE = 10 * 1024 * 1024
WAGTAILIMAGES_MAX_IMAGE_PIXELS = 40_000_000  # a decompression bomb is refused before it is decoded
# Documents are served from the site's own address: no HTML, SVG or scripts that would run there.
WAGTAILDOCS_EXTENSIONS = ["csv", "docx", "ods", "odt", "pdf", "pptx", "rtf", "txt", "xlsx"]
WAGTAILDOCS_MAX_UPLOAD_SIZE = 20 * 1024 * 1024
TAGGIT_CASE_INSENSITIVE = True
# No Gravatar: it would send a hash of each staff email to a third party.
WAGTAIL_GRAVATAR_PROVIDER_URL = None
# No call from staff browsers to wagtail.org for the latest version (the policy's connect-src
# keeps the admin to our own host); upgrades come with deploys.
WAGTAIL_ENABLE_UPDATE_CHECK = False

# Content Security Policy (django-csp; config/security.py adds Stripe's origins).
# Inline scripts carry the request's nonce; Wagtail's admin and our progress bars
# set style attributes, which no nonce can cover, so only attributes may be inline.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "style-src-attr": [UNSAFE_INLINE],
        "img-src": [SELF, "data:", "blob:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        # Our own pages in Wagtail's preview; videos in stories (Wagtail's YouTube and Vimeo embeds).
        "frame-src": [SELF, "https://www.youtube.com", "https://www.youtube-nocookie.com",
                      "https://player.vimeo.com"],
        "frame-ancestors": [SELF],
        "form-action": [SELF],
        "base-uri": [SELF],
        "object-src": [NONE],
        "report-uri": env.list("CSP_REPORT_URI", default=[]) or None,
    },
}
if env.bool("CSP_REPORT_ONLY", default=False):
    # Only report what the policy would block (a new third-party script being tried out).
    CONTENT_SECURITY_POLICY_REPORT_ONLY, CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY, None

# Browser features no page here uses are refused, for us and for any frame (django-permissions-policy).
PERMISSIONS_POLICY = {
    "camera": [], "microphone": [], "geolocation": [], "usb": [], "serial": [], "hid": [], "bluetooth": [],
    "midi": [], "magnetometer": [], "gyroscope": [], "accelerometer": [], "display-capture": [],
    "browsing-topics": [], "interest-cohort": [],
    # Stripe's card frames may ask for the Payment Request API.
    "payment": ["self", "https://js.stripe.com"],
}
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

# The audit log of personal data (supporters.AuditEntry; README, Staff guide).
AUDITLOG_LOGENTRY_MODEL = "supporters.AuditEntry"
AUDITLOG_STORE_JSON_CHANGES = True

# Supporters
PHONENUMBER_DEFAULT_REGION = "GB"
COUNTRIES_FIRST = ["GB", "IE"]
COUNTRIES_FIRST_BREAK = "──────────"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}, "django_tasks": {"level": "WARNING"},
                # axes: its start-up line at INFO is noise; failures and lockouts are WARNING
                "axes": {"level": "WARNING"}},
}
