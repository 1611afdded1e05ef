"""A gift given on the form waits only on its payment: the task worker records
its donor, consent, Gift Aid declaration, campaign, totals and receipt a moment
later. Until then it counts nowhere; once recorded it counts once, whatever
arrived in between (its webhook, a rebuild of the totals, a second worker)."""

import datetime
import logging

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from campaigns.models import Campaign
from campaigns.selectors import campaign_totals
from donations import services, webhooks
from donations.models import Donation
from donations.services import campaign_totals_rebuild
from supporters.models import ConsentEvent, GiftAidDeclaration, Interaction, Supporter
from tests.donations.conftest import event_for
from tests.donations.test_giving import form_data
from tests.helpers import run_at_once

pytestmark = pytest.mark.django_db

NO_WORKER = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}


@pytest.fixture
def winter():
    return Campaign.objects.create(name="Winter appeal", code="winter", target_pence=100_000)


@pytest.fixture
def give_with_no_worker(client, card, settings, django_capture_on_commit_callbacks):
    """Gifts through the form while no task worker runs (its queue is kept, not run)."""
    settings.TASKS = NO_WORKER

    def post(number="4242424242424242", **overrides):
        data = form_data(payment_method_id=card(number), **overrides)
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post("/donate/", data)
        return response, data
    return post


def test_the_donor_is_thanked_at_once_and_the_gift_counts_once_recorded(give_with_no_worker, client, winter):
    response, data = give_with_no_worker(campaign="winter", gift_aid="on", consent_email="on")
    assert response.status_code == 200 and response.json()["status"] == "succeeded"
    donation = Donation.objects.get()
    # Paid and thanked, by the name and email they gave: nothing else has waited on our bookkeeping.
    thanks = client.get(response.json()["redirect"]).content.decode()
    assert "Thank you, Zoë" in thanks and "zoe@example.org" in thanks and donation.reference in thanks
    assert donation.status == "succeeded" and donation.supporter is None and donation.awaiting_record
    assert campaign_totals(campaign=winter)["raised_pence"] == 0
    assert not Supporter.objects.exists() and not mail.outbox

    with timezone.override("Europe/London"):
        call_command("record_online_gifts", stdout=open("/dev/null", "w"))
    donation.refresh_from_db()
    supporter = donation.supporter
    assert not donation.awaiting_record and donation.campaign == winter
    assert (supporter.email, supporter.first_name, supporter.postcode) == ("zoe@example.org", "Zoë", "LS6 2AA")
    # Consent and the declaration are dated when the donor gave them, not when recorded.
    consent = ConsentEvent.objects.get(supporter=supporter)
    assert consent.occurred_at == donation.created_at and consent.channel == "email"
    declaration = GiftAidDeclaration.objects.get(supporter=supporter)
    assert declaration.declared_on == timezone.localdate(donation.created_at)
    assert campaign_totals(campaign=winter)["raised_pence"] == 2500
    assert supporter.interactions.filter(kind=Interaction.Kind.DONATION).count() == 1
    assert donation.receipt_sent_at is not None

    call_command("record_online_gifts", stdout=open("/dev/null", "w"))  # again: nothing left, nothing twice
    assert campaign_totals(campaign=winter)["raised_pence"] == 2500
    assert Supporter.objects.count() == 1 and Interaction.objects.filter(kind="donation").count() == 1


def test_a_webhook_or_a_rebuild_before_the_record_does_not_count_the_gift_twice(give_with_no_worker, winter,
                                                                                 stripe_client, deliver):
    give_with_no_worker(campaign="winter")
    donation = Donation.objects.get()
    intent = stripe_client.v1.payment_intents.retrieve(
        donation.stripe_payment_intent_id, params={"expand": ["latest_charge.balance_transaction"]}).to_dict()
    assert deliver(event_for(intent, "payment_intent.succeeded")).status_code == 200
    webhooks.stripe_events_apply()
    campaign_totals_rebuild()
    donation.refresh_from_db()
    assert donation.fee_pence is not None and donation.awaiting_record  # the event's fee is kept
    assert campaign_totals(campaign=winter)["raised_pence"] == 0

    assert services.online_gifts_record() == {"recorded": 1}
    campaign_totals_rebuild()  # the totals the gifts add up to: the same as those kept as they came
    assert campaign_totals(campaign=winter)["raised_pence"] == 2500
    assert Interaction.objects.filter(kind="donation").count() == 1


def test_a_declined_gift_is_recorded_with_its_donor_and_counts_nowhere(give_with_no_worker):
    response, _ = give_with_no_worker("4000000000000341", consent_post="on")
    assert response.status_code == 402
    assert services.online_gifts_record() == {"recorded": 1}
    donation = Donation.objects.get()
    assert donation.status == "failed" and donation.supporter.consent_post and not donation.awaiting_record
    assert not Interaction.objects.filter(kind="donation").exists() and not mail.outbox


def test_a_gift_stripe_never_answered_is_recorded_after_ten_minutes(give_with_no_worker):
    give_with_no_worker()
    Donation.objects.update(status="created", paid_at=None)  # as if Stripe had not answered
    assert services.online_gifts_record() == {}  # the donor may still press Give again
    later = timezone.now() + datetime.timedelta(minutes=11)
    assert services.online_gifts_record(now=later) == {"recorded": 1}
    assert Donation.objects.get().supporter.email == "zoe@example.org"


def test_a_gift_that_cannot_be_recorded_waits_and_the_others_are_recorded(give_with_no_worker, caplog):
    give_with_no_worker()
    give_with_no_worker(email="sam@example.org")
    broken = Donation.objects.order_by("pk").first()
    broken.form_details["first_name"] = "x" * 300  # too long for a supporter's name
    Donation.objects.filter(pk=broken.pk).update(form_details=broken.form_details)
    with caplog.at_level(logging.ERROR, logger="donations.services.gifts"):
        assert services.online_gifts_record() == {"recorded": 1, "failed": 1}
    assert f"Gift {broken.pk}, taken online, could not be recorded" in caplog.text
    assert Donation.objects.get(pk=broken.pk).awaiting_record
    assert Supporter.objects.get().email == "sam@example.org"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # keep the roles and pages that migrations made
def test_two_workers_at_once_record_each_gift_once(give_with_no_worker, winter):
    if connection.vendor != "postgresql":
        pytest.skip("row locks with SKIP LOCKED need PostgreSQL")
    for i in range(6):
        give_with_no_worker(campaign="winter", email=f"donor{i}@example.org")
    results = run_at_once(lambda: services.online_gifts_record(batch_size=2), workers=3)
    assert sum(result.get("recorded", 0) for result in results) == 6
    assert Supporter.objects.count() == 6 and Interaction.objects.filter(kind="donation").count() == 6
    assert campaign_totals(campaign=winter)["raised_pence"] == 6 * 2500
    assert not Donation.objects.filter(form_details__isnull=False).exists()


def test_the_forms_answer_after_the_webhook_and_the_record_changes_nothing(give_with_no_worker, winter, monkeypatch,
                                                                            deliver):
    from donations import stripe_gateway

    real = stripe_gateway.payment_intent_create_and_confirm

    def answer_late(**kwargs):
        # Stripe's webhook arrives, is applied and the gift recorded before the form hears back.
        intent = real(**kwargs)
        assert deliver(event_for(intent, "payment_intent.succeeded")).status_code == 200
        webhooks.stripe_events_apply()
        assert services.online_gifts_record() == {"recorded": 1}
        return intent

    monkeypatch.setattr(stripe_gateway, "payment_intent_create_and_confirm", answer_late)
    response, _ = give_with_no_worker(campaign="winter")
    assert response.status_code == 200 and response.json()["status"] == "succeeded"
    donation = Donation.objects.get()
    assert donation.status == "succeeded" and not donation.awaiting_record and donation.paid_at is not None
    assert campaign_totals(campaign=winter)["raised_pence"] == 2500
    assert Interaction.objects.filter(kind="donation").count() == 1


def _books() -> dict:
    """Every running figure the gifts feed, shards added up: to compare with a rebuild from the gifts."""
    from django.db.models import Sum

    from campaigns.models import CampaignSupporter, TotalShard
    from donations.models import DailyGiftSizes, DailyIncome, DonorYear, MonthlyGiftSizes

    def summed(model, keys, numbers):
        return sorted(model.objects.values(*keys).annotate(**{f"sum_{n}": Sum(n) for n in numbers}).order_by()
                      .values_list(*keys, *(f"sum_{n}" for n in numbers)))

    numbers = [f.name for f in DailyIncome._meta.fields if f.get_internal_type() == "BigIntegerField"]
    return {
        "income": summed(DailyIncome, ["day", "campaign_id", "appeal_id", "source", "monthly"], numbers),
        "sizes": summed(DailyGiftSizes, ["day", "campaign_id", "kept_pence"], ["gifts"]),
        "monthly sizes": summed(MonthlyGiftSizes, ["month", "campaign_id", "kept_pence"], ["gifts"]),
        "donor years": sorted(DonorYear.objects.values_list("supporter_id", "tax_year", "gifts", "kept_pence")),
        "totals": summed(TotalShard, ["key"], ["raised_pence", "gift_aid_pence", "gifts", "donors"]),
        "campaign donors": sorted(CampaignSupporter.objects.values_list("campaign_id", "supporter_id")),
    }


@pytest.mark.parametrize("way", ["together", "one by one"])
def test_a_batch_is_recorded_as_its_gifts_would_be_one_by_one(give_with_no_worker, winter, supporter_factory,
                                                              monkeypatch, way):
    from campaigns.models import Appeal, FundraiserPage
    from donations.services import gifts, income_rollups_rebuild

    Appeal.objects.create(campaign=winter, code="WIN-EMAIL", name="Winter email", channel="email")
    page = FundraiserPage.objects.create(campaign=winter, slug="maya-runs", title="Maya runs", target_pence=50_000,
                                         status=FundraiserPage.Status.APPROVED,
                                         supporter=supporter_factory(email="maya@example.org"))
    ann = supporter_factory(email="ann@example.org", phone="+442079460001", address_street="", postcode="")
    if way == "one by one":  # as when a batch fails together
        monkeypatch.setattr(gifts, "_record_online_gifts", lambda donations: 1 / 0)
    answers = [give_with_no_worker(email="Ann@Example.org", phone="07911 123456", consent_email="on",
                                   consent_phone="on", gift_aid="on"),
               give_with_no_worker(email="bob@example.org", campaign="winter", appeal_code="win-email ",
                                   consent_post="on"),
               give_with_no_worker(email="BOB@example.org", phone="07400 123456", consent_phone="on",
                                   fundraiser="maya-runs", amount="40"),
               give_with_no_worker("4000000000000341", email="cy@example.org", campaign="winter")]
    assert [response.status_code for response, _ in answers] == [200, 200, 200, 402]

    assert services.online_gifts_record() == {"recorded": 4}
    first, second, third, declined = Donation.objects.order_by("pk")
    ann.refresh_from_db()
    bob = Supporter.objects.get(email="bob@example.org")
    # Ann was known: her phone kept (the new one noted for staff), her empty address filled in.
    assert (first.supporter, str(ann.phone), ann.postcode) == (ann, "+442079460001", "LS6 2AA")
    assert ann.interactions.filter(summary__contains="different phone number on the donation form: +447911123456").exists()
    # Bob is one supporter for two gifts; his second gave the phone his first lacked.
    assert second.supporter == third.supporter == bob and str(bob.phone) == "+447400123456"
    assert (second.campaign, second.appeal.code) == (winter, "WIN-EMAIL")
    assert (third.campaign, third.fundraiser_page, third.is_sponsorship) == (winter, page, True)
    assert declined.status == "failed" and declined.supporter.email == "cy@example.org"
    # Consent and the declaration as the donors gave them, when they gave them.
    assert list(ConsentEvent.objects.order_by("pk").values_list("supporter__email", "channel", "occurred_at")) == [
        ("ann@example.org", "email", first.created_at), ("ann@example.org", "phone", first.created_at),
        ("bob@example.org", "post", second.created_at), ("bob@example.org", "phone", third.created_at)]
    assert list(GiftAidDeclaration.objects.values_list("supporter", "address_house", "postcode")) == [
        (ann.pk, "12", "LS6 2AA")]
    assert ann.consent_email and ann.consent_phone and bob.consent_post and bob.consent_phone
    # On the timelines: the three paid gifts, each once; receipts for the three.
    assert Interaction.objects.filter(kind="donation").count() == 3
    assert [d.receipt_sent_at is not None for d in (first, second, third, declined)] == [True, True, True, False]
    assert campaign_totals(campaign=winter)["raised_pence"] == 2500 + 4000
    # Every running figure is what a rebuild from the gifts makes of them.
    kept = _books()
    campaign_totals_rebuild()
    income_rollups_rebuild()
    assert _books() == kept
