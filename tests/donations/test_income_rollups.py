"""The dashboard's income rollups, figure by figure against the gifts: gifts
recorded through the services (card gifts from Stripe's PaymentIntents, monthly
charges, refunds, disputes won and lost, offline, platform and collection gifts),
across midnight, the clocks changing and the 5/6 April boundary."""

import threading
from collections import defaultdict

import pytest
from django.db import close_old_connections, connection
from django.db.models import Sum

from campaigns.models import Appeal, Campaign
from donations import income
from donations.models import DailyGiftSizes, DailyIncome, Donation, DonorYear, IncomeTarget, MonthlyGiftSizes
from donations.services import rollups as services_rollups
from donations.services.rollups import FIGURES, income_rollups_rebuild
from donations.tax_years import TaxYear
from tests.donations.income_builders import D, offline, refund
from tests.supporters.factories import SupporterFactory

pytestmark = pytest.mark.django_db


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
    sizes.update({("month", r.month, r.campaign_id, r.kept_pence): r.gifts for r in MonthlyGiftSizes.objects.all()
                  if r.gifts})
    donors = sorted(DonorYear.objects.values_list("supporter_id", "tax_year", "gifts", "kept_pence", "first_gift_id",
                                                  "first_gift_on", "first_campaign_id", "first_source"))
    return income_rows, sizes, donors


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
    income.Period(D(2025, 10, 1), D(2026, 3, 31)),  # whole months only
    income.Period(D(2024, 12, 1), D(2026, 4, 8)),   # whole months and part of one
    income.Period(D(2026, 4, 6), D(2026, 6, 30)),   # most of April (the month less its first five days), then whole months
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
        kept = sorted(g.kept_pence for g in gifts if g.kept_pence > 0)
        middle = (kept[(len(kept) - 1) // 2] + kept[len(kept) // 2] + 1) // 2 if kept else None
        assert income.median_gift_pence(period=period, campaign_id=campaign_id) == middle


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


def test_merging_two_donors_of_the_same_year_folds_their_counts(year_of_gifts):
    from supporters import services as supporter_services

    ann, dev = year_of_gifts["ann_6_april"].supporter, year_of_gifts["dev_2026"].supporter
    supporter_services.supporter_merge(survivor=ann, duplicate=dev)
    this_year = income.donor_figures(to=D(2026, 4, 10))
    assert (this_year.donors, this_year.new, this_year.retained) == (2, 1, 1)  # Ann (with Dev's gifts) and Cat
    assert DonorYear.objects.filter(supporter=ann).count() == 3  # 2024-25 (Dev's), 2025-26, 2026-27
    live = live_rollups()
    income_rollups_rebuild()
    assert live_rollups() == live


def test_folding_past_days_shards_changes_no_figure(year_of_gifts):
    assert DailyIncome.objects.exclude(shard=0).exists()  # gifts kept live spread over the shards
    live = live_rollups()
    rows = DailyIncome.objects.count()
    folded = services_rollups.income_rollups_compact(before=D(2026, 4, 9))
    assert folded > 0 and DailyIncome.objects.count() < rows
    assert not DailyIncome.objects.filter(day__lt=D(2026, 4, 9)).exclude(shard=0).exists()
    assert live_rollups() == live
    assert services_rollups.income_rollups_compact(before=D(2026, 4, 9)) == 0  # nothing left to fold
    refund(year_of_gifts["dev_2026"], 1_000)  # a past day changes again: its shard comes back, the sums stay right
    income_rollups_rebuild()
    assert DailyIncome.objects.exclude(shard=0).count() == 0  # a rebuild writes no shards
