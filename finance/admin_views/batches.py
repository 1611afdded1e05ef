"""Paying-in batches: the list (open ones first), a new batch (or one from a
bank credit), and each batch's entry page, where a finance officer keys its
gifts one row at a time with the keyboard alone, sees the count and total run
against the slip's, and closes the batch when they add up.

The entry row is a plain POST form (each gift saved, the page shown again with
the focus on a fresh row's first field); finance/static/js/paying_in_batch.js
makes it quicker where JavaScript runs: a supporter picked from a list as
their name is typed, and each gift saved without reloading the page. Each view
validates its input and calls one service of finance.services.batches."""

import re
from urllib.parse import urlencode

from django import forms
from django.core.paginator import Paginator
from django.db.models import Case, IntegerField, Value, When
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.views.decorators.http import require_GET, require_POST
from django.views.generic import FormView, TemplateView
from wagtail.admin import messages
from wagtail.admin.widgets.button import Button, HeaderButton

from campaigns.models import Campaign
from campaigns.selectors import appeal_for_code
from config.admin_screens import ScreenViewSet, StaffScreen, staff_permission_required
from config.errors import ApplicationError
from config.money import format_pence, pence_as_pounds_text
from donations.forms import parse_staff_amount_pence
from finance import selectors
from finance.exports import PayingInBatchesExport
from finance.models import BankLine, PayingInBatch, PayingInBatchGift
from finance.services import batches as services
from supporters.models import Supporter
from supporters.selectors import supporter_search

VIEW, OPEN, CHANGE = "finance.view_payinginbatch", "finance.add_payinginbatch", "finance.change_payinginbatch"
ADD_GIFT = "finance.add_payinginbatchgift"
SEARCH_SUPPORTERS = "supporters.view_supporter"
MATCHES_SHOWN = 8

# A reference as staff type it ("S0000042", "s42", "42"), or as the supporter
# picker fills the box ("S0000042 Jane Smith, N16 8AA"): a postcode such as
# "S1 2AB" is neither, and is searched for.
_REFERENCE_ALONE = re.compile(r"[Ss]?0*(\d+)")
_REFERENCE_FIRST = re.compile(r"[Ss](\d{7})\s.*")


# Typed day first, as on a UK paying-in slip ("05/03/2026", "5/3/26"): a plain text box
# is one stop for the Tab key and reads the same in every browser's language.
UK_DATE_FORMATS = ["%d/%m/%Y", "%d/%m/%y", "%d.%m.%Y", "%d-%m-%Y", "%Y-%m-%d"]


# --- forms -------------------------------------------------------------------------

class BatchForm(forms.Form):
    banking_date = forms.DateField(
        label="Banking date", input_formats=UK_DATE_FORMATS,
        widget=forms.DateInput(format="%d/%m/%Y", attrs={"autofocus": True, "autocomplete": "off",
                                                         "inputmode": "numeric", "class": "batch-date"}),
        help_text="The day it is paid in, as on the paying-in slip: day/month/year.",
        error_messages={"invalid": "Enter the date as day/month/year, like 05/03/2026."})
    method = forms.ChoiceField(label="How the money came", choices=PayingInBatch.Method.choices)
    reference = forms.CharField(label="Slip or payout reference", required=False, max_length=120,
                                help_text="The paying-in slip's number, or the platform's payout reference: "
                                          "it helps match the bank credit.")
    expected_count = forms.IntegerField(label="Number of gifts", min_value=1, max_value=100_000)
    expected_total = forms.CharField(label="Total (£)", max_length=20, help_text="As the slip adds it up.")

    def clean_expected_total(self):
        return parse_staff_amount_pence(self.cleaned_data["expected_total"], example="1234.56")


class FromCreditForm(forms.Form):
    method = forms.ChoiceField(label="How the money came", choices=PayingInBatch.Method.choices,
                               initial=PayingInBatch.Method.BANK_TRANSFER)
    expected_count = forms.IntegerField(label="Number of gifts", min_value=1, max_value=100_000, initial=1,
                                        help_text="One for a single transfer; a CAF or platform payment may "
                                                  "hold several (see its remittance).")
    reference = forms.CharField(label="Reference", required=False, max_length=120)


class GiftEntryForm(forms.Form):
    """One gift of the batch. The supporter is found by reference, or searched
    for by name, postcode or email; several matches are offered to choose from
    (`matches`), and the choice (`supporter_pick`) holds while the search does."""

    supporter = forms.CharField(label="Supporter", max_length=200,
                                error_messages={"required": "Give the supporter's reference, or search by name, "
                                                            "postcode or email."})
    supporter_pick = forms.IntegerField(required=False, widget=forms.HiddenInput)
    supporter_searched = forms.CharField(required=False, widget=forms.HiddenInput)
    amount = forms.CharField(label="Amount (£)", max_length=20, error_messages={"required": "Enter the amount."})
    campaign = forms.ModelChoiceField(label="Campaign", queryset=Campaign.objects.none(), required=False,
                                      empty_label="— none —")
    appeal = forms.CharField(label="Appeal code", max_length=40, required=False)
    gift_aid_declared = forms.BooleanField(label="Gift Aid declared", required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.matches: list[Supporter] = []
        self.fields["campaign"].queryset = Campaign.objects.annotate(
            closed=Case(When(status=Campaign.Status.CLOSED, then=Value(1)), default=Value(0),
                        output_field=IntegerField())).order_by("closed", "name")

    def clean_amount(self):
        return parse_staff_amount_pence(self.cleaned_data["amount"], example="25.00")

    def clean_appeal(self):
        code = self.cleaned_data["appeal"].strip()
        if not code:
            return None
        appeal = appeal_for_code(code)
        if appeal is None:
            raise forms.ValidationError(f"No appeal has the code “{code}”.")
        return appeal

    def clean(self):
        data = super().clean()
        text = " ".join(data.get("supporter", "").split())
        if not text:
            return data
        live = Supporter.objects.filter(erased_at__isnull=True)
        if data.get("supporter_pick") and data.get("supporter_searched") == text:
            data["supporter"] = live.filter(pk=data["supporter_pick"]).first()
            if data["supporter"] is None:
                self.add_error("supporter", "That supporter is no longer on record: search again.")
            return data
        reference = _REFERENCE_ALONE.fullmatch(text) or _REFERENCE_FIRST.fullmatch(text)
        if reference:
            data["supporter"] = live.filter(pk=int(reference.group(1))).first()
            if data["supporter"] is None:
                self.add_error("supporter", f"No supporter has the reference S{int(reference.group(1)):07d}.")
            return data
        self.matches = list(supporter_search(query=text, queryset=live).order_by("last_name", "first_name", "pk")
                            [:MATCHES_SHOWN + 1])
        if not self.matches:
            self.add_error("supporter", f"No supporter matches “{text}”: try their reference, postcode or email.")
        elif len(self.matches) > MATCHES_SHOWN:
            self.matches = self.matches[:MATCHES_SHOWN]
            self.add_error("supporter", f"Many supporters match “{text}”: choose one below, or add to the name "
                                        f"or give a postcode.")
        else:
            self.add_error("supporter", f"Choose which supporter you mean by “{text}”, then save again.")
        return data

    @property
    def errors_by_label(self) -> list[tuple[str, str, str]]:
        """(field id, label, message) of each error, in the row's order: the
        summary names the field, and links to it."""
        named = []
        for name, errors in self.errors.items():
            field = self.fields.get(name)
            for message in errors:
                if field is None:
                    named.append(("", "", message))
                else:
                    named.append((self[name].id_for_label, field.label, message))
        return named

    @property
    def first_error_field(self) -> str:
        for name in ("supporter", "amount", "campaign", "appeal", "gift_aid_declared"):
            if name in self.errors:
                return name
        return "supporter"


# --- the list and new batches ----------------------------------------------------------

class BatchScreen(StaffScreen):
    header_icon = "form"
    crumbs = (("paying_in_batch:index", "Paying-in batches"),)


class BatchIndexView(StaffScreen, TemplateView):
    template_name = "finance/admin/batch_index.html"
    page_title = "Paying-in batches"
    header_icon = "form"
    permission_required = VIEW
    per_page = 50

    @cached_property
    def header_buttons(self):
        if not self.request.user.has_perm(OPEN):
            return []
        return [HeaderButton("New batch", url=reverse("paying_in_batch:new"), icon_name="plus")]

    @cached_property
    def header_more_buttons(self):
        url = reverse("paying_in_batch:download")
        return [Button("Download XLSX", url=f"{url}?format=xlsx", icon_name="download", priority=90),
                Button("Download CSV", url=f"{url}?format=csv", icon_name="download", priority=100)]

    def get_context_data(self, **kwargs):
        page = Paginator(selectors.batches_listed(), self.per_page).get_page(self.request.GET.get("p"))
        return {**super().get_context_data(**kwargs), "page": page, "batches": page.object_list}


class BatchFormScreen(BatchScreen, FormView):
    template_name = "finance/admin/batch_form.html"
    submit_label = "Open the batch"

    @property
    def cancel_url(self):
        return reverse("paying_in_batch:index")

    def show_error(self, form, error: ApplicationError):
        form.add_error(error.field if error.field in form.fields else None, error.message)
        return self.form_invalid(form)


class BatchOpenView(BatchFormScreen):
    form_class = BatchForm
    page_title = "New paying-in batch"
    permission_required = OPEN

    def get_initial(self):
        return {"banking_date": timezone.localdate(), "method": PayingInBatch.Method.CHEQUE}

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "credits": selectors.credits_for_offline_gifts()}

    def form_valid(self, form):
        data = form.cleaned_data
        try:
            batch = services.batch_open(banking_date=data["banking_date"], method=data["method"],
                                        expected_count=data["expected_count"],
                                        expected_total_pence=data["expected_total"], reference=data["reference"],
                                        by=self.request.user)
        except ApplicationError as error:
            return self.show_error(form, error)
        messages.success(self.request, f"Batch {batch.number} is open: key its {batch.expected_count} "
                                       f"gift{'s' if batch.expected_count != 1 else ''}.")
        return redirect("paying_in_batch:entry", batch.pk)


PAYER_METHODS = (
    (("JUSTGIVING", "ENTHUSE", "PAYPAL GIVING", "BENEVITY", "GIVEASYOUEARN", "VIRGIN MONEY GIVING"),
     PayingInBatch.Method.PLATFORM),
    (("CAF ", "CHARITIES AID"), PayingInBatch.Method.CAF),
    (("CHEQUE", "CHQ"), PayingInBatch.Method.CHEQUE),
    (("CASH",), PayingInBatch.Method.CASH),
    ((" S/O", "STO ", "STANDING ORDER"), PayingInBatch.Method.STANDING_ORDER),
)


class BatchFromCreditView(BatchFormScreen):
    """Record offline gifts from a bank credit nothing else explains."""

    form_class = FromCreditForm
    page_title = "Record offline gifts from a bank credit"
    crumb_label = "From a bank credit"
    permission_required = OPEN
    submit_label = "Open a batch for this credit"

    def setup(self, request, *args, **kwargs):
        super().setup(request, *args, **kwargs)
        self.line = get_object_or_404(BankLine.objects.select_related("account"), pk=kwargs["line_pk"])

    def get_initial(self):
        initial = {"reference": self.line.description[:120]}
        # What the bank's description says the credit is, as a first guess Finance can change.
        description = self.line.description.upper()
        for words, method in PAYER_METHODS:
            if any(word in description for word in words):
                initial["method"] = method
                break
        return initial

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "line": self.line}

    def form_valid(self, form):
        data = form.cleaned_data
        try:
            batch = services.batch_from_bank_credit(line=self.line, method=data["method"],
                                                    expected_count=data["expected_count"],
                                                    reference=data["reference"], by=self.request.user)
        except ApplicationError as error:
            return self.show_error(form, error)
        messages.success(self.request, f"Batch {batch.number} is open for the credit of "
                                       f"{format_pence(batch.expected_total_pence)}: key its gifts.")
        return redirect("paying_in_batch:entry", batch.pk)


class BatchEditView(BatchFormScreen):
    form_class = BatchForm
    permission_required = CHANGE
    submit_label = "Save the details"

    def setup(self, request, *args, **kwargs):
        super().setup(request, *args, **kwargs)
        self.batch = get_object_or_404(PayingInBatch, pk=kwargs["pk"])

    def get_page_title(self):
        return f"Batch {self.batch.number}'s details"

    @property
    def cancel_url(self):
        return reverse("paying_in_batch:entry", args=[self.batch.pk])

    def get_parent_crumbs(self):
        return super().get_parent_crumbs() + [
            {"url": reverse("paying_in_batch:entry", args=[self.batch.pk]), "label": f"Batch {self.batch.number}"}]

    def get_initial(self):
        batch = self.batch
        return {"banking_date": batch.banking_date, "method": batch.method, "reference": batch.reference,
                "expected_count": batch.expected_count,
                "expected_total": pence_as_pounds_text(batch.expected_total_pence)}

    def get_form(self, form_class=None):
        form = super().get_form(form_class)
        if self.batch.bank_line_id:  # the credit's date and amount
            for name in ("banking_date", "expected_total"):
                form.fields[name].disabled = True
                form.fields[name].help_text = "The bank credit's, which this batch was opened from."
        return form

    def form_valid(self, form):
        data = form.cleaned_data
        try:
            services.batch_update(batch=self.batch, banking_date=data["banking_date"], method=data["method"],
                                  expected_count=data["expected_count"], expected_total_pence=data["expected_total"],
                                  reference=data["reference"], by=self.request.user)
        except ApplicationError as error:
            return self.show_error(form, error)
        messages.success(self.request, f"Batch {self.batch.number}'s details are saved.")
        return redirect("paying_in_batch:entry", self.batch.pk)


# --- a batch's entry page --------------------------------------------------------------

def _wants_json(request) -> bool:
    return request.headers.get("X-Requested-With") == "paying-in-batch"


class BatchEntryView(BatchScreen, FormView):
    """A batch's gifts and the row to key the next one."""

    template_name = "finance/admin/batch.html"
    form_class = GiftEntryForm
    page_title = "Paying-in batch"
    permission_required = VIEW
    post_permission_required = ADD_GIFT

    def setup(self, request, *args, **kwargs):
        super().setup(request, *args, **kwargs)
        self.batch = get_object_or_404(PayingInBatch.objects.select_related("bank_line", "entered_by", "closed_by"),
                                       pk=kwargs["pk"])

    def get_page_title(self):
        return f"Batch {self.batch.number}"

    def get_initial(self):
        # The campaign and appeal stay from one gift to the next (a batch is often one appeal's replies).
        initial = {}
        campaign = self.request.GET.get("campaign", "")
        if campaign.isdigit():
            initial["campaign"] = int(campaign)
        initial["appeal"] = self.request.GET.get("appeal", "")[:40]
        return initial

    def panel_context(self) -> dict:
        batch, user = self.batch, self.request.user
        figures = selectors.batch_figures(batch)
        is_open = batch.status == PayingInBatch.Status.OPEN
        gifts, warnings = list(selectors.batch_gifts(batch)), selectors.batch_gift_aid_warnings(batch)
        for gift in gifts:
            gift.gift_aid_warning = warnings.get(gift.donation_id, "")
        return {
            "batch": batch, "figures": figures, "gifts": gifts,
            "can_add": is_open and user.has_perm(ADD_GIFT),
            "can_change": user.has_perm(CHANGE), "is_open": is_open,
            "can_close": is_open and figures.adds_up and user.has_perm(CHANGE),
            "can_reopen": not is_open and not batch.bank_line_id and user.has_perm(CHANGE),
            "can_discard": is_open and not figures.count and user.has_perm(CHANGE),
            "can_edit": is_open and user.has_perm(CHANGE),
        }

    def get_context_data(self, **kwargs):
        context = {**super().get_context_data(**kwargs), **self.panel_context()}
        form = context["form"]
        context["focus"] = "close" if context["can_close"] and not form.is_bound else form.first_error_field
        context["lookup_url"] = reverse("paying_in_batch:supporters")
        return context

    def render_parts(self, form, *, saved: bool, message: str = "") -> JsonResponse:
        context = {**self.panel_context(), "form": form, "view": self, "request": self.request,
                   "lookup_url": reverse("paying_in_batch:supporters")}
        context["focus"] = "close" if context["can_close"] and saved else form.first_error_field
        return JsonResponse({
            "saved": saved, "message": message, "adds_up": context["figures"].adds_up,
            "errors": [f"{label}: {text}" if label else text for _id, label, text in form.errors_by_label],
            "status": render_to_string("finance/admin/batch_status.html", context, request=self.request),
            "form": render_to_string("finance/admin/batch_entry_form.html", context, request=self.request),
            "gifts": render_to_string("finance/admin/batch_gifts.html", context, request=self.request),
        })

    def form_invalid(self, form):
        if _wants_json(self.request):
            return self.render_parts(form, saved=False)
        return super().form_invalid(form)

    def form_valid(self, form):
        data = form.cleaned_data
        try:
            gift = services.batch_gift_add(batch=self.batch, supporter=data["supporter"], amount_pence=data["amount"],
                                           campaign=data["campaign"], appeal=data["appeal"],
                                           gift_aid_declared=data["gift_aid_declared"], by=self.request.user)
        except ApplicationError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
            return self.form_invalid(form)
        donation = gift.donation
        message = (f"Gift {gift.position} saved: {donation.amount_display} from {donation.supporter} "
                   f"({donation.reference}).")
        sticky = {"campaign": data["campaign"].pk if data["campaign"] else "",
                  "appeal": data["appeal"].code if data["appeal"] else ""}
        if _wants_json(self.request):
            return self.render_parts(self.get_form_class()(initial=sticky), saved=True, message=message)
        messages.success(self.request, message)
        query = urlencode({key: value for key, value in sticky.items() if value})
        # No #fragment: a page opened at one skips autofocus, and the focus belongs on the fresh row.
        return redirect(reverse("paying_in_batch:entry", args=[self.batch.pk]) + (f"?{query}" if query else ""))


def _batch_action(request, pk, act, done: str):
    batch = get_object_or_404(PayingInBatch, pk=pk)
    try:
        act(batch)
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect("paying_in_batch:entry", pk)
    messages.success(request, done.format(number=batch.number))
    return redirect("paying_in_batch:entry", pk)


@require_POST
@staff_permission_required(CHANGE)
def batch_close(request, pk):
    return _batch_action(request, pk, lambda batch: services.batch_close(batch=batch, by=request.user),
                         "Batch {number} is closed: its gifts add up to the slip.")


@require_POST
@staff_permission_required(CHANGE)
def batch_reopen(request, pk):
    return _batch_action(request, pk, lambda batch: services.batch_reopen(batch=batch, by=request.user),
                         "Batch {number} is open again: close it once it adds up.")


@require_POST
@staff_permission_required(CHANGE)
def batch_discard(request, pk):
    batch = get_object_or_404(PayingInBatch, pk=pk)
    try:
        services.batch_discard(batch=batch, by=request.user)
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect("paying_in_batch:entry", pk)
    messages.success(request, f"Empty batch {batch.number} discarded.")
    return redirect("paying_in_batch:index")


class RemoveForm(forms.Form):
    reason = forms.CharField(label="Why", max_length=120, initial="keyed in error",
                             help_text="Kept with the withdrawn gift, for the audit trail.")


class GiftRemoveView(BatchScreen, FormView):
    """Confirm taking a gift out of an open batch (it is withdrawn, and kept as such)."""

    template_name = "finance/admin/batch_gift_remove.html"
    form_class = RemoveForm
    page_title = "Remove a gift from the batch"
    crumb_label = "Remove a gift"
    permission_required = CHANGE

    def setup(self, request, *args, **kwargs):
        super().setup(request, *args, **kwargs)
        self.gift = get_object_or_404(
            PayingInBatchGift.objects.select_related("batch", "donation__supporter", "donation__campaign"),
            pk=kwargs["gift_pk"], batch_id=kwargs["pk"])

    def get_parent_crumbs(self):
        batch = self.gift.batch
        return super().get_parent_crumbs() + [
            {"url": reverse("paying_in_batch:entry", args=[batch.pk]), "label": f"Batch {batch.number}"}]

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "gift": self.gift,
                "entry_url": reverse("paying_in_batch:entry", args=[self.gift.batch_id])}

    def form_valid(self, form):
        try:
            donation = services.batch_gift_remove(gift=self.gift, reason=form.cleaned_data["reason"],
                                                  by=self.request.user)
        except ApplicationError as error:
            form.add_error(None, error.message)
            return self.form_invalid(form)
        messages.success(self.request, f"Gift {self.gift.position} ({donation.amount_display} from "
                                       f"{donation.supporter}) is out of the batch; {donation.reference} is "
                                       f"withdrawn.")
        return redirect("paying_in_batch:entry", self.gift.batch_id)


@require_GET
@staff_permission_required(ADD_GIFT)
@staff_permission_required(SEARCH_SUPPORTERS)
def supporter_lookup(request):
    """Supporters matching what is typed in the entry row (JSON, for the picker)."""
    query = " ".join(request.GET.get("q", "").split())[:200]
    if len(query) < 2:
        return JsonResponse({"results": []})
    found = (supporter_search(query=query, queryset=Supporter.objects.filter(erased_at__isnull=True))
             .order_by("last_name", "first_name", "pk")[:MATCHES_SHOWN])
    return JsonResponse({"results": [
        {"reference": supporter.reference, "name": str(supporter),
         "detail": ", ".join(part for part in (supporter.address_house, supporter.address_street, supporter.postcode,
                                               supporter.email) if part),
         "value": f"{supporter.reference} {supporter}" + (f", {supporter.postcode}" if supporter.postcode else "")}
        for supporter in found]})


@require_GET
def batches_download(request):
    """The list of batches as CSV or XLSX; the exporter checks the role."""
    return PayingInBatchesExport().response(user=request.user, file_format=request.GET.get("format", "csv"))


# --- the menu and URLs -------------------------------------------------------------------

class BatchViewSet(ScreenViewSet):
    """Finance → Paying-in batches (for those who may see batches)."""

    icon = "form"
    menu_label = "Paying-in batches"
    permission = VIEW

    def get_urlpatterns(self):
        return [
            path("", BatchIndexView.as_view(), name="index"),
            path("new/", BatchOpenView.as_view(), name="new"),
            path("from-credit/<int:line_pk>/", BatchFromCreditView.as_view(), name="from_credit"),
            path("supporters/", supporter_lookup, name="supporters"),
            path("download/", batches_download, name="download"),
            path("<int:pk>/", BatchEntryView.as_view(), name="entry"),
            path("<int:pk>/details/", BatchEditView.as_view(), name="edit"),
            path("<int:pk>/close/", batch_close, name="close"),
            path("<int:pk>/reopen/", batch_reopen, name="reopen"),
            path("<int:pk>/discard/", batch_discard, name="discard"),
            path("<int:pk>/gifts/<int:gift_pk>/remove/", GiftRemoveView.as_view(), name="remove_gift"),
        ]
