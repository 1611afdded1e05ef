"""Stripe payouts: the list, and each payout's figures by category with what
does not add up."""

from wagtail.admin.views import generic

from config.admin_screens import ReadOnlyViewSet
from config.exports import ListExportViewSet
from finance import selectors
from finance.models import FinanceDownload, Payout


class PayoutInspectView(generic.InspectView):
    template_name = "finance/admin/payout_inspect.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["figures"] = selectors.payout_figures(self.object)
        context["lines"] = self.object.lines.select_related("donation", "refund")[:1000]
        return context


class PayoutViewSet(ListExportViewSet, ReadOnlyViewSet):
    model = Payout
    icon = "pick"
    menu_label = "Stripe payouts"
    inspect_view_class = PayoutInspectView
    list_display = ["stripe_payout_id", "arrival_date", "amount", "status", "bank_line"]
    list_filter = ["status", "source"]
    search_fields = ["stripe_payout_id", "statement_descriptor"]
    search_backend_name = None
    list_per_page = 50
    export_filename = "stripe-payouts"
    export_permission = "finance.view_payout"  # Finance's alone, as every list in its menu
    list_export = ["stripe_payout_id", "arrival_date", "amount_pence", "currency", "get_status_display",
                   "get_source_display", "automatic", "statement_descriptor", "failure_code", "failure_message",
                   "bank_line.date", "bank_line.description", "matched_at"]
    export_headings = {"stripe_payout_id": "Payout", "amount_pence": "Amount (pence)",
                       "get_status_display": "Status", "get_source_display": "Source",
                       "bank_line.date": "Bank credit's date", "bank_line.description": "Bank credit"}


class FinanceDownloadViewSet(ListExportViewSet, ReadOnlyViewSet):
    """Who took which of Finance's files, and when (for the auditors)."""

    model = FinanceDownload
    icon = "download"
    menu_label = "Downloads log"
    inspect_view_enabled = False
    list_display = ["at", "user", "what", "file_format", "rows"]
    list_filter = ["exporter", "file_format"]
    list_per_page = 100
    export_filename = "finance-downloads"
    export_permission = "finance.view_financedownload"
    list_export = ["at", "user", "what", "exporter", "file_format", "rows"]
