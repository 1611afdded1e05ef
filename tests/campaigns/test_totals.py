"""Campaign and appeal totals move with every gift in the same transaction, and
always equal what the gift records add up to, after refunds and disputes too."""

import uuid

import pytest

from campaigns.models import Appeal, Campaign
from campaigns.selectors import appeal_totals, campaign_totals
from donations import services
from donations.models import Donation
from tests.helpers import recorded

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _stripe(stripe_settings):
    return stripe_settings


@pytest.fixture
def winter():
    campaign = Campaign.objects.create(name="Winter appeal", code="winter", target_pence=100_000)
    return campaign, Appeal.objects.create(campaign=campaign, code="WIN-EMAIL", name="Winter email", channel="email")


def give(card, *, amount_pence, email, campaign=None, appeal_code="", gift_aid=False):
    gift = services.Gift(amount_pence=amount_pence, first_name="A", last_name="B", email=email,
                         form_token=uuid.uuid4(), campaign=campaign, appeal_code=appeal_code, gift_aid=gift_aid,
                         address_house="1", address_street="High St", postcode="N16 8AA")
    return recorded(services.donation_start(gift=gift, payment_method_id=card()))


def books(campaign):
    gifts = Donation.objects.filter(campaign=campaign, status__in=Donation.INCOME_STATUSES)
    kept = sum(d.kept_pence for d in gifts)
    return {"raised_pence": kept, "gift_aid_pence": sum(d.gift_aid_expected_pence for d in gifts),
            "gifts": sum(1 for d in gifts if d.kept_pence > 0),
            "donors": len({d.supporter_id for d in gifts if d.kept_pence > 0})}


def test_totals_follow_gifts_refunds_and_disputes(card, winter, stripe_client):
    campaign, appeal = winter
    a = give(card, amount_pence=2500, email="a@example.org", appeal_code="win-email", gift_aid=True)
    b = give(card, amount_pence=5000, email="b@example.org", campaign=campaign)
    c = give(card, amount_pence=1000, email="a@example.org", campaign=campaign, gift_aid=True)
    assert a.campaign == campaign and a.appeal == appeal  # the appeal code names the campaign
    totals = campaign_totals(campaign=campaign)
    assert (totals["raised_pence"], totals["gift_aid_pence"], totals["gifts"], totals["donors"]) == (8500, 875, 3, 2)
    assert totals["percent"] == 8

    services.donation_refund(donation=b, amount_pence=2000, reason="Gave too much")
    services.donation_apply_dispute(charge_id=c.stripe_charge_id, payment_intent_id=c.stripe_payment_intent_id,
                                    dispute_status="needs_response", amount_pence=1000, closed=False)
    services.donation_apply_dispute(charge_id=c.stripe_charge_id, payment_intent_id=c.stripe_payment_intent_id,
                                    dispute_status="lost", amount_pence=1000, closed=True)
    # Replays change nothing.
    services.donation_apply_refund_total(charge_id=b.stripe_charge_id, payment_intent_id=None, refunded_pence=2000)

    totals = campaign_totals(campaign=campaign)
    expected = books(campaign)
    assert {k: totals[k] for k in expected} == {**expected, "donors": 2}  # donors who gave stay counted
    assert (totals["raised_pence"], totals["gift_aid_pence"]) == (2500 + 3000, 625)
    assert appeal_totals(appeal=appeal)["raised_pence"] == 2500

    # Rebuilding from the gift records gives the same figures (donors: those with money kept).
    services.campaign_totals_rebuild()
    assert {k: campaign_totals(campaign=campaign)[k] for k in expected} == expected


def test_a_page_view_reads_totals_without_scanning_gifts(winter, django_assert_max_num_queries, card):
    campaign, _ = winter
    give(card, amount_pence=1000, email="x@example.org", campaign=campaign)
    with django_assert_max_num_queries(1):
        assert campaign_totals(campaign=campaign)["raised_pence"] == 1000


def test_offline_income_counts_in_the_totals(finance_client, winter):
    from tests.supporters.factories import SupporterFactory

    campaign, appeal = winter
    supporter = SupporterFactory()
    response = finance_client.post("/admin/donation/offline/", {
        "supporter": supporter.reference, "amount": "120.50", "received_on": "2026-11-20", "channel": "offline",
        "appeal_code": "WIN-EMAIL", "gift_aid_declared": "on", "note": "Cheque 004512"})
    assert response.status_code == 302
    gift = Donation.objects.get()
    assert (gift.amount_pence, gift.campaign, gift.appeal, gift.channel, gift.status) == (
        12050, campaign, appeal, "offline", "succeeded")
    totals = campaign_totals(campaign=campaign)
    assert (totals["raised_pence"], totals["gift_aid_pence"], totals["donors"]) == (12050, 3012, 1)
    assert appeal_totals(appeal=appeal)["raised_pence"] == 12050


def test_an_offline_gift_needs_a_real_supporter_and_amount(finance_client, winter):
    response = finance_client.post("/admin/donation/offline/", {
        "supporter": "S9999999", "amount": "0", "received_on": "2026-11-20", "channel": "offline"})
    page = response.content.decode()
    assert "No supporter with that reference" in page and "above zero" in page
    assert not Donation.objects.exists()
