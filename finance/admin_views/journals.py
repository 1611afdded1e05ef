"""Journals for the accounts package: Finance chooses a month, a Stripe payout
or a paying-in batch and the package, sees the journals (with what to check),
and downloads them. The download is an exporter (finance.exports): it checks
the role and logs who took what."""

import datetime

from django import forms
from django.contrib import messages
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.views.generic import TemplateView

from config.admin_screens import ScreenViewSet, StaffScreen, staff_permission_required
from config.errors import ApplicationError
from config.money import format_pence
from finance.exports import JOURNAL_EXPORTERS, JOURNAL_FORMAT_CHOICES, JOURNAL_PERMISSION, JournalSelection
from finance.models import BankAccount, PayingInBatch, Payout
from finance.services.journals import BANK

MONTHS_OFFERED = 24
PAYOUTS_OFFERED = 300


def _months(today: datetime.date) -> list[tuple[str, str]]:
    month, months = today.replace(day=1), []
    for _ in range(MONTHS_OFFERED):
        months.append((f"{month:%Y-%m}", f"{month:%B %Y}"))
        month = (month - datetime.timedelta(days=1)).replace(day=1)
    return months


class JournalForm(forms.Form):
    """Which journals, for which package. Sent by GET: a preview is a page one
    can bookmark, and the download's link carries the same choice."""

    journal_for = forms.ChoiceField(label="Journals for", widget=forms.RadioSelect, initial="month", choices=[
        ("month", "A month: every payout, batch and Gift Aid repayment banked in it"),
        ("payout", "One Stripe payout"), ("batch", "One paying-in batch")])
    month = forms.ChoiceField(label="Month", required=False)
    payout = forms.ChoiceField(label="Stripe payout", required=False)
    batch = forms.ChoiceField(label="Paying-in batch", required=False)
    format = forms.ChoiceField(label="Accounts package", widget=forms.RadioSelect, initial="xero",
                               choices=JOURNAL_FORMAT_CHOICES)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        today = timezone.localdate()
        self.fields["month"].choices = _months(today)
        self.fields["month"].initial = f"{(today.replace(day=1) - datetime.timedelta(days=1)):%Y-%m}"
        payouts = (Payout.objects.filter(status=Payout.Status.PAID).order_by("-arrival_date", "-pk")
                   .values_list("stripe_payout_id", "arrival_date", "amount_pence", "currency")[:PAYOUTS_OFFERED])
        self.fields["payout"].choices = [("", "Choose a payout")] + [
            (payout_id, f"{arrival:%-d %b %Y}: {format_pence(amount, currency)} ({payout_id})")
            for payout_id, arrival, amount, currency in payouts]
        batches = (PayingInBatch.objects.filter(status=PayingInBatch.Status.CLOSED).order_by("-number")
                   .values_list("number", "banking_date", "method", "expected_total_pence")[:PAYOUTS_OFFERED])
        methods = dict(PayingInBatch.Method.choices)
        self.fields["batch"].choices = [("", "Choose a batch")] + [
            (str(number), f"Batch {number}, {banked:%-d %b %Y}: {methods.get(method, method)}, "
                          f"{format_pence(total)}") for number, banked, method, total in batches]

    def clean(self):
        data = super().clean()
        chosen = data.get("journal_for")
        if chosen and not data.get(chosen):
            self.add_error(chosen, {"month": "Choose the month.", "payout": "Choose the payout.",
                                    "batch": "Choose the batch."}[chosen])
        return data

    def selection(self) -> JournalSelection:
        data = self.cleaned_data
        chosen = data["journal_for"]
        if chosen == "payout":
            return JournalSelection(payout=data["payout"])
        if chosen == "batch":
            return JournalSelection(batch=int(data["batch"]))
        return JournalSelection(month=datetime.date.fromisoformat(data["month"] + "-01"))


class JournalsView(StaffScreen, TemplateView):
    template_name = "finance/admin/journals.html"
    page_title = "Journals for the accounts"
    header_icon = "list-ul"
    permission_required = JOURNAL_PERMISSION

    @cached_property
    def form(self) -> JournalForm:
        return JournalForm(self.request.GET or None)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form, exporter, error = self.form, None, ""
        if form.is_bound and form.is_valid():
            exporter = JOURNAL_EXPORTERS[form.cleaned_data["format"]](selection=form.selection())
            try:
                exporter.built
            except ApplicationError as problem:
                error, exporter = problem.message, None
        journals = exporter.journals if exporter else []
        flags = list(exporter.flags) if exporter else []
        bank_codes = set(BankAccount.objects.values_list("code", flat=True)) if journals else set()
        if exporter and form.cleaned_data["format"] == "xero" and any(
                line.kind == BANK and line.account_code in bank_codes for journal in journals for line in journal.lines):
            # Xero refuses a manual journal that posts to one of its bank accounts.
            flags.insert(0, "Xero takes no manual journal on a bank account: these post to your bank account's code. "
                            "Set Settings → Chart of accounts → Bank account to a clearing account first "
                            "(see docs/journals.md).")
        context.update(
            form=form, exporter=exporter, journals=journals, flags=flags, error=error,
            debits_pence=sum(journal.debits_pence for journal in journals),
            credits_pence=sum(journal.credits_pence for journal in journals),
            line_count=sum(len(journal.lines) for journal in journals),
            download_url=f"{reverse('journals:download')}?{self.request.GET.urlencode()}" if exporter else "",
            can_edit_codes=self.request.user.has_perm("finance.change_campaignledgercode"),
            can_edit_chart=self.request.user.has_perm("finance.change_chartofaccounts"),
        )
        return context


@staff_permission_required(JOURNAL_PERMISSION)
def journal_download(request):
    """The file for the choice on the journals screen (the exporter checks the role again and logs it)."""
    form = JournalForm(request.GET)
    if form.is_valid():
        exporter = JOURNAL_EXPORTERS[form.cleaned_data["format"]](selection=form.selection())
        try:
            return exporter.response(user=request.user, file_format="csv")
        except ApplicationError as error:
            messages.error(request, error.message)
    return redirect(f"{reverse('journals:index')}?{request.GET.urlencode()}")


class JournalsViewSet(ScreenViewSet):
    """Finance → Journals, at /admin/journals/."""

    icon = "list-ul"
    menu_label = "Journals"
    permission = JOURNAL_PERMISSION
    url_prefix = "journals"

    def get_urlpatterns(self):
        return [path("", JournalsView.as_view(), name="index"),
                path("download/", journal_download, name="download")]
