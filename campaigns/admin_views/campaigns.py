"""Staff screens for campaigns and fundraising pages (the viewsets are in
campaigns.wagtail_hooks)."""

from django.shortcuts import get_object_or_404, redirect
from django.utils.functional import cached_property
from django.views.decorators.http import require_POST
from wagtail.admin import messages
from wagtail.admin.ui.tables import Column
from wagtail.admin.views import generic

from campaigns import services
from campaigns.models import FundraiserPage
from campaigns.selectors import campaign_total_subquery, days_left
from config.admin_screens import staff_permission_required
from config.errors import ApplicationError
from config.money import format_pence


class CampaignIndexView(generic.IndexView):
    def get_base_queryset(self):
        return super().get_base_queryset().annotate(
            raised=campaign_total_subquery("raised_pence"), gift_aid=campaign_total_subquery("gift_aid_pence"),
            donor_count=campaign_total_subquery("donors"))

    @cached_property
    def columns(self):
        columns = super().columns[:1]
        return columns + [
            Column("code", label="Code"),
            Column("kind", label="Type", accessor="get_kind_display"),
            Column("status", label="Status", accessor="get_status_display"),
            Column("target", label="Target", accessor=lambda c: format_pence(c.target_pence), sort_key="target_pence"),
            Column("raised", label="Raised", accessor=lambda c: format_pence(c.raised), sort_key="raised"),
            Column("gift_aid", label="Gift Aid expected", accessor=lambda c: format_pence(c.gift_aid)),
            Column("donors", label="Donors", accessor="donor_count", sort_key="donor_count"),
            Column("days_left", label="Days left", accessor=lambda c: "—" if c.ends_on is None else days_left(c)),
        ]


class FundraiserPageInspectView(generic.InspectView):
    template_name = "campaigns/admin/fundraiser_page_inspect.html"
    page_title = "Fundraising page"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["can_moderate"] = self.request.user.has_perm("campaigns.moderate_fundraiserpage")
        return context


@require_POST
@staff_permission_required("campaigns.moderate_fundraiserpage")
def fundraiser_page_review(request, pk):
    """Approve a pending page (it goes public) or hide a page (it stops being public)."""
    try:
        page = services.fundraiser_page_review(page=get_object_or_404(FundraiserPage, pk=pk),
                                               status=request.POST.get("status"), by=request.user)
    except ApplicationError as error:  # a form without a verdict: say so, not a 500
        messages.error(request, error.message)
        return redirect("fundraiser_page:inspect", pk)
    messages.success(request, f"“{page.title}” is now {page.get_status_display().lower()}.")
    return redirect("fundraiser_page:inspect", pk)
