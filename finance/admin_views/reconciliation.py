"""Reconciliation: the matches proposed for Finance to confirm, those to choose,
and every exception in one place, with what Finance can do about each."""

import datetime

from django import forms
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.views.decorators.http import require_POST
from django.views.generic import TemplateView
from wagtail.admin import messages
from wagtail.admin.widgets.button import HeaderButton

from config.admin_screens import StaffScreen, staff_permission_required
from config.errors import ApplicationError
from config.money import format_pence
from finance import selectors
from finance.models import BankLine, ClosedMonth, MonthReopening, PayingInBatch, Payout
from finance.services import bank, months, reconcile

VIEW, CHANGE, CLOSE = "finance.view_payout", "finance.change_bankline", "finance.close_month"


class FinanceScreen(StaffScreen):
    permission_required = VIEW
    header_icon = "table"


class ReconciliationView(FinanceScreen, TemplateView):
    template_name = "finance/admin/reconciliation.html"
    page_title = "Reconciliation"

    @cached_property
    def header_buttons(self):
        buttons = [HeaderButton("Months", url=reverse("reconciliation:months"), icon_name="date")]
        if self.request.user.has_perm("finance.add_bankstatement"):
            buttons.insert(0, HeaderButton("Import a bank statement", url=reverse("bank_line:import"),
                                           icon_name="upload"))
        return buttons

    def get_context_data(self, **kwargs):
        certain, to_choose = bank.bank_match_proposals()
        # What is proposed above is not also an exception below.
        exceptions = reconcile.exceptions_beyond(selectors.finance_exceptions(), certain + to_choose)
        return {**super().get_context_data(**kwargs), "certain": certain, "to_choose": to_choose,
                "exceptions": exceptions, "can_change": self.request.user.has_perm(CHANGE),
                "unexplained": [(payout, format_pence(difference))
                                for payout, difference in selectors.payouts_not_adding_up()]}


@require_POST
@staff_permission_required(CHANGE)
def matches_confirm(request):
    keys = request.POST.getlist("match")
    if not keys:
        messages.error(request, "Tick the matches to confirm.")
        return redirect("reconciliation:index")
    try:
        done = bank.bank_matches_confirm(keys=keys, by=request.user)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"{done} match{'es' if done != 1 else ''} confirmed.")
    return redirect("reconciliation:index")


@require_POST
@staff_permission_required(CHANGE)
def match_choose(request):
    """Finance's choice between two credits that fit a payout or a batch."""
    line = get_object_or_404(BankLine, pk=request.POST.get("line"))
    kind, _, pk = (request.POST.get("target") or "").partition("-")
    payout = get_object_or_404(Payout, pk=pk) if kind == "payout" else None
    batch = get_object_or_404(PayingInBatch, pk=pk) if kind == "batch" else None
    try:
        bank.bank_match_confirm(line=line, payout=payout, batch=batch, by=request.user)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"Matched {(payout or batch)} to the credit of {line.date:%d/%m/%Y}.")
    return redirect("reconciliation:index")


class OtherIncomeForm(forms.Form):
    note = forms.CharField(max_length=255, label="What is it?", help_text="E.g. “Bank interest”, “Grant from …”.")


@require_POST
@staff_permission_required(CHANGE)
def credit_other_income(request, pk):
    line = get_object_or_404(BankLine, pk=pk)
    try:
        bank.bank_line_mark_other_income(line=line, note=request.POST.get("note", ""), by=request.user)
    except ApplicationError as error:
        messages.error(request, f"The credit of {format_pence(line.paid_in_pence)} on {line.date:%d/%m/%Y}: "
                                f"{error.message}")
    else:
        messages.success(request, f"The credit of {format_pence(line.paid_in_pence)} on {line.date:%d/%m/%Y} is "
                                  f"marked as other income.")
    return redirect("reconciliation:index")


@require_POST
@staff_permission_required(CHANGE)
def credit_unmatch(request, pk):
    line = bank.bank_line_unmatch(line=get_object_or_404(BankLine, pk=pk), by=request.user)
    messages.success(request, f"The credit of {format_pence(line.paid_in_pence)} on {line.date:%d/%m/%Y} is "
                              "unmatched.")
    return redirect("reconciliation:index")


# --- months --------------------------------------------------------------------------

class MonthsView(FinanceScreen, TemplateView):
    """The last twelve months: closed or open, with what is outstanding in each."""

    template_name = "finance/admin/months.html"
    page_title = "Months"
    crumbs = (("reconciliation:index", "Reconciliation"),)

    def get_context_data(self, **kwargs):
        today = timezone.localdate()
        first = today.replace(day=1)
        closed = {row.month: row for row in ClosedMonth.objects.select_related("closed_by")}
        reopened = {}
        for reopening in MonthReopening.objects.select_related("reopened_by").order_by("reopened_at"):
            reopened[reopening.month] = reopening  # the latest of each month
        rows = []
        month = first
        for _ in range(12):
            exceptions = selectors.finance_exceptions(today=today, month=month)
            rows.append({"month": month, "closed": closed.get(month), "over": month < first,
                         "exceptions": exceptions.count, "reopened": reopened.get(month)})
            month = (month - datetime.timedelta(days=1)).replace(day=1)
        return {**super().get_context_data(**kwargs), "months": rows,
                "can_close": self.request.user.has_perm(CLOSE)}


def _month(request) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(request.POST.get("month", ""))
    except ValueError:
        return None


@require_POST
@staff_permission_required(CLOSE)
def month_close(request):
    month = _month(request)
    try:
        if month is None:
            raise ApplicationError("Choose a month.")
        months.month_close(month=month, by=request.user)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"{month:%B %Y} is closed: its gifts, refunds and batches can no longer change.")
    return redirect("reconciliation:months")


@require_POST
@staff_permission_required(CLOSE)
def month_reopen(request):
    month = _month(request)
    try:
        if month is None:
            raise ApplicationError("Choose a month.")
        months.month_reopen(month=month, reason=request.POST.get("reason", ""), by=request.user)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"{month:%B %Y} is open again; the reopening is recorded.")
    return redirect(reverse("reconciliation:months"))
