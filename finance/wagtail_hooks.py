"""Finance's admin: one menu, for Finance (and superusers) only. Each screen's
view is in finance/admin_views/; the viewsets are listed here."""

from wagtail import hooks
from wagtail.admin.viewsets.base import ViewSetGroup

from finance.admin_views.batches import BatchViewSet
from finance.admin_views.payouts import PayoutViewSet


class FinanceGroup(ViewSetGroup):
    menu_label = "Finance"
    menu_icon = "table"
    menu_order = 130
    items = (PayoutViewSet("payout"), BatchViewSet("paying_in_batch"))


@hooks.register("register_admin_viewset")
def register_finance_viewsets():
    return FinanceGroup()
