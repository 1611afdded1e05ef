"""Finance's admin: one menu, for Finance (and superusers) only. Each screen's
view is in finance/admin_views/; the viewsets are listed here."""

from django.templatetags.static import static
from django.urls import path
from django.utils.html import format_html
from wagtail import hooks
from wagtail.admin.viewsets.base import ViewSetGroup

from config.admin_screens import ScreenViewSet
from finance.admin_views import reconciliation
from finance.admin_views.bank import BankAccountViewSet, BankLineViewSet
from finance.admin_views.batches import BatchViewSet
from finance.admin_views.journals import JournalsViewSet
from finance.admin_views.ledger_codes import CampaignLedgerCodeViewSet
from finance.admin_views.payouts import FinanceDownloadViewSet, PayoutViewSet
from finance.admin_views.stripe_report import StripeReportViewSet


class ReconciliationViewSet(ScreenViewSet):
    icon = "tick-inverse"
    menu_label = "Reconciliation"
    permission = reconciliation.VIEW
    url_prefix = "reconciliation"

    def get_urlpatterns(self):
        return [
            path("", reconciliation.ReconciliationView.as_view(), name="index"),
            path("confirm/", reconciliation.matches_confirm, name="confirm"),
            path("choose/", reconciliation.match_choose, name="choose"),
            path("credit/<int:pk>/other-income/", reconciliation.credit_other_income, name="other_income"),
            path("credit/<int:pk>/unmatch/", reconciliation.credit_unmatch, name="unmatch"),
            path("months/", reconciliation.MonthsView.as_view(), name="months"),
            path("months/close/", reconciliation.month_close, name="month_close"),
            path("months/reopen/", reconciliation.month_reopen, name="month_reopen"),
        ]


class FinanceGroup(ViewSetGroup):
    menu_label = "Finance"
    menu_icon = "table"
    menu_order = 130
    items = (ReconciliationViewSet("reconciliation"), PayoutViewSet("payout"), BankLineViewSet("bank_line"),
             BatchViewSet("paying_in_batch"), StripeReportViewSet("stripe_report"), JournalsViewSet("journals"),
             BankAccountViewSet("bank_account"), CampaignLedgerCodeViewSet("campaign_ledger_code"),
             FinanceDownloadViewSet("finance_download"))


@hooks.register("register_admin_viewset")
def register_finance_viewsets():
    return FinanceGroup()


@hooks.register("insert_global_admin_css")
def finance_admin_css():
    return format_html('<link rel="stylesheet" href="{}">', static("finance/admin.css"))
