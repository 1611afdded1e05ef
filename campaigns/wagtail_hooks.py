"""The campaigns' admin: campaigns, appeals and fundraising pages (their
screens are in campaigns/admin_views/)."""

from django.urls import path
from wagtail import hooks
from wagtail.admin.viewsets.base import ViewSetGroup
from wagtail.admin.viewsets.model import ModelViewSet

from campaigns.admin_views.campaigns import CampaignIndexView, FundraiserPageInspectView, fundraiser_page_review
from campaigns.models import Appeal, Campaign, FundraiserPage


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


