"""Gift Aid eligibility and claims, on the real database, through the services
finance staff use. HMRC's rules as applied here: docs/gift-aid.md."""

import datetime

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from campaigns.models import Campaign
from config.errors import ApplicationError
from donations import services
from donations.models import Donation, GiftAidClaim, GiftAidClaimedGift, GiftKind
from donations import selectors, tax_years
from donations.services import gift_aid_claims, gift_aid_rules
from supporters import services as supporter_services
from supporters.models import GiftAidDeclaration
from tests.helpers import refusals, run_at_once
from tests.supporters.factories import SupporterFactory

pytestmark = pytest.mark.django_db

D = datetime.date
TODAY = D(2026, 11, 25)


def when(day: datetime.date, hour: int = 12, minute: int = 0) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour, minute)))


def gift(supporter, pence: int, on: datetime.date, **extra) -> Donation:
    moment = extra.pop("at", None) or when(on)
    return Donation.objects.create(supporter=supporter, amount_pence=pence, status=Donation.Status.SUCCEEDED,
                                   channel=Donation.Channel.OFFLINE, created_at=moment, paid_at=moment, **extra)


def declare(supporter, on: datetime.date, scope="all_gifts", method="online", **declared):
    return supporter_services.gift_aid_declaration_record(
        supporter=supporter, method=method, wording=supporter_services.gift_aid_wording(),
        wording_version=supporter_services.GIFT_AID_WORDING_VERSION, declared_on=on, scope=scope,
        declared=declared or None)


def verdict(donation, today=TODAY):
    return gift_aid_rules.gift_aid_verdict_for(donation, today=today)


def build(start, end, **kwargs):
    return gift_aid_claims.gift_aid_claim_build(period_start=start, period_end=end, today=kwargs.pop("today", TODAY),
                                         **kwargs)


# --- eligibility ------------------------------------------------------------------

def test_a_declaration_made_after_the_gift_covers_the_past_four_years():
    donor = SupporterFactory()
    earlier = gift(donor, 5000, D(2025, 1, 10))
    assert verdict(earlier).status == gift_aid_rules.NOT_ELIGIBLE
    assert verdict(earlier).reason == "No Gift Aid declaration covers this gift"

    declare(donor, D(2026, 6, 1), scope="future_gifts")
    assert verdict(earlier).status == gift_aid_rules.NOT_ELIGIBLE, "a future-gifts declaration does not reach back"

    declare(donor, D(2026, 7, 1), scope="all_gifts")
    assert verdict(earlier).status == gift_aid_rules.ELIGIBLE
    too_early = gift(donor, 5000, D(2022, 6, 30))  # more than four years before 1 July 2026
    assert verdict(too_early).status == gift_aid_rules.NOT_ELIGIBLE


def test_a_this_gift_declaration_covers_that_gift_only():
    donor = SupporterFactory()
    declaration = declare(donor, D(2026, 5, 1), scope="this_gift")
    covered = gift(donor, 2500, D(2026, 5, 1), gift_aid_declaration=declaration)
    other = gift(donor, 2500, D(2026, 6, 1))
    assert verdict(covered).status == gift_aid_rules.ELIGIBLE
    assert verdict(other).status == gift_aid_rules.NOT_ELIGIBLE


def test_a_cancellation_stops_future_gifts_not_past_ones():
    donor = SupporterFactory()
    declaration = declare(donor, D(2025, 1, 1))
    before = gift(donor, 1000, D(2025, 6, 1))
    after = gift(donor, 1000, D(2025, 9, 1))
    GiftAidDeclaration.objects.filter(pk=declaration.pk).update(cancelled_on=D(2025, 8, 1),
                                                                cancellation_reason="No longer pays UK tax")
    assert verdict(before).status == gift_aid_rules.ELIGIBLE
    assert verdict(after).status == gift_aid_rules.NOT_ELIGIBLE
    assert verdict(after).reason == "The declaration was cancelled on 01 August 2025"

    declare(donor, D(2025, 10, 1), scope="future_gifts")  # a new declaration re-opens only what it covers
    assert verdict(after).status == gift_aid_rules.NOT_ELIGIBLE
    assert verdict(gift(donor, 1000, D(2025, 10, 1))).status == gift_aid_rules.ELIGIBLE


def test_a_repeat_donors_cancellation_stops_gift_aid_whatever_older_declarations_say():
    """Each online gift with Gift Aid ticked records a declaration; the donor's
    'please stop' ends them all, and the latest declaration decides a gift."""
    donor = SupporterFactory()
    oldest = declare(donor, D(2024, 1, 10))
    middle = declare(donor, D(2025, 2, 10))
    latest = declare(donor, D(2025, 3, 10))
    later_wish = declare(donor, D(2025, 12, 1), scope="future_gifts")  # made after the cancellation's date
    before = gift(donor, 2000, D(2025, 4, 1))
    after = gift(donor, 2000, D(2025, 7, 1))

    ended = supporter_services.gift_aid_declaration_cancel(declaration=latest, cancelled_on=D(2025, 6, 1),
                                                           reason="Phoned: no longer pays UK tax")
    assert [d.pk for d in ended] == [latest.pk, middle.pk, oldest.pk]
    for declaration in (oldest, middle, latest):
        declaration.refresh_from_db()
        assert declaration.cancelled_on == D(2025, 6, 1)
    later_wish.refresh_from_db()
    assert later_wish.cancelled_on is None
    entry = donor.interactions.get(summary__startswith="Gift Aid cancelled")
    assert all(d.reference in entry.summary for d in (oldest, middle, latest))

    assert verdict(before).status == gift_aid_rules.ELIGIBLE
    assert verdict(after).status == gift_aid_rules.NOT_ELIGIBLE
    assert verdict(after).reason == "The declaration was cancelled on 01 June 2025"
    assert verdict(gift(donor, 2000, D(2025, 12, 2))).status == gift_aid_rules.ELIGIBLE


def test_the_latest_declaration_decides_even_when_only_it_was_cancelled():
    """Records cancelled one by one (as before this rule, or by hand) still stop
    the gifts after the latest one's cancellation."""
    donor = SupporterFactory()
    declare(donor, D(2024, 1, 10))
    latest = declare(donor, D(2025, 3, 10))
    GiftAidDeclaration.objects.filter(pk=latest.pk).update(cancelled_on=D(2025, 6, 1), cancellation_reason="Asked")
    assert verdict(gift(donor, 2000, D(2025, 7, 1))).status == gift_aid_rules.NOT_ELIGIBLE


def test_an_oral_declaration_cancelled_within_thirty_days_never_counted():
    donor = SupporterFactory()
    declaration = declare(donor, D(2026, 3, 1), method="oral")
    given = gift(donor, 3000, D(2026, 3, 2))
    assert verdict(given).status == gift_aid_rules.ELIGIBLE
    GiftAidDeclaration.objects.filter(pk=declaration.pk).update(confirmation_sent_on=D(2026, 3, 3),
                                                                cancelled_on=D(2026, 3, 20))
    assert verdict(given).status == gift_aid_rules.NOT_ELIGIBLE
    assert verdict(given).reason == "No Gift Aid declaration covers this gift"


@pytest.mark.parametrize("change, reason", [
    ({"gift_aid_claimed_by": "JustGiving"}, "Gift Aid already claimed by JustGiving"),
    ({"gift_kind": GiftKind.COMPANY}, "Not the donor's own gift: a company's or organisation's money"),
    ({"gift_kind": GiftKind.RAFFLE}, "Not the donor's own gift: raffle or lottery ticket"),
    ({"gift_kind": GiftKind.TICKET}, "Not the donor's own gift: admission or event ticket"),
    ({"is_sponsorship": True, "sponsor_relationship": "participant"}, "The event participant's own sponsorship"),
    ({"benefit_pence": 1300}, "over HMRC's limit of £12.50 for this gift"),
    ({"currency": "eur"}, "Not given in pounds sterling"),
])
def test_gifts_hmrc_does_not_allow_say_why(change, reason):
    donor = SupporterFactory()
    declare(donor, D(2026, 1, 1))
    result = verdict(gift(donor, 5000, D(2026, 2, 1), **change))
    assert result.status == gift_aid_rules.NOT_ELIGIBLE
    assert reason in result.reason


def test_the_yearly_benefits_limit_fails_the_gift_that_crosses_it_not_the_earlier_ones():
    """HMRC's aggregate value test: benefits to one donor in a tax year at most
    £2,500. A verdict given today must not change when a later gift arrives."""
    donor = SupporterFactory()
    declare(donor, D(2025, 4, 6))
    first = gift(donor, 5_000_000, D(2025, 5, 1), benefit_pence=150_000)   # £50,000 gift, £1,500 benefit
    second = gift(donor, 2_000_000, D(2025, 9, 1), benefit_pence=100_000)  # £2,500 in the year: at the limit
    assert verdict(first).status == gift_aid_rules.ELIGIBLE
    assert verdict(second).status == gift_aid_rules.ELIGIBLE

    third = gift(donor, 1_000_000, D(2025, 12, 1), benefit_pence=1)  # one penny over
    assert verdict(third).status == gift_aid_rules.NOT_ELIGIBLE
    assert "£2,500.01" in verdict(third).reason
    assert verdict(first).status == gift_aid_rules.ELIGIBLE, "an earlier gift's verdict does not change"
    assert verdict(second).status == gift_aid_rules.ELIGIBLE
    # A new tax year starts again from nothing.
    assert verdict(gift(donor, 5_000_000, D(2026, 4, 6), benefit_pence=100_000)).status == gift_aid_rules.ELIGIBLE
    # The claim builder decides alike.
    claim = build(D(2025, 4, 6), D(2026, 4, 5))
    assert set(claim.gifts.values_list("donation_id", flat=True)) == {first.pk, second.pk}


def test_a_benefit_within_the_limit_is_allowed():
    donor = SupporterFactory()
    declare(donor, D(2026, 1, 1))
    assert verdict(gift(donor, 5000, D(2026, 2, 1), benefit_pence=1250)).status == gift_aid_rules.ELIGIBLE
    # Above £100: £25 plus 5% of the excess (£200 gift: £30).
    assert verdict(gift(donor, 20000, D(2026, 2, 1), benefit_pence=3000)).status == gift_aid_rules.ELIGIBLE
    assert verdict(gift(donor, 20000, D(2026, 2, 1), benefit_pence=3001)).status == gift_aid_rules.NOT_ELIGIBLE


def test_sponsorship_from_a_relative_depends_on_who_pays_the_event():
    donor = SupporterFactory()
    declare(donor, D(2026, 1, 1))
    paid_by_charity = Campaign.objects.create(name="Marathon", code="marathon", kind="event")
    paid_by_runner = Campaign.objects.create(name="Own place", code="own-place", kind="event",
                                             charity_pays_event_costs=False)
    relative = dict(is_sponsorship=True, sponsor_relationship="connected")
    assert verdict(gift(donor, 2500, D(2026, 4, 1), campaign=paid_by_charity, **relative)).status == gift_aid_rules.NOT_ELIGIBLE
    assert verdict(gift(donor, 2500, D(2026, 4, 1), campaign=paid_by_runner, **relative)).status == gift_aid_rules.ELIGIBLE
    friend = gift(donor, 2500, D(2026, 4, 1), campaign=paid_by_charity, is_sponsorship=True)
    assert verdict(friend).status == gift_aid_rules.ELIGIBLE


def test_the_four_year_limit_runs_from_the_end_of_the_accounting_period():
    donor = SupporterFactory()
    declare(donor, D(2024, 1, 1))
    old = gift(donor, 1000, D(2021, 5, 1))  # period ends 31 March 2022: deadline 31 March 2026
    assert verdict(old).reason == "Too old to claim: the deadline was 31 March 2026"
    nearly = gift(donor, 1000, D(2022, 12, 1))  # deadline 31 March 2027
    assert verdict(nearly, today=D(2027, 3, 31)).status == gift_aid_rules.ELIGIBLE
    assert verdict(nearly, today=D(2027, 4, 1)).status == gift_aid_rules.NOT_ELIGIBLE
    follow_ups = selectors.gift_aid_follow_ups(today=D(2027, 1, 15))
    assert [(g.id, deadline) for g, _v, deadline in follow_ups["nearing_deadline"]] == [(nearly.id, D(2027, 3, 31))]


def test_a_declaration_missing_hmrc_details_holds_the_gift_as_needs_data():
    donor = SupporterFactory()
    # An old system's declaration, kept as it came: no house number.
    GiftAidDeclaration.objects.create(supporter=donor, first_name="Ann", last_name="Lee", address_house="",
                                      postcode="N16 8AA", declared_on=D(2025, 1, 1), method="imported",
                                      wording="(imported)", wording_version="legacy")
    held = gift(donor, 4000, D(2026, 1, 5))
    result = verdict(held)
    assert (result.status, result.reason) == (gift_aid_rules.NEEDS_DATA, "The declaration has no house name or number")
    assert [g.id for g, _v in selectors.gift_aid_follow_ups(today=TODAY)["needs_data"]] == [held.id]

    other = SupporterFactory()
    declare(other, D(2026, 1, 1))
    gift(other, 4000, D(2026, 1, 5))
    claim = build(D(2026, 1, 1), D(2026, 3, 31))
    assert claim.gift_count == 1, "the held gift is left out; the claim does not fail"
    assert not GiftAidClaimedGift.objects.filter(donation=held).exists()


# --- claims -----------------------------------------------------------------------

def test_a_claim_is_a_quarter_of_the_eligible_gifts_to_the_penny():
    donors = [SupporterFactory() for _ in range(3)]
    for donor in donors:
        declare(donor, D(2026, 1, 1))
    amounts = [3333, 5001, 12345, 2999, 7777]
    for index, pence in enumerate(amounts):
        gift(donors[index % 3], pence, D(2026, 2, 1) + datetime.timedelta(days=index))
    gift(SupporterFactory(), 9999, D(2026, 2, 3))  # no declaration: not in the claim
    claim = build(D(2026, 1, 1), D(2026, 3, 31))
    assert claim.gifts_pence == sum(amounts)
    assert claim.tax_pence == sum(amounts) * 25 // 100  # 7,863.75 → £78.63, rounded down
    assert claim.gift_count == 5
    assert claim.row_count == 3, "one row per donor for the period"
    assert sum(claim.rows.values_list("amount_pence", flat=True)) == claim.gifts_pence
    assert claim.earliest_gift_on == D(2026, 2, 1)
    row = claim.rows.get(first_name=donors[0].first_name)
    assert (row.amount_pence, row.date) == (3333 + 2999, D(2026, 2, 4)), "a series shows the last gift's date"


def test_small_gifts_are_aggregated_into_rows_of_at_most_a_thousand_pounds():
    for day in range(60):
        donor = SupporterFactory()
        declare(donor, D(2026, 1, 1))
        gift(donor, 2000, D(2026, 1, 1) + datetime.timedelta(days=day))
    big = SupporterFactory(first_name="Rhian")
    declare(big, D(2026, 1, 1))
    gift(big, 2001, D(2026, 2, 1))
    claim = build(D(2026, 1, 1), D(2026, 3, 31))
    rows = list(claim.rows.order_by("number"))
    assert [(r.first_name, r.aggregated != "", r.amount_pence) for r in rows] == [
        ("Rhian", False, 2001), ("", True, 100_000), ("", True, 20_000)]
    for row in rows[1:]:
        assert len(row.aggregated) <= 35 and not (row.last_name or row.house or row.postcode)
    assert rows[1].date == D(2026, 2, 19), "an aggregated row shows its last gift's date"


def test_aggregation_is_a_setting(settings):
    settings.GIFT_AID_AGGREGATE_MAX_PENCE = 0
    donor = SupporterFactory()
    declare(donor, D(2026, 1, 1))
    gift(donor, 500, D(2026, 1, 2))
    claim = build(D(2026, 1, 1), D(2026, 1, 31))
    assert claim.rows.get().aggregated == ""


def test_rows_never_span_two_accounting_periods_and_dates_follow_london_time():
    donor = SupporterFactory()
    declare(donor, D(2025, 1, 1))
    gift(donor, 5000, D(2026, 3, 31), at=when(D(2026, 3, 31), 23, 30))  # BST: 22:30 UTC, still 31 March here
    gift(donor, 5000, D(2026, 4, 1), at=when(D(2026, 4, 1), 0, 30))
    claim = build(D(2026, 3, 1), D(2026, 4, 30))
    assert sorted(claim.rows.values_list("date", "amount_pence")) == [(D(2026, 3, 31), 5000), (D(2026, 4, 1), 5000)]


def test_a_tax_year_boundary_is_where_hmrc_puts_it():
    assert tax_years.tax_year_start(D(2026, 4, 5)) == D(2025, 4, 6)
    assert tax_years.tax_year_start(D(2026, 4, 6)) == D(2026, 4, 6)
    donor = SupporterFactory()
    declare(donor, D(2025, 1, 1))
    late = gift(donor, 4000, D(2026, 4, 5), at=when(D(2026, 4, 5), 23, 59))
    gift(donor, 4000, D(2026, 4, 6), at=when(D(2026, 4, 6), 0, 1))
    claim = build(D(2026, 1, 6), D(2026, 4, 5), include_earlier=False)
    assert list(claim.gifts.values_list("donation_id", flat=True)) == [late.id]


def test_names_and_addresses_are_written_as_hmrc_wants_them():
    donor = SupporterFactory()
    declare(donor, D(2026, 1, 1), title="Mrs", first_name="Zoë", last_name="O'Brien-Smith", address_house="Flat 2, Rosé House",
            address_street="", address_town="Leeds", postcode="ls1 4ap", country="GB")
    abroad = SupporterFactory()
    declare(abroad, D(2026, 1, 1), first_name="José", last_name="García", address_house="Calle Mayor 5",
            address_street="", address_town="Madrid", postcode="28013", country="ES")
    gift(donor, 5000, D(2026, 2, 1))
    gift(abroad, 5000, D(2026, 2, 1))
    claim = build(D(2026, 1, 1), D(2026, 3, 31))
    rows = {r.last_name: r for r in claim.rows.all()}
    uk = rows["O'Brien Smith"]
    assert (uk.title, uk.first_name, uk.house, uk.postcode, uk.overseas) == ("Mrs", "Zoe", "Flat 2, Rose House", "LS1 4AP", False)
    spain = rows["Garcia"]
    assert (spain.first_name, spain.postcode, spain.overseas) == ("Jose", "", True)
    assert "Madrid" in spain.house and "28013" in spain.house


def test_a_claim_over_a_period_already_claimed_is_refused():
    donor = SupporterFactory()
    declare(donor, D(2026, 1, 1))
    gift(donor, 5000, D(2026, 2, 1))
    first = build(D(2026, 1, 1), D(2026, 3, 31))
    with pytest.raises(ApplicationError, match=f"already in claim {first.reference}"):
        build(D(2026, 3, 1), D(2026, 4, 30))
    with pytest.raises(ApplicationError, match="before today"):
        build(D(2026, 4, 1), TODAY)
    with pytest.raises(ApplicationError, match="No gifts from"):
        build(D(2026, 4, 1), D(2026, 4, 30))
    assert GiftAidClaim.objects.count() == 1


def test_a_submitted_claim_is_locked():
    donor = SupporterFactory()
    declare(donor, D(2026, 1, 1))
    gift(donor, 5000, D(2026, 2, 1))
    claim = gift_aid_claims.gift_aid_claim_submit(claim=build(D(2026, 1, 1), D(2026, 3, 31)), hmrc_reference="CORR-1")
    for attempt in (lambda: gift_aid_claims.gift_aid_claim_submit(claim=claim),
                    lambda: gift_aid_claims.gift_aid_claim_discard(claim=claim)):
        with pytest.raises(ApplicationError, match="can no longer be changed"):
            attempt()
    claim.refresh_from_db()
    assert (claim.status, claim.gift_count) == ("submitted", 1)


def test_a_gift_is_in_one_live_claim_at_most_by_constraint():
    donor = SupporterFactory()
    declare(donor, D(2026, 1, 1))
    given = gift(donor, 5000, D(2026, 2, 1))
    claim = build(D(2026, 1, 1), D(2026, 3, 31))
    claimed = claim.gifts.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        GiftAidClaimedGift.objects.create(claim=claim, row=claimed.row, donation=given, declaration=claimed.declaration,
                                          amount_pence=5000, tax_pence=1250)


def test_a_rejected_claim_returns_its_gifts_to_the_pool():
    donor = SupporterFactory()
    declare(donor, D(2026, 1, 1))
    given = gift(donor, 5000, D(2026, 2, 1))
    claim = gift_aid_claims.gift_aid_claim_submit(claim=build(D(2026, 1, 1), D(2026, 3, 31)))
    with pytest.raises(ApplicationError, match="Say why"):
        gift_aid_claims.gift_aid_claim_record_outcome(claim=claim, accepted=False)
    gift_aid_claims.gift_aid_claim_record_outcome(claim=claim, accepted=False, reason="Charity reference not recognised")
    assert verdict(given).status == gift_aid_rules.ELIGIBLE
    again = build(D(2026, 1, 1), D(2026, 3, 31))
    assert list(again.gifts.values_list("donation_id", flat=True)) == [given.id]
    assert GiftAidClaimedGift.objects.filter(donation=given).count() == 2  # the history stays


def test_a_gift_refunded_after_its_claim_is_an_adjustment_in_the_next_claim():
    donor = SupporterFactory()
    declare(donor, D(2026, 1, 1))
    refunded = gift(donor, 10_000, D(2026, 2, 1), stripe_charge_id="ch_refund_after_claim")
    first = gift_aid_claims.gift_aid_claim_submit(claim=build(D(2026, 1, 1), D(2026, 3, 31)))
    assert first.tax_pence == 2500

    services.donation_apply_refund_total(charge_id="ch_refund_after_claim", payment_intent_id=None,
                                         refunded_pence=4000)  # down to £60
    gift(donor, 4000, D(2026, 4, 2))
    second = build(D(2026, 4, 1), D(2026, 6, 30))
    assert (second.tax_pence, second.adjustment_pence, second.repayment_due_pence) == (1000, 1000, 0)
    adjustment = second.adjustments.get()
    assert refunded.reference in adjustment.reason and first.reference in adjustment.reason


def test_adjustments_add_up_across_refunds_and_never_repeat():
    donor = SupporterFactory()
    declare(donor, D(2026, 1, 1))
    gift(donor, 10_000, D(2026, 2, 1), stripe_charge_id="ch_two_refunds")
    gift_aid_claims.gift_aid_claim_submit(claim=build(D(2026, 1, 1), D(2026, 3, 31)))
    services.donation_apply_refund_total(charge_id="ch_two_refunds", payment_intent_id=None, refunded_pence=4000)
    gift(donor, 10_000, D(2026, 4, 2))
    second = gift_aid_claims.gift_aid_claim_submit(claim=build(D(2026, 4, 1), D(2026, 6, 30)))
    assert second.adjustment_pence == 1000

    services.donation_apply_refund_total(charge_id="ch_two_refunds", payment_intent_id=None, refunded_pence=10_000)
    gift(donor, 10_000, D(2026, 7, 2))
    third = build(D(2026, 7, 1), D(2026, 9, 30))
    assert third.adjustment_pence == 1500, "£25 claimed in all: £10 repaid already, £15 now"
    gift(donor, 10_000, D(2026, 10, 2))
    gift_aid_claims.gift_aid_claim_discard(claim=third)
    fourth = build(D(2026, 7, 1), D(2026, 10, 31))
    assert fourth.adjustment_pence == 1500, "a discarded draft's adjustment is made again, once"


def test_a_draft_whose_gift_was_refunded_must_be_rebuilt():
    donor = SupporterFactory()
    declare(donor, D(2026, 1, 1))
    given = gift(donor, 10_000, D(2026, 2, 1), stripe_charge_id="ch_refund_before_submit")
    claim = build(D(2026, 1, 1), D(2026, 3, 31))
    services.donation_apply_refund_total(charge_id="ch_refund_before_submit", payment_intent_id=None,
                                         refunded_pence=10_000)
    with pytest.raises(ApplicationError, match=f"{given.reference} \\(refunded\\).*Discard the draft"):
        gift_aid_claims.gift_aid_claim_submit(claim=claim)
    claim.refresh_from_db()
    assert claim.status == "draft"


def test_a_draft_whose_declaration_was_cancelled_from_before_a_gift_must_be_rebuilt():
    donor = SupporterFactory()
    declaration = declare(donor, D(2025, 1, 1))
    gift(donor, 4_000, D(2026, 1, 10))
    after = gift(donor, 6_000, D(2026, 1, 20))
    claim = build(D(2026, 1, 1), D(2026, 1, 31))
    supporter_services.gift_aid_declaration_cancel(declaration=declaration, cancelled_on=D(2026, 1, 15),
                                                   reason="Phoned on the 15th")
    with pytest.raises(ApplicationError, match=f"{after.reference} \\(declaration .* cancelled from 15/01/2026"):
        gift_aid_claims.gift_aid_claim_submit(claim=claim)
    gift_aid_claims.gift_aid_claim_discard(claim=claim)
    assert list(build(D(2026, 1, 1), D(2026, 1, 31)).gifts.values_list("amount_pence", flat=True)) == [4_000]


def test_an_adjustment_larger_than_the_claim_is_refused():
    donor = SupporterFactory()
    declare(donor, D(2026, 1, 1))
    gift(donor, 10_000, D(2026, 2, 1), stripe_charge_id="ch_big_refund")
    gift_aid_claims.gift_aid_claim_submit(claim=build(D(2026, 1, 1), D(2026, 3, 31)))
    services.donation_apply_refund_total(charge_id="ch_big_refund", payment_intent_id=None, refunded_pence=10_000)
    gift(donor, 2000, D(2026, 4, 2))
    with pytest.raises(ApplicationError, match="more than this claim's tax"):
        build(D(2026, 4, 1), D(2026, 6, 30))
    assert GiftAidClaim.objects.count() == 1


def test_a_declaration_made_void_after_its_gifts_were_claimed_is_repaid_through_the_next_claim():
    donor = SupporterFactory()
    oral = declare(donor, D(2026, 1, 5), method="oral")
    GiftAidDeclaration.objects.filter(pk=oral.pk).update(confirmation_sent_on=D(2026, 1, 6))
    claimed = gift(donor, 8_000, D(2026, 1, 7))
    first = gift_aid_claims.gift_aid_claim_submit(claim=build(D(2026, 1, 1), D(2026, 1, 31)))
    assert first.tax_pence == 2000

    supporter_services.gift_aid_declaration_cancel(declaration=oral, cancelled_on=D(2026, 2, 1),
                                                   reason="Phoned: did not mean to")  # 26 days after the letter
    other = SupporterFactory()
    declare(other, D(2026, 2, 1))
    gift(other, 10_000, D(2026, 2, 10))
    second = build(D(2026, 2, 1), D(2026, 2, 28))
    assert (second.tax_pence, second.adjustment_pence, second.repayment_due_pence) == (2500, 2000, 500)
    adjustment = second.adjustments.get()
    assert adjustment.claimed_gift.donation == claimed
    assert f"declaration {oral.reference} cancelled within 30 days" in adjustment.reason
    part = selectors.claim_part(second, 1)
    assert "no longer covered by a declaration" in selectors.claim_header(second, part).other_info
    # Repaid once: a later claim carries nothing more for it.
    gift_aid_claims.gift_aid_claim_submit(claim=second)
    gift(other, 10_000, D(2026, 3, 10))
    assert build(D(2026, 3, 1), D(2026, 3, 31)).adjustment_pence == 0


def test_a_cancellation_dated_before_a_claimed_gift_is_repaid():
    donor = SupporterFactory()
    declaration = declare(donor, D(2025, 1, 1))
    before, after = gift(donor, 4_000, D(2026, 1, 10)), gift(donor, 6_000, D(2026, 1, 20))
    gift_aid_claims.gift_aid_claim_submit(claim=build(D(2026, 1, 1), D(2026, 1, 31)))
    # The donor phoned on the 15th; it was recorded later, from that date.
    supporter_services.gift_aid_declaration_cancel(declaration=declaration, cancelled_on=D(2026, 1, 15),
                                                   reason="Phoned on the 15th: stopped paying tax")
    other = SupporterFactory()
    declare(other, D(2026, 2, 1))
    gift(other, 10_000, D(2026, 2, 10))
    second = build(D(2026, 2, 1), D(2026, 2, 28))
    assert second.adjustment_pence == 1500  # the tax on the £60 after the 15th, not on the £40 before
    assert second.adjustments.get().claimed_gift.donation == after
    assert verdict(before).status == gift_aid_rules.CLAIMED


def test_the_earliest_gift_date_is_the_earliest_gift_not_the_earliest_row():
    """A row is dated by its last gift (HMRC's rule for a donor's series and for
    aggregated rows); the claim's earliest date must still be its earliest gift."""
    donor = SupporterFactory()
    declare(donor, D(2025, 1, 1))
    gift(donor, 5_000, D(2026, 1, 10))
    gift(donor, 5_000, D(2026, 2, 14))  # the same donor's row: dated 14 February
    small = SupporterFactory()
    declare(small, D(2025, 1, 1))
    gift(small, 1_000, D(2026, 1, 12))
    gift(small, 1_000, D(2026, 2, 20))  # an aggregated row: dated 20 February
    claim = build(D(2026, 1, 1), D(2026, 2, 28))
    assert sorted(claim.rows.values_list("date", flat=True)) == [D(2026, 2, 14), D(2026, 2, 20)]
    assert claim.earliest_gift_on == D(2026, 1, 10)
    assert selectors.claim_part(claim, 1)["earliest_gift_date"] == D(2026, 1, 10)
    assert selectors.claim_part_summaries(claim)[0]["earliest_gift_date"] == D(2026, 1, 10)
    assert selectors.claim_header(claim, selectors.claim_part(claim, 1)).earliest_gift_date == D(2026, 1, 10)


def test_an_over_claim_with_no_claim_to_carry_it_is_repaid_directly_once():
    donor = SupporterFactory()
    declare(donor, D(2026, 1, 1))
    gift(donor, 10_000, D(2026, 2, 1), stripe_charge_id="ch_nowhere_to_go")
    gift_aid_claims.gift_aid_claim_submit(claim=build(D(2026, 1, 1), D(2026, 3, 31)))
    services.donation_apply_refund_total(charge_id="ch_nowhere_to_go", payment_intent_id=None, refunded_pence=10_000)

    with pytest.raises(ApplicationError, match="repay the £25.00 over-claimed directly"):
        build(D(2026, 4, 1), D(2026, 6, 30))  # no new gifts: HMRC takes no claim of adjustments alone
    assert sum(a.tax_pence for a in gift_aid_claims.gift_aid_adjustments_outstanding()) == 2500
    with pytest.raises(ApplicationError, match="£25.00 is owed to HMRC for 1 gift"):
        gift_aid_claims.gift_aid_direct_repayment_record(repaid_on=D(2026, 7, 1), amount_pence=2000, reference="X", today=TODAY)
    with pytest.raises(ApplicationError, match="reference"):
        gift_aid_claims.gift_aid_direct_repayment_record(repaid_on=D(2026, 7, 1), amount_pence=2500, reference=" ", today=TODAY)
    repayment = gift_aid_claims.gift_aid_direct_repayment_record(repaid_on=D(2026, 7, 1), amount_pence=2500,
                                                          reference="CHY-REPAY-1", today=TODAY)
    assert repayment.adjustments.get().tax_pence == 2500
    assert gift_aid_claims.gift_aid_adjustments_outstanding() == []
    with pytest.raises(ApplicationError, match="Nothing is owed"):
        gift_aid_claims.gift_aid_direct_repayment_record(repaid_on=D(2026, 7, 1), amount_pence=2500, reference="again",
                                                  today=TODAY)
    gift(donor, 4_000, D(2026, 7, 2))
    assert build(D(2026, 7, 1), D(2026, 9, 30)).adjustment_pence == 0, "repaid directly: never carried again"


def test_a_repayment_is_reconciled_against_the_claim():
    donor = SupporterFactory()
    declare(donor, D(2026, 1, 1))
    gift(donor, 10_001, D(2026, 2, 1))
    claim = gift_aid_claims.gift_aid_claim_submit(claim=build(D(2026, 1, 1), D(2026, 3, 31)))
    claim = gift_aid_claims.gift_aid_claim_record_repayment(claim=claim, amount_pence=2400, received_on=D(2026, 5, 1),
                                                     reference="HMRC BACS 123")
    assert claim.status == "accepted"
    assert (claim.repayment_due_pence, claim.repayment_difference_pence) == (2500, -100)
    with pytest.raises(ApplicationError, match="already recorded"):
        gift_aid_claims.gift_aid_claim_record_repayment(claim=claim, amount_pence=2500, received_on=D(2026, 5, 2))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # keep the roles and pages that migrations made
def test_two_claims_racing_for_the_same_gifts_never_claim_one_twice():
    
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL")
    donors = [SupporterFactory() for _ in range(30)]
    for index, donor in enumerate(donors):
        declare(donor, D(2026, 1, 1))
        gift(donor, 2500 + index, D(2026, 2, 1) + datetime.timedelta(days=index % 20))
        gift(donor, 3000, D(2026, 5, 1))
    # Two officers build the same quarter; a third builds the next one, its own gifts only.
    periods = [(D(2026, 1, 1), D(2026, 3, 31), True), (D(2026, 1, 1), D(2026, 3, 31), True),
               (D(2026, 4, 1), D(2026, 6, 30), False)]
    results = run_at_once(*[lambda period=period: build(period[0], period[1], include_earlier=period[2])
                            for period in periods])
    refused = refusals(results)
    built = [result for result in results if not isinstance(result, Exception)]
    assert len(refused) == 1 and "already in claim" in refused[0], "the same period twice: one wins"
    assert len(built) == 2
    claimed = list(GiftAidClaimedGift.objects.values_list("donation_id", flat=True))
    assert len(claimed) == len(set(claimed)) == 60, "every gift claimed, none twice"
    assert sum(c.gifts_pence for c in GiftAidClaim.objects.all()) == sum(
        Donation.objects.values_list("amount_pence", flat=True))


def test_more_than_a_thousand_rows_make_more_than_one_schedule(settings):
    from supporters.models import Supporter

    settings.GIFT_AID_AGGREGATE_MAX_PENCE = 0
    donors = Supporter.objects.bulk_create([
        Supporter(first_name=f"Donor{i}", last_name="Smith", email=f"d{i}@example.org", address_house=str(i + 1),
                  postcode="N16 8AA") for i in range(1001)])
    GiftAidDeclaration.objects.bulk_create([
        GiftAidDeclaration(supporter=d, first_name=d.first_name, last_name="Smith", address_house=d.address_house,
                           postcode="N16 8AA", declared_on=D(2026, 1, 1), method="online", wording="w",
                           wording_version="v") for d in donors])
    Donation.objects.bulk_create([
        Donation(supporter=d, amount_pence=1000 + i, status="succeeded", created_at=when(D(2026, 2, 1)),
                 paid_at=when(D(2026, 2, 1 + i % 20))) for i, d in enumerate(donors)])
    claim = build(D(2026, 1, 1), D(2026, 3, 31))
    summaries = selectors.claim_part_summaries(claim)
    assert [p["row_count"] for p in summaries] == [1000, 1]
    parts = [selectors.claim_part(claim, p["number"]) for p in summaries]
    assert selectors.claim_part(claim, 3) is None
    assert [len(p["rows"]) for p in parts] == [1000, 1]
    assert sum(p["amount_pence"] for p in parts) == claim.gifts_pence
    assert parts[1]["earliest_gift_date"] == parts[1]["rows"][0].date
