"""The bank: accounts, statement imports (with Finance's column map for a bank
we do not recognise) and the statement lines."""

from django import forms
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.functional import cached_property
from django.views.generic import FormView
from wagtail.admin import messages
from wagtail.admin.ui.tables import Column, TitleColumn
from wagtail.admin.views import generic
from wagtail.admin.widgets.button import HeaderButton
from wagtail.admin.viewsets.model import ModelViewSet

from config.admin_screens import ProtectedDeleteView, ReadOnlyViewSet, StaffScreen
from config.errors import ApplicationError
from config.exports import ListExportViewSet
from config.money import format_pence
from finance import bank_statements
from finance.models import BankAccount, BankLine, PayingInBatch, Payout
from finance.services import bank

IMPORT = "finance.add_bankstatement"


class StatementImportForm(forms.Form):
    account = forms.ModelChoiceField(queryset=BankAccount.objects.all(), empty_label=None)
    file = forms.FileField(label="Statement file (CSV)",
                           help_text="Your bank's CSV export of the account's transactions, at most 5 MB.")
    layout = forms.ChoiceField(required=False, label="Bank's layout",
                               help_text="Leave as recognised unless the file is read as the wrong bank's.")
    # Finance's map, for a bank we do not recognise (remembered for the account).
    map_date = forms.CharField(required=False, label="Date column")
    map_description = forms.CharField(required=False, label="Description column")
    map_paid_in = forms.CharField(required=False, label="Paid in column")
    map_paid_out = forms.CharField(required=False, label="Paid out column")
    map_amount = forms.CharField(required=False, label="Amount column (one signed column, money in positive)")
    map_balance = forms.CharField(required=False, label="Balance column")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["layout"].choices = [("", "Recognise it from the header")] + [
            (name, name) for name in bank_statements.layout_names()]

    def column_map(self) -> bank_statements.ColumnMap | None:
        data = self.cleaned_data
        if not data.get("map_date"):
            return None
        return bank_statements.ColumnMap(
            date=data["map_date"].strip(), description=data["map_description"].strip(),
            paid_in=data["map_paid_in"].strip() or None, paid_out=data["map_paid_out"].strip() or None,
            amount=data["map_amount"].strip() or None, balance=data["map_balance"].strip() or None)


class StatementImportView(StaffScreen, FormView):
    template_name = "finance/admin/statement_import.html"
    form_class = StatementImportForm
    page_title = "Import a bank statement"
    header_icon = "upload"
    permission_required = IMPORT
    crumbs = (("bank_line:index", "Bank lines"),)

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "has_accounts": BankAccount.objects.exists(),
                "show_map": self.request.method == "POST" and getattr(self, "unknown_layout", False)}

    def form_valid(self, form):
        upload = form.cleaned_data["file"]
        if upload.size > bank_statements.MAX_FILE_BYTES:
            form.add_error("file", f"The file is {upload.size / 1024 / 1024:.1f} MB; a statement file may be at "
                                   "most 5 MB. Is it the bank's CSV export?")
            return self.form_invalid(form)
        try:
            columns = form.column_map()
            record = bank.bank_statement_import(
                account=form.cleaned_data["account"], data=upload.read(), filename=upload.name, columns=columns,
                layout=form.cleaned_data["layout"] or None, by=self.request.user)
        except (ApplicationError, TypeError) as error:
            self.unknown_layout = isinstance(error, bank_statements.StatementError) and error.unknown_layout
            form.add_error("file" if getattr(error, "field", None) != "account" else "account",
                           getattr(error, "message", str(error)))
            return self.form_invalid(form)
        certain, to_choose = bank.bank_match_proposals()
        waiting = " Now confirm the matches." if certain or to_choose else ""
        messages.success(self.request, f"{upload.name} ({record.layout}), {record.first_date:%-d %b %Y} to "
                                       f"{record.last_date:%-d %b %Y}: {record.lines_added} lines added, "
                                       f"{record.lines_already_held} already held.{waiting}")
        return redirect("reconciliation:index")


class BankAccountViewSet(ListExportViewSet, ModelViewSet):
    model = BankAccount
    icon = "doc-full"
    menu_label = "Bank accounts"
    copy_view_enabled = False
    delete_view_class = ProtectedDeleteView
    list_display = ["name", "code", "sort_code", "account_number"]
    form_fields = ["name", "code", "sort_code", "account_number"]
    export_filename = "bank-accounts"
    export_permission = "finance.view_bankaccount"
    list_export = ["name", "code", "sort_code", "account_number"]


def _money(pence: int) -> str:
    return format_pence(pence) if pence else "—"


class BankLineIndexView(generic.IndexView):
    @cached_property
    def columns(self):
        return [
            Column("date", label="Date", accessor=lambda line: f"{line.date:%-d %b %Y}", sort_key="date"),
            TitleColumn("description", label="Description", get_url=lambda line: reverse("bank_line:inspect",
                                                                                       args=[line.pk])),
            Column("paid_in", label="Paid in", accessor=lambda line: _money(line.paid_in_pence),
                   sort_key="paid_in_pence"),
            Column("paid_out", label="Paid out", accessor=lambda line: _money(line.paid_out_pence)),
            Column("balance", label="Balance",
                   accessor=lambda line: "—" if line.balance_pence is None else format_pence(line.balance_pence)),
            Column("status", label="Status", accessor="get_status_display", sort_key="status"),
        ]

    @cached_property
    def header_buttons(self):
        buttons = list(super().header_buttons)
        if self.request.user.has_perm(IMPORT):
            buttons.append(HeaderButton("Import a statement", url=reverse("bank_line:import"), icon_name="upload"))
        return buttons


class BankLineInspectView(generic.InspectView):
    """A bank line: what it is matched to or why it is explained, and the undo."""

    template_name = "finance/admin/bank_line_inspect.html"

    def get_context_data(self, **kwargs):
        line = self.object
        return {**super().get_context_data(**kwargs),
                "payout": Payout.objects.filter(bank_line=line).first(),
                "batch": PayingInBatch.objects.filter(bank_line=line).first(),
                "can_undo": self.request.user.has_perm("finance.change_bankline") and line.status in (
                    BankLine.Status.MATCHED, BankLine.Status.OTHER_INCOME)}


class BankLineViewSet(ListExportViewSet, ReadOnlyViewSet):
    model = BankLine
    icon = "list-ul"
    menu_label = "Bank lines"
    index_view_class = BankLineIndexView
    inspect_view_class = BankLineInspectView
    list_filter = ["status", "account"]
    search_fields = ["description"]
    search_backend_name = None
    list_per_page = 100
    export_filename = "bank-lines"
    export_permission = "finance.view_bankline"
    list_export = ["account.code", "date", "description", "paid_in_pence", "paid_out_pence", "balance_pence",
                   "get_status_display", "note", "statement.filename", "file_line", "resolved_at"]
    export_headings = {"account.code": "Account", "paid_in_pence": "Paid in (pence)",
                       "paid_out_pence": "Paid out (pence)", "balance_pence": "Balance (pence)",
                       "get_status_display": "Status", "statement.filename": "Statement file"}

    def get_urlpatterns(self):
        return super().get_urlpatterns() + [path("import/", StatementImportView.as_view(), name="import")]
