"""Each campaign's income code and fund, for the journals: every campaign is
listed, with the code its gifts post to, or the default (flagged) where it has
none of its own. The rest of the chart of accounts is a Wagtail setting."""

from django import forms
from django.core.paginator import Paginator
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.functional import cached_property
from django.views.decorators.http import require_GET
from django.views.generic import FormView, TemplateView
from wagtail.admin import messages
from wagtail.admin.widgets.button import Button

from campaigns.models import Campaign
from config.admin_screens import ScreenViewSet, StaffScreen
from config.errors import ApplicationError
from finance.exports import CampaignIncomeCodesExport
from finance.models import CampaignLedgerCode, ChartOfAccounts
from finance.services import chart_of_accounts
from finance.services.journals import income_account

VIEW, CHANGE = "finance.view_campaignledgercode", "finance.change_campaignledgercode"


class LedgerCodeIndexView(StaffScreen, TemplateView):
    template_name = "finance/admin/ledger_codes.html"
    page_title = "Campaign income codes"
    header_icon = "list-ul"
    permission_required = VIEW
    per_page = 100

    @cached_property
    def header_more_buttons(self):
        url = reverse("campaign_ledger_code:download")
        return [Button("Download XLSX", url=f"{url}?format=xlsx", icon_name="download", priority=90),
                Button("Download CSV", url=f"{url}?format=csv", icon_name="download", priority=100)]

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        chart = ChartOfAccounts.load()
        missing = self.request.GET.get("missing") == "1"
        campaigns = Campaign.objects.select_related("ledger_code").order_by("name", "pk")
        if missing:
            campaigns = campaigns.filter(Q(ledger_code__isnull=True) | Q(ledger_code__income_code=""))
        page = Paginator(campaigns, self.per_page).get_page(self.request.GET.get("p"))
        rows = []
        for campaign in page.object_list:
            code = getattr(campaign, "ledger_code", None)
            rows.append({"campaign": campaign, "code": code, "account": income_account(campaign, chart, code)})
        without = Campaign.objects.filter(Q(ledger_code__isnull=True) | Q(ledger_code__income_code="")).count()
        context.update(rows=rows, page=page, missing=missing, without=without, chart=chart,
                       can_change=self.request.user.has_perm(CHANGE),
                       can_edit_chart=self.request.user.has_perm("finance.change_chartofaccounts"))
        return context


class LedgerCodeForm(forms.Form):
    income_code = forms.CharField(label="Income code", max_length=20, required=False,
                                  help_text="As your accounts package has it, e.g. 201. Blank: the fund's default "
                                            "code, flagged on every journal.")
    fund = forms.ChoiceField(label="Fund", choices=CampaignLedgerCode.Fund.choices, widget=forms.RadioSelect,
                             help_text="Restricted: given for this campaign's purpose only.")


class LedgerCodeEditView(StaffScreen, FormView):
    template_name = "finance/admin/ledger_code_form.html"
    form_class = LedgerCodeForm
    page_title = "Campaign income code"
    header_icon = "list-ul"
    permission_required = CHANGE
    crumbs = (("campaign_ledger_code:index", "Campaign income codes"),)

    @cached_property
    def campaign(self) -> Campaign:
        return get_object_or_404(Campaign, pk=self.kwargs["pk"])

    def get_page_subtitle(self):
        return self.campaign.name

    def get_initial(self):
        code = CampaignLedgerCode.objects.filter(campaign=self.campaign).first()
        return {"income_code": code.income_code if code else "",
                "fund": code.fund if code else CampaignLedgerCode.Fund.UNRESTRICTED}

    def form_valid(self, form):
        try:
            code = chart_of_accounts.campaign_ledger_code_set(
                campaign=self.campaign, income_code=form.cleaned_data["income_code"],
                fund=form.cleaned_data["fund"], by=self.request.user)
        except ApplicationError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
            return self.form_invalid(form)
        where = code.income_code or "the default code (flagged)"
        messages.success(self.request, f"{self.campaign.name}: gifts post to {where}, "
                                       f"{code.get_fund_display().lower()}.")
        return redirect("campaign_ledger_code:index")


@require_GET
def income_codes_download(request):
    """Every campaign's income code and fund as CSV or XLSX; the exporter checks the role."""
    return CampaignIncomeCodesExport().response(user=request.user, file_format=request.GET.get("format", "csv"))


class CampaignLedgerCodeViewSet(ScreenViewSet):
    """Finance → Campaign income codes, at /admin/campaign-income-codes/."""

    icon = "list-ul"
    menu_label = "Campaign income codes"
    permission = VIEW
    url_prefix = "campaign-income-codes"

    def get_urlpatterns(self):
        return [path("", LedgerCodeIndexView.as_view(), name="index"),
                path("download/", income_codes_download, name="download"),
                path("<int:pk>/", LedgerCodeEditView.as_view(), name="edit")]
