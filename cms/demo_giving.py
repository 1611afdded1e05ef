"""The demo's giving over the two tax years the dashboard compares (the last
one whole, this one to date): one-off gifts that follow the year's seasons
(the Christmas appeal's peak in November and December, the spring appeal, a
quiet summer), donors who gave in both years, only the last or first this one,
and monthly givers who joined, stopped or whose cards failed along the way.

Used by `manage.py load_demo_data`, which writes what this builds through the
donations services' bulk imports, then rebuilds the totals and rollups."""

import bisect
import datetime
import itertools
import random

from django.utils import timezone

from campaigns.models import Appeal, Campaign
from campaigns.selectors import campaign_totals
from config.money import format_pence
from donations.income import Period, income_total
from donations.models import Donation, GiftKind, IncomeTarget, MonthlyCharge, RecurringGift, Refund
from donations.services import donations_import
from donations.services.monthly import recurring_gifts_import
from donations.tax_years import TaxYear
from supporters import services as supporter_services
from supporters.models import Interaction

# Each month's share of the year's one-off gifts (relative weights).
MONTH_WEIGHTS = {1: 8, 2: 6, 3: 11, 4: 11, 5: 7, 6: 6, 7: 5, 8: 5, 9: 7, 10: 8, 11: 16, 12: 30}
# The form's preset amounts, the usual ones most often; a few large gifts besides.
GIFT_AMOUNTS = (500, 1000, 1000, 1000, 2000, 2000, 2500, 2500, 2500, 5000, 5000, 10000)
LARGE_GIFTS = (25000, 25000, 25000, 25000, 50000, 50000, 50000, 100000, 100000, 250000)
CASH_AMOUNTS = (500, 1000, 1500, 2000, 3000, 4000, 7500)
PLATFORM = "platform"  # a gift through JustGiving, which claims its Gift Aid itself
CHANNELS = ((Donation.Channel.WEB, 55), (Donation.Channel.POST, 12), (Donation.Channel.OFFLINE, 10),
            (Donation.Channel.PHONE, 3), (Donation.Channel.EVENT, 8), (PLATFORM, 12))
# Who gave when, as shares of supporters: last year only (lapsed), both years
# (retained), first ever this year (new), only before last year, never.
PROFILES = (("lapsed", 19), ("retained", 19), ("new", 16), ("older", 22), ("none", 24))
# Which appeals (by their channel) a gift that came in a given way answers.
APPEAL_CHANNELS = {
    Donation.Channel.WEB: (Appeal.Channel.EMAIL, Appeal.Channel.SOCIAL, Appeal.Channel.WEB),
    PLATFORM: (Appeal.Channel.SOCIAL, Appeal.Channel.WEB),
    Donation.Channel.POST: (Appeal.Channel.POST,),
    Donation.Channel.OFFLINE: (Appeal.Channel.POST,),
    Donation.Channel.PHONE: (Appeal.Channel.POST, Appeal.Channel.PHONE),
    Donation.Channel.EVENT: (Appeal.Channel.EVENT,),
}
REFUND_REASONS = ("Gave twice by mistake", "Meant to give £10, not £100", "Donor asked for part of the gift back")
CARD_FAILURES = ("Your card has insufficient funds.", "Your card has expired.", "Your card was declined.")
RETRY_AFTER_DAYS = (0, 3, 10)  # a charge's attempts: its day, then 3 and 7 days on (settings.MONTHLY_RETRY_DAYS)
CANCEL_REASONS = ("Money is tight at the moment", "Giving to another charity now", "Moved abroad",
                  "Cancelled by the supporter online: changing bank", "Asked by phone")


def _at(day: datetime.date, hour: int = 10, minute: int = 0) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour, minute)))


def _first_of_month_before(month: datetime.date) -> datetime.date:
    return (month - datetime.timedelta(days=1)).replace(day=1)


def create_appeal_campaigns(*, today: datetime.date) -> None:
    """Last year's Christmas appeal and the two spring appeals (with their
    source codes), and source codes for the campaigns the loader makes itself."""
    this_year = TaxYear.containing(today)
    last_christmas = this_year.start_year - 1
    campaign, _ = Campaign.objects.get_or_create(
        code=f"christmas-appeal-{last_christmas}",
        defaults=dict(name=f"Christmas appeal {last_christmas}", kind=Campaign.Kind.APPEAL,
                      status=Campaign.Status.CLOSED, starts_on=datetime.date(last_christmas, 11, 1),
                      ends_on=datetime.date(last_christmas + 1, 1, 31)))
    short = f"{last_christmas % 100:02d}"
    _appeals(campaign, [(f"XMAS{short}-POST", "Christmas letter to past donors", Appeal.Channel.POST),
                        (f"XMAS{short}-EMAIL", "Christmas emails", Appeal.Channel.EMAIL),
                        (f"XMAS{short}-SOCIAL", "Christmas adverts on Facebook and Instagram", Appeal.Channel.SOCIAL),
                        (f"XMAS{short}-CAROLS", "Carol concerts", Appeal.Channel.EVENT)])
    for year in (this_year.start_year - 1, this_year.start_year):
        ends_on = datetime.date(year, 4, 30)
        campaign, _ = Campaign.objects.get_or_create(
            code=f"spring-appeal-{year}",
            defaults=dict(name=f"Spring appeal {year}: a family for every child", kind=Campaign.Kind.APPEAL,
                          status=Campaign.Status.CLOSED if ends_on < today else Campaign.Status.LIVE,
                          starts_on=datetime.date(year, 3, 1), ends_on=ends_on))
        short = f"{year % 100:02d}"
        _appeals(campaign, [(f"SPRING{short}-POST", "Spring letter", Appeal.Channel.POST),
                            (f"SPRING{short}-EMAIL", "Spring emails", Appeal.Channel.EMAIL)])
    codes = {
        "home-for-christmas-2026": [("HFC26-POST", "Home for Christmas letter", Appeal.Channel.POST),
                                    ("HFC26-EMAIL", "Home for Christmas emails", Appeal.Channel.EMAIL),
                                    ("HFC26-SOCIAL", "Home for Christmas adverts", Appeal.Channel.SOCIAL),
                                    ("HFC26-WEB", "Home page banner", Appeal.Channel.WEB)],
        "london-marathon-2027": [("LM27-SOCIAL", "Marathon places on social media", Appeal.Channel.SOCIAL)],
        "families-not-orphanages": [("FNO-WEB", "Monthly giving page", Appeal.Channel.WEB),
                                    ("FNO-PHONE", "Calls to one-off donors", Appeal.Channel.PHONE)],
    }
    for code, appeals in codes.items():
        campaign = Campaign.objects.filter(code=code).first()
        if campaign:
            _appeals(campaign, appeals)


def _appeals(campaign: Campaign, appeals: list[tuple[str, str, str]]) -> None:
    for code, name, channel in appeals:
        Appeal.objects.get_or_create(code=code, defaults=dict(campaign=campaign, name=name, channel=channel))


class GivingSeasons:
    """The two tax years, day by day (this one to its end: who gives in it is
    chosen for the whole year, and only what has come by today is written),
    weighted as one-off gifts fall on them, and the campaigns (with their
    appeals by channel) running on each day."""

    def __init__(self, *, today: datetime.date, now: datetime.datetime):
        self.today, self.now = today, now
        self.this_year = TaxYear.containing(today)
        self.last_year = TaxYear(self.this_year.start_year - 1)
        self.first_day = self.last_year.first_day
        self.days = [self.first_day + datetime.timedelta(days=n)
                     for n in range((self.this_year.last_day - self.first_day).days + 1)]
        self.cumulative = list(itertools.accumulate(self._weight(day) for day in self.days))
        self.campaigns = []
        for campaign in Campaign.objects.exclude(kind=Campaign.Kind.REGULAR_GIVING).prefetch_related("appeals"):
            by_channel = {channel: [a for a in campaign.appeals.all() if a.channel in kinds]
                          for channel, kinds in APPEAL_CHANNELS.items()}
            self.campaigns.append((campaign, by_channel))

    @staticmethod
    def _weight(day: datetime.date) -> int:
        if day.month == 12 and day.day > 24:
            return 6  # most Christmas giving is done by Christmas Day
        return MONTH_WEIGHTS[day.month]

    def day_between(self, rng: random.Random, first: datetime.date, last: datetime.date) -> datetime.date:
        """A day from `first` to `last` (within the two years, perhaps after today), as likely as gifts fall on it."""
        low, high = (first - self.first_day).days, (last - self.first_day).days
        base = self.cumulative[low - 1] if low else 0
        point = base + rng.random() * (self.cumulative[high] - base)
        return self.days[min(bisect.bisect_right(self.cumulative, point, low, high), high)]

    def moment(self, rng: random.Random, day: datetime.date) -> datetime.datetime:
        """A time of day someone gives (never later than now)."""
        return min(_at(day, rng.randint(7, 22), rng.randint(0, 59)), self.now)

    def campaign_for(self, rng: random.Random, day: datetime.date, channel: str):
        """(campaign, appeal) a gift on `day` answered: most gifts while an appeal
        runs are to it, most of those by one of its source codes."""
        running = [(c, by_channel) for c, by_channel in self.campaigns
                   if c.starts_on <= day and (c.ends_on is None or day <= c.ends_on)]
        if not running or rng.random() >= 0.7:
            return None, None
        campaign, by_channel = rng.choice(running)
        appeals = by_channel.get(channel) or []
        return campaign, rng.choice(appeals) if appeals and rng.random() < 0.85 else None

    # Supporters' giving ------------------------------------------------------

    def plan(self, rng: random.Random, person) -> None:
        """Choose how a new supporter gave over the two years; move their
        record's creation to their first gift when that was in them."""
        profile = rng.choices([p for p, _ in PROFILES], [w for _, w in PROFILES])[0]
        first_here = profile == "new" or (profile in ("lapsed", "retained") and rng.random() < 0.35)
        if first_here:
            year = self.this_year if profile == "new" else self.last_year
            day = self.day_between(rng, year.first_day, year.last_day)
            if day > self.today:
                profile, first_here = "none", False  # not come yet
            else:
                person.created_at = self.moment(rng, day)
        elif profile != "none" and timezone.localdate(person.created_at) >= self.first_day - datetime.timedelta(days=30):
            # They gave before the two years, so they were on the database by then.
            person.created_at = _at(self.first_day - datetime.timedelta(days=rng.randint(60, 3000)), rng.randint(8, 20))
        person.demo_giving = (profile, first_here)

    def gifts_of(self, rng: random.Random, person, *, declared: bool) -> list[Donation]:
        """The one-off gifts of the two years, as `plan` chose."""
        profile, first_here = getattr(person, "demo_giving", ("none", False))
        gifts = []
        for year, gave in ((self.last_year, profile in ("lapsed", "retained")),
                           (self.this_year, profile in ("retained", "new"))):
            if not gave:
                continue
            first, last = year.first_day, year.last_day
            if first_here and timezone.localdate(person.created_at) >= first:
                first = timezone.localdate(person.created_at)
                whens = [person.created_at]  # the gift that brought them
                days = []
            else:
                whens, days = [], [self.day_between(rng, first, last)]
            days += [self.day_between(rng, first, last) for chance in (0.35, 0.1) if rng.random() < chance]
            # This year's gifts still to come are not written.
            whens += [self.moment(rng, day) for day in days if day <= self.today]
            gifts += [self.gift(rng, person, when, declared=declared) for when in whens]
        return gifts

    def gift(self, rng: random.Random, person, when: datetime.datetime, *, declared: bool) -> Donation:
        channel = rng.choices([c for c, _ in CHANNELS], [w for _, w in CHANNELS])[0]
        if rng.random() < 0.015:
            amount = rng.choice(LARGE_GIFTS)
        elif channel in (Donation.Channel.OFFLINE, Donation.Channel.EVENT) and rng.random() < 0.4:
            amount = rng.choice(CASH_AMOUNTS)
        else:
            amount = rng.choice(GIFT_AMOUNTS)
        campaign, appeal = self.campaign_for(rng, timezone.localdate(when), channel)
        ticket = channel == Donation.Channel.EVENT and rng.random() < 0.3
        gift = Donation(
            supporter=person, amount_pence=amount, status=Donation.Status.SUCCEEDED,
            # A platform's gifts come in its report, imported; online gifts from before
            # this system carry no Stripe ids (finance reconciles from last month on).
            channel=Donation.Channel.IMPORT if channel == PLATFORM else channel,
            campaign=campaign, appeal=appeal, appeal_code=appeal.code if appeal else "",
            gift_aid_declared=declared and not ticket, gift_aid_claimed_by="JustGiving" if channel == PLATFORM else "",
            gift_kind=GiftKind.TICKET if ticket else GiftKind.OWN_GIFT, created_at=when, paid_at=when)
        # Now and then part of an online gift went back (before last month, which finance reconciled).
        if (channel == Donation.Channel.WEB and amount >= 1000 and rng.random() < 0.015
                and timezone.localdate(when) < _first_of_month_before(self.today.replace(day=1))):
            gift.status = Donation.Status.PARTLY_REFUNDED
            gift.refunded_pence = amount // 2 if amount < 10000 else amount - 1000
            gift.demo_refund = (rng.choice(REFUND_REASONS), when + datetime.timedelta(days=rng.randint(1, 12)))
        return gift


def record_refunds(*, gifts: list[Donation]) -> None:
    """The refunds of imported gifts partly refunded, as the refund services keep
    them: a Refund row and the entry on the giver's timeline."""
    refunded = [gift for gift in gifts if getattr(gift, "demo_refund", None)]
    Refund.objects.bulk_create([Refund(donation=gift, amount_pence=gift.refunded_pence, reason=gift.demo_refund[0],
                                       created_at=gift.demo_refund[1]) for gift in refunded])
    supporter_services.timeline_add_many(entries=[
        {"supporter": gift.supporter, "kind": Interaction.Kind.DONATION, "occurred_at": gift.demo_refund[1],
         "summary": f"Refunded {format_pence(gift.refunded_pence, gift.currency)} of a gift of {gift.amount_display}",
         "source_ref": f"donation:{gift.pk}:refunded:{gift.refunded_pence}"} for gift in refunded])


# Monthly giving --------------------------------------------------------------

def monthly_gift(rng: random.Random, person, *, campaign, appeals: list, now: datetime.datetime,
                 declared: bool) -> RecurringGift | None:
    """About one supporter in ten gives monthly, by card saved at Stripe,
    since a day in the last three years; some have stopped since (about one in
    fifty a month, as real monthly giving loses them)."""
    if rng.random() >= 0.1:
        return None
    today = timezone.localdate(now)
    earliest = max(timezone.localdate(person.created_at), today - datetime.timedelta(days=1100))
    started_on = earliest + datetime.timedelta(days=rng.randint(0, (today - earliest).days))
    lasted = datetime.timedelta(days=int(rng.expovariate(1 / 1650)))
    cancelled_at = None
    if lasted.days > 35 and started_on + lasted < today:
        cancelled_at = _at(started_on + lasted, 15, 30)
    card_year = today.year + rng.randint(0, 4)
    appeal = rng.choice(appeals) if appeals and rng.random() < 0.6 else None
    return RecurringGift(
        supporter=person, amount_pence=rng.choice((500, 1000, 1000, 1000, 1500, 2000, 2000, 2500, 3000, 5000)),
        day_of_month=min(started_on.day, 28),
        status=RecurringGift.Status.CANCELLED if cancelled_at else RecurringGift.Status.ACTIVE,
        gift_aid_declared=declared, campaign=campaign, appeal=appeal, appeal_code=appeal.code if appeal else "",
        stripe_customer_id=f"cus_demo{rng.getrandbits(56):014x}",
        stripe_payment_method_id=f"pm_demo{rng.getrandbits(56):014x}",
        card_brand=rng.choice(("visa", "visa", "mastercard", "amex")), card_last4=f"{rng.randint(0, 9999):04d}",
        card_exp_month=rng.randint(today.month if card_year == today.year else 1, 12), card_exp_year=card_year,
        started_on=started_on, created_at=_at(started_on),
        cancelled_at=cancelled_at, cancellation_reason=rng.choice(CANCEL_REASONS) if cancelled_at else "",
    )


def monthly_this_month(rng: random.Random, gifts: list[RecurringGift], *, now: datetime.datetime) -> None:
    """Give this month what a month of monthly giving brings: a giver or two
    joining and one stopping, a few cards declined, a gift or two past due
    (its card failing for months). Those whose charges fail are marked with the
    month their failures began (`demo_failing_from`)."""
    today = timezone.localdate(now)
    month = today.replace(day=1)
    live = [g for g in gifts if g.status == RecurringGift.Status.ACTIVE]
    if not live:
        return
    rng.shuffle(live)
    if not any(g.started_on >= month for g in live):
        joined = live.pop()
        joined.started_on = month + datetime.timedelta(days=rng.randint(0, today.day - 1))
        joined.day_of_month, joined.created_at = min(joined.started_on.day, 28), _at(joined.started_on)
    older = [g for g in live if g.started_on < _first_of_month_before(_first_of_month_before(month))]
    for stopping in older[:max(1, round(0.015 * len(live)))]:
        stopping.status = RecurringGift.Status.CANCELLED
        stopping.cancelled_at = min(now, _at(month + datetime.timedelta(days=rng.randint(0, today.day - 1)), 15, 30))
        stopping.cancellation_reason = rng.choice(CANCEL_REASONS)
    older = [g for g in older if g.status == RecurringGift.Status.ACTIVE]
    for failing in older[:max(1, round(0.03 * len(live)))]:
        failing.demo_failing_from = _first_of_month_before(_first_of_month_before(month))
    due = [g for g in live if g.status == RecurringGift.Status.ACTIVE and g.started_on < month
           and g.day_of_month <= today.day and not hasattr(g, "demo_failing_from")]
    for failing in due[:max(2, round(0.08 * len(due)))]:
        failing.demo_failing_from = month


def import_monthly_gifts(rng: random.Random, gifts: list[RecurringGift], *, now: datetime.datetime) -> None:
    """Through the monthly import: each gift's paid months, up to today or the
    month its card began to fail; then the failed charges as the monthly run
    leaves them (a gift given up on after its third attempt is past due)."""
    today = timezone.localdate(now)
    recurring_gifts_import(recurring_gifts=[g for g in gifts if not hasattr(g, "demo_failing_from")], through=today)
    failing = [g for g in gifts if hasattr(g, "demo_failing_from")]
    for gift in failing:
        recurring_gifts_import(recurring_gifts=[gift], through=gift.demo_failing_from.replace(
            day=gift.day_of_month) - datetime.timedelta(days=1))
    charges, attempts = [], []
    for gift in failing:
        reason = rng.choice(CARD_FAILURES)
        month = gift.demo_failing_from
        while month <= today:
            tried = [month.replace(day=gift.day_of_month) + datetime.timedelta(days=days) for days in RETRY_AFTER_DAYS]
            done = [day for day in tried if day <= today]
            if not done:
                break
            given_up = len(done) == len(tried)
            failed = [Donation(supporter=gift.supporter, amount_pence=gift.amount_pence, currency=gift.currency,
                               status=Donation.Status.FAILED, failure_reason=reason, channel=Donation.Channel.MONTHLY,
                               gift_aid_declared=gift.gift_aid_declared, campaign=gift.campaign, appeal=gift.appeal,
                               appeal_code=gift.appeal_code, recurring_gift=gift,
                               stripe_customer_id=gift.stripe_customer_id,
                               stripe_payment_method_id=gift.stripe_payment_method_id, created_at=min(_at(day), now))
                      for day in done]
            charge = MonthlyCharge(
                recurring_gift=gift, month=month, amount_pence=gift.amount_pence,
                status=MonthlyCharge.Status.ABANDONED if given_up else MonthlyCharge.Status.FAILED,
                attempts=len(done), last_error=reason, donation=failed[-1], created_at=min(_at(done[0]), now),
                next_attempt_at=None if given_up else _at(tried[len(done)]))
            charges.append(charge)
            attempts.append((charge, failed))
            if given_up:
                gift.status = RecurringGift.Status.PAST_DUE
            month = gift.payment_day_after(month).replace(day=1)
    donations_import(donations=[donation for _, failed in attempts for donation in failed])
    for charge, failed in attempts:
        charge.donation = failed[-1]
    MonthlyCharge.objects.bulk_create(charges)
    RecurringGift.objects.bulk_update([g for g in failing if g.status == RecurringGift.Status.PAST_DUE], ["status"])
    # Each attempt on the giver's timeline, as the monthly run writes it.
    supporter_services.timeline_add_many(entries=[
        {"supporter": charge.recurring_gift.supporter, "kind": Interaction.Kind.DONATION,
         "occurred_at": donation.created_at,
         "summary": f"Monthly gift for {charge.month:%B %Y} failed (attempt {number}): {charge.last_error}",
         "source_ref": f"monthly-charge:{charge.pk}:attempt:{number}:failed"}
        for charge, failed in attempts for number, donation in enumerate(failed, start=1)])


# Targets -----------------------------------------------------------------------

def _round_pounds(pence: int) -> int:
    """A target as people set one: to the nearest £100, £1,000 or £5,000."""
    step = 10_000 if pence < 2_000_000 else 100_000 if pence < 20_000_000 else 500_000
    return max(step, (pence + step // 2) // step * step)


def set_targets(rng: random.Random, *, today: datetime.date) -> None:
    """Targets and budgets in proportion to what the demo's supporters give (so
    they read true at 500 supporters or 100,000): the tax years' income targets
    (last year's a little above what came in; this year's a step up on it), and
    each campaign's target and budget (what it cost: 15-30p a pound raised)."""
    this_year = TaxYear.containing(today)
    last_year = TaxYear(this_year.start_year - 1)
    last_kept = income_total(period=Period(last_year.first_day, last_year.last_day)).kept_pence
    if last_kept:
        for year, share in ((last_year.start_year, rng.uniform(1.0, 1.06)), (this_year.start_year, 1.1)):
            IncomeTarget.objects.update_or_create(tax_year=year,
                                                  defaults={"target_pence": _round_pounds(int(last_kept * share))})
    campaigns = {c.code: c for c in Campaign.objects.all()}
    last_christmas = campaigns.get(f"christmas-appeal-{last_year.start_year}")
    last_christmas_raised = campaign_totals(campaign=last_christmas)["raised_pence"] if last_christmas else 0
    for campaign in campaigns.values():
        raised = campaign_totals(campaign=campaign)["raised_pence"]
        if campaign.ends_on is not None and campaign.ends_on < today:
            target = _round_pounds(int(raised * rng.uniform(0.9, 1.1)))  # met, nearly or just
        elif campaign.code == "home-for-christmas-2026" and last_christmas_raised:
            target = _round_pounds(int(last_christmas_raised * 1.15))  # a step up on last Christmas
        elif campaign.kind == Campaign.Kind.REGULAR_GIVING:
            target = _round_pounds(int(raised * 1.25))  # open-ended: the next milestone
        else:
            target = _round_pounds(raised * 3)  # early days
        spent = max(raised, target) if campaign.ends_on is None or campaign.ends_on >= today else raised
        budget = _round_pounds(int(spent * rng.uniform(0.15, 0.3)))
        Campaign.objects.filter(pk=campaign.pk).update(target_pence=target, budget_pence=budget)
