from django.db.models import CharField, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Cast, Coalesce, Concat
from django.utils.functional import cached_property
from wagtail import hooks
from wagtail.admin.ui.tables import Column
from wagtail.admin.views import generic
from wagtail.admin.viewsets.base import ViewSetGroup
from wagtail.admin.viewsets.model import ModelViewSet

from campaigns.models import Appeal, Campaign, TotalShard
from campaigns.selectors import days_left


def _money(pence):
    pounds, rest = divmod(int(pence or 0), 100)
    return f"£{pounds:,}.{rest:02d}"


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
            Column("target", label="Target", accessor=lambda c: _money(c.target_pence), sort_key="target_pence"),
            Column("raised", label="Raised", accessor=lambda c: _money(c.raised), sort_key="raised"),
            Column("gift_aid", label="Gift Aid expected", accessor=lambda c: _money(c.gift_aid)),
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


class CampaignGroup(ViewSetGroup):
    menu_label = "Campaigns"
    menu_icon = "tasks"
    menu_order = 110
    items = (CampaignViewSet("campaign"), AppealViewSet("appeal"))


@hooks.register("register_admin_viewset")
def register_campaign_viewsets():
    return CampaignGroup()


