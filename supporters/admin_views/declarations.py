"""Supporters → Gift Aid declarations: every declaration held, as HMRC requires
it kept (the name and address as declared, when, how, what it covers, whether
cancelled), read-only; each is recorded, cancelled and completed on its
supporter's record. Both roles read the list; it downloads as CSV and XLSX
for Finance, whose records for HMRC they are."""

import django_filters
from django.urls import reverse
from django.utils.functional import cached_property
from wagtail.admin.filters import DateRangePickerWidget, WagtailFilterSet
from wagtail.admin.ui.tables import Column, TitleColumn
from wagtail.admin.views import generic

from config.admin_screens import ReadOnlyViewSet
from config.exports import ListExportViewSet
from supporters.models import GiftAidDeclaration


class DeclarationFilterSet(WagtailFilterSet):
    declared = django_filters.DateFromToRangeFilter(field_name="declared_on", label="Declared",
                                                    widget=DateRangePickerWidget)
    method = django_filters.MultipleChoiceFilter(choices=GiftAidDeclaration.Method.choices)
    scope = django_filters.MultipleChoiceFilter(label="Covers", choices=GiftAidDeclaration.Scope.choices)
    cancelled = django_filters.BooleanFilter(field_name="cancelled_on", lookup_expr="isnull", exclude=True,
                                             label="Cancelled")

    class Meta:
        model = GiftAidDeclaration
        fields = []


class DeclarationIndexView(generic.IndexView):
    page_title = "Gift Aid declarations"

    def get_base_queryset(self):
        # What `status` reads for each row, in two queries for the whole page.
        return super().get_base_queryset().select_related("supporter").prefetch_related("superseded_by")

    @cached_property
    def columns(self):
        return [
            self._get_title_column_class(TitleColumn)(
                "reference", label="Declaration", accessor="reference", sort_key="pk",
                get_url=lambda declaration: reverse("supporter:inspect", args=[declaration.supporter_id])),
            Column("name", label="Name as declared", accessor="full_name", sort_key="last_name"),
            Column("postcode", label="Postcode", sort_key="postcode"),
            Column("declared_on", label="Declared", accessor=lambda d: f"{d.declared_on:%-d %b %Y}",
                   sort_key="declared_on"),
            Column("method", label="How", accessor="get_method_display"),
            Column("status", label="Status", accessor=lambda d: d.status.capitalize()),
        ]


class GiftAidDeclarationViewSet(ListExportViewSet, ReadOnlyViewSet):
    model = GiftAidDeclaration
    icon = "doc-full"
    menu_label = "Gift Aid declarations"
    url_prefix = "gift-aid-declarations"
    index_view_class = DeclarationIndexView
    inspect_view_enabled = False  # each is shown, and acted on, on its supporter's record
    filterset_class = DeclarationFilterSet
    search_fields = ["last_name", "postcode"]
    search_backend_name = None
    list_per_page = 50
    export_filename = "gift-aid-declarations"
    export_permission = "supporters.export_giftaiddeclaration"  # Finance's: HMRC's records
    list_export = ["reference", "supporter.reference", "title", "first_name", "last_name", "address_house",
                   "address_street", "address_town", "postcode", "country.name", "declared_on", "get_method_display",
                   "get_scope_display", "status", "cancelled_on", "cancellation_reason", "confirmation_sent_on",
                   "wording_version", "source_detail", "created_at"]
    export_headings = {"reference": "Declaration", "supporter.reference": "Supporter", "address_street": "Street",
                       "address_town": "Town", "country.name": "Country",
                       "get_method_display": "How made", "get_scope_display": "Covers", "status": "Status",
                       "source_detail": "Source"}
