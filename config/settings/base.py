"""Settings shared by every environment. Everything that differs between
machines comes from environment variables, each one documented in README.md."""

from pathlib import Path

import environ

from config.email_webhooks import tracking_provider

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)
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
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "wagtail.contrib.redirects.middleware.RedirectMiddleware",
    "django.middleware.cache.FetchFromCacheMiddleware",
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
STRIPE_MAX_NETWORK_RETRIES = env.int("STRIPE_MAX_NETWORK_RETRIES", default=3)
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
    "loggers": {"django.db.backends": {"level": "WARNING"}, "django_tasks": {"level": "WARNING"}},
}
