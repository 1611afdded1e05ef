from django.db.models import CharField, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Cast, Coalesce, Concat
from django.utils.functional import cached_property
from wagtail import hooks
from wagtail.admin.ui.tables import Column
from wagtail.admin.views import generic
from wagtail.admin.viewsets.base import ViewSetGroup
from wagtail.admin.viewsets.model import ModelViewSet

from django.shortcuts import get_object_or_404, redirect
from django.urls import path
from django.views.decorators.http import require_POST
from wagtail.admin import messages

from campaigns import services
from campaigns.models import Appeal, Campaign, FundraiserPage, TotalShard
from campaigns.selectors import days_left
from config.admin_screens import staff_permission_required
from config.money import format_pence


def _total(field):
    """A campaign's total of one figure, summed over its shards, as a subquery."""
    shards = TotalShard.objects.filter(key=Concat(Value("campaign:"), Cast(OuterRef("pk"), CharField())))
    return Coalesce(Subquery(shards.values("key").annotate(total=Sum(field)).values("total")[:1]), 0)


class CampaignIndexView(generic.IndexView):
    def get_base_queryset(self):
        return super().get_base_queryset().annotate(
            raised=_total("raised_pence"), gift_aid=_total("gift_aid_pence"), donor_count=_total("donors"))

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


class CampaignViewSet(ModelViewSet):
    model = Campaign
    icon = "tasks"
    menu_label = "Campaigns"
    index_view_class = CampaignIndexView
    inspect_view_enabled = True
    copy_view_enabled = False
    list_filter = ["kind", "status"]
    search_fields = ["name", "code"]
    form_fields = ["name", "code", "kind", "status", "target_pence", "budget_pence", "starts_on", "ends_on"]


class AppealViewSet(ModelViewSet):
    model = Appeal
    icon = "tag"
    menu_label = "Appeals and source codes"
    copy_view_enabled = False
    list_display = ["code", "name", "campaign", "channel"]
    list_filter = ["campaign", "channel"]
    search_fields = ["code", "name"]
    form_fields = ["campaign", "code", "name", "channel"]


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
    page = services.fundraiser_page_review(page=get_object_or_404(FundraiserPage, pk=pk),
                                           status=request.POST.get("status"), by=request.user)
    messages.success(request, f"“{page.title}” is now {page.get_status_display().lower()}.")
    return redirect("fundraiser_page:inspect", pk)


class FundraiserPageViewSet(ModelViewSet):
    model = FundraiserPage
    icon = "user"
    menu_label = "Fundraising pages"
    inspect_view_class = FundraiserPageInspectView
    inspect_view_enabled = True
    copy_view_enabled = False
    list_display = ["title", "supporter", "campaign", "status", "created_at"]
    list_filter = ["status", "campaign"]
    search_fields = ["title", "slug"]
    form_fields = ["title", "story", "photo", "target_pence"]

    def get_urlpatterns(self):
        return super().get_urlpatterns() + [path("<int:pk>/review/", fundraiser_page_review, name="review")]


class CampaignGroup(ViewSetGroup):
    menu_label = "Campaigns"
    menu_icon = "tasks"
    menu_order = 110
    items = (CampaignViewSet("campaign"), AppealViewSet("appeal"), FundraiserPageViewSet("fundraiser_page"))


@hooks.register("register_admin_viewset")
def register_campaign_viewsets():
    return CampaignGroup()


