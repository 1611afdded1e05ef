"""The campaigns' admin: campaigns, appeals and fundraising pages (their
screens are in campaigns/admin_views/)."""

from django.urls import path
from wagtail import hooks
from wagtail.admin.viewsets.base import ViewSetGroup
from wagtail.admin.viewsets.model import ModelViewSet

from campaigns.admin_views.campaigns import CampaignIndexView, FundraiserPageInspectView, fundraiser_page_review
from campaigns.models import Appeal, Campaign, FundraiserPage
from config.exports import ListExportViewSet


class CampaignViewSet(ListExportViewSet, ModelViewSet):
    model = Campaign
    icon = "tasks"
    menu_label = "Campaigns"
    index_view_class = CampaignIndexView
    inspect_view_enabled = True
    copy_view_enabled = False
    list_filter = ["kind", "status"]
    search_fields = ["name", "code"]
    form_fields = ["name", "code", "kind", "status", "target_pence", "budget_pence", "starts_on", "ends_on"]
    # Figures, no one's personal data: for everyone who sees the list.
    export_filename = "campaigns"
    export_permission = "campaigns.view_campaign"
    list_export = ["name", "code", "get_kind_display", "get_status_display", "target_pence", "budget_pence", "raised",
                   "gift_aid", "donor_count", "starts_on", "ends_on"]
    export_headings = {"get_kind_display": "Type", "get_status_display": "Status", "raised": "Raised (pence)",
                       "gift_aid": "Gift Aid expected (pence)", "donor_count": "Donors"}


class AppealViewSet(ListExportViewSet, ModelViewSet):
    model = Appeal
    icon = "tag"
    menu_label = "Appeals and source codes"
    copy_view_enabled = False
    list_display = ["code", "name", "campaign", "channel"]
    list_filter = ["campaign", "channel"]
    search_fields = ["code", "name"]
    form_fields = ["campaign", "code", "name", "channel"]
    export_filename = "appeals"
    export_permission = "campaigns.view_appeal"
    list_export = ["code", "name", "campaign.code", "get_channel_display", "created_at"]
    export_headings = {"campaign.code": "Campaign", "get_channel_display": "Channel"}


class FundraiserPageViewSet(ListExportViewSet, ModelViewSet):
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
    # Each page names its supporter: a list of people, for those who take supporter lists.
    export_filename = "fundraising-pages"
    export_permission = "supporters.export_supporter_list"
    list_export = ["title", "slug", "supporter.reference", "supporter.first_name", "supporter.last_name",
                   "campaign.code", "get_status_display", "target_pence", "created_at", "reviewed_at"]
    export_headings = {"supporter.reference": "Supporter", "supporter.first_name": "First name",
                       "supporter.last_name": "Last name", "campaign.code": "Campaign",
                       "get_status_display": "Status"}

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


