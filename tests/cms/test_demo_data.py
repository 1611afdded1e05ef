import datetime
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from campaigns.models import Campaign
from donations.models import GiftAidClaim
from supporters.models import Supporter
from supporters.services import consent_state_from_events

pytestmark = pytest.mark.django_db


def test_demo_data_is_believable_and_consistent():
    call_command("load_demo_data", supporters=300, no_users=True)
    assert Supporter.objects.count() == 300
    assert Campaign.objects.count() >= 2
    with_history = Supporter.objects.filter(consent_events__isnull=False).distinct().count()
    assert with_history > 100
    # The stored current consent is exactly what the history says.
    for supporter in Supporter.objects.prefetch_related("consent_events"):
        assert supporter.current_consent() == consent_state_from_events(supporter.consent_events.all())
        supporter.full_clean()  # every generated record passes the same checks as staff input
        if supporter.consent_events.filter(channel__in=["phone", "sms"]).exists():
            assert supporter.phone  # the form asks for a number when either box is ticked


def test_if_empty_leaves_existing_data_alone(supporter_factory):
    supporter_factory()
    call_command("load_demo_data", supporters=50, if_empty=True, no_users=True)
    assert Supporter.objects.count() == 1


def test_demo_logins_for_each_role(django_user_model):
    call_command("load_demo_data", supporters=1)
    assert set(django_user_model.objects.get(username="fundraiser").groups.values_list("name", flat=True)) == {"Fundraising"}
    assert set(django_user_model.objects.get(username="finance").groups.values_list("name", flat=True)) == {"Finance"}
    assert django_user_model.objects.get(username="admin").is_superuser


def test_demo_site_has_campaign_pages_stories_and_a_leaderboard(client):
    from campaigns.models import Campaign
    from campaigns.selectors import campaign_totals

    call_command("load_demo_data", supporters=200, no_users=True)
    home = client.get("/").content.decode()
    assert "Home for Christmas" in home and "Stories" in home
    marathon = client.get("/london-marathon/").content.decode()
    assert "Top fundraisers" in marathon
    totals = campaign_totals(campaign=Campaign.objects.get(code="london-marathon-2027"))
    assert totals["raised_pence"] > 0


def test_demo_monthly_givers_look_like_real_ones():
    """Monthly givers under the monthly-giving campaign, each month's charge paid
    and its gift recorded, as the monthly run leaves them (a few cards declined
    lately, a gift past due after its third failed attempt); the campaign's total
    counts them; the monthly run charges none of them twice."""
    from campaigns.selectors import campaign_totals
    from donations.services import monthly
    from donations.models import Donation, MonthlyCharge, RecurringGift

    call_command("load_demo_data", supporters=400, no_users=True)
    givers = RecurringGift.objects.filter(status="active")
    assert givers.count() >= 5 and RecurringGift.objects.filter(status="cancelled").exists()
    assert RecurringGift.objects.filter(status="past_due").exists()
    assert not givers.exclude(campaign__code="families-not-orphanages").exists()
    recent = (timezone.localdate().replace(day=1) - datetime.timedelta(days=40)).replace(day=1)
    for recurring in RecurringGift.objects.prefetch_related("charges__donation"):
        charges = list(recurring.charges.all())
        paid = [c for c in charges if c.status == "succeeded"]
        assert paid and all(c.donation.status == "succeeded" for c in paid)
        for charge in charges:
            if charge.status != "succeeded":  # declined lately: each attempt a failed gift
                assert charge.status in ("failed", "abandoned") and charge.month >= recent, charge
                assert charge.donation.status == "failed" and charge.last_error and 1 <= charge.attempts <= 3
                assert (charge.next_attempt_at is None) == (charge.status == "abandoned")
                assert Donation.objects.filter(recurring_gift=recurring, status="failed").count() >= charge.attempts
        assert (recurring.status == "past_due") == any(c.status == "abandoned" for c in charges)
        assert {c.donation.amount_pence for c in charges} == {recurring.amount_pence}
        assert all(c.donation.channel == "monthly" and c.donation.recurring_gift_id == recurring.pk for c in charges)
        assert recurring.supporter.interactions.filter(source_ref=f"recurring-gift:{recurring.pk}:started").exists()
        recurring.full_clean()
    campaign = Campaign.objects.get(code="families-not-orphanages")
    given = Donation.objects.filter(campaign=campaign, status="succeeded")
    assert given.filter(channel="monthly").count() > 20
    assert campaign_totals(campaign=campaign)["raised_pence"] == sum(given.values_list("amount_pence", flat=True))
    charges_before = MonthlyCharge.objects.count()
    assert monthly.monthly_charges_schedule() == 0  # this month's are taken where their day has come
    assert MonthlyCharge.objects.count() == charges_before


def test_demo_supporters_timelines_show_their_gifts(fundraiser_client):
    from donations.models import Donation

    call_command("load_demo_data", supporters=300, no_users=True)
    # Every gift that was paid (some since refunded or disputed); collections have no giver.
    gifts = Donation.objects.filter(paid_at__isnull=False, supporter__isnull=False)
    assert gifts.count() > 100
    on_timelines = set(Supporter.objects.filter(interactions__kind="donation", interactions__source_ref__regex=r"^donation:\d+$")
                       .values_list("interactions__source_ref", flat=True))
    assert on_timelines == {f"donation:{pk}" for pk in gifts.values_list("pk", flat=True)}
    giver = gifts.filter(channel="monthly").first().supporter
    page = fundraiser_client.get(f"/admin/supporter/inspect/{giver.pk}/").content.decode()
    assert "Started a monthly gift of" in page and "Gave £" in page



def test_demo_has_bucket_collections_that_a_claim_can_take():
    from donations.models import Donation
    from donations.services import gift_aid_claims

    call_command("load_demo_data", supporters=300, no_users=True)
    collections = Donation.objects.filter(supporter=None, small_donation=True)
    assert collections.count() == 5 and all(c.description for c in collections)
    # Finance's next claim (the months since last year's claim) takes those it has room for.
    today = timezone.localdate()
    last_claimed = GiftAidClaim.objects.get().period_end
    claim = gift_aid_claims.gift_aid_claim_build(period_start=last_claimed + datetime.timedelta(days=1),
                                          period_end=today - datetime.timedelta(days=1))
    assert claim.small_donations.exists()


def test_demo_gifts_and_last_years_claim_have_believable_dates():
    from donations.models import Donation

    call_command("load_demo_data", supporters=300, no_users=True)
    for gift in Donation.objects.exclude(campaign=None).exclude(channel="monthly").select_related("campaign"):
        assert gift.campaign.kind != "regular_giving", gift
        assert gift.campaign.starts_on <= timezone.localdate(gift.paid_at), gift
    claim = GiftAidClaim.objects.get()
    assert claim.period_end < timezone.localdate(claim.submitted_at) < claim.repayment_received_on


def test_demo_finance_has_a_closed_reconciled_month_and_an_open_one_with_exceptions():
    """A new user sees the whole of reconciliation: last month's payouts, cheques
    and bank lines all matched and the month closed; this month's exceptions."""
    from finance import selectors
    from finance.models import BankLine, ClosedMonth, PayingInBatch, Payout, PayoutLine

    call_command("load_demo_data", supporters=120, no_users=True, stdout=StringIO())
    this_month = timezone.localdate().replace(day=1)
    last_month = (this_month - datetime.timedelta(days=1)).replace(day=1)
    assert list(ClosedMonth.objects.values_list("month", flat=True)) == [last_month]
    closed = selectors.finance_exceptions(month=last_month)
    assert closed.count == 0, closed
    batch = PayingInBatch.objects.get()
    assert (batch.status, batch.gifts.count(), batch.bank_line.description) == ("closed", 5, "CHEQUES PAID IN 000041")
    last_months_payouts = Payout.objects.filter(arrival_date__lt=this_month)
    assert last_months_payouts.count() >= 3 and not last_months_payouts.filter(bank_line__isnull=True).exists()
    assert {"charge", "refund", "dispute", "dispute_reversal", "fee"} <= set(
        PayoutLine.objects.values_list("reporting_category", flat=True))
    assert all(selectors.payout_figures(payout).adds_up for payout in Payout.objects.all())
    open_month = selectors.finance_exceptions()
    assert len(open_month.lines_without_gift) == 1  # a gift taken on Stripe's dashboard
    credits = {line.description: line for line in open_month.unmatched_credits}
    assert "JUSTGIVING PAYOUT REF JG77812" in credits and "FASTER PAYMENT A N OTHER" in credits
    recent = Payout.objects.get(arrival_date__gte=this_month)
    assert credits["FASTER PAYMENT A N OTHER"].paid_in_pence != recent.amount_pence  # the decoy never matches
    assert BankLine.objects.filter(status=BankLine.Status.OTHER_INCOME, description__startswith="INTEREST").exists()


# Early December: the Christmas appeal under way, the year's retention well along.
@time_machine.travel(datetime.datetime(2026, 12, 5, 14, tzinfo=ZoneInfo("Europe/London")), tick=True)
def test_demo_gives_the_dashboard_two_tax_years_of_believable_figures():
    """Two tax years of gifts with the year's seasons, donors new, retained and
    lapsed, monthly givers joining, stopping and failing this month, income
    targets for both years, campaigns with targets, budgets and appeals; and the
    rollups the loader leaves are what a rebuild from the gifts makes."""
    from campaigns.models import Appeal
    from donations import income
    from donations.models import DailyIncome, IncomeTarget
    from donations.tax_years import TaxYear

    call_command("load_demo_data", supporters=500, no_users=True, stdout=StringIO())
    today = timezone.localdate()
    this_year, last_year = income.period_for("tax_year"), income.period_for("last_tax_year")
    this, last = income.income_breakdown(period=this_year), income.income_breakdown(period=last_year)
    for breakdown in (this, last):
        assert all(breakdown.by_source[source].kept_pence > 0 for source in ("online", "monthly", "offline", "platform"))
        assert breakdown.total.refunded_pence > 0 and breakdown.total.gift_aid_pence > 0 and breakdown.by_appeal
    assert 0.3 < this.total.kept_pence / last.total.kept_pence < 1.2  # this year so far, against a whole year
    months = income.income_by_month(period=last_year)
    december, july = (months[datetime.date(last_year.first.year, m, 1)] for m in (12, 7))
    assert december > 2 * july  # the Christmas appeal's peak
    donors = income.donor_figures(to=today)
    assert donors.new > 0 and donors.retained > 0 and donors.lapsed > 0
    assert 0.3 < donors.retained / donors.last_year_donors < 0.7
    giving = income.regular_giving()
    assert giving.active_donors >= 10 and giving.cancelled and giving.failed and giving.past_due and giving.new
    targets = dict(IncomeTarget.objects.values_list("tax_year", "target_pence"))
    year = TaxYear.containing(today).start_year
    assert set(targets) == {year - 1, year}
    assert 0.9 < last.total.kept_pence / targets[year - 1] < 1.1
    for campaign in Campaign.objects.all():
        assert campaign.target_pence > 0 and campaign.budget_pence > 0, campaign
    assert Campaign.objects.filter(ends_on__gt=today).exists() and Appeal.objects.count() >= 10
    before = sorted(DailyIncome.objects.values_list("day", "campaign_id", "appeal_id", "source", "monthly", "kept_pence",
                                                    "gifts", "year_donors", "year_retained", "new_donors"))
    call_command("rebuild_income_rollups", stdout=StringIO())
    assert before == sorted(DailyIncome.objects.values_list("day", "campaign_id", "appeal_id", "source", "monthly",
                                                            "kept_pence", "gifts", "year_donors", "year_retained",
                                                            "new_donors"))
