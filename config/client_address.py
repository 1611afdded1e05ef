"""Where a visitor's address is read: one answer for the donation form's rate
limits and the staff sign-in lockout, so that both count the same person."""

from django.conf import settings
from django.utils.module_loading import import_string


def client_ip(request) -> str:
    """The visitor's address, from RATELIMIT_IP_META_KEY: REMOTE_ADDR, or the
    header the proxy sets. A header holding a chain ("client, proxy", as a
    balancer that appends to X-Forwarded-For writes it) gives its last address:
    the one our own proxy wrote; the first is whatever the visitor claimed."""
    key = settings.RATELIMIT_IP_META_KEY or "REMOTE_ADDR"
    if callable(key):
        return key(request)
    if "." in key:
        return import_string(key)(request)
    value = request.META.get(key) or request.META.get("REMOTE_ADDR", "")
    return value.split(",")[-1].strip()
