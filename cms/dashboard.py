"""The fundraising dashboard's tables: each figure from donations' and
campaigns' selectors (the daily rollups, never the gifts), with a link to the
gifts or donors behind it, and the same rows for its CSV download. What a
role may see is decided here, once, for the page and the downloads alike."""

import dataclasses
import datetime
from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import urlencode

from django.urls import reverse
from django.utils import timezone

from campaigns import selectors as campaign_selectors
from campaigns.models import Appeal, Campaign
from donations import income
from donations import selectors as donation_selectors
from donations.models import DonorYear, IncomeSource

VIEW_DASHBOARD = "donations.view_donation"        # both roles see gifts, so both see the dashboard
VIEW_GIFT_AID = "donations.view_giftaidclaim"     # claims and what is claimable: Finance's
VIEW_FEES = "donations.export_donation"           # Stripe's fees and net: Finance's
VIEW_SUPPORTERS = "supporters.view_supporter"     # top donors and the donor lists: personal data


@dataclasses.dataclass(frozen=True)
class Cell:
    value: object = None
    kind: str = "text"   # money (pence), count, percent ((part, whole)), text
    link: str = ""

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
    chart: str = ""  # SVG, drawn on the server

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
    found = []
    for preset in ("today", "week", "month", "tax_year"):
        period = income.period_for(preset, today=today)
        kept = income.income_total(period=period, campaign_id=filters.campaign_id).kept_pence
        last = income.income_total(period=period.a_year_before(), campaign_id=filters.campaign_id).kept_pence
        target = None if filters.campaign else income.target_for(period)
        found.append(Headline(income.PRESETS[preset], period,
                              Cell(kept, "money", gifts_link(period, campaign_id=filters.campaign_id)), last, target))
    return found


def _money_cells(figures: income.Income, link: str, *, fees: bool):
    cells = [Cell(figures.gifts, "count", link), Cell(figures.kept_pence, "money", link)]
    if fees:
        cells.append(Cell(figures.fee_pence, "money", link))
    cells.append(Cell(figures.gift_aid_pence, "money", link))
    return cells


def income_tables(filters: Filters, *, user) -> list[Table]:
    period, campaign_id = filters.period, filters.campaign_id
    fees = user.has_perm(VIEW_FEES)
    now = income.income_breakdown(period=period, campaign_id=campaign_id)
    before = income.income_breakdown(period=period.a_year_before(), campaign_id=campaign_id)
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
    if fees:
        summary += [["Stripe's fees", Cell(total.fee_pence, "money", link), Cell(before.total.fee_pence, "money")],
                    ["Kept less fees", Cell(total.net_of_fees_pence, "money", link),
                     Cell(before.total.net_of_fees_pence, "money")]]
    summary += [
        ["Gift Aid expected on these gifts", Cell(total.gift_aid_pence, "money", link),
         Cell(before.total.gift_aid_pence, "money")],
        ["Gifts", Cell(total.gifts, "count", link), Cell(before.total.gifts, "count")],
        ["Average gift", Cell(total.average_gift_pence, "money"), Cell(before.total.average_gift_pence, "money")],
        ["Median gift", Cell(median, "money"),
         Cell(income.median_gift_pence(period=period.a_year_before(), campaign_id=campaign_id), "money")],
    ]
    tables = [Table("income", f"Income, {period}", ["Figure", "This period", "Same days last year"],
                    [[Cell(label), *cells] for label, *cells in summary])]

    money_headings = ["Gifts", "Kept"] + (["Stripe's fees"] if fees else []) + ["Gift Aid expected"]
    tables.append(Table(
        "by_channel", "By channel", ["Channel", *money_headings, "Kept, same days last year"],
        [[Cell(IncomeSource(source).label),
          *_money_cells(figures, gifts_link(period, campaign_id=campaign_id, source=source), fees=fees),
          Cell(before.by_source[source].kept_pence, "money")]
         for source, figures in now.by_source.items()]))
    tables.append(Table(
        "by_kind", "One-off and monthly", ["Kind", *money_headings, "Kept, same days last year"],
        [[Cell(label), *_money_cells(now.by_kind[kind], gifts_link(period, campaign_id=campaign_id, kind=kind),
                                     fees=fees),
          Cell(before.by_kind[kind].kept_pence, "money")]
         for kind, label in (("one_off", "One-off gifts"), ("monthly", "Monthly gifts"))]))
    names = dict(Campaign.objects.values_list("pk", "name"))
    by_campaign = sorted(now.by_campaign.items(), key=lambda item: -item[1].kept_pence)
    tables.append(Table(
        "by_campaign", "By campaign", ["Campaign", *money_headings, "Kept, same days last year"],
        [[Cell(names.get(pk, "No campaign")),
          *_money_cells(figures, gifts_link(period, campaign_id=pk) if pk else "", fees=fees),
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
    now = income.income_by_month(period=whole, campaign_id=filters.campaign_id)
    before = income.income_by_month(period=whole.a_year_before(), campaign_id=filters.campaign_id)
    rows = []
    month = whole.first.replace(day=1)
    for _ in range(13):
        last_year_month = month.replace(year=month.year - 1)
        if month > whole.last:
            break
        rows.append([Cell(f"{month:%B %Y}"), Cell(now.get(month, 0) if month <= today else None, "money"),
                     Cell(before.get(last_year_month, 0), "money")])
        month = (month + datetime.timedelta(days=32)).replace(day=1)
    return Table("income_over_time", "Income by month: this tax year against last",
                 ["Month", "This tax year", "Last tax year"], rows,
                 note="Kept (net of refunds and disputes), by the month the gift was given. April counts from the 6th.")


def regular_giving_table(filters: Filters) -> Table:
    figures = income.regular_giving(campaign_id=filters.campaign_id)
    listing = reverse("recurring_gift:index")
    rows = [
        ["Active monthly donors", Cell(figures.active_donors, "count", listing + "?status=active")],
        ["Monthly income from them", Cell(figures.monthly_income_pence, "money", listing + "?status=active")],
        ["New this month", Cell(figures.new, "count")],
        ["Cancelled this month", Cell(figures.cancelled, "count", listing + "?status=cancelled")],
        ["Charges failed this month", Cell(figures.failed, "count")],
        ["Past due (retries used up)", Cell(figures.past_due, "count", listing + "?status=past_due")],
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
        ["Lapsed (gave last tax year, not yet this)", Cell(figures.lapsed, "count", link("lapsed")), Cell(None)],
        ["Retention rate (retained of last year's donors)", Cell(figures.retention_rate, "percent"), Cell(None)],
        ["Gifts per donor", Cell(None if figures.gifts_per_donor_hundredths is None
                                 else str(Decimal(figures.gifts_per_donor_hundredths) / 100)), Cell(None)],
    ]
    tables = [Table("donors", f"Donors, tax year {figures.year} to {to:%-d %B %Y}",
                    ["Figure", "This tax year", "Last tax year to the same day"],
                    [[Cell(label), *cells] for label, *cells in rows],
                    note=f"Last tax year had {figures.last_year_donors:,} donors in all. Counted across all campaigns.")]
    if linked:
        top = (DonorYear.objects.filter(tax_year=figures.year.start_year, first_gift_on__lte=to)
               .select_related("supporter").order_by("-kept_pence", "supporter_id")[:10])
        tables.append(Table(
            "top_donors", f"Top donors, tax year {figures.year}", ["Supporter", "Reference", "Gifts", "Given, kept"],
            [[Cell(str(row.supporter), "text", reverse("supporter:inspect", args=[row.supporter_id])),
              Cell(row.supporter.reference), Cell(row.gifts, "count"), Cell(row.kept_pence, "money")]
             for row in top],
            note="The whole tax year so far, whatever the period chosen."))
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
            Cell(None if cost is None else f"£{cost}")])
    return Table("campaigns", "Campaigns: progress against target",
                 ["Campaign", "Raised", "Target", "Of target", "Days left", "Budget", "Cost per £1 raised"], rows,
                 note="Raised since the campaign began: gifts kept, Gift Aid apart.")


def gift_aid_table(*, user) -> Table:
    position = donation_selectors.gift_aid_position()
    rows = []
    if user.has_perm(VIEW_GIFT_AID):
        rows += [["Claimed from HMRC (claims sent)", Cell(position["claimed_pence"], "money",
                                                          reverse("gift_aid_claim:index"))],
                 ["Repaid by HMRC", Cell(position["repaid_pence"], "money")],
                 ["In claims not yet repaid", Cell(position["awaiting_pence"], "money")],
                 ["Claimable now", Cell(position["claimable_pence"], "money")],
                 ["Held for missing declaration details", Cell(position["held_pence"], "money",
                                                               reverse("gift_aid_claim:follow_ups"))]]
    rows += [["Potential: gifts from UK donors with no declaration would bring",
              Cell(position["potential_pence"], "money")],
             ["Donors to ask for a declaration", Cell(position["potential_donors"], "count")]]
    worked_out = timezone.localtime(position["worked_out_at"])
    return Table("gift_aid", "Gift Aid", ["Figure", "Value"], [[Cell(label), cell] for label, cell in rows],
                 note=f"Claimable, held and potential as worked out at {worked_out:%H:%M} by HMRC's rules "
                      "(within four years, kept gifts, an individual's own).")
