"""A month of money, end to end, as it happens live: card gifts taken by the
donation service against the local Stripe (through the official library),
refunds made by staff, a dispute lost and one won, a Radar fee, two weekly
payouts; a batch of cheques keyed by Finance; a JustGiving credit with no
report; the bank statement, with a decoy one digit away. It reconciles to the
penny with exactly the expected exceptions, the month's journals balance, and
a gift deliberately left out of our records is caught."""

import datetime
import io
import uuid

import pytest
import requests
from django.core.management import call_command

from donations import services
from finance import selectors
from finance.models import BankAccount, BankLine, PayingInBatch, Payout
from finance.services import bank, batches, journals
from finance.services.reconcile import reconcile
from supporters.models import Supporter
from tests.finance.builders import lloyds
from tests.helpers import local_stripe_route

pytestmark = pytest.mark.django_db

# A past month, so that seven days have passed since every gift.
MONTH = datetime.date(2026, 10, 1)
DAY = 24 * 3600


def _unix(day: datetime.date, hour: int = 12) -> int:
    return int(datetime.datetime.combine(day, datetime.time(hour), tzinfo=datetime.UTC).timestamp())


@pytest.fixture
def clock(local_stripe, stripe_settings):
    def at(day: datetime.date, hour: int = 12):
        requests.post(f"{local_stripe}/_config/clock", data={"now": _unix(day, hour)}, timeout=10).raise_for_status()
    yield at
    requests.post(f"{local_stripe}/_config/clock", data={}, timeout=10).raise_for_status()


@pytest.fixture
def give(card, django_capture_on_commit_callbacks, clock):
    def gift(pence: int, day: datetime.date):
        clock(day)
        form = services.Gift(amount_pence=pence, first_name="Ann", last_name="Lee",
                             email=f"ann{uuid.uuid4().hex[:6]}@example.org", form_token=uuid.uuid4())
        with django_capture_on_commit_callbacks(execute=True):
            return services.donation_start(gift=form, payment_method_id=card()).donation
    return gift


def test_a_month_reconciles_to_the_penny_with_exactly_the_expected_exceptions(
        local_stripe, stripe_client, card, clock, give, admin_user, finance_user):
    d = lambda n: MONTH + datetime.timedelta(days=n - 1)  # noqa: E731 -- the nth of the month

    # Week one: three gifts, one refunded in part by staff, a dispute lost; paid out on the 7th.
    give(5000, d(1))
    second, lost = give(2500, d(2)), give(1000, d(3))
    clock(d(4))
    services.donation_refund(donation=second, amount_pence=1000, reason="Gave twice", by=admin_user)
    clock(d(5))
    lost_dispute = local_stripe_route(local_stripe, f"/_test/charges/{lost.stripe_charge_id}/dispute")
    services.donation_apply_dispute(charge_id=lost.stripe_charge_id, payment_intent_id=None,
                                    dispute_id=lost_dispute["id"], dispute_status="lost", amount_pence=1000,
                                    closed=True)
    clock(d(7))
    week_one = local_stripe_route(local_stripe, "/_test/payouts", statement_descriptor="BRIGHTWELL",
                      arrival_date=_unix(d(9), 0))

    # Week two: two gifts, a dispute won, a Radar fee, a card payment that never reached our records.
    give(10000, d(10))
    won = give(2000, d(11))
    clock(d(12))
    won_dispute = local_stripe_route(local_stripe, f"/_test/charges/{won.stripe_charge_id}/dispute")
    clock(d(13))
    local_stripe_route(local_stripe, f"/_test/disputes/{won_dispute['id']}/close", status="won")
    local_stripe_route(local_stripe, "/_test/radar_fees", amount=500)
    taken_on_dashboard = stripe_client.v1.payment_methods.create(params={
        "type": "card", "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"},
        "billing_details": {"name": "Mary Seacole", "email": "Mary.Seacole@example.org"}}).id
    missing = stripe_client.v1.payment_intents.create(params={
        "amount": 3000, "currency": "gbp", "payment_method": taken_on_dashboard, "confirm": True})  # no gift of ours
    clock(d(14))
    week_two = local_stripe_route(local_stripe, "/_test/payouts", statement_descriptor="BRIGHTWELL",
                      arrival_date=_unix(d(16), 0))

    # Finance keys a batch of cheques, banked on the 20th.
    donor = Supporter.objects.create(first_name="Grace", last_name="Hopper", email="grace@example.org")
    batch = batches.batch_open(banking_date=d(20), method="cheque", expected_count=2, expected_total_pence=7500,
                               reference="000041", by=finance_user)
    batches.batch_gift_add(batch=batch, supporter=donor, amount_pence=2500, by=finance_user)
    batches.batch_gift_add(batch=batch, supporter=donor, amount_pence=5000, by=finance_user)
    batches.batch_close(batch=batch, by=finance_user)

    call_command("sync_stripe_payouts", "--since", MONTH.isoformat(), stdout=io.StringIO())
    one, two = Payout.objects.get(stripe_payout_id=week_one["id"]), Payout.objects.get(stripe_payout_id=week_two["id"])
    assert one.amount_pence == (5000 - 95) + (2500 - 58) + (1000 - 35) - 1000 - 1000 - 2000
    assert two.amount_pence == (10000 - 170) + (2000 - 50) - 2000 - 2000 + 2000 - 500 + (3000 - 65)
    assert all(selectors.payout_figures(payout).adds_up for payout in (one, two))

    account = BankAccount.objects.create(name="Lloyds current account", code="090")
    decoy = int(str(two.amount_pence)[:-2] + str(two.amount_pence)[-1] + str(two.amount_pence)[-2])
    assert decoy != two.amount_pence
    bank.bank_statement_import(account=account, filename="october.csv", data=lloyds(
        (d(9), "STRIPE PAYMENTS UK BRIGHTWELL", 0, one.amount_pence / 100),
        (d(16), "FASTER PAYMENT A N OTHER", 0, decoy / 100),
        (d(16), "STRIPE PAYMENTS UK BRIGHTWELL", 0, two.amount_pence / 100),
        (d(20), "CHEQUES PAID IN 000041", 0, 75.00),
        (d(22), "JUSTGIVING PAYOUT JG77812", 0, 486.50),
        (d(25), "DD BRITISH GAS", 184.50, 0)))

    result = reconcile(month=MONTH, today=datetime.date(2026, 11, 20))
    assert result.bank_matches_now == 3 and result.to_choose == []
    assert Payout.objects.filter(bank_line__isnull=True).count() == 0
    assert PayingInBatch.objects.get().bank_line.description == "CHEQUES PAID IN 000041"
    found = result.exceptions
    # Exactly what should be left: the card payment we never recorded, and two credits nobody explained.
    missing_charge = missing.latest_charge if isinstance(missing.latest_charge, str) else missing.latest_charge.id
    assert [line.source_id for line in found.lines_without_gift] == [missing_charge]
    # Who paid, from the charge, so that Finance can record the gift from the line.
    assert (found.lines_without_gift[0].customer_email, found.lines_without_gift[0].customer_name) == (
        "Mary.Seacole@example.org", "Mary Seacole")
    assert sorted(line.description for line in found.unmatched_credits) == [
        "FASTER PAYMENT A N OTHER", "JUSTGIVING PAYOUT JG77812"]
    assert (found.gifts_not_paid_out, found.after_gift_aid_claim, found.payouts_not_adding_up,
            found.payouts_not_in_bank) == ([], [], [], [])
    assert BankLine.objects.get(description="DD BRITISH GAS").status == BankLine.Status.NOT_A_CREDIT

    month = journals.journals_for_month(month=MONTH)
    assert len(month.journals) == 3  # two payouts and the batch
    for journal in month.journals:
        assert sum(line.amount_pence for line in journal.lines) == 0
    income = -sum(line.amount_pence for journal in month.journals for line in journal.lines
                  if line.kind == journals.INCOME)
    # The income lines equal the gifts behind them (the unrecorded card payment posts, flagged, to income too).
    assert income == 5000 + 2500 + 1000 + 10000 + 2000 + 3000 + 7500
    assert any("no gift" in flag.lower() for flag in month.flags)
