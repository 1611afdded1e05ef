"""Staff screens for supporters, inside the Wagtail admin. Each view checks its
permission, validates input and calls one service."""

import json

import django_filters
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.functional import cached_property
from django.views.generic import FormView, TemplateView
from taggit.models import Tag
from wagtail.admin import messages
from wagtail.admin.filters import WagtailFilterSet
from wagtail.admin.ui.tables import Column, TitleColumn
from wagtail.admin.views import generic
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin
from wagtail.admin.widgets.button import Button

from config.errors import ApplicationError
from supporters import selectors, services
from supporters.exports import MAILING_CHANNELS, mailing_list_response
from supporters.forms import ConsentChangeForm, EraseForm, InteractionForm, MergeForm
from supporters.models import AcquisitionSource, Channel, Supporter


class SupporterFilterSet(WagtailFilterSet):
    tags = django_filters.ModelMultipleChoiceFilter(
        field_name="tags",
        label="Tags",
        queryset=Tag.objects.filter(supporters_supportertag_items__isnull=False).distinct().order_by("name"),
        distinct=True,
    )
    consent = django_filters.MultipleChoiceFilter(
        label="Consents to", choices=Channel.choices, method="filter_consent",
        help_text="Supporters whose current consent covers every channel ticked.",
    )
    source = django_filters.MultipleChoiceFilter(label="Source of acquisition", choices=AcquisitionSource.choices)

    class Meta:
        model = Supporter
        fields = []

    def filter_consent(self, queryset, name, value):
        return queryset.filter(**{f"consent_{channel}": True for channel in value})


class ConsentColumn(Column):
    cell_template_name = "supporters/admin/consent_cell.html"

    def get_cell_context_data(self, instance, parent_context):
        context = super().get_cell_context_data(instance, parent_context)
        context["consent"] = [(label, instance.current_consent()[value]) for value, label in Channel.choices]
        return context


class SupporterIndexView(generic.IndexView):
    export_filename = "supporters"

    def search_queryset(self, queryset):
        if not self.search_query:
            return queryset
        return selectors.supporter_search(query=self.search_query, queryset=queryset)

    @cached_property
    def columns(self):
        title = self._get_title_column_class(TitleColumn)(
            "name", label="Name", accessor=str, sort_key="last_name",
            get_url=lambda supporter: reverse("supporter:inspect", args=[supporter.pk]),
        )
        return [
            title,
            Column("reference", label="Ref"),
            Column("email", label="Email", sort_key="email"),
            Column("postcode", label="Postcode", sort_key="postcode"),
            Column("get_source_display", label="Source"),
            ConsentColumn("consent", label="Consent"),
            Column("added", label="Added", sort_key="created_at",
                   accessor=lambda supporter: date_format(timezone.localtime(supporter.created_at), "j M Y")),
        ]

    @cached_property
    def show_export_buttons(self):
        return self.request.user.has_perm("supporters.export_supporter_list")

    def get(self, request, *args, **kwargs):
        if self.is_export and not self.show_export_buttons:
            raise PermissionDenied
        return super().get(request, *args, **kwargs)

    @cached_property
    def header_more_buttons(self):
        buttons = super().header_more_buttons.copy()
        user = self.request.user
        if user.has_perm("supporters.merge_supporter"):
            buttons.append(Button("Possible duplicates", url=reverse("supporter:duplicates"), icon_name="group", priority=50))
        if user.has_perm("supporters.export_supporter_list"):
            for channel, label in MAILING_CHANNELS.items():
                buttons.append(Button(
                    f"Mailing list: {label} (consented only)",
                    url=reverse("supporter:mailing_list", args=[channel]), icon_name="download", priority=95,
                ))
        return buttons


class SupporterInspectView(generic.InspectView):
    template_name = "supporters/admin/supporter_inspect.html"
    page_title = "Supporter record"

    def get_object(self, queryset=None):
        return get_object_or_404(
            Supporter.objects.prefetch_related(
                "tags", Prefetch("consent_events", to_attr="history")
            ),
            pk=self.pk,
        )

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        supporter, user = self.object, self.request.user
        context.update(
            supporter=supporter,
            consent=[(label, supporter.current_consent()[value]) for value, label in Channel.choices],
            timeline=supporter.interactions.select_related("recorded_by")[:100],
            duplicates=[] if supporter.is_erased else list(selectors.supporter_duplicates_of(supporter=supporter)[:10]),
            can_change=user.has_perm("supporters.change_supporter") and not supporter.is_erased,
            can_merge=user.has_perm("supporters.merge_supporter") and not supporter.is_erased,
            can_export=user.has_perm("supporters.export_supporter_data"),
            can_erase=user.has_perm("supporters.erase_supporter") and not supporter.is_erased,
        )
        return context

    @cached_property
    def header_more_buttons(self):
        buttons = super().header_more_buttons
        if self.object.is_erased:
            return [b for b in buttons if b.label != "Edit"]
        return buttons


class SupporterActionView(WagtailAdminTemplateMixin, FormView):
    """A form about one supporter, behind one permission, that calls one service."""

    permission = ""
    header_icon = "user"
    template_name = "supporters/admin/supporter_action.html"
    success_message = ""
    allow_erased = False

    def setup(self, request, *args, **kwargs):
        super().setup(request, *args, **kwargs)
        self.supporter = get_object_or_404(Supporter, pk=kwargs["pk"])

    def dispatch(self, request, *args, **kwargs):
        if not request.user.has_perm(self.permission):
            raise PermissionDenied
        if self.supporter.is_erased and not self.allow_erased:
            messages.error(request, "This supporter has been erased; their record can no longer be changed.")
            return redirect("supporter:inspect", self.supporter.pk)
        return super().dispatch(request, *args, **kwargs)

    def get_page_subtitle(self):
        return str(self.supporter)

    def get_breadcrumbs_items(self):
        return self.breadcrumbs_items + [
            {"url": reverse("supporter:index"), "label": "Supporters"},
            {"url": reverse("supporter:inspect", args=[self.supporter.pk]), "label": str(self.supporter)},
            {"url": "", "label": self.page_title},
        ]

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["supporter"] = self.supporter
        return context

    def form_valid(self, form):
        try:
            self.perform(form)
        except ApplicationError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
            return self.form_invalid(form)
        messages.success(self.request, self.success_message)
        return redirect(self.get_success_url())

    def get_success_url(self):
        return reverse("supporter:inspect", args=[self.supporter.pk])

    def perform(self, form):
        raise NotImplementedError


class ConsentChangeView(SupporterActionView):
    permission = "supporters.change_supporter"
    page_title = "Record a consent change"
    form_class = ConsentChangeForm
    success_message = "Consent change recorded."

    def get_initial(self):
        return {"occurred_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"), "method": "phone"}

    def perform(self, form):
        services.consent_record(supporter=self.supporter, by=self.request.user, **form.cleaned_data)


class InteractionAddView(SupporterActionView):
    permission = "supporters.change_supporter"
    page_title = "Add to timeline"
    form_class = InteractionForm
    success_message = "Added to the timeline."

    def get_initial(self):
        return {"occurred_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M")}

    def perform(self, form):
        services.timeline_add(supporter=self.supporter, by=self.request.user, **form.cleaned_data)


MERGE_COMPARISON = [
    ("Reference", lambda s: s.reference),
    ("Name", lambda s: " ".join(p for p in (s.title, s.first_name, s.last_name) if p)),
    ("Preferred name", lambda s: s.preferred_name),
    ("Email", lambda s: s.email),
    ("Phone", lambda s: s.phone.as_national if s.phone else ""),
    ("Date of birth", lambda s: date_format(s.date_of_birth, "j M Y") if s.date_of_birth else ""),
    ("Address", lambda s: ", ".join(s.address_lines())),
    ("Consent", lambda s: ", ".join(label for value, label in Channel.choices if s.current_consent()[value]) or "none"),
    ("Added", lambda s: date_format(timezone.localtime(s.created_at), "j M Y")),
]


class MergeView(SupporterActionView):
    """Merge a chosen duplicate into this supporter, after a side-by-side check."""

    permission = "supporters.merge_supporter"
    page_title = "Merge duplicate"
    template_name = "supporters/admin/supporter_merge.html"
    form_class = MergeForm

    def get_duplicate(self):
        reference = (self.request.POST.get("duplicate") or self.request.GET.get("duplicate") or "").strip()
        reference = reference.upper().lstrip("S").lstrip("0") or "0"
        if not reference.isdigit():
            return None
        return Supporter.objects.filter(pk=int(reference), erased_at__isnull=True).first()

    def get_initial(self):
        duplicate = self.get_duplicate()
        return {"duplicate": duplicate.pk if duplicate else None}

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        duplicate = self.get_duplicate()
        context["duplicate"] = duplicate
        context["candidates"] = selectors.supporter_duplicates_of(supporter=self.supporter)[:10]
        asked = self.request.GET.get("duplicate")
        if asked and duplicate is None:
            context["lookup_error"] = f"No supporter with reference “{asked}” (or that record is erased)."
        if duplicate is not None:
            context["comparison"] = [
                (label, shown(self.supporter), shown(duplicate), shown(self.supporter) != shown(duplicate))
                for label, shown in MERGE_COMPARISON
            ]
        return context

    def perform(self, form):
        duplicate = form.cleaned_data["duplicate"]
        services.supporter_merge(survivor=self.supporter, duplicate=duplicate, by=self.request.user)
        self.success_message = f"Merged {duplicate.reference} into {self.supporter.reference}."


class EraseView(SupporterActionView):
    permission = "supporters.erase_supporter"
    page_title = "Erase personal data"
    template_name = "supporters/admin/supporter_erase.html"
    form_class = EraseForm
    success_message = "The supporter's personal data has been erased. Their gifts remain in the accounts."

    def perform(self, form):
        services.supporter_erase(supporter=self.supporter, reason=form.cleaned_data["reason"], by=self.request.user)


class PersonalDataExportView(WagtailAdminTemplateMixin, TemplateView):
    """Subject access: everything held about one supporter, as JSON or a readable page."""

    template_name = "supporters/admin/personal_data.html"

    def dispatch(self, request, *args, **kwargs):
        if not request.user.has_perm("supporters.export_supporter_data"):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def get(self, request, pk):
        supporter = get_object_or_404(Supporter, pk=pk)
        data = selectors.supporter_personal_data(supporter=supporter)
        exported_at = timezone.now()
        data["exported_at"] = exported_at.isoformat()
        if request.GET.get("format") == "json":
            response = HttpResponse(
                json.dumps(data, indent=2, ensure_ascii=False), content_type="application/json; charset=utf-8"
            )
            response["Content-Disposition"] = f'attachment; filename="{supporter.reference}-personal-data.json"'
            return response
        return TemplateResponse(request, self.template_name, {
            "supporter": supporter, "data": data, "exported_at": exported_at, "charity_name": settings.CHARITY_NAME,
        })


class DuplicatesView(WagtailAdminTemplateMixin, TemplateView):
    template_name = "supporters/admin/duplicates.html"
    page_title = "Possible duplicates"
    header_icon = "group"

    def dispatch(self, request, *args, **kwargs):
        if not request.user.has_perm("supporters.merge_supporter"):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def get_breadcrumbs_items(self):
        return self.breadcrumbs_items + [
            {"url": reverse("supporter:index"), "label": "Supporters"},
            {"url": "", "label": self.page_title},
        ]

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["groups"] = selectors.duplicate_groups()
        return context


def mailing_list_export(request, channel):
    if not request.user.has_perm("supporters.export_supporter_list"):
        raise PermissionDenied
    if channel not in MAILING_CHANNELS:
        raise PermissionDenied
    return mailing_list_response(channel=channel, file_format=request.GET.get("format", "csv"))
