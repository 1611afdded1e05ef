"""reconcile_stripe_gifts: every PaymentIntent at Stripe is exactly one gift here,
in Stripe's state; it says what differs and exits non-zero when anything does."""

import datetime

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from donations.models import Donation
from tests.donations.test_giving import form_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_gifts(client, card, stripe_settings):
    since = (timezone.now() - datetime.timedelta(seconds=2)).isoformat()
    for email in ("ana@example.org", "ben@example.org"):
        response = client.post("/donate/", form_data(email=email, payment_method_id=card()))
        assert response.status_code == 200, response.content
    return since, list(Donation.objects.order_by("pk"))


def reconcile(since) -> str:
    from io import StringIO

    out = StringIO()
    try:
        call_command("reconcile_stripe_gifts", since=since, stdout=out)
    except CommandError as error:
        return out.getvalue() + f"FAILED: {error}"
    return out.getvalue()


def test_gifts_that_match_stripe_pass(two_gifts):
    since, _ = two_gifts
    out = reconcile(since)
    assert "2 PaymentIntents at Stripe (2 succeeded); 2 online gifts here." in out
    assert "matched 2; lost 0; doubled 0; state or amount differs 0; unknown to Stripe 0; no PaymentIntent 0" in out
    assert "Stripe and our gifts agree" in out and "FAILED" not in out


def test_a_gift_in_another_state_than_stripes_fails(two_gifts):
    since, gifts = two_gifts
    Donation.objects.filter(pk=gifts[0].pk).update(status=Donation.Status.PENDING)
    out = reconcile(since)
    assert (f"mismatch: gift {gifts[0].pk} is pending, 2500p; "
            f"Stripe's {gifts[0].stripe_payment_intent_id} is succeeded") in out
    assert "FAILED: 1 problem(s)" in out


def test_a_payment_with_no_gift_is_lost_and_a_gift_stripe_lacks_is_unknown(two_gifts):
    since, gifts = two_gifts
    Donation.objects.filter(pk=gifts[1].pk).update(stripe_payment_intent_id="pi_not_at_stripe")
    out = reconcile(since)
    assert f"lost: {gifts[1].stripe_payment_intent_id} (succeeded, 2500p) has no gift here" in out
    assert f"unknown to Stripe: gift {gifts[1].pk} names pi_not_at_stripe" in out
    assert "FAILED: 2 problem(s)" in out


def test_two_payments_for_one_gift_are_doubled(two_gifts, stripe_client, card):
    since, gifts = two_gifts
    stripe_client.v1.payment_intents.create(params={
        "amount": 2500, "currency": "gbp", "payment_method": card(), "payment_method_types": ["card"], "confirm": True,
        "metadata": {"donation_uid": str(gifts[0].uid)}})
    out = reconcile(since)
    assert f"doubled: 2 PaymentIntents at Stripe for gift {gifts[0].uid}" in out
    assert "FAILED" in out


def test_a_gift_left_unrecorded_or_a_total_that_drifted_fails(client, card, stripe_settings):
    from campaigns.models import Campaign, TotalShard

    winter = Campaign.objects.create(name="Winter appeal", code="winter", target_pence=100_000)
    since = (timezone.now() - datetime.timedelta(seconds=2)).isoformat()
    for email in ("ana@example.org", "ben@example.org"):
        assert client.post("/donate/", form_data(email=email, campaign="winter",
                                                 payment_method_id=card())).status_code == 200
    assert "Stripe and our gifts agree" in reconcile(since)
    first, second = Donation.objects.order_by("pk")
    Donation.objects.filter(pk=first.pk).update(form_details={"email": "ana@example.org"})  # as if never recorded
    TotalShard.objects.filter(key=TotalShard.key_for("campaign", winter.pk)).update(raised_pence=1)
    out = reconcile(since)
    assert f"not recorded: gift {first.pk} (succeeded) still waits for its donor and totals" in out
    assert "total: campaign winter shows" in out and "its gifts add up to 2500p" in out
    assert "FAILED: 2 problem(s)" in out
