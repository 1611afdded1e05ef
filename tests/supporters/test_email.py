"""Email through the real mail stack: the wording staff edit, receipts without
marketing consent, the signed one-click unsubscribe, and anymail's tracking
webhook (Postmark's format, basic auth) suppressing bounces, replay-safe."""

import base64
import json

import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from supporters.models import EmailEvent, EmailMessage, EmailSuppression, EmailTemplate
from supporters.services import email as email_services
from tests.supporters.factories import SupporterFactory

pytestmark = pytest.mark.django_db


def _marketing(supporter):
    def rendered_for(message, unsubscribe):
        return email_services.email_render(subject="Winter appeal", body="Dear {{ first_name }},\n\nPlease help.",
                                           values=email_services.supporter_values(supporter),
                                           unsubscribe_url=unsubscribe)
    return email_services.email_send(supporter=supporter, category="mailing", rendered_for=rendered_for, marketing=True)


def test_staff_wording_is_used_and_checked():
    template = EmailTemplate.objects.get(key="receipt")
    template.subject = "Thank you, {{ first_name }}"
    template.save()
    donor = SupporterFactory(first_name="Siân", consent_email=False)
    message = email_services.email_send_template(supporter=donor, key="receipt", values={"amount": "£5.00"},
                                                 details=[("Amount", "£5.00")])
    assert message.status == "sent", "a receipt is not marketing: it goes without consent"
    sent = mail.outbox[-1]
    assert sent.subject == "Thank you, Siân" and "Amount: £5.00" in sent.body and "List-Unsubscribe" not in sent.extra_headers
    assert "Siân" in sent.alternatives[0][0]
    assert "is a registered charity, number 1000000 (demo)." in sent.body, "the charity's details at the foot"
    template.body = "Dear {{ firstname }}"
    with pytest.raises(ValidationError, match="Unknown placeholder: firstname"):
        template.full_clean()


def test_marketing_needs_consent_and_carries_one_click_unsubscribe(client):
    without = SupporterFactory(consent_email=False)
    assert _marketing(without).status == "skipped" and not mail.outbox
    fan = SupporterFactory(consent_email=True)
    message = _marketing(fan)
    sent = mail.outbox[-1]
    link = sent.extra_headers["List-Unsubscribe"].strip("<>")
    assert sent.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click" and link in sent.body
    path = link.replace("http://localhost:8000", "").replace("http://testserver", "")
    path = path[path.index("/email/"):]

    assert "Stop our emails?" in client.get(path).content.decode()
    fan.refresh_from_db()
    assert fan.consent_email, "opening the link (or a scanner fetching it) changes nothing"
    response = client.post(path, {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    fan.refresh_from_db()
    assert not fan.consent_email
    event = fan.consent_events.get(granted=False)
    assert event.method == "unsubscribe" and "Winter appeal" in event.source_detail
    client.post(path)  # again: nothing more
    assert fan.consent_events.filter(granted=False).count() == 1
    message.refresh_from_db()
    assert message.status == "unsubscribed"
    assert _marketing(fan).status == "skipped"


def test_an_unsubscribe_link_cannot_be_forged_for_someone_else(client):
    victim = SupporterFactory(consent_email=True)
    attacker = SupporterFactory(consent_email=True)
    token = email_services.unsubscribe_token(supporter_id=attacker.pk, message_uid="x")
    payload, signature = token.split(":", 1)
    forged = base64.urlsafe_b64encode(json.dumps({"s": victim.pk, "m": "x"}).encode()).decode().rstrip("=")
    response = client.post(f"/email/unsubscribe/{forged}:{signature}/")
    assert response.status_code == 400 and "not valid" in response.content.decode()
    victim.refresh_from_db()
    assert victim.consent_email


@pytest.fixture
def postmark(settings):
    from django.test import Client

    client = Client(raise_request_exception=False)  # a forged webhook answers 400, as it would live
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": "hook:secret-words"}
    auth = "Basic " + base64.b64encode(b"hook:secret-words").decode()

    def post(payload, authorization=auth):
        return client.post("/anymail/postmark/tracking/", data=json.dumps(payload), content_type="application/json",
                           headers={"Authorization": authorization} if authorization else {})
    return post


def test_a_hard_bounce_suppresses_the_address_once_however_often_it_is_replayed(postmark):
    fan = SupporterFactory(consent_email=True)
    message = _marketing(fan)
    bounce = {"RecordType": "Bounce", "ID": 4242, "Type": "HardBounce", "TypeCode": 1, "MessageID": "pm-1",
              "Email": fan.email, "BouncedAt": "2026-11-25T10:00:00Z", "Description": "Unknown user",
              "Metadata": {"message_uid": str(message.uid)}}
    assert postmark(bounce, authorization=None).status_code in (400, 401, 403)
    assert not EmailEvent.objects.exists()
    for _ in range(3):
        assert postmark(bounce).status_code == 200
    assert EmailEvent.objects.count() == 1
    assert EmailSuppression.objects.get(email=fan.email).reason == "bounced"
    fan.refresh_from_db()
    assert not fan.consent_email and fan.consent_events.get(granted=False).method == "bounce"
    assert fan.interactions.filter(kind="email", summary__endswith=" bounced").count() == 1
    message.refresh_from_db()
    assert message.status == "bounced"
    receipt = email_services.email_send_template(supporter=fan, key="receipt", values={})
    assert receipt.status == "skipped", "nothing, not even a receipt, goes to a bounced address"


def test_delivery_and_opens_land_on_the_timeline(postmark):
    fan = SupporterFactory(consent_email=True)
    message = _marketing(fan)
    meta = {"message_uid": str(message.uid)}
    postmark({"RecordType": "Delivery", "MessageID": "pm-2", "Recipient": fan.email,
              "DeliveredAt": "2026-11-25T10:00:00Z", "Metadata": meta})
    postmark({"RecordType": "Open", "MessageID": "pm-2", "Recipient": fan.email,
              "ReceivedAt": "2026-11-25T11:00:00Z", "Metadata": meta, "FirstOpen": True})
    postmark({"RecordType": "Delivery", "MessageID": "pm-2", "Recipient": fan.email,
              "DeliveredAt": "2026-11-25T10:00:00Z", "Metadata": meta})  # a replay
    message.refresh_from_db()
    assert message.status == EmailMessage.Status.OPENED
    summaries = list(fan.interactions.filter(kind="email").values_list("summary", flat=True))
    assert sum("delivered" in s for s in summaries) == 1 and sum("opened" in s for s in summaries) == 1


def test_fundraising_edits_each_wording_and_previews_it(fundraiser_client):
    """Every email's wording opens for editing, lists its placeholders, and its
    preview shows the branded HTML (escaped into its frame) and the plain text."""
    import html

    for template in EmailTemplate.objects.all():
        edit = fundraiser_client.get(f"/admin/snippets/supporters/emailtemplate/edit/{template.pk}/")
        assert edit.status_code == 200, template.key
        assert "<code>{{ first_name }}</code>" in edit.content.decode()
        preview_url = f"/admin/snippets/supporters/emailtemplate/preview/{template.pk}/"
        data = {"subject": template.subject, "body": template.body + "\n\nA line staff just wrote."}
        assert fundraiser_client.post(preview_url, data).json()["is_valid"]
        page = fundraiser_client.get(preview_url).content.decode()
        frame = page[page.index('srcdoc="') + 8:page.index('" style', page.index('srcdoc="'))]
        assert "<" not in frame and "A line staff just wrote." in html.unescape(frame)
        assert "Brightwell" in html.unescape(frame) and "Plain-text version" in page


def _bounce_for(fan, message, event_id=5151):
    return {"RecordType": "Bounce", "ID": event_id, "Type": "HardBounce", "TypeCode": 1, "MessageID": "pm-9",
            "Email": fan.email, "BouncedAt": "2026-11-25T10:00:00Z", "Description": "Unknown user",
            "Metadata": {"message_uid": str(message.uid)}}


def _nothing_changed(fan, message):
    fan.refresh_from_db()
    message.refresh_from_db()
    assert not EmailEvent.objects.exists() and not EmailSuppression.objects.exists()
    assert fan.consent_email and not fan.consent_events.filter(granted=False).exists()
    assert message.status == "sent" and not fan.interactions.filter(kind="email").exists()


@pytest.mark.parametrize("authorization", [None, "Basic " + base64.b64encode(b"hook:guessed").decode(), "Bearer x"])
def test_a_forged_bounce_changes_nothing(postmark, authorization):
    """Anyone on the web can post to the webhook: without the secret, nothing happens."""
    fan = SupporterFactory(consent_email=True)
    message = _marketing(fan)
    assert postmark(_bounce_for(fan, message), authorization=authorization).status_code == 400
    _nothing_changed(fan, message)


def test_without_a_secret_the_webhook_takes_nothing(settings):
    """No WEBHOOK_SECRET (production refuses to start so; see tests/test_settings.py):
    the webhook still refuses every call rather than trust anyone on the web."""
    from django.test import Client

    settings.ANYMAIL = {key: value for key, value in settings.ANYMAIL.items() if key != "WEBHOOK_SECRET"}
    fan = SupporterFactory(consent_email=True)
    message = _marketing(fan)
    from anymail.exceptions import AnymailInsecureWebhookWarning

    with pytest.warns(AnymailInsecureWebhookWarning):  # anymail itself would take the call
        response = Client(raise_request_exception=False).post(
            "/anymail/postmark/tracking/", data=json.dumps(_bounce_for(fan, message)), content_type="application/json")
    assert response.status_code == 400
    _nothing_changed(fan, message)


def test_only_the_providers_tracking_webhook_is_mounted(postmark):
    """The provider in use (Postmark here) answers; no other provider's route,
    and no inbound route, exists to be forged."""
    from django.test import Client

    client = Client(raise_request_exception=False)
    for path in ("/anymail/mailgun/tracking/", "/anymail/sendgrid/tracking/", "/anymail/postmark/inbound/",
                 "/anymail/mandrill/", "/anymail/amazon_ses/tracking/"):
        assert client.post(path, data="{}", content_type="application/json").status_code == 404, path
    assert client.post("/anymail/postmark/tracking/", data="{}", content_type="application/json").status_code == 400


@pytest.mark.parametrize("body", [
    b"not json at all", b"\xff\xfe\x00garbage", b"[]", b"[1, 2]", b'"a string"', b"null", b"{}",
    b'{"RecordType": "Bounce"}', b'{"RecordType": "Delivery", "DeliveredAt": "yesterday"}',
    b'{"RecordType": "Bounce", "Type": "HardBounce", "Email": "x@example.org", "BouncedAt": "2026-13-45T99:00:00Z"}',
    b'{"RecordType": "Delivery", "Recipient": "x@example.org", "DeliveredAt": "2026-11-25T10:00:00Z", '
    b'"Metadata": "not a dict"}',
    b'{"RecordType": "Delivery", "Recipient": "x@example.org", "DeliveredAt": "2026-11-25T10:00:00Z", '
    b'"Metadata": {"message_uid": "not-a-uuid"}, "MessageID": {"a": 1}}',
    b'{"RecordType": "Bounce", "Type": "HardBounce", "Email": ["x@example.org"], "BouncedAt": "2026-11-25T10:00:00Z"}',
])
def test_a_garbage_body_with_the_right_secret_is_a_clear_400(postmark, body):
    """A body that is not a tracking event answers 400 with a message, never a
    500 (which the provider would retry for days), and nothing is stored."""
    from django.test import Client

    fan = SupporterFactory(consent_email=True, email="x@example.org")
    message = _marketing(fan)
    auth = "Basic " + base64.b64encode(b"hook:secret-words").decode()
    response = Client(raise_request_exception=False).post(
        "/anymail/postmark/tracking/", data=body, content_type="application/json", headers={"Authorization": auth})
    assert response.status_code == 400, response.content
    assert b"tracking event" in response.content
    _nothing_changed(fan, message)
