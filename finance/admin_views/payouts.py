"""Stripe payouts: the list, and each payout's figures by category with what
does not add up."""

from wagtail.admin.views import generic

from config.admin_screens import ReadOnlyViewSet
from finance import selectors
from finance.models import FinanceDownload, Payout


class PayoutInspectView(generic.InspectView):
    template_name = "finance/admin/payout_inspect.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["figures"] = selectors.payout_figures(self.object)
        context["lines"] = self.object.lines.select_related("donation", "refund")[:1000]
        return context


class PayoutViewSet(ReadOnlyViewSet):
    model = Payout
    icon = "pick"
    menu_label = "Stripe payouts"
    inspect_view_class = PayoutInspectView
    list_display = ["stripe_payout_id", "arrival_date", "amount", "status", "bank_line"]
    list_filter = ["status", "source"]
    search_fields = ["stripe_payout_id", "statement_descriptor"]
    search_backend_name = None
    list_per_page = 50


class FinanceDownloadViewSet(ReadOnlyViewSet):
    """Who took which of Finance's files, and when (for the auditors)."""

    model = FinanceDownload
    icon = "download"
    menu_label = "Downloads log"
    inspect_view_enabled = False
    list_display = ["at", "user", "what", "file_format", "rows"]
    list_filter = ["exporter", "file_format"]
    list_per_page = 100
