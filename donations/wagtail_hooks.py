"""Staff screens for money, in the Wagtail admin. Gifts come from Stripe and
imports, never from a form here, so donations are read-only in the admin:
finance staff act on them through services (refund, retry, cancel)."""

from django.template.loader import render_to_string
from django.urls import path, reverse
from wagtail import hooks
from wagtail.admin.viewsets.base import ViewSetGroup
from wagtail.admin.widgets.button import Button

from config.admin_screens import ReadOnlyViewSet
from config.exports import ListExportViewSet
from donations import selectors
from donations.admin_views import gift_aid as gift_aid_admin
from donations.admin_views import gifts as admin_views
from donations.admin_views.targets import IncomeTargetViewSet
from donations.models import Donation, GiftAidClaim, RecurringGift, StripeEvent


# Viewing follows the model's permissions; adding, editing and deleting are for
# services only (a gift is what Stripe says it is; claims are built, submitted
# and discarded through their own screens): ReadOnlyViewSet.
# Money leaves the system with Finance only: every list here downloads for
# donations.export_donation, which Fundraising does not hold.
EXPORT = "donations.export_donation"
class DonationViewSet(ReadOnlyViewSet):
    model = Donation
    icon = "pick"
    menu_label = "Donations"
    index_view_class = admin_views.DonationIndexView
    inspect_view_class = admin_views.DonationInspectView
    filterset_class = admin_views.DonationFilterSet
    search_fields = ["supporter__last_name"]  # enables the box; the view searches smartly
    search_backend_name = None
    list_per_page = 50
    # Finance's download (config.spreadsheets: an empty relation is an empty cell, public text is escaped).
    list_export = ["reference", "supporter.reference", "amount_pence", "fee_pence", "net_pence", "refunded_pence",
                   "currency", "status", "channel", "campaign.code", "appeal_code", "fundraiser_page.slug",
                   "utm_source", "utm_medium", "utm_campaign", "gift_aid_declared", "small_donation", "description",
                   "stripe_payment_intent_id",
                   "stripe_charge_id", "stripe_balance_transaction_id", "created_at", "paid_at"]
    export_headings = {"supporter.reference": "Supporter", "campaign.code": "Campaign",
                       "fundraiser_page.slug": "Fundraising page", "small_donation": "Small donation (GASDS)",
                       "description": "Collection"}

    def get_urlpatterns(self):
        return super().get_urlpatterns() + [
            path("<int:pk>/refund/", admin_views.RefundView.as_view(), name="refund"),
            path("offline/", admin_views.OfflineGiftView.as_view(), name="offline"),
            path("statement/<int:supporter_pk>/", admin_views.AnnualStatementView.as_view(), name="statement"),
        ]


class RecurringGiftViewSet(ListExportViewSet, ReadOnlyViewSet):
    model = RecurringGift
    icon = "repeat"
    menu_label = "Monthly gifts"
    inspect_view_class = admin_views.RecurringGiftInspectView
    list_display = ["__str__", "status", "day_of_month", "card_last4", "started_on"]
    filterset_class = admin_views.RecurringGiftFilterSet
    search_fields = ["supporter__last_name", "supporter__email"]
    search_backend_name = None
    export_filename = "monthly-gifts"
    export_permission = EXPORT
    list_export = ["pk", "supporter.reference", "amount_pence", "fee_cover_pence", "currency", "day_of_month",
                   "get_status_display", "gift_aid_declared", "campaign.code", "appeal_code", "utm_source",
                   "needs_new_card", "card_brand", "started_on", "created_at", "cancelled_at", "cancellation_reason"]
    export_headings = {"pk": "Monthly gift", "supporter.reference": "Supporter", "campaign.code": "Campaign",
                       "get_status_display": "Status"}

    def get_urlpatterns(self):
        return super().get_urlpatterns() + [
            path("<int:pk>/cancel/", admin_views.RecurringGiftCancelView.as_view(), name="cancel"),
        ]


class StripeEventViewSet(ListExportViewSet, ReadOnlyViewSet):
    model = StripeEvent
    icon = "warning"
    menu_label = "Stripe events"
    inspect_view_class = admin_views.StripeEventInspectView
    list_display = ["stripe_id", "type", "status", "attempts", "received_at"]
    list_filter = ["status", "type"]
    search_fields = ["stripe_id", "type"]
    search_backend_name = None
    export_filename = "stripe-events"
    export_permission = EXPORT
    list_export = ["stripe_id", "type", "livemode", "get_status_display", "attempts", "error", "received_at",
                   "processed_at"]  # never the payload: it holds the card holder's details
    export_headings = {"get_status_display": "Status"}

    def get_urlpatterns(self):
        return super().get_urlpatterns() + [
            path("<int:pk>/retry/", admin_views.stripe_event_retry, name="retry"),
        ]


class GiftAidClaimViewSet(ListExportViewSet, ReadOnlyViewSet):
    model = GiftAidClaim
    icon = "doc-full"
    menu_label = "Gift Aid claims"
    index_view_class = gift_aid_admin.ClaimIndexView
    inspect_view_class = gift_aid_admin.ClaimInspectView
    list_filter = ["status"]
    list_per_page = 50
    export_filename = "gift-aid-claims"
    export_permission = EXPORT
    list_export = ["reference", "period_start", "period_end", "get_status_display", "gift_count", "row_count",
                   "gifts_pence", "tax_pence", "adjustment_pence", "small_donations_pence", "small_donations_tax_pence",
                   "built_at", "submitted_at", "hmrc_reference", "outcome_at", "repayment_pence",
                   "repayment_received_on", "repayment_reference"]
    export_headings = {"reference": "Claim", "get_status_display": "Status", "row_count": "Schedule rows",
                       "gifts_pence": "Gifts (pence)", "tax_pence": "Gift Aid (pence)",
                       "adjustment_pence": "Adjustment (pence)", "small_donations_pence": "Small donations (pence)",
                       "small_donations_tax_pence": "Small donations top-up (pence)",
                       "repayment_pence": "Repaid (pence)"}

    def get_urlpatterns(self):
        return super().get_urlpatterns() + [
            path("build/", gift_aid_admin.ClaimBuildView.as_view(), name="build"),
            path("follow-ups/", gift_aid_admin.FollowUpsView.as_view(), name="follow_ups"),
            path("owed-to-hmrc/", gift_aid_admin.OwedToHmrcView.as_view(), name="owed"),
            path("<int:pk>/submit/", gift_aid_admin.ClaimSubmitView.as_view(), name="submit"),
            path("<int:pk>/outcome/", gift_aid_admin.ClaimOutcomeView.as_view(), name="outcome"),
            path("<int:pk>/repayment/", gift_aid_admin.ClaimRepaymentView.as_view(), name="repayment"),
            path("<int:pk>/discard/", gift_aid_admin.claim_discard, name="discard"),
            path("<int:pk>/schedule-<int:number>.<str:fmt>", gift_aid_admin.claim_schedule, name="schedule"),
            path("<int:pk>/r68-<int:number>.xml", gift_aid_admin.claim_xml, name="xml"),
            path("<int:pk>/gifts.csv", gift_aid_admin.claim_gifts_csv, name="gifts_csv"),
        ]


class MoneyGroup(ViewSetGroup):
    menu_label = "Money"
    menu_icon = "pick"
    menu_order = 120
    items = (DonationViewSet("donation"), RecurringGiftViewSet("recurring_gift"), GiftAidClaimViewSet("gift_aid_claim"),
             StripeEventViewSet("stripe_event"), IncomeTargetViewSet("income_target"))


@hooks.register("register_admin_viewset")
def register_money_viewsets():
    return MoneyGroup()


@hooks.register("register_supporter_record_buttons")
def supporter_statement_button(*, supporter, user):
    """A link from the supporter's record to their giving statement (for a tax year)."""
    if not user.has_perm("donations.view_donation"):
        return []
    return [Button("Giving statement", url=reverse("donation:statement", args=[supporter.pk]), icon_name="doc-full")]


@hooks.register("register_supporter_record_sections")
def supporter_giving_section(*, supporter, user):
    """The supporter's giving on their record: what they have given, their
    monthly gifts, and their latest gifts, each linked to its page."""
    if not user.has_perm("donations.view_donation"):
        return []
    return [render_to_string("donations/admin/supporter_giving.html",
                             {"supporter": supporter, **selectors.supporter_giving(supporter)})]
