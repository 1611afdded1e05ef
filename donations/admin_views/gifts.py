"""Views behind the money screens of the admin. Each checks its permission,
validates input and calls one service."""

import datetime
import json
import re

import django_filters
from django import forms
from django.conf import settings
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.views.decorators.http import require_POST
from django.views.generic import FormView, TemplateView
from wagtail.admin import messages
from wagtail.admin.filters import DateRangePickerWidget, WagtailFilterSet
from wagtail.admin.ui.tables import Column, TitleColumn
from wagtail.admin.views import generic
from wagtail.admin.widgets.button import Button

from campaigns.models import Appeal, Campaign
from campaigns.selectors import appeal_for_code
from config.admin_screens import StaffPermissionRequired, StaffScreen, staff_permission_required
from config.errors import ApplicationError
from config.exports import ExportPermissionMixin
from config.formats import admin_datetime, day_start
from config.money import format_pence, pence_as_pounds_text
from donations import income, selectors, services, tax_years, webhooks
from donations.forms import parse_amount_pence, parse_staff_amount_pence
from donations.models import Donation, GiftKind, IncomeSource, RecurringGift, StripeEvent
from donations.services import gift_aid_rules, monthly, rollups, statements
from supporters.models import DataImport, Supporter
from supporters.selectors import supporter_search


def _money(field):
    def show(obj):
        value = getattr(obj, field)
        return "—" if value is None else format_pence(value, obj.currency)
    return show


class DonationFilterSet(WagtailFilterSet):
    """The list's filters, and those the dashboard links with: the gifts behind
    one of its figures (given between two days as the rollups date them,
    received, by source and kind), whose totals the list shows."""
    status = django_filters.MultipleChoiceFilter(choices=Donation.Status.choices)
    channel = django_filters.MultipleChoiceFilter(choices=Donation.Channel.choices)
    campaign = django_filters.ModelChoiceFilter(queryset=Campaign.objects.all())
    appeal = django_filters.ModelChoiceFilter(queryset=Appeal.objects.all(), label="Appeal")
    gift_aid_declared = django_filters.BooleanFilter(label="Gift Aid declared")
    given = django_filters.DateFromToRangeFilter(label="Given (UK time)", method="filter_given",
                                                 widget=DateRangePickerWidget)
    source = django_filters.ChoiceFilter(label="Came in", choices=IncomeSource.choices, method="filter_source")
    kind = django_filters.ChoiceFilter(label="Kind", choices=[("one_off", "One-off"), ("monthly", "Monthly")],
                                       method="filter_kind")
    data_import = django_filters.ModelChoiceFilter(label="Brought in by the import",
                                                   queryset=DataImport.objects.filter(kind__in=("gifts", "justgiving")))
    received = django_filters.ChoiceFilter(label="Received (refunded since or not)", choices=[("true", "Yes")],
                                           method="filter_received")

    class Meta:
        model = Donation
        fields = []

    def filter_given(self, queryset, name, value):
        if not value or not (value.start or value.stop):
            return queryset
        first = value.start.date() if value.start else datetime.date(2000, 1, 1)
        last = value.stop.date() if value.stop else timezone.localdate()
        return queryset.filter(income.gifts_given_between(first, last))

    def filter_source(self, queryset, name, value):
        return queryset.filter(rollups.gifts_of_source(value)) if value else queryset

    def filter_kind(self, queryset, name, value):
        if not value:
            return queryset
        return queryset.filter(recurring_gift__isnull=value == "one_off")

    def filter_received(self, queryset, name, value):
        return income.received_gifts(queryset) if value else queryset


def _local_days(field: str, value) -> Q:
    """A datetime field within a span of whole days, UK time (a date range filter's value)."""
    condition = Q()
    if value and value.start:
        condition &= Q(**{f"{field}__gte": day_start(value.start.date())})
    if value and value.stop:
        condition &= Q(**{f"{field}__lt": day_start(value.stop.date() + datetime.timedelta(days=1))})
    return condition


class RecurringGiftFilterSet(WagtailFilterSet):
    """The monthly gifts list's filters, and those the dashboard's regular-giving figures link with."""
    status = django_filters.MultipleChoiceFilter(choices=RecurringGift.Status.choices)
    needs_new_card = django_filters.BooleanFilter(label="Needs a new card")
    campaign = django_filters.ModelChoiceFilter(queryset=Campaign.objects.all())
    started = django_filters.DateFromToRangeFilter(field_name="started_on", label="Started",
                                                   widget=DateRangePickerWidget)
    cancelled = django_filters.DateFromToRangeFilter(label="Cancelled (UK time)", method="filter_cancelled",
                                                     widget=DateRangePickerWidget)

    class Meta:
        model = RecurringGift
        fields = []

    def filter_cancelled(self, queryset, name, value):
        return queryset.filter(_local_days("cancelled_at", value)) if value else queryset


class DonationIndexView(ExportPermissionMixin, generic.IndexView):
    export_filename = "donations"
    export_permission = "donations.export_donation"  # Finance's: gifts leave the system only with them
    results_template_name = "donations/admin/donation_results.html"

    def get_context_data(self, *args, **kwargs):
        context = super().get_context_data(*args, **kwargs)
        if self.is_filtering or self.is_searching:
            # What the gifts listed add up to: the figure a dashboard link came from.
            context["totals"] = income.gifts_totals(self.get_queryset().order_by())
        return context

    @cached_property
    def header_more_buttons(self):
        buttons = super().header_more_buttons.copy()
        if self.request.user.has_perm("donations.add_offline_donation"):
            buttons.append(Button("Record an offline gift", url=reverse("donation:offline"), icon_name="plus",
                                  priority=10))
        return buttons

    def get_base_queryset(self):
        return super().get_base_queryset().select_related("supporter", "campaign")

    def search_queryset(self, queryset):
        query = (self.search_query or "").strip()
        if not query:
            return queryset
        reference = re.fullmatch(r"[Dd]0*(\d+)", query)
        if reference:
            return queryset.filter(pk=int(reference.group(1)))
        if query.startswith(("pi_", "ch_", "txn_")):
            return queryset.filter(Q(stripe_payment_intent_id=query) | Q(stripe_charge_id=query)
                                   | Q(stripe_balance_transaction_id=query))

        return queryset.filter(supporter__in=supporter_search(query=query).values("pk"))

    @cached_property
    def columns(self):
        return [
            self._get_title_column_class(TitleColumn)(
                "reference", label="Gift", accessor="reference", sort_key="pk",
                get_url=lambda d: reverse("donation:inspect", args=[d.pk])),
            Column("supporter", label="Supporter", accessor="donor_display"),
            Column("amount", label="Amount", accessor=_money("amount_pence"), sort_key="amount_pence"),
            Column("fee", label="Fee", accessor=_money("fee_pence")),
            Column("net", label="Net", accessor=_money("net_pence")),
            Column("status", label="Status", accessor="get_status_display", sort_key="status"),
            Column("campaign", label="Campaign"),
            Column("channel", label="Channel", accessor="get_channel_display"),
            Column("when", label="When", accessor=lambda d: admin_datetime(d.paid_at or d.created_at), sort_key="created_at"),
        ]


class DonationInspectView(generic.InspectView):
    template_name = "donations/admin/donation_inspect.html"
    page_title = "Gift"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        donation = self.object
        context.update(
            donation=donation,
            money=[("Amount", donation.amount_display),
                   ("Of which fee cover", format_pence(donation.fee_cover_pence, donation.currency)),
                   ("Stripe fee", _money("fee_pence")(donation)), ("Net", _money("net_pence")(donation)),
                   ("Refunded", format_pence(donation.refunded_pence, donation.currency)),
                   ("Kept", format_pence(donation.kept_pence, donation.currency))],
            gift_aid=gift_aid_rules.gift_aid_verdict_for(donation),
            gift_aid_claims=donation.gift_aid_claims.select_related("claim", "declaration").order_by("-claim_id"),
            can_refund=self.request.user.has_perm("donations.refund_donation")
            and donation.status in (Donation.Status.SUCCEEDED, Donation.Status.PARTLY_REFUNDED),
        )
        return context


class RefundForm(forms.Form):
    amount = forms.CharField(label="Amount to refund (£)", max_length=20)
    reason = forms.CharField(max_length=255, help_text="Why, in a few words: it is kept with the gift.")

    def __init__(self, *args, refundable_pence: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.refundable_pence = refundable_pence
        self.fields["amount"].help_text = f"Up to {format_pence(refundable_pence)}."

    def clean_amount(self):
        return parse_staff_amount_pence(self.cleaned_data["amount"], example="12.50")


class MoneyScreen(StaffScreen):
    """A staff form under Money → Donations."""

    submit_class = "button serious"
    crumbs = (("donation:index", "Donations"),)


class RefundView(MoneyScreen, FormView):
    """Finance staff refund all or part of a gift through Stripe."""

    template_name = "donations/admin/refund.html"
    form_class = RefundForm
    page_title = "Refund"
    header_icon = "pick"
    permission_required = "donations.refund_donation"

    def setup(self, request, *args, **kwargs):
        super().setup(request, *args, **kwargs)
        self.donation = get_object_or_404(Donation.objects.select_related("supporter"), pk=kwargs["pk"])

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(),
                "refundable_pence": self.donation.amount_pence - self.donation.refunded_pence}

    def get_initial(self):
        return {"amount": pence_as_pounds_text(self.donation.amount_pence - self.donation.refunded_pence)}

    def get_page_subtitle(self):
        return f"{self.donation.reference}, {self.donation.amount_display} from {self.donation.donor_display}"

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "donation": self.donation}

    def form_valid(self, form):
        try:
            services.donation_refund(donation=self.donation, amount_pence=form.cleaned_data["amount"],
                                     reason=form.cleaned_data["reason"], by=self.request.user)
        except ApplicationError as error:
            form.add_error("amount" if error.field == "amount" else None, error.message)
            return self.form_invalid(form)
        messages.success(self.request, f"Refunded {format_pence(form.cleaned_data['amount'])} of {self.donation.reference}.")
        return redirect("donation:inspect", self.donation.pk)


class RecurringGiftInspectView(generic.InspectView):
    template_name = "donations/admin/recurring_gift_inspect.html"
    page_title = "Monthly gift"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["charges"] = self.object.charges.select_related("donation")[:36]
        context["can_cancel"] = (self.request.user.has_perm("donations.cancel_recurringgift")
                                 and self.object.status != RecurringGift.Status.CANCELLED)
        return context


class CancelForm(forms.Form):
    reason = forms.CharField(max_length=255, help_text="E.g. “Asked by phone, 3 Dec”.")


class RecurringGiftCancelView(MoneyScreen, FormView):
    template_name = "donations/admin/refund.html"
    form_class = CancelForm
    page_title = "Cancel monthly gift"
    header_icon = "repeat"
    permission_required = "donations.cancel_recurringgift"

    def setup(self, request, *args, **kwargs):
        super().setup(request, *args, **kwargs)
        self.recurring = get_object_or_404(RecurringGift, pk=kwargs["pk"])

    def get_page_subtitle(self):
        return str(self.recurring)

    def form_valid(self, form):
        monthly.recurring_gift_cancel(recurring_gift=self.recurring, reason=form.cleaned_data["reason"],
                                      by=self.request.user)
        messages.success(self.request, "The monthly gift is cancelled; no further payments will be taken.")
        return redirect("recurring_gift:inspect", self.recurring.pk)


class StripeEventInspectView(generic.InspectView):
    template_name = "donations/admin/stripe_event_inspect.html"
    page_title = "Stripe event"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)

        context["payload"] = json.dumps(self.object.payload, indent=2, sort_keys=True)
        context["can_retry"] = (self.request.user.has_perm("donations.retry_stripeevent")
                                and self.object.status == StripeEvent.Status.FAILED)
        return context


@require_POST
@staff_permission_required("donations.retry_stripeevent")
def stripe_event_retry(request, pk):
    """Apply a failed event again (after the cause is fixed)."""
    stored = get_object_or_404(StripeEvent, pk=pk)
    try:
        stored = webhooks.stripe_event_process(stored_event_id=stored.pk)
    except Exception as error:  # kept on the event; shown to the user
        messages.error(request, f"It failed again: {type(error).__name__}: {error}")
    else:
        messages.success(request, f"Event {stored.stripe_id} applied ({stored.get_status_display().lower()}).")
    return redirect("stripe_event:inspect", pk)


class OfflineGiftForm(forms.Form):
    supporter = forms.CharField(label="Supporter reference", max_length=20, required=False,
                                help_text="E.g. S0000042 (on their record). Leave blank only for a collection of "
                                          "small donations.")
    amount = forms.CharField(label="Amount (£)", max_length=20)
    received_on = forms.DateField(label="Date received",
                                  widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    channel = forms.ChoiceField(label="How it came", choices=[
        (Donation.Channel.OFFLINE, "Cash, cheque or bank transfer"), (Donation.Channel.POST, "By post"),
        (Donation.Channel.PHONE, "By phone"), (Donation.Channel.EVENT, "At an event")])
    campaign = forms.ModelChoiceField(queryset=None, required=False)
    appeal_code = forms.CharField(label="Appeal code", required=False, max_length=40)
    gift_kind = forms.ChoiceField(label="What the money was", choices=GiftKind.choices, initial=GiftKind.OWN_GIFT,
                                  required=False, help_text="Only a donor's own gift can carry Gift Aid.")
    benefit = forms.CharField(label="Value of anything the donor got in return (£)", required=False, max_length=20,
                              help_text="A dinner, a gift, a place: HMRC limits benefits on Gift Aid gifts.")
    gift_aid_declared = forms.BooleanField(
        label="A Gift Aid declaration came with this gift", required=False,
        help_text="Record the declaration itself on the supporter's record: that is what makes the gift claimable.")
    small_donation = forms.BooleanField(
        label="Small donations (Gift Aid Small Donations Scheme)", required=False,
        help_text="Cash or contactless only (not cheques or transfers), £30 or less a gift, with no Gift Aid "
                  "declaration: a bucket or street collection, or one person's small cash gift.")
    description = forms.CharField(label="Collection", required=False, max_length=200,
                                  help_text="For a collection: where and when, e.g. “Street collection, York”.")
    note = forms.CharField(required=False, max_length=500, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["campaign"].queryset = Campaign.objects.all()

    def clean_supporter(self):
        if not self.cleaned_data["supporter"].strip():
            return None  # a collection: the service checks that it is one
        match = re.fullmatch(r"[Ss]?0*(\d+)", self.cleaned_data["supporter"].strip())
        supporter = Supporter.objects.filter(pk=int(match.group(1)), erased_at__isnull=True).first() if match else None
        if supporter is None:
            raise forms.ValidationError("No supporter with that reference.")
        return supporter

    def clean_amount(self):
        return parse_amount_pence(self.cleaned_data["amount"])

    def clean_gift_kind(self):
        return self.cleaned_data["gift_kind"] or GiftKind.OWN_GIFT

    def clean_benefit(self):
        text = self.cleaned_data["benefit"].replace("£", "").strip()
        return parse_amount_pence(text) if text.strip("0.") else 0

    def clean_appeal_code(self):
        code = self.cleaned_data["appeal_code"].strip()
        if not code:
            return None
        appeal = appeal_for_code(code)
        if appeal is None:
            raise forms.ValidationError("No appeal has that code.")
        return appeal


class OfflineGiftView(MoneyScreen, FormView):
    """Record a gift that did not come through Stripe."""

    submit_class = "button"

    template_name = "donations/admin/refund.html"
    form_class = OfflineGiftForm
    page_title = "Record an offline gift"
    header_icon = "pick"
    permission_required = "donations.add_offline_donation"

    def get_initial(self):
        return {"received_on": timezone.localdate(), "supporter": self.request.GET.get("supporter", "")}

    def form_valid(self, form):
        data = form.cleaned_data
        try:
            donation = services.donation_record_offline(
                supporter=data["supporter"], amount_pence=data["amount"], received_on=data["received_on"],
                channel=data["channel"], campaign=data["campaign"], appeal=data["appeal_code"],
                gift_aid_declared=data["gift_aid_declared"], gift_kind=data["gift_kind"], benefit_pence=data["benefit"],
                small_donation=data["small_donation"], description=data["description"], note=data["note"],
                by=self.request.user)
        except ApplicationError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
            return self.form_invalid(form)
        messages.success(self.request, f"Recorded {donation.amount_display} from {donation.donor_display} "
                                       f"({donation.reference}).")
        return redirect("donation:inspect", donation.pk)


class AnnualStatementView(StaffPermissionRequired, TemplateView):
    """A supporter's giving statement for a tax year, print-ready, for staff who
    may see both supporters and gifts; the tax year is chosen in its toolbar."""

    template_name = "donations/annual_statement.html"
    permission_required = ("supporters.view_supporter", "donations.view_donation")

    def setup(self, request, *args, **kwargs):
        super().setup(request, *args, **kwargs)
        self.supporter = get_object_or_404(Supporter, pk=kwargs["supporter_pk"])

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        years = selectors.statement_tax_years(supporter=self.supporter)
        chosen = tax_years.TaxYear.last_complete()
        requested = self.request.GET.get("tax_year", "")
        if requested.isdigit() and tax_years.TaxYear(int(requested)) in years:
            chosen = tax_years.TaxYear(int(requested))
        statement = statements.annual_statement(supporter=self.supporter, tax_year=chosen)
        context.update(
            statement=statement, staff=True, tax_years=years, charity_name=settings.CHARITY_NAME,
            inspect_url=reverse("supporter:inspect", args=[self.supporter.pk]),
            supporter_link=("" if self.supporter.is_erased else statements.statement_url(
                supporter=self.supporter, tax_year=chosen)),
        )
        return context
