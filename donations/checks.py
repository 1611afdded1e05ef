"""Start-up checks for production (`PRODUCTION = True`): without these the site
would take money it cannot record, or let one visitor flood the gift form.

They run with every management command that checks (`migrate`, `check`, …) and
when gunicorn starts (gunicorn.conf.py runs `manage.py check --deploy`)."""

from django.conf import settings
from django.core import checks

# Caches that live in one process's memory (or nowhere): each worker would count
# rate limits on its own, so a visitor gets workers x the limit.
_UNSHARED_CACHES = {
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
    "django.core.cache.backends.filebased.FileBasedCache",
}


@checks.register(checks.Tags.security)
def production_has_what_it_needs(app_configs, **kwargs):
    if not getattr(settings, "PRODUCTION", False):
        return []
    errors = []
    stripe_settings = [
        ("STRIPE_SECRET_KEY", ("sk_", "rk_"), "donations.E001",
         "Stripe's secret (or restricted) key, sk_live_… or rk_live_…"),
        ("STRIPE_PUBLISHABLE_KEY", ("pk_",), "donations.E002", "Stripe's publishable key, pk_live_…"),
        ("STRIPE_WEBHOOK_SECRET", ("whsec_",), "donations.E003",
         "the signing secret of Stripe's webhook endpoint, whsec_… "
         "(without it no payment Stripe confirms is recorded)"),
    ]
    for name, prefixes, error_id, what in stripe_settings:
        value = getattr(settings, name, "")
        if not value:
            errors.append(checks.Error(f"{name} is not set: it must hold {what}.", id=error_id))
        elif not value.startswith(prefixes):
            errors.append(checks.Error(f"{name} does not look like {what}.", id=error_id))
    if not getattr(settings, "RATELIMIT_IP_META_KEY", ""):
        errors.append(checks.Error(
            "RATELIMIT_IP_META_KEY is not set: name the request header your load balancer puts the visitor's "
            "address in (e.g. HTTP_X_FORWARDED_FOR), or REMOTE_ADDR if visitors reach gunicorn directly. "
            "Behind a proxy REMOTE_ADDR is the proxy's address, so one visitor's limit would stop everyone.",
            id="donations.E004"))
    backend = settings.CACHES.get("default", {}).get("BACKEND", "")
    if backend in _UNSHARED_CACHES:
        errors.append(checks.Error(
            f"The cache ({backend.rsplit('.', 1)[-1]}) is not shared between workers: set CACHE_URL to Redis, "
            "e.g. redis://cache.internal:6379/0, so that rate limits count across every worker.",
            id="donations.E005"))
    return errors
