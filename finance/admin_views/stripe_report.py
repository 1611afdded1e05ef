"""Stripe's itemised payout reconciliation report: Finance uploads it, sees
what was read and matched and the lines with no gift of ours, and works
through those: the gift recorded from the line, or the line marked "not a
gift" with a note. Each view validates its input and calls one service."""

from django import forms
from django.shortcuts import get_object_or_404, redirect
from django.urls import path
from django.utils.functional import cached_property
from django.views.generic import FormView
from wagtail.admin import messages

from campaigns.models import Campaign
from config.admin_screens import ScreenViewSet, StaffScreen
from config.errors import ApplicationError
from config.money import format_pence
from finance import selectors
from finance.models import Payout, PayoutLine
from finance.services import payouts as payout_services
from finance.services import stripe_report

IMPORT = "finance.add_payoutline"
RESOLVE = "finance.change_payoutline"
RECORD_GIFT = (RESOLVE, "donations.add_offline_donation")
_RESULT = "finance_stripe_report"  # the last import's figures, in the session, for the page after the redirect
_SHOWN = 500


class ReportUploadForm(forms.Form):
    file = forms.FileField(
        label="Stripe's report (CSV)",
        help_text="The itemised payout reconciliation report, downloaded from Stripe's dashboard as CSV "
                  f"(at most {stripe_report.MAX_FILE_BYTES // 1024 // 1024} MB).",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}))


class StripeReportScreen(StaffScreen):
    crumbs = (("stripe_report:index", "Stripe's payout report"),)
    header_icon = "upload"


class StripeReportView(StripeReportScreen, FormView):
    """Upload the report; after it, what it held and the exceptions to work through."""

    template_name = "finance/admin/stripe_report.html"
    page_title = "Stripe's payout report"
    crumbs = ()
    form_class = ReportUploadForm
    permission_required = IMPORT

    @cached_property
    def result(self) -> dict | None:
        return self.request.session.get(_RESULT)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["max_megabytes"] = stripe_report.MAX_FILE_BYTES // 1024 // 1024
        context["report_type"] = stripe_report.REPORT_TYPE
        result = None if "problems" in context else self.result
        if result:
            payouts = list(Payout.objects.filter(stripe_payout_id__in=result["payout_ids"][:_SHOWN])
                           .order_by("arrival_date", "stripe_payout_id"))
            exceptions = list(stripe_report.report_exceptions(payout_ids=result["payout_ids"])[:_SHOWN])
            donors = {line.pk: stripe_report.stripe_report_line_donor(line) for line in exceptions}
            context.update(
                result=result, payouts=[selectors.payout_figures(payout) for payout in payouts],
                exceptions=[(line, donors[line.pk]) for line in exceptions],
                can_record_gift=self.request.user.has_perms(RECORD_GIFT),
                can_resolve=self.request.user.has_perm(RESOLVE))
        return context

    def form_valid(self, form):
        upload = form.cleaned_data["file"]
        try:
            stripe_report.check_size(upload.size)  # before reading it
            summary = stripe_report.stripe_report_import(data=upload.read(), filename=upload.name,
                                                         by=self.request.user)
        except stripe_report.StripeReportError as error:
            return self.render_to_response(self.get_context_data(
                form=form, problems=error.problems, problem_count=error.problem_count, filename=upload.name,
                hidden_problems=error.problem_count - len(error.problems)))
        except ApplicationError as error:
            form.add_error("file", error.message)
            return self.form_invalid(form)
        self.request.session[_RESULT] = {
            "filename": summary.filename, "payout_ids": summary.payout_ids, "payouts_new": summary.payouts_new,
            "lines": summary.lines, "lines_new": summary.lines_new, "matched": summary.matched,
            "exceptions": summary.exceptions, "other_lines": summary.other_lines, "text": str(summary)}
        messages.success(self.request, f"Imported {summary}")
        return redirect("stripe_report:index")


class LineScreen(StripeReportScreen, FormView):
    """One line of the report, and one thing to do with it."""

    template_name = "finance/admin/stripe_report_line.html"

    @property
    def submit_label(self) -> str:
        return self.page_title

    def setup(self, request, *args, **kwargs):
        super().setup(request, *args, **kwargs)
        self.line = get_object_or_404(PayoutLine.objects.select_related("payout", "donation"), pk=kwargs["pk"])

    def get_page_subtitle(self):
        return f"{self.line.stripe_balance_transaction_id}"

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "line": self.line}

    def form_valid(self, form):
        try:
            message = self.act(form.cleaned_data)
        except ApplicationError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
            return self.form_invalid(form)
        messages.success(self.request, message)
        return redirect("stripe_report:index")


class GiftFromLineForm(forms.Form):
    campaign = forms.ModelChoiceField(queryset=Campaign.objects.none(), required=False,
                                      empty_label="No campaign (general funds)")
    first_name = forms.CharField(max_length=100, required=False)
    last_name = forms.CharField(max_length=100, required=False)
    confirm = forms.BooleanField()

    def __init__(self, *args, donor: stripe_report.LineDonor, line: PayoutLine, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["campaign"].queryset = Campaign.objects.order_by("-starts_on", "name")
        if donor.supporter is not None:
            del self.fields["first_name"], self.fields["last_name"]
            who = f"{donor.supporter} ({donor.supporter.reference})"
        else:
            self.fields["first_name"].initial, self.fields["last_name"].initial = donor.first_name, donor.last_name
            self.fields["first_name"].help_text = "For the new supporter: as the report names them; correct it if need be."
            who = f"a new supporter, {donor.email}"
        self.fields["confirm"].label = f"Record a gift of {format_pence(line.amount_pence, line.currency)} from {who}"


class LineGiftView(LineScreen):
    """Record the gift a charge line shows, that we never had."""

    page_title = "Record the gift"
    permission_required = RECORD_GIFT
    form_class = GiftFromLineForm

    @cached_property
    def donor(self) -> stripe_report.LineDonor:
        return stripe_report.stripe_report_line_donor(self.line)

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "donor": self.donor, "line": self.line}

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "donor": self.donor}

    def act(self, data):
        donation = stripe_report.stripe_report_line_create_gift(
            line=self.line, campaign=data["campaign"], by=self.request.user,
            first_name=data.get("first_name", ""), last_name=data.get("last_name", ""))
        if PayoutLine.objects.get(pk=self.line.pk).resolution != PayoutLine.Resolution.GIFT_CREATED:
            return f"The line matches gift {donation.reference}, recorded since: it is now linked, and nothing new was recorded."
        return (f"Recorded gift {donation.reference} of {donation.amount_display} from {donation.supporter} "
                f"({donation.supporter.reference}), paid on {donation.given_on:%-d %B %Y}.")


class ExplainForm(forms.Form):
    note = forms.CharField(label="What is it, if not a gift?", max_length=255,
                           help_text="E.g. “Staff test payment”, “Radar fee”, “Event ticket sold on the dashboard”.")


class LineExplainView(LineScreen):
    """Mark a line "not a gift", with Finance's note."""

    page_title = "Not a gift"
    submit_label = "Mark it not a gift"
    permission_required = RESOLVE
    form_class = ExplainForm

    def act(self, data):
        line = payout_services.payout_line_explain(line=self.line, note=data["note"], by=self.request.user)
        return f"The line {line.stripe_balance_transaction_id} is marked not a gift: “{line.resolution_note}”."


class StripeReportViewSet(ScreenViewSet):
    """Stripe's payout report, at /admin/stripe-report/."""

    icon = "upload"
    menu_label = "Import Stripe's report"
    permission = IMPORT
    url_prefix = "stripe-report"

    def get_urlpatterns(self):
        return [
            path("", StripeReportView.as_view(), name="index"),
            path("line/<int:pk>/gift/", LineGiftView.as_view(), name="gift"),
            path("line/<int:pk>/not-a-gift/", LineExplainView.as_view(), name="explain"),
        ]
