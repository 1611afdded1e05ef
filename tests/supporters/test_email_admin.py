"""The staff list of sent emails (read-only, never the body) and of suppressed
addresses, through the real Wagtail admin and the staff roles."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.core import mail

from supporters.models import EmailEvent, EmailMessage, EmailSuppression
from supporters.services import email as email_services
from tests.supporters.factories import SupporterFactory
from tests.helpers import log_in_verified

pytestmark = pytest.mark.django_db

MESSAGES = "/admin/email-messages/"
SUPPRESSIONS = "/admin/email-suppressions/"
RECEIPT_BODY = "Because of you, more children can leave orphanages"  # in the receipt's wording


@pytest.fixture
def sent():
    """A receipt that went, and one that did not (the address is suppressed)."""
    amara = SupporterFactory(first_name="Amara", email="amara@example.org")
    receipt = email_services.email_send_template(supporter=amara, key="receipt", values={"amount": "£25.00"})
    welcome_to = SupporterFactory(first_name="Ben", email="ben@example.org")
    welcome = email_services.email_send_template(supporter=welcome_to, key="monthly_welcome",
                                                 values={"amount": "£10.00", "day": "5th"})
    EmailSuppression.objects.create(email="gone@example.org", reason="bounced")
    skipped = email_services.email_send_template(supporter=SupporterFactory(email="gone@example.org"), key="receipt",
                                                 values={"amount": "£5.00"})
    assert RECEIPT_BODY in mail.outbox[0].body  # the body exists in the mail, so its absence below means something
    return {"receipt": receipt, "welcome": welcome, "skipped": skipped, "amara": amara}


def test_fundraising_sees_what_was_sent_to_whom_and_how_it_went_but_never_the_body(fundraiser_client, sent):
    page = fundraiser_client.get(MESSAGES).content.decode()
    assert "Thank you for your gift of £25.00" in page and "Welcome to monthly giving: thank you" in page
    assert "amara@example.org" in page and "gone@example.org" in page
    assert "Receipt for a one-off gift" in page and "Welcome to monthly giving" in page  # the category
    assert "Sent" in page and "Not sent (no consent or suppressed)" in page
    assert f'href="/admin/supporter/inspect/{sent["amara"].pk}/"' in page  # to the supporter's record
    assert RECEIPT_BODY not in page

    EmailEvent.objects.create(dedupe_key="pm:1", message=sent["receipt"], event_type="delivered",
                              recipient="amara@example.org", occurred_at=sent["receipt"].created_at)
    inspect = fundraiser_client.get(f"{MESSAGES}inspect/{sent['receipt'].pk}/").content.decode()
    assert "Thank you for your gift of £25.00" in inspect and "delivered" in inspect
    assert f'href="/admin/supporter/inspect/{sent["amara"].pk}/"' in inspect
    assert RECEIPT_BODY not in inspect


def test_filter_by_status_and_category_and_search_by_address_or_subject(finance_client, sent):
    skipped = finance_client.get(MESSAGES, {"status": "skipped"}).content.decode()
    assert "gone@example.org" in skipped and "amara@example.org" not in skipped and "ben@example.org" not in skipped
    welcomes = finance_client.get(MESSAGES, {"category": "monthly_welcome"}).content.decode()
    assert "ben@example.org" in welcomes and "amara@example.org" not in welcomes
    by_address = finance_client.get(MESSAGES, {"q": "amara@"}).content.decode()
    assert "amara@example.org" in by_address and "ben@example.org" not in by_address
    by_subject = finance_client.get(MESSAGES, {"q": "welcome to monthly"}).content.decode()
    assert "ben@example.org" in by_subject and "amara@example.org" not in by_subject


def test_nobody_adds_edits_or_deletes_a_sent_message(admin_client, fundraiser_client, sent):
    message = sent["receipt"]
    for client in (admin_client, fundraiser_client):
        for path in (f"{MESSAGES}new/", f"{MESSAGES}edit/{message.pk}/", f"{MESSAGES}delete/{message.pk}/"):
            assert client.get(path).status_code == 302, path
        client.post(f"{MESSAGES}delete/{message.pk}/")
    assert EmailMessage.objects.filter(pk=message.pk).exists()


def test_staff_without_the_permission_cannot_see_messages(client, django_user_model, sent):
    volunteers = Group.objects.create(name="Volunteers")
    volunteers.permissions.add(Permission.objects.get(codename="access_admin"))
    volunteer = django_user_model.objects.create_user(username="vol", password="pass-word-123")
    volunteer.groups.add(volunteers)
    log_in_verified(client, volunteer)
    response = client.get(MESSAGES)
    assert (response.status_code, response.url) == (302, "/admin/")
    assert "Sent emails" not in client.get("/admin/").content.decode()


def test_a_manual_suppression_stops_even_receipts(admin_client):
    donor = SupporterFactory(email="ann@example.org")
    response = admin_client.post(f"{SUPPRESSIONS}new/", {"email": "  Ann@Example.ORG ", "detail": "Asked by phone"})
    assert response.status_code == 302
    suppression = EmailSuppression.objects.get()
    assert (suppression.email, suppression.reason, suppression.detail) == ("ann@example.org", "manual", "Asked by phone")
    page = admin_client.get(SUPPRESSIONS, {"reason": "manual"}).content.decode()
    assert "ann@example.org" in page and "Stopped by staff" in page
    again = admin_client.post(f"{SUPPRESSIONS}new/", {"email": "ANN@example.org", "detail": ""})
    assert again.status_code == 200 and EmailSuppression.objects.count() == 1  # already there: refused
    assert email_services.email_send_template(supporter=donor, key="receipt", values={}).status == "skipped"
    assert mail.outbox == []


def test_fundraising_stops_an_address_finance_only_looks_and_nobody_lifts_one(fundraiser_client, finance_user):
    from django.test import Client

    finance_client = Client()
    log_in_verified(finance_client, finance_user)
    assert finance_client.get(SUPPRESSIONS).status_code == 200
    assert finance_client.post(f"{SUPPRESSIONS}new/", {"email": "x@example.org"}).status_code == 302
    assert not EmailSuppression.objects.exists()
    assert fundraiser_client.get(SUPPRESSIONS).status_code == 200
    assert fundraiser_client.post(f"{SUPPRESSIONS}new/", {"email": "x@example.org"}).status_code == 302
    suppression = EmailSuppression.objects.get()
    assert suppression.reason == "manual"
    assert fundraiser_client.get(f"{SUPPRESSIONS}delete/{suppression.pk}/").status_code == 302
    assert fundraiser_client.get(f"{SUPPRESSIONS}edit/{suppression.pk}/").status_code == 302
