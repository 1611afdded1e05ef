"""The fundraising dashboard's tables: each figure from donations' and
campaigns' selectors (the daily rollups, never the gifts), with a link to the
gifts or donors behind it, and the same rows for its CSV download. What a
role may see is decided here, once, for the page and the downloads alike."""

import dataclasses
import datetime
import functools
from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import urlencode

from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import mark_safe

from campaigns import selectors as campaign_selectors
from campaigns.models import Appeal, Campaign
from config.money import format_pence
from donations import income
from donations import selectors as donation_selectors
from donations import tasks as donation_tasks
from donations.models import DonorYear, IncomeSource

VIEW_DASHBOARD = "donations.view_donation"        # both roles see gifts, so both see the dashboard
VIEW_GIFT_AID = "donations.view_giftaidclaim"     # claims and what is claimable: Finance's
VIEW_SUPPORTERS = "supporters.view_supporter"     # top donors and the donor lists: personal data


@dataclasses.dataclass(frozen=True)
class Cell:
    value: object = None
    kind: str = "text"   # money (pence), pounds (a Decimal of pounds), count, number (a Decimal), percent ((part, whole)), text
    link: str = ""

    @property
    def html(self):
        """The cell as the page shows it (built here, not by a template per cell: a
        dashboard has hundreds)."""
        if self.value is None:
            return mark_safe('<span class="dashboard-none">—</span>')
        if self.kind == "money":
            text = format_pence(self.value)
        elif self.kind == "pounds":
            text = f"£{self.value}"
        elif self.kind == "count":
            text = f"{self.value:,}"
        elif self.kind == "percent":
            rate = percent(*self.value)
            text = "—" if rate is None else f"{rate}%"
        else:
            text = str(self.value)
        return format_html('<a href="{}">{}</a>', self.link, text) if self.link else conditional_escape(text)

    @property
    def csv_value(self):
        if self.value is None:
            return ""
        if self.kind == "money":
            return Decimal(self.value) / 100
        if self.kind == "percent":
            return percent(*self.value)
        return self.value


def percent(part: int, whole: int) -> Decimal | None:
    """part / whole as a percentage to one place, rounded half up; None when whole is 0."""
    if not whole:
        return None
    return (Decimal(100 * part) / Decimal(whole)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


@dataclasses.dataclass
class Table:
    name: str
    title: str
    headings: list[str]
    rows: list[list[Cell]]
    note: str = ""
    chart: object = None  # a charts.Chart: SVG drawn on the server

    @property
    def numeric_columns(self) -> list[bool]:
        """Which columns hold figures: set to the right, so their digits line up."""
        return [any(len(row) > i and row[i].kind in ("money", "pounds", "count", "number", "percent") for row in self.rows)
                for i in range(len(self.headings))]

    @functools.cached_property
    def aligned_headings(self):
        return list(zip(self.headings, self.numeric_columns))

    @property
    def aligned_rows(self):
        numeric = [aligned for _, aligned in self.aligned_headings]
        return [list(zip(row, numeric)) for row in self.rows]

    def csv_rows(self):
        yield self.headings
        for row in self.rows:
            yield [cell.csv_value for cell in row]


@dataclasses.dataclass(frozen=True)
class Filters:
    period: income.Period
    preset: str
    campaign: Campaign | None

    @property
    def campaign_id(self):
        return self.campaign.pk if self.campaign else None


def filters_from(params, *, today: datetime.date | None = None) -> tuple[Filters, list[str]]:
    """The filters a request asks for, and what was wrong with them (ignored, said)."""
    today = today or timezone.localdate()
    problems = []
    preset = params.get("period") or "tax_year"
    period = income.period_for("tax_year", today=today)
    if preset == "custom":
        try:
            first = datetime.date.fromisoformat(params.get("from", ""))
            last = datetime.date.fromisoformat(params.get("to", ""))
        except ValueError:
            problems.append("Give both dates of a custom period as dates (YYYY-MM-DD); showing this tax year.")
            preset = "tax_year"
        else:
            if first > last:
                problems.append("The custom period ends before it starts; showing this tax year.")
                preset = "tax_year"
            else:
                period = income.Period(first, last)
    elif preset in income.PRESETS:
        period = income.period_for(preset, today=today)
        # Dates changed in the form without choosing "Custom dates" mean those dates.
        try:
            asked = income.Period(datetime.date.fromisoformat(params.get("from", "")),
                                  datetime.date.fromisoformat(params.get("to", "")))
        except ValueError:
            asked = period
        if asked != period and asked.first <= asked.last:
            preset, period = "custom", asked
    else:
        preset = "tax_year"
    campaign = None
    if params.get("campaign"):
        campaign = Campaign.objects.filter(pk=params["campaign"]).first() if params["campaign"].isdigit() else None
        if campaign is None:
            problems.append("That campaign was not found; showing all campaigns.")
    return Filters(period=period, preset=preset, campaign=campaign), problems


def gifts_link(period: income.Period, *, campaign_id=None, **extra) -> str:
    params = {"given_from": period.first.isoformat(), "given_to": period.last.isoformat(), "received": "true"}
    if campaign_id:
        params["campaign"] = campaign_id
    params.update({name: value for name, value in extra.items() if value not in (None, "")})
    return reverse("donation:index") + "?" + urlencode(params)


def donors_link(group: str, to: datetime.date) -> str:
    return reverse("dashboard:donors") + "?" + urlencode({"group": group, "to": to.isoformat()})


@dataclasses.dataclass
class Headline:
    label: str
    period: income.Period
    kept: Cell
    last_year: int
    target: int | None

    @property
    def change(self):
        return percent(self.kept.value - self.last_year, self.last_year)

    @property
    def of_target(self):
        return percent(self.kept.value, self.target) if self.target else None


def headlines(filters: Filters, *, today: datetime.date | None = None) -> list[Headline]:
    """Income today, this week, this month and this tax year (for the campaign
    chosen), against the same days last year and the target's share."""
    today = today or timezone.localdate()
    presets = ("today", "week", "month", "tax_year")
    periods = {preset: income.period_for(preset, today=today) for preset in presets}
    periods.update({f"{preset}_before": periods[preset].a_year_before() for preset in presets})
    totals = income.income_totals(periods=periods, campaign_id=filters.campaign_id, figures=("kept_pence",))
    targets = income.income_targets()
    return [Headline(income.PRESETS[preset], periods[preset],
                     Cell(totals[preset].kept_pence, "money", gifts_link(periods[preset], campaign_id=filters.campaign_id)),
                     totals[f"{preset}_before"].kept_pence,
                     None if filters.campaign else income.target_for(periods[preset], targets=targets))
            for preset in presets]


def _money_cells(figures: income.Income, link: str):
    return [Cell(figures.gifts, "count", link), Cell(figures.kept_pence, "money", link),
            Cell(figures.fee_pence, "money", link), Cell(figures.gift_aid_pence, "money", link)]


def income_tables(filters: Filters) -> list[Table]:
    period, campaign_id = filters.period, filters.campaign_id
    both = income.income_breakdowns(periods={"now": period, "before": period.a_year_before()}, campaign_id=campaign_id)
    now, before = both["now"], both["before"]
    total, link = now.total, gifts_link(period, campaign_id=campaign_id)
    median = income.median_gift_pence(period=period, campaign_id=campaign_id)
    summary = [
        ["Received", Cell(total.received_pence, "money", link), Cell(before.total.received_pence, "money")],
        ["Refunded (and disputes lost)", Cell(total.refunded_pence, "money", link),
         Cell(before.total.refunded_pence, "money")],
        ["Kept: income net of refunds and disputes", Cell(total.kept_pence, "money", link),
         Cell(before.total.kept_pence, "money")],
        ["Of which in dispute now", Cell(total.disputed_pence, "money", link), Cell(before.total.disputed_pence, "money")],
    ]
    summary += [["Stripe's fees (as Stripe reported them)", Cell(total.fee_pence, "money", link),
                 Cell(before.total.fee_pence, "money")],
                ["Kept less fees", Cell(total.net_of_fees_pence, "money", link),
                 Cell(before.total.net_of_fees_pence, "money")]]
    summary += [
        ["Gift Aid expected on these gifts", Cell(total.gift_aid_pence, "money", link),
         Cell(before.total.gift_aid_pence, "money")],
        ["Gifts", Cell(total.gifts, "count", link), Cell(before.total.gifts, "count")],
        ["Average gift", Cell(total.average_gift_pence, "money"), Cell(before.total.average_gift_pence, "money")],
        # Last year's median is left out: a median reads a row per gift size, the page's dearest figure.
        ["Median gift", Cell(median, "money"), Cell(None)],
    ]
    tables = [Table("income", f"Income, {period}", ["Figure", "This period", "Same days last year"],
                    [[Cell(label), *cells] for label, *cells in summary])]

    money_headings = ["Gifts", "Kept", "Stripe's fees", "Gift Aid expected"]
    tables.append(Table(
        "by_channel", "By channel", ["Channel", *money_headings, "Kept, same days last year"],
        [[Cell(IncomeSource(source).label),
          *_money_cells(figures, gifts_link(period, campaign_id=campaign_id, source=source)),
          Cell(before.by_source[source].kept_pence, "money")]
         for source, figures in now.by_source.items()]))
    tables.append(Table(
        "by_kind", "One-off and monthly", ["Kind", *money_headings, "Kept, same days last year"],
        [[Cell(label), *_money_cells(now.by_kind[kind], gifts_link(period, campaign_id=campaign_id, kind=kind)),
          Cell(before.by_kind[kind].kept_pence, "money")]
         for kind, label in (("one_off", "One-off gifts"), ("monthly", "Monthly gifts"))]))
    names = dict(Campaign.objects.values_list("pk", "name"))
    by_campaign = sorted(now.by_campaign.items(), key=lambda item: -item[1].kept_pence)
    tables.append(Table(
        "by_campaign", "By campaign", ["Campaign", *money_headings, "Kept, same days last year"],
        [[Cell(names.get(pk, "No campaign")),
          *_money_cells(figures, gifts_link(period, campaign_id=pk) if pk else ""),
          Cell(before.by_campaign.get(pk, income.Income()).kept_pence, "money")]
         for pk, figures in by_campaign]))
    appeals = {a.pk: a for a in Appeal.objects.filter(pk__in=now.by_appeal).select_related("campaign")}
    top_appeals = sorted(now.by_appeal.items(), key=lambda item: -item[1].kept_pence)[:10]
    tables.append(Table(
        "top_appeals", "Top appeals and source codes", ["Source code", "Appeal", "Campaign", "Gifts", "Kept"],
        [[Cell(appeals[pk].code), Cell(appeals[pk].name), Cell(appeals[pk].campaign.name),
          Cell(figures.gifts, "count", gifts_link(period, appeal=pk)),
          Cell(figures.kept_pence, "money", gifts_link(period, appeal=pk))]
         for pk, figures in top_appeals if pk in appeals]))
    return tables


def income_over_time(filters: Filters, *, today: datetime.date | None = None) -> Table:
    """This tax year's income month by month against last year's (for the campaign chosen)."""
    today = today or timezone.localdate()
    this_year = income.period_for("tax_year", today=today)
    whole = income.Period(this_year.first, this_year.first.replace(year=this_year.first.year + 1)
                          - datetime.timedelta(days=1))
    # Both years in one read: a month's first day says which year it is.
    kept = income.income_by_month(period=income.Period(whole.a_year_before().first, whole.last),
                                  campaign_id=filters.campaign_id)
    rows = []
    month = whole.first.replace(day=1)
    for _ in range(13):
        last_year_month = month.replace(year=month.year - 1)
        if month > whole.last:
            break
        if month == whole.first.replace(day=1):
            label = f"6–30 April {month.year}"  # a tax year begins on 6 April and ends on 5 April
        elif month == whole.last.replace(day=1):
            label = f"1–5 April {month.year}"
        else:
            label = f"{month:%B %Y}"
        rows.append([Cell(label), Cell(kept.get(month, 0) if month <= today else None, "money"),
                     Cell(kept.get(last_year_month, 0), "money")])
        month = (month + datetime.timedelta(days=32)).replace(day=1)
    return Table("income_over_time", "Income by month: this tax year against last",
                 ["Month", "This tax year", "Last tax year"], rows,
                 note="Kept (net of refunds and disputes), by the month the gift was given; the last column is the "
                      "same month a year earlier.")


def regular_giving_table(filters: Filters, *, today: datetime.date | None = None) -> Table:
    today = today or timezone.localdate()
    figures = income.regular_giving(today=today, campaign_id=filters.campaign_id)

    def link(*pairs):
        params = list(pairs) + ([("campaign", filters.campaign_id)] if filters.campaign_id else [])
        return reverse("recurring_gift:index") + "?" + urlencode(params)

    this_month = (("from", figures.month.isoformat()), ("to", today.isoformat()))
    rows = [
        ["Active monthly gifts", Cell(figures.active_gifts, "count", link(("status", "active")))],
        ["Active monthly donors (each counted once)", Cell(figures.active_donors, "count")],
        ["Monthly income from them", Cell(figures.monthly_income_pence, "money", link(("status", "active")))],
        ["New this month", Cell(figures.new, "count", link(
            *((f"started_{end}", day) for end, day in this_month),
            *(("status", status) for status in ("active", "past_due", "paused", "cancelled"))))],
        ["Cancelled this month", Cell(figures.cancelled, "count", link(
            *((f"cancelled_{end}", day) for end, day in this_month)))],
        ["Charges failed this month", Cell(figures.failed, "count")],
        ["Past due (retries used up)", Cell(figures.past_due, "count", link(("status", "past_due")))],
        ["Churn this month (cancelled of those active at its start)", Cell(figures.churn, "percent")],
        ["Expected next month (active and past due)", Cell(figures.expected_next_month_pence, "money")],
    ]
    return Table("regular_giving", f"Regular giving, {figures.month:%B %Y}", ["Figure", "Value"],
                 [[Cell(label), cell] for label, cell in rows])


def donor_tables(filters: Filters, *, user) -> list[Table]:
    to = min(filters.period.last, timezone.localdate())
    figures = income.donor_figures(to=to)
    linked = user.has_perm(VIEW_SUPPORTERS)

    def link(group):
        return donors_link(group, to) if linked else ""

    rows = [
        ["Donors this tax year", Cell(figures.donors, "count", link("donors")),
         Cell(figures.last_year_donors_to_date, "count")],
        ["New donors (first gift ever)", Cell(figures.new, "count", link("new")), Cell(None)],
        ["Retained from last tax year", Cell(figures.retained, "count", link("retained")), Cell(None)],
        ["Back after a year or more without giving", Cell(figures.reactivated, "count", link("reactivated")),
         Cell(None)],
        ["Lapsed (gave last tax year, not yet this)", Cell(figures.lapsed, "count", link("lapsed")), Cell(None)],
        ["Retention rate (retained of last year's donors)", Cell(figures.retention_rate, "percent"), Cell(None)],
        ["Gifts per donor", Cell(None if figures.gifts_per_donor_hundredths is None
                                 else Decimal(figures.gifts_per_donor_hundredths) / 100, "number"), Cell(None)],
    ]
    tables = [Table("donors", f"Donors, tax year {figures.year} to {to:%-d %B %Y}",
                    ["Figure", "This tax year", "Last tax year to the same day"],
                    [[Cell(label), *cells] for label, *cells in rows],
                    note=f"Last tax year had {figures.last_year_donors:,} donors in all. Donors are counted across "
                         "all campaigns, whatever campaign is chosen above.")]
    if linked:
        top = (DonorYear.objects.filter(tax_year=figures.year.start_year, first_gift_on__lte=to)
               .select_related("supporter").order_by("-kept_pence", "supporter_id")[:10])
        tables.append(Table(
            "top_donors", f"Top donors, tax year {figures.year}", ["Supporter", "Reference", "Gifts", "Given, kept"],
            [[Cell(str(row.supporter), "text", reverse("supporter:inspect", args=[row.supporter_id])),
              Cell(row.supporter.reference), Cell(row.gifts, "count"), Cell(row.kept_pence, "money")]
             for row in top],
            note="The whole tax year so far, all campaigns, whatever the period and campaign chosen above."))
    return tables


def campaign_table(filters: Filters, *, today: datetime.date | None = None) -> Table:
    today = today or timezone.localdate()
    campaigns = Campaign.objects.filter(status=Campaign.Status.LIVE).order_by("ends_on", "name")
    if filters.campaign:
        campaigns = Campaign.objects.filter(pk=filters.campaign.pk)
    rows = []
    for campaign in campaigns.annotate(raised=campaign_selectors.campaign_total_subquery("raised_pence")):
        raised = campaign.raised
        days_left = campaign_selectors.days_left(campaign, today)
        cost = (Decimal(campaign.budget_pence) / Decimal(raised)).quantize(Decimal("0.01")) \
            if campaign.budget_pence and raised else None
        rows.append([Cell(campaign.name), Cell(raised, "money", gifts_link(
            income.Period(datetime.date(2000, 1, 1), today), campaign_id=campaign.pk)),
            Cell(campaign.target_pence or None, "money"), Cell((raised, campaign.target_pence), "percent"),
            Cell(days_left, "count"),
            Cell(campaign.budget_pence or None, "money"),
            Cell(cost, "pounds")])
    return Table("campaigns", "Campaigns: progress against target",
                 ["Campaign", "Raised", "Target", "Of target", "Days left", "Budget", "Cost per £1 raised"], rows,
                 note="Raised since the campaign began: gifts kept, Gift Aid apart.")


GIFT_AID_POSITION_STALE = datetime.timedelta(minutes=15)


def _unclaimed_position() -> dict | None:
    """The last worked-out position of unclaimed Gift Aid; a refresh is asked of
    the task worker when it is missing or stale (once at a time)."""
    kept = donation_selectors.gift_aid_unclaimed_position_kept()
    if kept is None or timezone.now() - kept["worked_out_at"] > GIFT_AID_POSITION_STALE:
        if cache.add(donation_selectors.GIFT_AID_POSITION_REFRESHING_KEY, True, timeout=30 * 60):
            donation_tasks.refresh_gift_aid_position.enqueue()
            kept = donation_selectors.gift_aid_unclaimed_position_kept() or kept  # at once with the immediate backend
    return kept


def gift_aid_table(*, user) -> Table:
    claims = donation_selectors.gift_aid_claims_position()
    unclaimed = _unclaimed_position() or {}
    rows = []
    if user.has_perm(VIEW_GIFT_AID):
        rows += [["Claimed from HMRC (claims sent)", Cell(claims["claimed_pence"], "money",
                                                          reverse("gift_aid_claim:index"))],
                 ["Repaid by HMRC", Cell(claims["repaid_pence"], "money")],
                 ["In claims not yet repaid", Cell(claims["awaiting_pence"], "money")],
                 ["Claimable now", Cell(unclaimed.get("claimable_pence"), "money")],
                 ["Held for missing declaration details", Cell(unclaimed.get("held_pence"), "money",
                                                               reverse("gift_aid_claim:follow_ups"))]]
    rows += [["Potential: gifts from UK donors with no declaration would bring",
              Cell(unclaimed.get("potential_pence"), "money")],
             ["Donors to ask for a declaration", Cell(unclaimed.get("potential_donors"), "count",
                                                      donors_link("gift_aid_ask", timezone.localdate())
                                                      if user.has_perm(VIEW_SUPPORTERS) else "")]]
    worked_out_figures = "Claimable, held and potential" if user.has_perm(VIEW_GIFT_AID) else "The potential"
    if unclaimed:
        worked_out = timezone.localtime(unclaimed["worked_out_at"])
        note = (f"All campaigns. {worked_out_figures} as worked out at {worked_out:%H:%M} on {worked_out:%-d %B} "
                "by HMRC's rules (gifts of the last four years, kept, an individual's own); worked out again "
                "every quarter of an hour while the dashboard is used.")
    else:
        note = f"All campaigns. {worked_out_figures} are being worked out by the task worker: look again in a minute."
    return Table("gift_aid", "Gift Aid", ["Figure", "Value"], [[Cell(label), cell] for label, cell in rows],
                 note=note)
