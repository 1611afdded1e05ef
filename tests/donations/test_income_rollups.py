"""The dashboard's income rollups, figure by figure against the gifts: gifts
recorded through the services (card gifts from Stripe's PaymentIntents, monthly
charges, refunds, disputes won and lost, offline, platform and collection gifts),
across midnight, the clocks changing and the 5/6 April boundary."""

import datetime
import threading
import uuid
from collections import defaultdict

import pytest
import time_machine
from django.db import close_old_connections, connection
from django.db.models import Sum

from campaigns.models import Appeal, Campaign
from donations import income, services
from donations.models import DailyGiftSizes, DailyIncome, Donation, DonorYear, IncomeTarget, RecurringGift
from donations.services.rollups import FIGURES, income_rollups_rebuild
from donations.tax_years import TaxYear
from tests.supporters.factories import SupporterFactory

pytestmark = pytest.mark.django_db
UTC = datetime.UTC
D = datetime.date


def at(*args) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=UTC)


def card_gift(supporter, pence, moment, *, campaign=None, appeal=None, fee=0, declared=False, recurring=None):
    """A card gift as the form leaves it (our row, then Stripe's PaymentIntent
    succeeding at `moment`), through the service the webhook calls."""
    gift = Donation.objects.create(
        supporter=supporter, amount_pence=pence, campaign=campaign, appeal=appeal, gift_aid_declared=declared,
        channel=Donation.Channel.MONTHLY if recurring else Donation.Channel.WEB, recurring_gift=recurring,
        created_at=moment)
    ref = uuid.uuid4().hex[:12]
    with time_machine.travel(moment, tick=False):
        return services.donation_apply_payment_intent(payment_intent={
            "id": f"pi_{ref}", "status": "succeeded", "metadata": {"donation_uid": str(gift.uid)},
            "latest_charge": {"id": f"ch_{ref}", "balance_transaction": {"id": f"txn_{ref}", "fee": fee,
                                                                         "net": pence - fee}}})


def refund(gift, pence):
    """A refund as Stripe's charge.refunded leaves it: its record, then the charge's refunded total."""
    services.refund_record(donation=gift, refund={"id": f"re_{uuid.uuid4().hex[:12]}", "amount": pence,
                                                  "status": "succeeded"})
    return services.donation_apply_refund_total(charge_id=gift.stripe_charge_id,
                                                payment_intent_id=gift.stripe_payment_intent_id,
                                                refunded_pence=gift.refunded_pence + pence)


def dispute(gift, status):
    return services.donation_apply_dispute(charge_id=gift.stripe_charge_id,
                                           payment_intent_id=gift.stripe_payment_intent_id, dispute_status=status,
                                           amount_pence=gift.amount_pence - gift.refunded_pence,
                                           closed=status in ("won", "lost"), dispute_id=f"dp_{gift.pk}")


def offline(supporter, pence, day, **kwargs):
    with time_machine.travel(at(2026, 4, 10, 12), tick=False):
        return services.donation_record_offline(supporter=supporter, amount_pence=pence, received_on=day,
                                                channel=kwargs.pop("channel", Donation.Channel.OFFLINE), **kwargs)


def live_rollups():
    """The rollups as kept, shards added together, rows of nothing left out."""
    income_rows = defaultdict(lambda: defaultdict(int))
    for row in DailyIncome.objects.values():
        key = (row["day"], row["campaign_id"], row["appeal_id"], row["source"], row["monthly"])
        for name, value in row.items():
            if name not in ("id", "day", "campaign_id", "appeal_id", "source", "monthly", "shard"):
                income_rows[key][name] += value
    income_rows = {k: dict(v) for k, v in income_rows.items() if any(v.values())}
    sizes = {(r.day, r.campaign_id, r.kept_pence): r.gifts for r in DailyGiftSizes.objects.all() if r.gifts}
    donors = sorted(DonorYear.objects.values_list("supporter_id", "tax_year", "gifts", "kept_pence", "first_gift_id",
                                                  "first_gift_on", "first_campaign_id", "first_source"))
    return income_rows, sizes, donors


@pytest.fixture
def year_of_gifts():
    """Four donors over three tax years, and every kind of gift and change."""
    christmas = Campaign.objects.create(name="Home for Christmas", code="xmas", target_pence=1_000_000,
                                        budget_pence=50_000, starts_on=D(2025, 1, 1))
    spring = Campaign.objects.create(name="Spring", code="spring", target_pence=500_000, starts_on=D(2025, 1, 1))
    email = Appeal.objects.create(campaign=christmas, code="XMAS-EMAIL", name="Christmas email")
    ann, bob, cat, dev = (SupporterFactory() for _ in range(4))
    monthly = RecurringGift.objects.create(supporter=cat, amount_pence=1_000, day_of_month=1,
                                           status=RecurringGift.Status.ACTIVE, started_on=D(2026, 3, 1))
    gifts = {
        # Tax year 2024–25: Dev.
        "dev_2024": card_gift(dev, 2_000, at(2024, 12, 1, 12), campaign=christmas),
        # Tax year 2025–26: Ann and Bob (Bob lapses).
        "ann_oct": card_gift(ann, 5_000, at(2025, 10, 25, 23, 30), campaign=christmas, appeal=email, fee=95,
                             declared=True),  # 00:30 BST on 26 October, the night the clocks go back
        "bob_gmt": card_gift(bob, 2_500, at(2026, 3, 28, 23, 30), campaign=spring, fee=60),  # 23:30 GMT, 28 March
        "ann_bst": card_gift(ann, 1_001, at(2026, 3, 29, 23, 30), declared=True),  # 00:30 BST on 30 March
        "bob_5_april": card_gift(bob, 3_000, at(2026, 4, 5, 22, 30), campaign=christmas),  # 23:30 BST, 5 April
        # Tax year 2026–27: Ann retained, Cat new (monthly), Dev back after a gap.
        "ann_6_april": card_gift(ann, 2_000, at(2026, 4, 5, 23, 30), campaign=christmas, declared=True),  # 00:30 BST, 6 April
        "cat_monthly": card_gift(cat, 1_000, at(2026, 4, 6, 9), recurring=monthly, fee=40, declared=True),
        "dev_2026": card_gift(dev, 10_000, at(2026, 4, 7, 10), campaign=spring, fee=170),
        "refunded": card_gift(cat, 2_500, at(2026, 4, 7, 11), campaign=spring),
        "partly": card_gift(ann, 4_000, at(2026, 4, 8, 12), campaign=christmas, appeal=email, declared=True),
        "won": card_gift(dev, 3_000, at(2026, 4, 8, 13)),
        "lost": card_gift(bob, 6_000, at(2026, 4, 9, 13), campaign=christmas),
        "open": card_gift(cat, 700, at(2026, 4, 9, 14)),
        "cheque": offline(ann, 25_000, D(2026, 4, 9), campaign=christmas, gift_aid_declared=True),
        "justgiving": offline(dev, 1_500, D(2026, 4, 9), gift_aid_claimed_by="JustGiving"),
        "bucket": offline(None, 4_321, D(2026, 4, 9), small_donation=True, description="Street collection, York"),
    }
    refund(gifts["refunded"], 2_500)
    refund(gifts["partly"], 1_500)
    dispute(gifts["won"], "needs_response")
    dispute(gifts["won"], "won")
    dispute(refund(gifts["lost"], 1_000), "needs_response")
    dispute(Donation.objects.get(pk=gifts["lost"].pk), "lost")
    dispute(gifts["open"], "needs_response")
    Donation.objects.create(supporter=bob, amount_pence=9_999, status=Donation.Status.FAILED, created_at=at(2026, 4, 9))
    return {name: Donation.objects.get(pk=gift.pk) for name, gift in gifts.items()}


PERIODS = [
    income.Period(D(2026, 4, 6), D(2026, 4, 10)),   # this tax year to date
    income.Period(D(2025, 4, 6), D(2026, 4, 5)),    # last tax year
    income.Period(D(2026, 4, 5), D(2026, 4, 5)),    # 5 April alone
    income.Period(D(2026, 4, 6), D(2026, 4, 6)),    # 6 April alone
    income.Period(D(2025, 10, 25), D(2025, 10, 25)),  # the night the clocks went back: nothing yet
    income.Period(D(2025, 10, 26), D(2025, 10, 26)),
    income.Period(D(2026, 3, 28), D(2026, 3, 29)),
    income.Period(D(2026, 3, 30), D(2026, 3, 30)),
    income.Period(D(2024, 1, 1), D(2026, 12, 31)),  # everything
]


def _as_dict(figures: income.Income) -> dict:
    return {name: getattr(figures, name) for name in FIGURES}


@pytest.mark.parametrize("period", PERIODS, ids=str)
def test_every_income_figure_equals_the_gifts_behind_it(year_of_gifts, period):
    for campaign_id in (None, *Campaign.objects.values_list("pk", flat=True)):
        gifts = Donation.objects.filter(income.gifts_given_between(period.first, period.last))
        if campaign_id:
            gifts = gifts.filter(campaign_id=campaign_id)
        assert _as_dict(income.income_total(period=period, campaign_id=campaign_id)) == \
            _as_dict(income.gifts_totals(gifts))


def test_the_figures_a_person_would_work_out(year_of_gifts):
    this_year = income.Period(D(2026, 4, 6), D(2026, 4, 10))
    figures = income.income_total(period=this_year)
    # Kept: 2,000 + 1,000 + 10,000 + 0 (refunded) + 2,500 (4,000 less 1,500) + 3,000 (won) + 0 (lost:
    # 1,000 refunded, 5,000 disputed) + 700 (in dispute) + 25,000 + 1,500 + 4,321 (the bucket)
    assert figures.kept_pence == 50_021
    assert figures.received_pence == 2_000 + 1_000 + 10_000 + 2_500 + 4_000 + 3_000 + 6_000 + 700 + 25_000 + 1_500 + 4_321
    assert figures.refunded_pence == 2_500 + 1_500 + 6_000
    assert figures.disputed_pence == 700
    assert figures.fee_pence == 40 + 170
    assert figures.gifts == 9 and figures.donor_gifts == 8  # the bucket has no donor
    assert figures.gift_aid_pence == 2_000 // 4 + 1_000 // 4 + 2_500 // 4 + 25_000 // 4
    breakdown = income.income_breakdown(period=this_year)
    assert breakdown.by_source["monthly"].kept_pence == 1_000
    assert breakdown.by_source["platform"].kept_pence == 1_500
    assert breakdown.by_source["offline"].kept_pence == 25_000 + 4_321
    assert breakdown.by_source["online"].kept_pence == 50_021 - 1_000 - 1_500 - 25_000 - 4_321
    assert breakdown.by_kind["monthly"].kept_pence == 1_000
    assert breakdown.by_appeal[Appeal.objects.get().pk].kept_pence == 2_500
    # 5 April at 23:30 BST is last year's; 6 April at 00:30 BST this year's.
    assert income.income_total(period=income.Period(D(2026, 4, 5), D(2026, 4, 5))).kept_pence == 3_000
    assert income.income_total(period=income.Period(D(2026, 4, 6), D(2026, 4, 6))).kept_pence == 3_000
    # Midnight in GMT and in BST: 23:30 UTC is the 28th in March before the clocks change, the 30th after.
    assert income.income_total(period=income.Period(D(2026, 3, 28), D(2026, 3, 28))).kept_pence == 2_500
    assert income.income_total(period=income.Period(D(2026, 3, 30), D(2026, 3, 30))).kept_pence == 1_001
    assert income.income_total(period=income.Period(D(2025, 10, 26), D(2025, 10, 26))).kept_pence == 5_000
    # Gifts kept this year, in order: 700, 1,000, 1,500, 2,000, 2,500, 3,000, 4,321, 10,000, 25,000.
    assert income.median_gift_pence(period=this_year) == 2_500
    assert income.median_gift_pence(period=income.Period(D(2026, 3, 28), D(2026, 3, 30))) == (2_500 + 1_001 + 1) // 2


def test_donors_new_retained_and_lapsed(year_of_gifts):
    figures = income.donor_figures(to=D(2026, 4, 10))
    assert figures.year == TaxYear(2026)
    # Ann (retained), Cat (new), Dev (gave in 2024–25, not last year); Bob's only gift this year was lost
    # to a dispute, so he gave nothing this year.
    assert (figures.donors, figures.new, figures.retained) == (3, 1, 1)
    assert figures.last_year_donors == 2 and figures.lapsed == 1  # Bob
    assert figures.donor_gifts == 8
    for group, expected in {"donors": 3, "new": 1, "retained": 1, "lapsed": 1}.items():
        assert income.donors_in(group=group, to=D(2026, 4, 10)).count() == expected
    ann = year_of_gifts["ann_6_april"].supporter
    top = DonorYear.objects.filter(tax_year=2026).order_by("-kept_pence").first()
    assert (top.supporter, top.kept_pence) == (ann, 2_000 + 2_500 + 25_000)


def test_refunding_a_years_first_gift_moves_its_donor(year_of_gifts):
    """Cat's first gift of the year was her monthly one; refunded whole, her first counted gift is the one
    of 9 April (the one of 7 April was refunded), and her donor counts move to its day."""
    before = live_rollups()
    refund(year_of_gifts["cat_monthly"], 1_000)
    cat = year_of_gifts["cat_monthly"].supporter
    row = DonorYear.objects.get(supporter=cat, tax_year=2026)
    assert (row.first_gift_id, row.first_gift_on) == (year_of_gifts["open"].pk, D(2026, 4, 9))
    assert income.income_total(period=income.Period(D(2026, 4, 6), D(2026, 4, 6))).year_donors == 1  # Ann only
    assert income.income_total(period=income.Period(D(2026, 4, 9), D(2026, 4, 9))).new_donors == 1
    assert live_rollups() != before
    live = live_rollups()
    income_rollups_rebuild()
    assert live_rollups() == live


def test_the_rebuild_equals_what_was_kept_live(year_of_gifts):
    live = live_rollups()
    counts = income_rollups_rebuild()
    assert counts["donor years"] == 6  # Ann and Dev two each, Bob last year only (he kept nothing this year), Cat
    assert live_rollups() == live


def test_targets_are_shared_by_days():
    IncomeTarget.objects.create(tax_year=2026, target_pence=365_000_00)
    assert income.target_for(income.Period(D(2026, 4, 6), D(2026, 4, 15))) == 10 * 100_000
    assert income.target_for(income.Period(D(2025, 4, 6), D(2025, 4, 15))) is None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_gifts_leave_rollups_the_rebuild_agrees_with():
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL")
    campaign = Campaign.objects.create(name="TV appeal", code="tv", starts_on=D(2026, 1, 1))
    donors = [SupporterFactory() for _ in range(4)]
    errors = []

    def give(n):
        try:
            for i in range(10):
                offline(donors[(n + i) % 4], 500 + i, D(2026, 4, 6 + i % 3), campaign=campaign,
                        gift_aid_declared=bool(i % 2))
        except Exception as error:  # a failure in a thread must fail the test
            errors.append(error)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=give, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    live = live_rollups()
    assert sum(row["kept_pence"] for row in live[0].values()) == Donation.objects.aggregate(s=Sum("amount_pence"))["s"]
    assert sum(row["year_donors"] for row in live[0].values()) == 4
    income_rollups_rebuild()
    assert live_rollups() == live
