from wagtail import hooks
from wagtail.admin.viewsets.model import ModelViewSet

from campaigns.models import Campaign


class CampaignViewSet(ModelViewSet):
    model = Campaign
    icon = "tasks"
    menu_label = "Campaigns"
    menu_order = 110
    add_to_admin_menu = True
    inspect_view_enabled = True
    copy_view_enabled = False
    list_display = ["name", "code", "kind", "status", "target_display", "starts_on", "ends_on"]
    list_filter = ["kind", "status"]
    search_fields = ["name", "code"]
    form_fields = ["name", "code", "kind", "status", "target_pence", "budget_pence", "starts_on", "ends_on"]


@hooks.register("register_admin_viewset")
def register_campaign_viewset():
    return CampaignViewSet("campaign")
