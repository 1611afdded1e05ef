"""Reads for the fundraising dashboard: income, donors and regular giving, from
the daily rollups (never by summing the gifts), and the gifts or donors behind
each figure, whose totals equal it."""

import dataclasses
import datetime

from django.db import connection
from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from config.db import as_date
from config.formats import day_start
from donations.models import (
    DailyGiftSizes,
    DailyIncome,
    Donation,
    DonorYear,
    IncomeSource,
    IncomeTarget,
    MonthlyCharge,
    MonthlyGiftSizes,
    RecurringGift,
)
from donations.services.rollups import RECEIVED_STATUSES
from donations.tax_years import TaxYear


def _year_before(day: datetime.date) -> datetime.date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


@dataclasses.dataclass(frozen=True)
class Period:
    """A span of whole days, both ends included, in UK time."""
    first: datetime.date
    last: datetime.date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def a_year_before(self) -> "Period":
        return Period(_year_before(self.first), _year_before(self.last))

    def __str__(self):
        if self.first == self.last:
            return f"{self.first:%-d %B %Y}"
        return f"{self.first:%-d %B %Y} to {self.last:%-d %B %Y}"


PRESETS = {
    "today": "Today",
    "week": "This week",
    "month": "This month",
    "tax_year": "This tax year",
    "last_30": "Last 30 days",
    "last_tax_year": "Last tax year",
}


def period_for(preset: str, *, today: datetime.date | None = None) -> Period:
    """A named period up to today (a week starts on Monday; a tax year on 6 April)."""
    today = today or timezone.localdate()
    if preset == "today":
        return Period(today, today)
    if preset == "week":
        return Period(today - datetime.timedelta(days=today.weekday()), today)
    if preset == "month":
        return Period(today.replace(day=1), today)
    if preset == "last_30":
        return Period(today - datetime.timedelta(days=29), today)
    if preset == "last_tax_year":
        year = TaxYear.last_complete(today)
        return Period(year.first_day, year.last_day)
    return Period(TaxYear.containing(today).first_day, today)


def _rows(period: Period, campaign_id: int | None) -> QuerySet[DailyIncome]:
    rows = DailyIncome.objects.filter(day__gte=period.first, day__lte=period.last)
    return rows.filter(campaign_id=campaign_id) if campaign_id else rows


@dataclasses.dataclass
class Income:
    """Sums of the rollups' figures (pence, gifts, donors)."""
    gifts: int = 0
    donor_gifts: int = 0
    received_pence: int = 0
    refunded_pence: int = 0
    kept_pence: int = 0
    disputed_pence: int = 0
    fee_pence: int = 0
    gift_aid_pence: int = 0
    new_donors: int = 0
    year_donors: int = 0
    year_retained: int = 0

    def add(self, row: dict) -> None:
        for name in _INCOME_FIGURES:
            value = row.get(name)
            if value:
                setattr(self, name, getattr(self, name) + value)

    @property
    def net_of_fees_pence(self) -> int:
        return self.kept_pence - self.fee_pence

    @property
    def average_gift_pence(self) -> int | None:
        return _divide(self.kept_pence, self.gifts)


def _divide(pence: int, count: int) -> int | None:
    """A whole-penny average, rounded half up; None when there is nothing to divide by."""
    return (2 * pence + count) // (2 * count) if count else None


_INCOME_FIGURES = tuple(field.name for field in dataclasses.fields(Income))


@dataclasses.dataclass
class IncomeBreakdown:
    total: Income
    by_source: dict[str, Income]
    by_kind: dict[str, Income]  # "one_off", "monthly"
    by_campaign: dict[int, Income]
    by_appeal: dict[int, Income]


def _period_sums(periods: dict[str, Period], figures) -> tuple[Period, dict]:
    """The span that covers the periods, and each figure's sum over each period
    (its days as the sum's filter), named "<period>__<figure>": several periods in one read."""
    span = Period(min(p.first for p in periods.values()), max(p.last for p in periods.values()))
    return span, {f"{name}__{figure}": Sum(figure, filter=Q(day__gte=period.first, day__lte=period.last))
                  for name, period in periods.items() for figure in figures}


def _of_period(row: dict, name: str, figures) -> dict:
    return {figure: row[f"{name}__{figure}"] for figure in figures}


def income_breakdowns(*, periods: dict[str, Period], campaign_id: int | None = None) -> dict[str, IncomeBreakdown]:
    """Periods' income in all, and by source, kind, campaign and appeal: one read
    of the rollups, grouped."""
    span, sums = _period_sums(periods, _INCOME_FIGURES)
    found = {name: IncomeBreakdown(total=Income(), by_source={source: Income() for source in IncomeSource.values},
                                   by_kind={"one_off": Income(), "monthly": Income()}, by_campaign={}, by_appeal={})
             for name in periods}
    for row in (_rows(span, campaign_id).values("campaign_id", "appeal_id", "source", "monthly")
                .annotate(**sums).order_by()):
        for name, breakdown in found.items():
            figures = _of_period(row, name, _INCOME_FIGURES)
            if not any(figures.values()):
                continue
            breakdown.total.add(figures)
            breakdown.by_source[row["source"]].add(figures)
            breakdown.by_kind["monthly" if row["monthly"] else "one_off"].add(figures)
            breakdown.by_campaign.setdefault(row["campaign_id"], Income()).add(figures)
            if row["appeal_id"]:
                breakdown.by_appeal.setdefault(row["appeal_id"], Income()).add(figures)
    return found


def income_breakdown(*, period: Period, campaign_id: int | None = None) -> IncomeBreakdown:
    """The period's income in all, and by source, kind, campaign and appeal."""
    return income_breakdowns(periods={"period": period}, campaign_id=campaign_id)["period"]


def income_totals(*, periods: dict[str, Period], campaign_id: int | None = None,
                  figures: tuple[str, ...] = _INCOME_FIGURES) -> dict[str, Income]:
    """Several periods' totals in one read of the rollups: the dashboard's headlines and donor counts."""
    span, sums = _period_sums(periods, figures)
    row = _rows(span, campaign_id).aggregate(**sums)
    totals = {name: Income() for name in periods}
    for name, total in totals.items():
        total.add(_of_period(row, name, figures))
    return totals


def income_total(*, period: Period, campaign_id: int | None = None) -> Income:
    return income_totals(periods={"period": period}, campaign_id=campaign_id)["period"]


def income_by_month(*, period: Period, campaign_id: int | None = None) -> dict[datetime.date, int]:
    """What was kept in each month of the period (first of the month to pence)."""
    return {as_date(row["month"]): row["kept"]
            for row in _rows(period, campaign_id).annotate(month=TruncMonth("day")).values("month")
            .annotate(kept=Sum("kept_pence")).order_by("month")}


def _month_after(day: datetime.date) -> datetime.date:
    return (day.replace(day=1) + datetime.timedelta(days=32)).replace(day=1)


def _gift_size_parts(period: Period, campaign_id: int | None) -> list[QuerySet]:
    """The rows of gift sizes that cover the period: whole months from
    MonthlyGiftSizes, the days of a month begun or not ended from DailyGiftSizes."""
    first_whole = period.first if period.first.day == 1 else _month_after(period.first)
    last_is_month_end = _month_after(period.last) - datetime.timedelta(days=1) == period.last
    end_whole = _month_after(period.last) if last_is_month_end else period.last.replace(day=1)  # after the whole months
    by_day = DailyGiftSizes.objects.filter(gifts__gt=0)
    by_month = MonthlyGiftSizes.objects.filter(gifts__gt=0)
    if campaign_id:
        by_day, by_month = by_day.filter(campaign_id=campaign_id), by_month.filter(campaign_id=campaign_id)
    if first_whole >= end_whole:  # no whole month in the period
        return [(by_day.filter(day__gte=period.first, day__lte=period.last), 1)]
    parts = [(by_month.filter(month__gte=first_whole, month__lt=end_whole), 1)]
    # A month begun or not ended: its days in the period, or, when fewer rows, the
    # whole month less its days outside the period (counted negative).
    if period.first < first_whole:
        month = period.first.replace(day=1)
        if (period.first - month).days < (first_whole - period.first).days:
            parts += [(by_month.filter(month=month), 1), (by_day.filter(day__gte=month, day__lt=period.first), -1)]
        else:
            parts.append((by_day.filter(day__gte=period.first, day__lt=first_whole), 1))
    if end_whole <= period.last:
        month_end = _month_after(end_whole)
        if (month_end - period.last).days - 1 < (period.last - end_whole).days + 1:
            parts += [(by_month.filter(month=end_whole), 1),
                      (by_day.filter(day__gt=period.last, day__lt=month_end), -1)]
        else:
            parts.append((by_day.filter(day__gte=end_whole, day__lte=period.last), 1))
    return parts


def median_gift_pence(*, period: Period, campaign_id: int | None = None) -> int | None:
    """The median of what was kept of each gift counted in the period: the middle
    one, or the two middle ones' mean rounded half up. Worked out in the database
    (a running count over the sizes, in order), so only the answer comes back."""
    parts = [(part.values_list("kept_pence", "gifts").query.sql_with_params(), sign)
             for part, sign in _gift_size_parts(period, campaign_id)]
    union = " UNION ALL ".join(f"SELECT kept_pence, {sign} * gifts AS gifts FROM ({sql}) AS part{n}"
                               for n, ((sql, _), sign) in enumerate(parts))
    params = [param for (_, part_params), _ in parts for param in part_params]
    with connection.cursor() as cursor:
        # The middle positions, counting from 0, are (total - 1) / 2 and total / 2 (integer division);
        # a size holds the positions from (running count - its gifts) to (running count - 1).
        cursor.execute(f"""
            WITH sizes (kept, n) AS (SELECT kept_pence, SUM(gifts) FROM ({union}) AS parts
                                     GROUP BY kept_pence HAVING SUM(gifts) > 0),
                 running AS (SELECT kept, n, SUM(n) OVER (ORDER BY kept) AS upto, SUM(n) OVER () AS total FROM sizes)
            SELECT MIN(CASE WHEN upto > (total - 1) / 2 THEN kept END), MIN(CASE WHEN upto > total / 2 THEN kept END)
            FROM running""", params)
        low, high = cursor.fetchone()
    return None if low is None else (int(low) + int(high) + 1) // 2


def income_targets() -> dict[int, int]:
    """The income targets, by the tax year's first year."""
    return dict(IncomeTarget.objects.values_list("tax_year", "target_pence"))


def target_for(period: Period, *, targets: dict[int, int] | None = None) -> int | None:
    """The period's share of the charity's income targets, by days (None if no target covers it)."""
    share, covered = 0, False
    targets = income_targets() if targets is None else targets
    year = TaxYear.containing(period.first)
    while year.first_day <= period.last:
        if year.start_year in targets:
            covered = True
            first, last = max(period.first, year.first_day), min(period.last, year.last_day)
            days_in_year = (year.last_day - year.first_day).days + 1
            share += targets[year.start_year] * ((last - first).days + 1) // days_in_year
        year = TaxYear(year.start_year + 1)
    return share if covered else None


# Donors ----------------------------------------------------------------------

@dataclasses.dataclass
class DonorFigures:
    """A tax year's donors up to a day, against the year before (fundraising's
    year-on-year measures: retained gave in both years; lapsed gave last year and not yet this one)."""
    year: TaxYear
    to: datetime.date
    donors: int
    new: int
    retained: int
    last_year_donors: int
    last_year_donors_to_date: int
    donor_gifts: int

    @property
    def lapsed(self) -> int:
        return self.last_year_donors - self.retained

    @property
    def reactivated(self) -> int:
        """Gave this year and before, but not last year: back after a gap."""
        return self.donors - self.new - self.retained

    @property
    def retention_rate(self) -> tuple[int, int]:
        """(retained, last year's donors): a rate to show as a percentage."""
        return self.retained, self.last_year_donors

    @property
    def gifts_per_donor_hundredths(self) -> int | None:
        return _divide(100 * self.donor_gifts, self.donors)


def donor_figures(*, to: datetime.date) -> DonorFigures:
    year = TaxYear.containing(to)
    last = TaxYear(year.start_year - 1)
    totals = income_totals(periods={
        "this": Period(year.first_day, to), "before": Period(last.first_day, last.last_day),
        "before_to_date": Period(last.first_day, min(_year_before(to), last.last_day))},
        figures=("donor_gifts", "new_donors", "year_donors", "year_retained"))
    this, before, before_to_date = totals["this"], totals["before"], totals["before_to_date"]
    return DonorFigures(year=year, to=to, donors=this.year_donors, new=this.new_donors, retained=this.year_retained,
                        last_year_donors=before.year_donors, last_year_donors_to_date=before_to_date.year_donors,
                        donor_gifts=this.donor_gifts)


DONOR_GROUPS = {  # the donors list's title for each
    "donors": "gave this tax year",
    "new": "new this tax year",
    "retained": "retained from last tax year",
    "reactivated": "back after a year or more",
    "lapsed": "lapsed since last tax year",
    "gift_aid_ask": "to ask for Gift Aid",
}


def donors_in(*, group: str, to: datetime.date):
    """The supporters a donor figure counts (ids of DonorYear rows' supporters),
    as a queryset of DonorYear rows for the year of `to` (or the year before, for lapsed)."""
    year = TaxYear.containing(to).start_year
    this_year = DonorYear.objects.filter(tax_year=year, first_gift_on__lte=to)
    gave_last_year = DonorYear.objects.filter(tax_year=year - 1).values("supporter_id")
    if group == "new":
        earlier = DonorYear.objects.filter(tax_year__lt=year).values("supporter_id")
        return this_year.exclude(supporter_id__in=earlier)
    if group == "retained":
        return this_year.filter(supporter_id__in=gave_last_year)
    if group == "reactivated":
        earlier = DonorYear.objects.filter(tax_year__lt=year - 1).values("supporter_id")
        return this_year.exclude(supporter_id__in=gave_last_year).filter(supporter_id__in=earlier)
    if group == "lapsed":
        return (DonorYear.objects.filter(tax_year=year - 1)
                .exclude(supporter_id__in=this_year.values("supporter_id")))
    return this_year


# The gifts behind a figure ------------------------------------------------------

def gifts_given_between(first: datetime.date, last: datetime.date) -> Q:
    """Gifts whose day (paid, else made; in UK time) falls in a span: as the rollups date them."""
    start, end = day_start(first), day_start(last + datetime.timedelta(days=1))
    return (Q(paid_at__gte=start, paid_at__lt=end)
            | Q(paid_at__isnull=True, created_at__gte=start, created_at__lt=end))


def received_gifts(queryset: QuerySet[Donation] | None = None) -> QuerySet[Donation]:
    """Gifts the charity received (whether or not refunded since): what the rollups add up."""
    queryset = Donation.objects.all() if queryset is None else queryset
    return queryset.filter(status__in=RECEIVED_STATUSES)


def gifts_totals(queryset: QuerySet[Donation]) -> Income:
    """The rollups' figures worked out from a list of gifts: the check that a
    figure and the gifts behind it agree."""
    kept = F("amount_pence") - F("refunded_pence")
    income = Q(status__in=Donation.INCOME_STATUSES)
    counted = income & Q(amount_pence__gt=F("refunded_pence"))
    # Prefixed: an aggregate may not share a field's name that another aggregate reads.
    sums = received_gifts(queryset).aggregate(
        n_gifts=Count("pk", filter=counted), n_donor_gifts=Count("pk", filter=counted & Q(supporter__isnull=False)),
        n_received_pence=Sum("amount_pence"), n_refunded_pence=Sum("refunded_pence"),
        n_kept_pence=Sum(kept, filter=income), n_disputed_pence=Sum(kept, filter=Q(status=Donation.Status.DISPUTED)),
        n_fee_pence=Sum("fee_pence"),
        # Gift Aid expected rounds down gift by gift (integer division in SQL), as the rollups do.
        n_gift_aid_pence=Sum(kept / 4, filter=counted & Q(gift_aid_declared=True)))
    sums = {name.removeprefix("n_"): value for name, value in sums.items()}
    total = Income()
    total.add(sums)
    return total


# Regular giving ----------------------------------------------------------------

@dataclasses.dataclass
class RegularGiving:
    month: datetime.date
    active_gifts: int
    active_donors: int
    monthly_income_pence: int
    new: int
    cancelled: int
    failed: int
    past_due: int
    active_at_start: int
    expected_next_month_pence: int

    @property
    def churn(self) -> tuple[int, int]:
        """(cancelled this month, active at its start): a rate to show as a percentage."""
        return self.cancelled, self.active_at_start


def regular_giving(*, today: datetime.date | None = None, campaign_id: int | None = None) -> RegularGiving:
    """This month's monthly giving: who gives, what it brings, who joined, left or failed."""
    today = today or timezone.localdate()
    month = today.replace(day=1)
    gifts = RecurringGift.objects.all()
    if campaign_id:
        gifts = gifts.filter(campaign_id=campaign_id)
    month_start = day_start(month)
    live = Q(status__in=(RecurringGift.Status.ACTIVE, RecurringGift.Status.PAST_DUE))
    figures = gifts.aggregate(
        active_gifts=Count("pk", filter=Q(status=RecurringGift.Status.ACTIVE)),
        active_donors=Count("supporter_id", filter=Q(status=RecurringGift.Status.ACTIVE), distinct=True),
        monthly_income=Sum("amount_pence", filter=Q(status=RecurringGift.Status.ACTIVE)),
        expected=Sum("amount_pence", filter=live),
        new=Count("pk", filter=Q(started_on__gte=month) & ~Q(status=RecurringGift.Status.PENDING)),
        cancelled=Count("pk", filter=Q(cancelled_at__gte=month_start)),
        past_due=Count("pk", filter=Q(status=RecurringGift.Status.PAST_DUE)),
        active_at_start=Count("pk", filter=Q(started_on__lt=month) & ~Q(status=RecurringGift.Status.PENDING)
                              & (Q(cancelled_at__isnull=True) | Q(cancelled_at__gte=month_start))),
    )
    charges = MonthlyCharge.objects.filter(month=month, status__in=(MonthlyCharge.Status.FAILED,
                                                                      MonthlyCharge.Status.ABANDONED))
    if campaign_id:
        charges = charges.filter(recurring_gift__campaign_id=campaign_id)
    return RegularGiving(
        month=month, active_gifts=figures["active_gifts"], active_donors=figures["active_donors"], monthly_income_pence=figures["monthly_income"] or 0,
        new=figures["new"], cancelled=figures["cancelled"], failed=charges.count(), past_due=figures["past_due"],
        active_at_start=figures["active_at_start"], expected_next_month_pence=figures["expected"] or 0)
