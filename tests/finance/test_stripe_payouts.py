"""Stripe payouts through the official library and the local Stripe, as live:
gifts taken by the donation service, a refund made by staff, a dispute, a
Radar fee; Stripe pays out; our sync (or its signed webhook) records the payout
and every balance transaction, matched to the gifts, to the penny."""

import datetime
import io
import time
import uuid

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from donations import services
from donations.models import Donation
from finance import selectors
from finance.models import Payout, PayoutLine
from tests.helpers import local_stripe_route

pytestmark = pytest.mark.django_db


@pytest.fixture
def take_gift(card, django_capture_on_commit_callbacks):
    def take(amount_pence: int) -> Donation:
        gift = services.Gift(amount_pence=amount_pence, first_name="Ann", last_name="Lee",
                             email=f"ann{uuid.uuid4().hex[:6]}@example.org", form_token=uuid.uuid4())
        with django_capture_on_commit_callbacks(execute=True):
            return services.donation_start(gift=gift, payment_method_id=card()).donation
    return take


@pytest.fixture
def a_weeks_giving(local_stripe, stripe_settings, take_gift, admin_user):
    """Three gifts, a staff refund, a dispute (its webhook never came), a Radar fee; then Stripe's payout."""
    first, second, third = take_gift(1000), take_gift(2500), take_gift(750)
    services.donation_refund(donation=second, amount_pence=500, reason="Gave twice", by=admin_user)
    dispute = local_stripe_route(local_stripe, f"/_test/charges/{third.stripe_charge_id}/dispute")
    local_stripe_route(local_stripe, "/_test/radar_fees", amount=200)
    payout = local_stripe_route(local_stripe, "/_test/payouts", statement_descriptor="BRIGHTWELL")
    return {"gifts": (first, second, third), "dispute": dispute, "payout": payout}


def test_sync_records_each_payout_with_its_lines_matched_to_the_penny(a_weeks_giving):
    out = io.StringIO()
    call_command("sync_stripe_payouts", "--since", datetime.date.today().isoformat(), stdout=out)
    assert out.getvalue().strip() == f"Since {datetime.date.today():%d %b %Y}: 1 payouts, 6 balance transactions recorded."
    payout = Payout.objects.get()
    first, second, third = a_weeks_giving["gifts"]
    assert (payout.stripe_payout_id, payout.amount_pence, payout.status) == (
        a_weeks_giving["payout"]["id"], 965 + 2442 + 719 - 500 - 2750 - 200, Payout.Status.PAID)
    by_category = {}
    for line in PayoutLine.objects.filter(payout=payout):
        by_category.setdefault(line.reporting_category, []).append(line)
    assert {line.donation for line in by_category["charge"]} == {first, second, third}
    assert by_category["refund"][0].refund == second.refunds.get()
    # The dispute's webhook never arrived: the sync asked Stripe whose it is, and recorded it on the gift.
    third.refresh_from_db()
    assert by_category["dispute"][0].donation == third and third.stripe_dispute_id == a_weeks_giving["dispute"]["id"]
    assert third.status == Donation.Status.DISPUTED
    figures = selectors.payout_figures(payout)
    assert figures.adds_up and figures.net_pence == payout.amount_pence
    assert figures.fees_pence == 35 + 58 + 31 + 2000 + 200
    call_command("sync_stripe_payouts", "--since", datetime.date.today().isoformat(), stdout=io.StringIO())
    assert Payout.objects.count() == 1 and PayoutLine.objects.count() == 6  # a second sync adds nothing


def test_the_sync_refuses_a_bad_date_and_a_missing_key(settings):
    with pytest.raises(CommandError, match="--since must be a date"):
        call_command("sync_stripe_payouts", "--since", "last week")
    settings.STRIPE_SECRET_KEY = ""
    with pytest.raises(CommandError, match="STRIPE_SECRET_KEY"):
        call_command("sync_stripe_payouts", "--since", "2026-11-01")


def _wait_for(condition, seconds=15.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # keep the roles and pages that migrations made
def test_the_signed_payout_paid_webhook_records_the_payout_and_fetches_its_lines(
        local_stripe, stripe_webhooks_to_live_server, take_gift):
    gift = take_gift(2000)
    payout = local_stripe_route(local_stripe, "/_test/payouts")
    assert _wait_for(lambda: Payout.objects.filter(stripe_payout_id=payout["id"], lines_fetched_at__isnull=False)
                     .exists()), "payout.paid never reached our webhook"
    recorded = Payout.objects.get()
    assert recorded.status == Payout.Status.PAID and recorded.amount_pence == 2000 - 50
    assert list(recorded.lines.values_list("donation", flat=True)) == [gift.pk]
    local_stripe_route(local_stripe, f"/_test/payouts/{payout['id']}", status="failed", failure_code="account_closed")
    assert _wait_for(lambda: Payout.objects.filter(status=Payout.Status.FAILED).exists())
    assert Payout.objects.get().failure_code == "account_closed"
