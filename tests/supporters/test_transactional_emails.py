"""Transactional emails in the wording staff edit, each sent once for what it is
about: a failed monthly payment (per attempt), a fundraising page going live
(per approval), and the written record of an oral Gift Aid declaration."""

import datetime
import uuid

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from campaigns import services as campaign_services
from campaigns.models import Campaign
from campaigns.tasks import send_fundraiser_page_approved
from donations.services import monthly
from donations import services as donation_services
from donations.models import MonthlyCharge, RecurringGift
from donations.tasks import send_monthly_payment_failed
from supporters.models import EmailMessage, EmailSuppression, EmailTemplate, Interaction

pytestmark = pytest.mark.django_db

TAX_STATEMENT = ("I am a UK taxpayer and understand that if I pay less Income Tax and/or Capital Gains Tax than the "
                 "amount of Gift Aid claimed on all my donations in that tax year it is my responsibility to pay "
                 "any difference.")


def long_date(value):
    return f"{value.day} {value:%B %Y}"


def mails_to(address):
    return [message for message in mail.outbox if message.to == [address]]


def link_in(body, label):
    line = next(line for line in body.splitlines() if line.startswith(f"{label}: http"))
    return line.split(": ", 1)[1].strip()


# --- a failed monthly payment ------------------------------------------------------

@pytest.fixture
def monthly_gift(stripe_client):
    """£10 a month set up with a card that works, which then starts declining."""
    gift = donation_services.Gift(amount_pence=1000, first_name="Mo", last_name="Khan",
                                  email=f"mo{uuid.uuid4().hex[:6]}@example.org", form_token=uuid.uuid4())
    recurring, _ = monthly.recurring_gift_start(gift=gift)
    stripe_client.v1.setup_intents.confirm(recurring.stripe_setup_intent_id, params={"payment_method_data": {
        "type": "card", "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}}})
    recurring = monthly.recurring_gift_apply_setup(
        setup_intent=monthly.stripe_gateway.setup_intent_retrieve(recurring.stripe_setup_intent_id))
    declining = stripe_client.v1.payment_methods.create(params={"type": "card", "card": {
        "number": "4000000000000341", "exp_month": 12, "exp_year": 2034, "cvc": "123"}})
    RecurringGift.objects.filter(pk=recurring.pk).update(stripe_payment_method_id=declining.id)
    recurring.refresh_from_db()
    return recurring


def next_month(recurring):
    first = (timezone.localdate().replace(day=1) + datetime.timedelta(days=32)).replace(day=1)
    return first.replace(day=recurring.day_of_month)


def run_failing_month(recurring, capture):
    """The monthly run for next month, with what it leaves for after its commit."""
    with capture(execute=True):
        monthly.monthly_charges_run(today=next_month(recurring))
    return recurring.charges.get(month=next_month(recurring).replace(day=1))


def test_a_failed_payment_is_emailed_once_with_the_next_try_and_a_link_to_update_the_card(
        monthly_gift, client, django_capture_on_commit_callbacks):
    email = monthly_gift.supporter.email
    charge = run_failing_month(monthly_gift, django_capture_on_commit_callbacks)
    assert (charge.status, charge.attempts) == ("failed", 1)

    [sent] = mails_to(email)
    month = f"{next_month(monthly_gift):%B %Y}"
    assert sent.subject == f"Your monthly gift for {month} did not go through"
    retry_on = long_date(timezone.localtime(charge.next_attempt_at).date())
    assert "£10.00" in sent.body and f"We will try again on {retry_on}." in sent.body
    assert "Card: ending 4242" in sent.body
    link = link_in(sent.body, "Update my card")
    assert link.startswith("http://testserver/giving/monthly/")
    assert f'href="{link}"' in sent.alternatives[0][0] and "Update my card" in sent.alternatives[0][0]
    page = client.get(link.removeprefix("http://testserver")).content.decode()
    assert "£10.00 a month" in page  # the link opens this gift's own page

    message = EmailMessage.objects.get(to_email=email)
    assert (message.category, message.status) == ("monthly_payment_failed", "sent")
    assert monthly_gift.supporter.interactions.filter(summary__contains=f"gift for {month} did not go through",
                                                      kind="email").count() == 1

    # The task retried, the job rerun (not due yet): still one email for this attempt.
    with django_capture_on_commit_callbacks(execute=True):
        send_monthly_payment_failed.enqueue(charge_id=charge.pk, attempt=1)
        monthly.monthly_charges_run(today=next_month(monthly_gift))
    assert monthly.monthly_charge_send_failure_notice(charge_id=charge.pk, attempt=1) == message
    assert len(mails_to(email)) == 1 and EmailMessage.objects.filter(to_email=email).count() == 1


def test_each_retry_that_fails_is_emailed_and_the_last_says_we_will_not_try_again(
        monthly_gift, django_capture_on_commit_callbacks):
    email = monthly_gift.supporter.email
    charge = run_failing_month(monthly_gift, django_capture_on_commit_callbacks)
    for _ in range(2):
        MonthlyCharge.objects.filter(pk=charge.pk).update(next_attempt_at=timezone.now())
        charge = run_failing_month(monthly_gift, django_capture_on_commit_callbacks)
    assert (charge.status, charge.attempts) == ("abandoned", 3)

    sent = mails_to(email)
    assert len(sent) == 3
    assert "We will try again on" in sent[1].body
    assert "We will try again" not in sent[2].body and "We will not try again this month." in sent[2].body
    assert link_in(sent[2].body, "Update my card").startswith("http://testserver/giving/monthly/")
    # A late rerun of an earlier attempt's task sends nothing: the charge has moved on.
    with django_capture_on_commit_callbacks(execute=True):
        send_monthly_payment_failed.enqueue(charge_id=charge.pk, attempt=1)
    assert len(mails_to(email)) == 3


def test_no_email_for_a_cancelled_gift(monthly_gift, django_capture_on_commit_callbacks):
    charge = MonthlyCharge.objects.create(recurring_gift=monthly_gift, month=next_month(monthly_gift).replace(day=1),
                                          amount_pence=1000, next_attempt_at=timezone.now())
    monthly._claim(charge.pk)  # being charged when the supporter cancels
    monthly.recurring_gift_cancel(recurring_gift=monthly_gift, reason="Asked by phone")
    with django_capture_on_commit_callbacks(execute=True):
        assert monthly.monthly_charge_record_result(charge_id=charge.pk, succeeded=False,
                                                    reason="Your card was declined.") == "failed"
        send_monthly_payment_failed.enqueue(charge_id=charge.pk, attempt=1)
    assert mails_to(monthly_gift.supporter.email) == []
    assert not EmailMessage.objects.filter(category="monthly_payment_failed").exists()


# --- a fundraising page approved ---------------------------------------------------

@pytest.fixture
def fundraising_page(stripe_settings, supporter_factory):
    campaign = Campaign.objects.create(name="Marathon 2027", code="marathon-2027", kind="peer_to_peer", status="live")
    supporter = supporter_factory(first_name="Sam", email="sam@example.org")
    return campaign_services.fundraiser_page_create(campaign=campaign, supporter=supporter,
                                                    title="Sam runs for families", story="26.2 miles.",
                                                    target_pence=50_000)


def review(client, page, status, capture):
    with capture(execute=True):
        response = client.post(f"/admin/fundraiser_page/{page.pk}/review/", {"status": status})
    assert response.status_code == 302


def test_approving_a_page_emails_the_fundraiser_its_public_link_once(
        fundraising_page, fundraiser_client, django_capture_on_commit_callbacks):
    review(fundraiser_client, fundraising_page, "approved", django_capture_on_commit_callbacks)
    [sent] = mail.outbox
    assert sent.to == ["sam@example.org"] and sent.subject == "Your fundraising page is live"
    assert "Dear Sam" in sent.body and "“Sam runs for families” for Marathon 2027" in sent.body
    link = link_in(sent.body, "See my page")
    assert link == f"http://testserver/fundraise/{fundraising_page.slug}/"
    assert f'href="{link}"' in sent.alternatives[0][0]
    assert "Sam runs for families" in Client().get(link.removeprefix("http://testserver")).content.decode()
    assert EmailMessage.objects.get().category == "fundraiser_page_approved"

    # The task run again for this approval, or a live page approved again, sends nothing more.
    fundraising_page.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        send_fundraiser_page_approved.enqueue(page_id=fundraising_page.pk,
                                              approved_at=fundraising_page.reviewed_at.isoformat())
    review(fundraiser_client, fundraising_page, "approved", django_capture_on_commit_callbacks)
    assert len(mail.outbox) == 1 and EmailMessage.objects.count() == 1


def test_hiding_sends_nothing_and_approving_again_is_a_new_approval(
        fundraising_page, fundraiser_client, django_capture_on_commit_callbacks):
    review(fundraiser_client, fundraising_page, "hidden", django_capture_on_commit_callbacks)
    assert mail.outbox == []
    review(fundraiser_client, fundraising_page, "approved", django_capture_on_commit_callbacks)
    review(fundraiser_client, fundraising_page, "hidden", django_capture_on_commit_callbacks)
    review(fundraiser_client, fundraising_page, "approved", django_capture_on_commit_callbacks)
    assert [m.subject for m in mail.outbox] == ["Your fundraising page is live"] * 2


# --- the written record of an oral Gift Aid declaration ----------------------------

def record_by_phone(client, supporter, **changes):
    data = {"method": "oral", "scope": "future_gifts", "declared_on": timezone.localdate().isoformat(),
            "title": supporter.title, "first_name": supporter.first_name, "last_name": supporter.last_name,
            "address_house": supporter.address_house, "address_street": supporter.address_street,
            "address_town": supporter.address_town, "postcode": supporter.postcode, "country": "GB",
            "source_detail": "call 12", "send_confirmation": "on", **changes}
    return client.post(f"/admin/supporter/{supporter.pk}/gift-aid/new/", data, follow=True)


def test_the_gift_aid_confirmation_is_in_the_staff_wording_and_keeps_what_hmrc_requires(
        fundraiser_client, supporter_factory):
    EmailTemplate.objects.filter(key="gift_aid_confirmation").update(
        subject="{{ first_name }}, our record of your Gift Aid declaration",
        body="Hello {{ first_name }},\n\nOn {{ declared_on }} you told us we may claim Gift Aid. Thank you!")
    supporter = supporter_factory(title="Mr", first_name="Kwame", last_name="Mensah", email="kwame@example.org",
                                  address_house="Rose Cottage", address_street="Mill Lane", address_town="Leeds",
                                  postcode="LS6 2AA")
    declared_on = timezone.localdate() - datetime.timedelta(days=2)
    response = record_by_phone(fundraiser_client, supporter, declared_on=declared_on.isoformat())
    assert "The written confirmation was emailed to kwame@example.org" in response.content.decode()
    declaration = supporter.gift_aid_declarations.get()
    assert declaration.confirmation_sent_on == timezone.localdate()

    [sent] = mail.outbox
    assert sent.to == ["kwame@example.org"] and sent.subject == "Kwame, our record of your Gift Aid declaration"
    html = sent.alternatives[0][0].replace("&#x27;", "'")
    cancel_by = long_date(timezone.localdate() + datetime.timedelta(days=30))
    for body in (sent.body, html):
        assert f"On {long_date(declared_on)} you told us we may claim Gift Aid." in body  # the staff's words
        assert "Mr Kwame Mensah" in body and "Rose Cottage, Mill Lane, Leeds, LS6 2AA" in body
        assert "every donation you make from" in body  # the scope
        assert "Gift Aid my donation and any donations I make in the future to" in body
        assert TAX_STATEMENT in " ".join(body.split())  # the wording they agreed to
        assert cancel_by in body and "reply to this email" in body  # the right to cancel, and how
        assert long_date(timezone.localdate()) in body and declaration.reference in body
    message = EmailMessage.objects.get()
    assert (message.category, message.status, message.supporter) == ("gift_aid_confirmation", "sent", supporter)


def test_a_suppressed_address_gets_no_confirmation_and_the_date_stays_empty(fundraiser_client, supporter_factory):
    supporter = supporter_factory(email="gone@example.org")
    EmailSuppression.objects.create(email="gone@example.org", reason="bounced")
    response = record_by_phone(fundraiser_client, supporter)
    assert "post the letter instead" in response.content.decode()
    assert mail.outbox == []
    assert supporter.gift_aid_declarations.get().confirmation_sent_on is None
    assert not Interaction.objects.filter(supporter=supporter, summary__contains="emailed").exists()
