"""Income targets: what the charity means to raise each tax year (Finance sets
them; the dashboard sets each period's income against its share)."""

from django import forms
from wagtail.admin.forms import WagtailAdminModelForm
from wagtail.admin.panels import FieldPanel
from wagtail.admin.viewsets.model import ModelViewSet

from config.exports import ListExportViewSet
from config.money import pence_as_pounds_text
from donations.forms import parse_staff_amount_pence
from donations.models import IncomeTarget


class IncomeTargetForm(WagtailAdminModelForm):
    """A tax year's income target, typed in pounds."""
    target = forms.CharField(label="Target (£)", help_text="What the charity means to raise in the tax year, "
                                                          "e.g. 2,500,000. The dashboard shares it out by days.")

    class Meta:
        model = IncomeTarget
        fields = ["tax_year"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.target_pence:
            self.initial.setdefault("target", pence_as_pounds_text(self.instance.target_pence))

    def clean_target(self):
        self.instance.target_pence = parse_staff_amount_pence(self.cleaned_data["target"], example="2,500,000")
        return self.cleaned_data["target"]


class IncomeTargetViewSet(ListExportViewSet, ModelViewSet):
    """What the charity means to raise each tax year: the dashboard's targets."""
    model = IncomeTarget
    icon = "date"
    menu_label = "Income targets"
    list_display = ["__str__"]
    panels = [FieldPanel("tax_year"), FieldPanel("target")]
    copy_view_enabled = False
    export_filename = "income-targets"
    export_permission = "donations.export_donation"  # money leaves with Finance
    list_export = ["tax_year", "target_pence"]
    export_headings = {"tax_year": "Tax year (starting)"}

    def get_form_class(self, for_update=False):
        return IncomeTargetForm
