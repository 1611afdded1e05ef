"""Finance's Gift Aid screens in the Wagtail admin: build a claim, review it,
download its schedules and XML, submit it, record HMRC's answer and the
repayment; and the gifts that need following up. Each view checks its
permission, validates input and calls one service."""


from django import forms
from django.conf import settings
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.views.decorators.http import require_POST
from django.views.generic import FormView, TemplateView
from wagtail.admin import messages
from wagtail.admin.ui.tables import Column, TitleColumn
from wagtail.admin.views import generic
from wagtail.admin.widgets.button import HeaderButton

from config.admin_screens import StaffScreen, staff_permission_required
from config.errors import ApplicationError
from config.money import format_pence, pence_as_pounds_text
from donations import selectors
from donations.exports import ClaimGiftsExport, ClaimScheduleExport, ClaimXmlExport
from donations.forms import parse_staff_amount_pence
from donations.models import Donation, GiftAidClaim, GiftAidDirectRepayment
from donations.services import gift_aid_claims

VIEW, BUILD, SUBMIT = "donations.view_giftaidclaim", "donations.add_giftaidclaim", "donations.submit_giftaidclaim"


def _period(claim):
    return f"{claim.period_start:%-d %b %Y} – {claim.period_end:%-d %b %Y}"


class ClaimIndexView(generic.IndexView):
    @cached_property
    def header_buttons(self):
        buttons = super().header_buttons.copy()
        if self.request.user.has_perm(BUILD):
            buttons.append(HeaderButton("Build a claim", url=reverse("gift_aid_claim:build"), icon_name="plus"))
        buttons.append(HeaderButton("Gifts to follow up", url=reverse("gift_aid_claim:follow_ups"),
                                    icon_name="warning"))
        buttons.append(HeaderButton("Owed to HMRC", url=reverse("gift_aid_claim:owed"), icon_name="undo"))
        return buttons

    @cached_property
    def columns(self):
        return [
            self._get_title_column_class(TitleColumn)(
                "reference", label="Claim", accessor="reference", sort_key="pk",
                get_url=lambda c: reverse("gift_aid_claim:inspect", args=[c.pk])),
            Column("period", label="Period", accessor=_period, sort_key="period_end"),
            Column("status", label="Status", accessor="get_status_display", sort_key="status"),
            Column("gift_count", label="Gifts", sort_key="gift_count"),
            Column("gifts", label="Gifts total", accessor=lambda c: format_pence(c.gifts_pence)),
            Column("tax", label="Gift Aid", accessor=lambda c: format_pence(c.tax_pence)),
            Column("adjustment", label="Adjustment",
                   accessor=lambda c: format_pence(c.adjustment_pence) if c.adjustment_pence else "—"),
            Column("repaid", label="Repaid",
                   accessor=lambda c: "—" if c.repayment_pence is None else format_pence(c.repayment_pence)),
        ]


class ClaimInspectView(generic.InspectView):
    """The review screen: totals, schedules to download, the rows, adjustments, actions."""

    template_name = "donations/admin/gift_aid_claim.html"
    page_title = "Gift Aid claim"
    rows_shown = 200

    def get_page_subtitle(self):
        return f"{self.object.reference}, {_period(self.object)}"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        claim = self.object
        user = self.request.user
        context.update(
            claim=claim, parts=selectors.claim_part_summaries(claim),
            rows=claim.rows.order_by("number")[: self.rows_shown], rows_shown=self.rows_shown,
            adjustments=claim.adjustments.select_related("claimed_gift__donation"),
            small_donations=selectors.claim_small_donations_by_year(claim),
            can_build=user.has_perm(BUILD) and claim.status == GiftAidClaim.Status.DRAFT,
            can_submit=user.has_perm(SUBMIT) and claim.status == GiftAidClaim.Status.DRAFT,
            can_record_outcome=user.has_perm(SUBMIT) and claim.status == GiftAidClaim.Status.SUBMITTED,
            can_record_repayment=user.has_perm(SUBMIT) and claim.repayment_pence is None
            and claim.status in (GiftAidClaim.Status.SUBMITTED, GiftAidClaim.Status.ACCEPTED),
        )
        return context


class ClaimScreen(StaffScreen):
    """A staff screen under Money → Gift Aid claims."""

    template_name = "donations/admin/refund.html"
    header_icon = "doc-full"
    submit_class = "button"
    crumbs = (("gift_aid_claim:index", "Gift Aid claims"),)

    def show_error(self, form, error: ApplicationError):
        form.add_error(error.field if error.field in form.fields else None, error.message)
        return self.form_invalid(form)


class BuildForm(forms.Form):
    period_start = forms.DateField(label="Gifts received from",
                                   widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    period_end = forms.DateField(label="to (inclusive)", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    include_earlier = forms.BooleanField(
        label="Also claim earlier gifts not yet claimed", required=False, initial=True,
        help_text="Gifts covered since by a new declaration, or whose missing details were completed "
                  "(within HMRC's four-year limit).")


class ClaimBuildView(ClaimScreen, FormView):
    form_class = BuildForm
    page_title = "Build a Gift Aid claim"
    permission_required = BUILD

    def get_initial(self):
        last = GiftAidClaim.objects.exclude(status=GiftAidClaim.Status.REJECTED).order_by("-period_end").first()
        today = timezone.localdate()
        start = last.period_end + timezone.timedelta(days=1) if last else today.replace(day=1) - timezone.timedelta(days=1)
        start = start if last else start.replace(day=1)
        return {"period_start": start, "period_end": today - timezone.timedelta(days=1)}

    def form_valid(self, form):
        data = form.cleaned_data
        try:
            claim = gift_aid_claims.gift_aid_claim_build(period_start=data["period_start"], period_end=data["period_end"],
                                                  include_earlier=data["include_earlier"], by=self.request.user)
        except ApplicationError as error:
            return self.show_error(form, error)
        small = (f" and {format_pence(claim.small_donations_tax_pence)} on small donations"
                 if claim.small_donations_pence else "")
        messages.success(self.request, f"Draft claim {claim.reference}: {claim.gift_count} "
                                       f"gift{'s' if claim.gift_count != 1 else ''}, "
                                       f"{format_pence(claim.tax_pence)} of Gift Aid{small}. Review it, then submit.")
        return redirect("gift_aid_claim:inspect", claim.pk)


class SubmitForm(forms.Form):
    hmrc_reference = forms.CharField(label="HMRC reference (if you have it yet)", required=False, max_length=100,
                                     help_text="The correlation id or submission reference Charities Online gave.")
    confirm = forms.BooleanField(label="I have checked the claim and sent it to HMRC (or am sending it now)")


class OutcomeForm(forms.Form):
    outcome = forms.ChoiceField(choices=[("accepted", "HMRC accepted the claim"), ("rejected", "HMRC rejected the claim")],
                                widget=forms.RadioSelect)
    reason = forms.CharField(label="HMRC's reason, if rejected", required=False, widget=forms.Textarea(attrs={"rows": 2}))
    hmrc_reference = forms.CharField(label="HMRC reference", required=False, max_length=100)


class RepaymentForm(forms.Form):
    amount = forms.CharField(label="Amount HMRC paid (£)", max_length=20)
    received_on = forms.DateField(label="Received on", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    reference = forms.CharField(label="Bank reference", required=False, max_length=100)

    def clean_amount(self):
        return parse_staff_amount_pence(self.cleaned_data["amount"], example="1234.56")


class ClaimActionView(ClaimScreen, FormView):
    """One action on one claim: submit, record the outcome, record the repayment."""

    permission_required = SUBMIT

    def setup(self, request, *args, **kwargs):
        super().setup(request, *args, **kwargs)
        self.claim = get_object_or_404(GiftAidClaim, pk=kwargs["pk"])

    def get_page_subtitle(self):
        return f"{self.claim.reference}, {_period(self.claim)}"

    def form_valid(self, form):
        try:
            message = self.act(form.cleaned_data)
        except ApplicationError as error:
            return self.show_error(form, error)
        messages.success(self.request, message)
        return redirect("gift_aid_claim:inspect", self.claim.pk)


class ClaimSubmitView(ClaimActionView):
    form_class = SubmitForm
    page_title = "Submit the claim"

    def act(self, data):
        claim = gift_aid_claims.gift_aid_claim_submit(claim=self.claim, by=self.request.user,
                                               hmrc_reference=data["hmrc_reference"])
        return f"Claim {claim.reference} is submitted and locked."


class ClaimOutcomeView(ClaimActionView):
    form_class = OutcomeForm
    page_title = "Record HMRC's answer"

    def act(self, data):
        claim = gift_aid_claims.gift_aid_claim_record_outcome(
            claim=self.claim, accepted=data["outcome"] == "accepted", reason=data["reason"], by=self.request.user,
            hmrc_reference=data["hmrc_reference"])
        if claim.status == GiftAidClaim.Status.REJECTED:
            return f"Claim {claim.reference} is marked rejected; its gifts can go in the next claim."
        return f"Claim {claim.reference} is marked accepted."


class ClaimRepaymentView(ClaimActionView):
    form_class = RepaymentForm
    page_title = "Record the repayment"

    def get_initial(self):
        due = self.claim.repayment_due_pence
        return {"amount": pence_as_pounds_text(due), "received_on": timezone.localdate()}

    def act(self, data):
        claim = gift_aid_claims.gift_aid_claim_record_repayment(
            claim=self.claim, amount_pence=data["amount"], received_on=data["received_on"],
            reference=data["reference"], by=self.request.user)
        difference = claim.repayment_difference_pence
        if difference:
            return (f"Recorded {format_pence(claim.repayment_pence)}: {format_pence(abs(difference))} "
                    f"{'more' if difference > 0 else 'less'} than the {format_pence(claim.repayment_due_pence)} due.")
        return f"Recorded {format_pence(claim.repayment_pence)}: it matches the claim to the penny."


class DirectRepaymentForm(RepaymentForm):
    """A repayment to HMRC, outside a claim: same amount and date rules."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["amount"].label = "Amount repaid to HMRC (£)"
        self.fields["received_on"].label = "Paid on"
        self.fields["reference"].label = "Payment reference"
        self.fields["reference"].required = True


class OwedToHmrcView(ClaimScreen, FormView):
    """Tax over-claimed on gifts since their claim (refunds, lost disputes, void
    or back-dated cancelled declarations) that no claim has carried yet, and the
    form to record repaying it directly; with the direct repayments made before."""

    form_class = DirectRepaymentForm
    template_name = "donations/admin/gift_aid_owed.html"
    page_title = "Owed to HMRC"
    submit_class = "button"

    def get_permission_required(self):
        return (VIEW, SUBMIT) if self.request.method == "POST" else (VIEW,)

    @cached_property
    def owed(self):
        return gift_aid_claims.gift_aid_adjustments_outstanding()

    @cached_property
    def owed_pence(self):
        return sum(adjustment.tax_pence for adjustment in self.owed)

    def get_initial(self):
        return {"amount": pence_as_pounds_text(self.owed_pence), "received_on": timezone.localdate()}

    def get_context_data(self, **kwargs):
        return {
            **super().get_context_data(**kwargs),
            "owed": self.owed, "owed_pence": self.owed_pence,
            "can_repay": self.request.user.has_perm(SUBMIT),
            "repayments": GiftAidDirectRepayment.objects.select_related("recorded_by")[:50],
        }

    def form_valid(self, form):
        data = form.cleaned_data
        try:
            repayment = gift_aid_claims.gift_aid_direct_repayment_record(
                repaid_on=data["received_on"], amount_pence=data["amount"], reference=data["reference"],
                by=self.request.user)
        except ApplicationError as error:
            if error.field == "repaid_on":
                error.field = "received_on"
            return self.show_error(form, error)
        messages.success(self.request, f"Recorded {repayment}: no later claim will carry these adjustments.")
        return redirect("gift_aid_claim:owed")


@require_POST
@staff_permission_required(BUILD)
def claim_discard(request, pk):
    claim = get_object_or_404(GiftAidClaim, pk=pk)
    try:
        gift_aid_claims.gift_aid_claim_discard(claim=claim)
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect("gift_aid_claim:inspect", pk)
    messages.success(request, f"Draft {claim.reference} discarded; its gifts are free for the next claim.")
    return redirect("gift_aid_claim:index")


def claim_schedule(request, pk, number, fmt):
    if fmt not in ClaimScheduleExport.formats:
        raise Http404("No such format")
    return ClaimScheduleExport(claim_id=pk, number=number).response(user=request.user, file_format=fmt)


def claim_xml(request, pk, number):
    return ClaimXmlExport(claim_id=pk, number=number).response(user=request.user, file_format="xml")


def claim_gifts_csv(request, pk):
    return ClaimGiftsExport(claim_id=pk).response(user=request.user, file_format="csv")


class FollowUpsView(ClaimScreen, TemplateView):
    """Gifts held because a declaration lacks what HMRC needs, and eligible
    gifts whose four-year claim deadline is near."""

    template_name = "donations/admin/gift_aid_follow_ups.html"
    page_title = "Gift Aid: gifts to follow up"
    header_icon = "warning"
    permission_required = VIEW
    crumb_label = "Gifts to follow up"

    def get_context_data(self, **kwargs):
        follow_ups = selectors.gift_aid_follow_ups()
        donations = Donation.objects.select_related("supporter").in_bulk(
            [g.id for g, _v in follow_ups["needs_data"]] + [g.id for g, _v, _d in follow_ups["nearing_deadline"]])
        return {
            **super().get_context_data(**kwargs),
            "needs_data": [(donations[g.id], v) for g, v in follow_ups["needs_data"]],
            "nearing_deadline": [(donations[g.id], d) for g, _v, d in follow_ups["nearing_deadline"]],
            "warning_days": settings.GIFT_AID_DEADLINE_WARNING_DAYS,
        }
