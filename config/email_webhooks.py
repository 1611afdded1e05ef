"""The email provider's tracking webhook (through django-anymail): only the
provider in use is mounted, a call is refused unless anymail can tell it came
from the provider (basic auth or the provider's signature), and a body that is
not a tracking event answers 400, never a 500 the provider would retry for days.

Imported by the settings (no Django apps needed at import) and by the URLs."""

import re

from anymail.exceptions import AnymailAPIError
from django.db import transaction
from django.http import HttpResponseBadRequest
from django.urls import path

from config.errors import ApplicationError

# Providers whose webhooks anymail verifies by signature, and the ANYMAIL setting
# that holds the key; every other provider is authenticated by basic auth alone
# (ANYMAIL_WEBHOOK_SECRET), which works for these too.
SIGNING_KEYS = {
    "mailersend": "MAILERSEND_SIGNING_SECRET",
    "mailgun": "MAILGUN_WEBHOOK_SIGNING_KEY",
    "mailtrap": "MAILTRAP_TRACKING_SECRET",
    "mandrill": "MANDRILL_WEBHOOK_KEY",
    "postal": "POSTAL_WEBHOOK_KEY",
    "resend": "RESEND_SIGNING_SECRET",
    "sendgrid": "SENDGRID_TRACKING_WEBHOOK_VERIFICATION_KEY",
    "unisender_go": "UNISENDER_GO_API_KEY",
}
NOT_AN_EVENT = "The body is not a tracking event this webhook understands."


def tracking_provider(email_backend: str) -> str:
    """The anymail provider behind EMAIL_BACKEND ("postmark"), or "" when mail
    does not go through a provider with tracking webhooks."""
    match = re.fullmatch(r"anymail\.backends\.(\w+)\.EmailBackend", email_backend or "")
    if not match or match.group(1) in ("test", "console", "scaleway"):
        return ""
    return match.group(1)


def webhook_auth_problem(provider: str, anymail: dict) -> str:
    """What is missing for the provider's webhook to authenticate its calls ("" if nothing)."""
    if not provider or anymail.get("WEBHOOK_SECRET"):
        return ""
    key = SIGNING_KEYS.get(provider)
    if key and anymail.get(key):
        return ""
    alternative = f" (or its signing key, ANYMAIL_{key})" if key else ""
    return (f"Set ANYMAIL_WEBHOOK_SECRET{alternative}: without it anyone on the web can post forged "
            f"{provider} tracking events (bounces, complaints) that stop email to supporters.")


class _NotAnEvent(Exception):
    """The body could not be read as the provider's tracking event."""


_UNREADABLE = (ValueError, LookupError, TypeError, AttributeError, AnymailAPIError)  # JSON, encoding, shape


def _guarded(view_class):
    class Guarded(view_class):
        def post(self, request, *args, **kwargs):
            # anymail knows whether it checks this provider's calls: basic auth, or a
            # signature (it then stops warning that basic auth is missing).
            if not (self.basic_auth or not self.warn_if_no_basic_auth):
                return HttpResponseBadRequest("This webhook is not configured to authenticate its calls.",
                                              content_type="text/plain")
            try:
                with transaction.atomic():  # a batch of events is applied whole or not at all
                    # anymail's own flow (and the provider's, e.g. Amazon SES's 401 before basic auth):
                    # a forged call raises AnymailWebhookValidationFailure, which Django answers with 400.
                    return super().post(request, *args, **kwargs)
            except _NotAnEvent:
                return HttpResponseBadRequest(NOT_AN_EVENT, content_type="text/plain")
            except ApplicationError as error:  # our receiver refused the event's content
                return HttpResponseBadRequest(f"{NOT_AN_EVENT} {error.message}", content_type="text/plain")

        def run_validators(self, request):
            try:
                super().run_validators(request)
            except _UNREADABLE as error:  # some providers read the body to check its signature
                raise _NotAnEvent from error

        def parse_events(self, request):
            try:
                return super().parse_events(request)
            except _UNREADABLE as error:
                raise _NotAnEvent from error

    Guarded.__name__ = Guarded.__qualname__ = f"Guarded{view_class.__name__}"
    return Guarded


def tracking_urlpatterns(provider: str) -> list:
    """anymail's tracking route(s) for this provider only, guarded as above (no
    inbound routes: nothing here reads inbound mail)."""
    from anymail import urls as anymail_urls

    names = {f"{provider}_tracking_webhook"} | ({"mandrill_webhook"} if provider == "mandrill" else set())
    return [path(str(pattern.pattern), _guarded(pattern.callback.view_class).as_view(), name=pattern.name)
            for pattern in anymail_urls.urlpatterns if provider and pattern.name in names]
