"""The fundraising dashboard: the admin home's summary and the full page under
Dashboard, with each table's CSV, and the donors behind a donor figure."""

import datetime

from django.core.paginator import Paginator
from django.http import Http404
from django.utils import timezone
from django.utils.functional import cached_property
from django.views.generic import TemplateView
from wagtail.admin.ui.components import Component

from campaigns.models import Campaign
from cms import charts, dashboard
from config.admin_screens import StaffScreen
from config.exports import Exporter
from donations import income
from donations import selectors as donation_selectors
from supporters.models import Supporter


class DashboardTableExport(Exporter):
    """One of the dashboard's tables, as the page shows it (same rows, same role)."""
    permission = dashboard.VIEW_DASHBOARD
    formats = ("csv",)

    def __init__(self, *, table: dashboard.Table, filters: dashboard.Filters):
        self.table, self.filters = table, filters
        self.name = f"dashboard_{table.name}"
        self.label = f"Dashboard: {table.title}"

    def filename(self):
        campaign = f"-{self.filters.campaign.code}" if self.filters.campaign else ""
        return f"dashboard-{self.table.name.replace('_', '-')}{campaign}-{self.filters.period.first}-to-{self.filters.period.last}"

    def rows(self):
        return self.table.csv_rows()


class DashboardView(StaffScreen, TemplateView):
    permission_required = dashboard.VIEW_DASHBOARD
    template_name = "cms/admin/dashboard.html"
    page_title = "Dashboard"
    header_icon = "view"

    @cached_property
    def filters_and_problems(self):
        return dashboard.filters_from(self.request.GET)

    def tables(self) -> list[dashboard.Table]:
        filters, user = self.filters_and_problems[0], self.request.user
        over_time = dashboard.income_over_time(filters)
        over_time.chart = charts.income_over_time(over_time)
        income_tables = dashboard.income_tables(filters)
        campaigns = dashboard.campaign_table(filters)
        if campaigns.rows:
            campaigns.chart = charts.campaign_progress(campaigns)
        donor_tables = dashboard.donor_tables(filters, user=user)
        donor_tables[0].chart = charts.retention(donor_tables[0])
        return [*income_tables[:1], over_time, *income_tables[1:], dashboard.regular_giving_table(filters),
                *donor_tables, campaigns, dashboard.gift_aid_table(user=user)]

    def get(self, request, *args, **kwargs):
        wanted = request.GET.get("download")
        if wanted:
            for table in self.tables():
                if table.name == wanted:
                    return DashboardTableExport(table=table, filters=self.filters_and_problems[0]).response(
                        user=request.user, file_format="csv")
            raise Http404("No such table on the dashboard.")
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        filters, problems = self.filters_and_problems
        query = self.request.GET.copy()
        query.pop("download", None)
        return {**super().get_context_data(**kwargs), "filters": filters, "problems": problems,
                "headlines": dashboard.headlines(filters), "tables": self.tables(),
                "presets": list(income.PRESETS.items()), "campaigns": Campaign.objects.order_by("-starts_on", "name"),
                "query": query.urlencode()}


class DonorsView(StaffScreen, TemplateView):
    """The supporters a donor figure counts: as many as the figure says."""
    permission_required = (dashboard.VIEW_DASHBOARD, dashboard.VIEW_SUPPORTERS)
    template_name = "cms/admin/dashboard_donors.html"
    crumbs = (("dashboard:index", "Dashboard"),)

    @cached_property
    def group(self):
        group = self.request.GET.get("group", "donors")
        if group not in income.DONOR_GROUPS:
            raise Http404("No such group of donors.")
        return group

    @cached_property
    def to(self):
        try:
            return min(datetime.date.fromisoformat(self.request.GET.get("to", "")), timezone.localdate())
        except ValueError:
            return timezone.localdate()

    def get_page_title(self):
        return f"Donors {income.DONOR_GROUPS[self.group]}"

    def get_context_data(self, **kwargs):
        if self.group == "gift_aid_ask":
            page = Paginator(donation_selectors.gift_aid_potential_donors(), 50).get_page(self.request.GET.get("p"))
            supporters = Supporter.objects.in_bulk([row["supporter_id"] for row in page])
            rows = [{"supporter": supporters[row["supporter_id"]], "supporter_id": row["supporter_id"],
                     "gifts": row["gifts"], "kept_pence": row["kept_pence"],
                     "when": timezone.localdate(row["last_gift_at"])} for row in page]
            when_heading = "Last gift"
        else:
            page = Paginator(income.donors_in(group=self.group, to=self.to).select_related("supporter").order_by(
                "-kept_pence", "supporter_id"), 50).get_page(self.request.GET.get("p"))
            rows = [{"supporter": row.supporter, "supporter_id": row.supporter_id, "gifts": row.gifts,
                     "kept_pence": row.kept_pence, "when": row.first_gift_on} for row in page]
            when_heading = "First gift of the year"
        return {**super().get_context_data(**kwargs), "page": page, "rows": rows, "to": self.to,
                "group": self.group, "count": page.paginator.count, "when_heading": when_heading}


class DashboardPanel(Component):
    """The admin home's summary: the four headline figures and a way to the full dashboard."""
    name = "dashboard"
    order = 50
    template_name = "cms/admin/dashboard_panel.html"

    def __init__(self, request):
        self.request = request

    def get_context_data(self, parent_context):
        filters, _ = dashboard.filters_from({})
        return {"headlines": dashboard.headlines(filters)}

