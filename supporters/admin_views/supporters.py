"""Staff screens for supporters, inside the Wagtail admin. Each view checks its
permission, validates input and calls one service."""

import json

import django_filters
from django.conf import settings
from django.db.models import Prefetch
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.functional import cached_property
from django.views.decorators.http import require_POST
from django.views.generic import FormView, TemplateView
from taggit.models import Tag
from wagtail.admin import messages
from wagtail.admin.filters import WagtailFilterSet
from wagtail.admin.ui.tables import Column, TitleColumn
from wagtail.admin.views import generic
from wagtail.admin.widgets.button import Button

from config.admin_screens import StaffPermissionRequired, StaffScreen, staff_permission_required
from config.errors import ApplicationError
from config.exports import ExportPermissionMixin
from supporters import selectors, services
from supporters.services import audit
from supporters.exports import MAILING_CHANNELS, MailHouseExport, MailingListExport
from supporters.forms import (
    ConsentChangeForm,
    EraseForm,
    GiftAidCancelForm,
    GiftAidCompleteForm,
    GiftAidConfirmationPostedForm,
    GiftAidDeclarationForm,
    InteractionForm,
    MergeForm,
)
from supporters.models import AcquisitionSource, Channel, DataImport, GiftAidDeclaration, LikelyDuplicate, Supporter


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
    data_import = django_filters.ModelChoiceFilter(
        label="Added by the import", queryset=DataImport.objects.exclude(kind="declarations"))

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


class SupporterIndexView(ExportPermissionMixin, generic.IndexView):
    export_filename = "supporters"
    export_permission = "supporters.export_supporter_list"

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
    def header_more_buttons(self):
        buttons = super().header_more_buttons.copy()
        user = self.request.user
        if user.has_perm("supporters.merge_supporter"):
            buttons.append(Button("Possible duplicates", url=reverse("supporter:duplicates"), icon_name="group", priority=50))
        if user.has_perm("supporters.add_giftaiddeclaration"):
            buttons.append(Button("Import Gift Aid declarations", url=reverse("gift_aid_import:index"),
                                  icon_name="upload", priority=60))
        if user.has_perm("supporters.export_supporter_list"):
            for channel, label in MAILING_CHANNELS.items():
                buttons.append(Button(
                    f"Mailing list: {label} (consented only)",
                    url=reverse("supporter:mailing_list", args=[channel]), icon_name="download", priority=95,
                ))
            for file_format in ("csv", "xlsx"):
                buttons.append(Button(
                    f"Mail-house file, a line per household ({file_format.upper()})",
                    url=f"{reverse('supporter:mail_house')}?format={file_format}", icon_name="download", priority=96,
                ))
        return buttons


class SupporterEditView(generic.EditView):
    """The edit form shows the whole record, so opening it is a look at the
    person's data, logged as opening the record is."""

    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        audit.audit_viewed(user=request.user, instance=self.object, what="edit form")
        return response


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
        audit.audit_viewed(user=user, instance=supporter, what="record")
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
        if user.has_perm("supporters.view_giftaiddeclaration"):
            context.update(
                show_declarations=True,
                declarations=list(selectors.gift_aid_declarations_of(supporter=supporter)),
                can_add_declaration=user.has_perm("supporters.add_giftaiddeclaration") and not supporter.is_erased,
                can_change_declaration=user.has_perm("supporters.change_giftaiddeclaration"),
            )
        return context

    @cached_property
    def header_more_buttons(self):
        buttons = super().header_more_buttons
        if self.object.is_erased:
            return [b for b in buttons if b.label != "Edit"]
        return buttons


class SupporterActionView(StaffScreen, FormView):
    """A form about one supporter, behind one permission, that calls one service."""

    header_icon = "user"
    template_name = "supporters/admin/supporter_action.html"
    success_message = ""
    allow_erased = False

    def setup(self, request, *args, **kwargs):
        super().setup(request, *args, **kwargs)
        self.supporter = get_object_or_404(Supporter, pk=kwargs["pk"])

    def dispatch(self, request, *args, **kwargs):
        if not self.has_permission():
            return self.handle_no_permission()
        if self.supporter.is_erased and not self.allow_erased:
            messages.error(request, "This supporter has been erased; their record can no longer be changed.")
            return redirect("supporter:inspect", self.supporter.pk)
        return super().dispatch(request, *args, **kwargs)

    def get_page_subtitle(self):
        return str(self.supporter)

    def get_parent_crumbs(self):
        return [{"url": reverse("supporter:index"), "label": "Supporters"},
                {"url": reverse("supporter:inspect", args=[self.supporter.pk]), "label": str(self.supporter)}]

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["supporter"] = self.supporter
        return context

    def form_valid(self, form):
        try:
            self.perform(form)
        except ApplicationError as error:
            # Some errors carry every problem found (e.g. a declaration's address).
            for field, message in (getattr(error, "errors", None) or {error.field: error.message}).items():
                form.add_error(field if field in form.fields else None, message)
            return self.form_invalid(form)
        if self.success_message:
            messages.success(self.request, self.success_message)
        return redirect(self.get_success_url())

    def get_success_url(self):
        return reverse("supporter:inspect", args=[self.supporter.pk])

    def perform(self, form):
        raise NotImplementedError


class ConsentChangeView(SupporterActionView):
    permission_required = "supporters.change_supporter"
    page_title = "Record a consent change"
    form_class = ConsentChangeForm
    success_message = "Consent change recorded."

    def get_initial(self):
        return {"occurred_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"), "method": "phone"}

    def perform(self, form):
        services.consent_record(supporter=self.supporter, by=self.request.user, **form.cleaned_data)


class InteractionAddView(SupporterActionView):
    permission_required = "supporters.change_supporter"
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

    permission_required = "supporters.merge_supporter"
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
    permission_required = "supporters.erase_supporter"
    page_title = "Erase personal data"
    template_name = "supporters/admin/supporter_erase.html"
    form_class = EraseForm
    success_message = "The supporter's personal data has been erased. Their gifts remain in the accounts."

    def perform(self, form):
        services.supporter_erase(supporter=self.supporter, reason=form.cleaned_data["reason"], by=self.request.user)


class PersonalDataExportView(StaffScreen, TemplateView):
    """Subject access: everything held about one supporter, as JSON or a readable page."""

    template_name = "supporters/admin/personal_data.html"
    permission_required = "supporters.export_supporter_data"

    def get(self, request, pk):
        supporter = get_object_or_404(Supporter, pk=pk)
        data = selectors.supporter_personal_data(supporter=supporter)
        exported_at = timezone.now()
        data["exported_at"] = exported_at.isoformat()
        if request.GET.get("format") == "json":
            audit.audit_exported(user=request.user, instance=supporter, what="subject access JSON")
            response = HttpResponse(
                json.dumps(data, indent=2, ensure_ascii=False), content_type="application/json; charset=utf-8"
            )
            response["Content-Disposition"] = f'attachment; filename="{supporter.reference}-personal-data.json"'
            return response
        audit.audit_viewed(user=request.user, instance=supporter, what="subject access page")
        return TemplateResponse(request, self.template_name, {
            "supporter": supporter, "data": data, "exported_at": exported_at, "charity_name": settings.CHARITY_NAME,
        })


class DuplicatesView(StaffScreen, TemplateView):
    template_name = "supporters/admin/duplicates.html"
    page_title = "Possible duplicates"
    header_icon = "group"
    permission_required = "supporters.merge_supporter"
    crumbs = (("supporter:index", "Supporters"),)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["groups"] = selectors.duplicate_groups()
        context["flags"] = selectors.likely_duplicates_to_review()
        return context


@require_POST
@staff_permission_required("supporters.merge_supporter")
def likely_duplicate_dismiss(request, flag_pk):
    """Not the same person, says a member of staff: the import's flag is put away."""
    services.likely_duplicate_dismiss(flag=get_object_or_404(LikelyDuplicate, pk=flag_pk))
    messages.success(request, "Dismissed: they are not the same person.")
    return redirect("supporter:duplicates")


def mailing_list_export(request, channel):
    if channel not in MAILING_CHANNELS:
        raise Http404("No mailing list for that channel")
    return MailingListExport(channel=channel).response(user=request.user, file_format=request.GET.get("format", "csv"))


def mail_house_export(request):
    """The mail house's file; the exporter checks the role."""
    return MailHouseExport().response(user=request.user, file_format=request.GET.get("format", "csv"))


# --- Gift Aid declarations ----------------------------------------------------------

_DECLARED_FIELDS = ("title", "first_name", "last_name", "address_house", "address_street", "address_town",
                    "postcode", "country")


def _letter_button(declaration):
    return messages.button(
        reverse("supporter:gift_aid_letter", args=[declaration.supporter_id, declaration.pk]), "Print the letter"
    )


class GiftAidDeclarationRecordView(SupporterActionView):
    """Record a declaration taken by phone or in person (with the script to read
    out, and the written confirmation), or on a paper form."""

    permission_required = "supporters.add_giftaiddeclaration"
    page_title = "Record a Gift Aid declaration"
    header_icon = "doc-full"
    template_name = "supporters/admin/gift_aid_record.html"
    form_class = GiftAidDeclarationForm

    def get_initial(self):
        initial = {name: getattr(self.supporter, name) for name in _DECLARED_FIELDS}
        initial.update(
            method=GiftAidDeclaration.Method.ORAL, scope=GiftAidDeclaration.Scope.ALL_GIFTS,
            declared_on=timezone.localdate(), send_confirmation=bool(self.supporter.email),
        )
        return initial

    def get_form(self, form_class=None):
        form = super().get_form(form_class)
        if self.supporter.email:
            field = form.fields["send_confirmation"]
            field.help_text = f"To {self.supporter.email}. {field.help_text}"
        return form

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["scripts"] = [
            (scope, label, services.gift_aid_oral_script(scope=scope).split("\n\n"))
            for scope, label in GiftAidDeclaration.Scope.choices
        ]
        context["written_wordings"] = [
            (scope, label, services.gift_aid_wording(scope=scope)) for scope, label in GiftAidDeclaration.Scope.choices
        ]
        return context

    def perform(self, form):
        data = form.cleaned_data
        oral = data["method"] == GiftAidDeclaration.Method.ORAL
        if oral:
            wording = services.gift_aid_oral_script(scope=data["scope"])
            version = services.GIFT_AID_ORAL_SCRIPT_VERSION
        else:
            wording = services.gift_aid_wording(scope=data["scope"])
            version = services.GIFT_AID_WORDING_VERSION
        user = self.request.user
        how = "phone or in person" if oral else "paper form"
        source = f"Recorded by {user.get_full_name() or user.get_username()} ({how})"
        if data["source_detail"]:
            source += f": {data['source_detail']}"
        declaration = services.gift_aid_declaration_record(
            supporter=self.supporter, method=data["method"], wording=wording, wording_version=version,
            declared_on=data["declared_on"], scope=data["scope"], source_detail=source,
            declared={name: data[name] for name in _DECLARED_FIELDS}, by=user,
        )
        self.success_message = f"Gift Aid declaration {declaration.reference} recorded."
        if not oral:
            return
        if not data["send_confirmation"]:
            messages.warning(
                self.request,
                f"Gift Aid declaration {declaration.reference} recorded. HMRC requires a written record of an oral "
                f"declaration: print the letter and post it, then record the date it was posted.",
                buttons=[_letter_button(declaration)],
            )
            self.success_message = ""
            return
        # The declaration stands whatever happens to the email: its failure is told, not undone.
        try:
            services.gift_aid_declaration_send_confirmation(declaration=declaration, by=user)
        except ApplicationError as error:
            messages.warning(self.request, f"Gift Aid declaration {declaration.reference} recorded, but the "
                             f"written confirmation was not emailed: {error.message}",
                             buttons=[_letter_button(declaration)])
            self.success_message = ""
        else:
            self.success_message += f" The written confirmation was emailed to {self.supporter.email}."


class GiftAidDeclarationActionView(SupporterActionView):
    """A form about one of the supporter's declarations."""

    header_icon = "doc-full"

    def setup(self, request, *args, **kwargs):
        super().setup(request, *args, **kwargs)
        self.declaration = get_object_or_404(
            GiftAidDeclaration.objects.select_related("supporter"), pk=kwargs["declaration_pk"],
            supporter=self.supporter,
        )

    def get_page_subtitle(self):
        return f"{self.declaration.reference}, {self.supporter}"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["declaration"] = self.declaration
        return context


class GiftAidCancelView(GiftAidDeclarationActionView):
    permission_required = "supporters.change_giftaiddeclaration"
    page_title = "Cancel a Gift Aid declaration"
    template_name = "supporters/admin/gift_aid_cancel.html"
    form_class = GiftAidCancelForm
    allow_erased = True  # a declaration outlives the erasure of its donor, and so can its cancellation

    def get_initial(self):
        return {"cancelled_on": timezone.localdate()}

    def perform(self, form):
        ended = services.gift_aid_declaration_cancel(
            declaration=self.declaration, by=self.request.user, **form.cleaned_data
        )
        declaration = ended[0]
        self.success_message = f"Gift Aid cancelled from {date_format(declaration.cancelled_on, 'j F Y')}: "
        self.success_message += ", ".join(item.reference for item in ended) + " ended."
        void = [item.reference for item in ended if item.is_void]
        if void:
            self.success_message += (
                f" As an oral declaration cancelled within {declaration.ORAL_COOLING_OFF_DAYS} days, "
                f"{', '.join(void)} counts as never made: no Gift Aid will be claimed on the gifts it covered, "
                f"and any already claimed will be repaid through the next claim."
            )


class GiftAidCompleteView(GiftAidDeclarationActionView):
    permission_required = "supporters.change_giftaiddeclaration"
    page_title = "Complete a Gift Aid declaration"
    template_name = "supporters/admin/gift_aid_complete.html"
    form_class = GiftAidCompleteForm

    def get_initial(self):
        return {name: getattr(self.declaration, name) for name in _DECLARED_FIELDS}

    def perform(self, form):
        data = form.cleaned_data
        completed = services.gift_aid_declaration_complete(
            declaration=self.declaration, declared={name: data[name] for name in _DECLARED_FIELDS},
            note=data["note"], by=self.request.user,
        )
        self.success_message = (
            f"Details completed: {completed.reference} now stands for {self.declaration.reference}, "
            f"which is kept unchanged."
        )


@require_POST
@staff_permission_required("supporters.add_giftaiddeclaration")
def gift_aid_send_confirmation(request, pk, declaration_pk):
    """Email the written record of an oral declaration recorded earlier."""
    declaration = get_object_or_404(GiftAidDeclaration.objects.select_related("supporter"), pk=declaration_pk,
                                    supporter_id=pk)
    try:
        services.gift_aid_declaration_send_confirmation(declaration=declaration, by=request.user)
    except ApplicationError as error:
        messages.error(request, error.message, buttons=[_letter_button(declaration)])
    else:
        messages.success(request, f"The written confirmation of {declaration.reference} was emailed to "
                                  f"{declaration.supporter.email}.")
    return redirect("supporter:inspect", pk)


class GiftAidLetterView(StaffPermissionRequired, TemplateView):
    """The written record of an oral declaration as a letter to print and post,
    with a form to record the day it was posted."""

    template_name = "supporters/admin/gift_aid_letter.html"
    permission_required = "supporters.view_giftaiddeclaration"
    post_permission_required = "supporters.add_giftaiddeclaration"  # recording that the letter was posted

    def setup(self, request, *args, **kwargs):
        super().setup(request, *args, **kwargs)
        self.declaration = get_object_or_404(
            GiftAidDeclaration.objects.select_related("supporter"), pk=kwargs["declaration_pk"],
            supporter_id=kwargs["pk"], method=GiftAidDeclaration.Method.ORAL,
        )

    @cached_property
    def can_record_posting(self):
        declaration = self.declaration
        return (self.request.user.has_perm("supporters.add_giftaiddeclaration")
                and not declaration.confirmation_sent_on and declaration.status == "active")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        declaration = self.declaration
        letter_date = declaration.confirmation_sent_on or timezone.localdate()
        context.update(services.gift_aid_written_record(declaration=declaration, letter_date=letter_date))
        context.update(
            channel="letter",
            can_record_posting=self.can_record_posting,
            form=kwargs.get("form") or GiftAidConfirmationPostedForm(initial={"posted_on": letter_date}),
            inspect_url=reverse("supporter:inspect", args=[declaration.supporter_id]),
        )
        return context

    def post(self, request, *args, **kwargs):
        form = GiftAidConfirmationPostedForm(request.POST)
        if form.is_valid():
            try:
                services.gift_aid_declaration_confirmation_posted(
                    declaration=self.declaration, posted_on=form.cleaned_data["posted_on"], by=request.user
                )
            except ApplicationError as error:
                form.add_error("posted_on" if error.field == "posted_on" else None, error.message)
            else:
                messages.success(request, f"Recorded: the written confirmation of {self.declaration.reference} "
                                          f"was posted on {date_format(form.cleaned_data['posted_on'], 'j F Y')}.")
                return redirect("supporter:inspect", self.declaration.supporter_id)
        return self.render_to_response(self.get_context_data(form=form))


