"""config.email_webhooks with other providers than the one the tests mount
(Postmark, see tests/supporters/test_email.py): a body that is not an event is
a 400 whichever provider reads it, and an open webhook takes nothing."""

import base64

import pytest
from django.test import RequestFactory

from config.email_webhooks import tracking_urlpatterns, webhook_auth_problem

pytestmark = pytest.mark.django_db
AUTH = "Basic " + base64.b64encode(b"hook:words").decode()


def _view(provider):
    (pattern,) = tracking_urlpatterns(provider)
    assert str(pattern.pattern) == f"{provider}/tracking/"
    return pattern.callback


def _post(provider, body, **headers):
    return _view(provider)(RequestFactory().post(f"/anymail/{provider}/tracking/", data=body,
                                                 content_type="application/json", headers=headers))


@pytest.mark.parametrize("provider", ["brevo", "mailjet", "sparkpost"])
@pytest.mark.parametrize("body", ["not json", "[1, 2]", '{"event": 42}', "null"])
def test_garbage_with_the_secret_is_a_400(settings, provider, body):
    settings.ANYMAIL = {"WEBHOOK_SECRET": "hook:words"}
    response = _post(provider, body, Authorization=AUTH)
    assert response.status_code == 400, (provider, body, response.content)
    from supporters.models import EmailEvent

    assert not EmailEvent.objects.exists()


@pytest.mark.parametrize("provider", ["brevo", "mailjet", "sparkpost"])
def test_an_open_webhook_takes_nothing(settings, provider):
    settings.ANYMAIL = {}
    with pytest.warns(Warning):  # anymail's own: "Your Anymail webhooks are insecure"
        assert _post(provider, "[]").status_code == 400


def test_what_production_needs_per_provider():
    assert "ANYMAIL_WEBHOOK_SECRET" in webhook_auth_problem("postmark", {})
    assert webhook_auth_problem("postmark", {"WEBHOOK_SECRET": "a:b"}) == ""
    assert "ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY" in webhook_auth_problem("mailgun", {})
    assert webhook_auth_problem("mailgun", {"MAILGUN_WEBHOOK_SIGNING_KEY": "k"}) == ""
    assert webhook_auth_problem("", {}) == "", "no provider (console, SMTP): no webhook to open"
