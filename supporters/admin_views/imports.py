"""The Imports screens: upload a file, map its columns, read the dry run's
report, import, and roll an import back. Every kind of file goes through the
same steps; the work is supporters.services.imports'."""

from django import forms
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.http import urlencode
from django.views.generic import FormView, TemplateView
from wagtail.admin import messages

from config.admin_screens import StaffScreen, staff_permission_required
from config.errors import ApplicationError
from config.spreadsheets import csv_bytes
from supporters.imports.engine import kind_of, kinds
from supporters.imports.reading import ImportFile
from supporters.models import DataImport, ImportMapping
from supporters.services import imports as import_services

_CRUMBS = (("imports:index", "Imports"),)


class ImportListView(StaffScreen, TemplateView):
    """Every file imported or checked, newest first."""

    template_name = "supporters/admin/imports/index.html"
    page_title = "Imports"
    header_icon = "upload"
    permission_required = "supporters.view_dataimport"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        imports = DataImport.objects.select_related("uploaded_by", "imported_by").order_by("-uploaded_at", "-pk")
        context["page_obj"] = Paginator(imports, 50).get_page(self.request.GET.get("p"))
        context["kinds"] = {name: kind.label for name, kind in kinds().items()}
        context["can_import"] = self.request.user.has_perm("supporters.import_data")
        return context


class UploadForm(forms.Form):
    kind = forms.ChoiceField(label="What the file holds")
    format_name = forms.CharField(
        label="Format", max_length=60, required=False,
        help_text="Where the file comes from, e.g. “Enthuse”, “Old CRM supporters”. A format's column mapping is "
                  "remembered, so next month's file from the same place needs none.")
    file = forms.FileField(label="File", help_text="CSV or Excel (.xlsx), the column headings in the first row.",
                           widget=forms.ClearableFileInput(attrs={"accept": ".csv,.xlsx,.txt"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [(name, kind.label) for name, kind in kinds().items()]


def known_formats() -> dict[str, list[str]]:
    """Each kind's formats: its own ready-made ones and those mapped by staff."""
    known = {name: list(kind.formats) for name, kind in kinds().items()}
    for kind, format_name in ImportMapping.objects.order_by("format_name").values_list("kind", "format_name"):
        if kind in known and format_name not in known[kind]:
            known[kind].append(format_name)
    return known


class UploadView(StaffScreen, FormView):
    template_name = "supporters/admin/imports/upload.html"
    page_title = "New import"
    header_icon = "upload"
    permission_required = "supporters.import_data"
    crumbs = _CRUMBS
    form_class = UploadForm

    def get_initial(self):
        return {"kind": self.request.GET.get("kind", "supporters"), "format_name": self.request.GET.get("format", "")}

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["known_formats"] = known_formats()
        context["max_mb"] = import_services.max_upload_bytes() // (1024 * 1024)
        return context

    def form_valid(self, form):
        upload = form.cleaned_data["file"]
        try:
            data_import = import_services.data_import_upload(
                uploaded=upload, file_name=upload.name, kind=form.cleaned_data["kind"],
                format_name=form.cleaned_data["format_name"], by=self.request.user)
        except ApplicationError as error:
            form.add_error("file", error.message)
            return self.form_invalid(form)
        return redirect("imports:map", data_import.pk)


class _OneImport:
    """A screen about one import."""

    crumbs = _CRUMBS

    @cached_property
    def data_import(self) -> DataImport:
        return get_object_or_404(DataImport, pk=self.kwargs["pk"])

    def get_page_subtitle(self):
        return self.data_import.file_name


class MappingForm(forms.Form):
    skip_bad_rows = forms.BooleanField(
        label="Import the good rows even if some rows have problems", required=False,
        help_text="The rows with problems are left out and listed. Leave unticked to import all or nothing.")

    def __init__(self, *args, resource, headings, data_import, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [("", "— Not in this file —"), *((h, h) for h in headings if h)]
        for field in resource.import_fields():
            self.fields[f"map_{field.name}"] = forms.ChoiceField(
                label=field.label + (" (needed)" if field.required else ""), choices=choices, required=False,
                help_text=field.help, initial=data_import.mapping.get(field.name, ""))
        if resource.kind == "supporters":
            self.fields["consent_wording"] = forms.CharField(
                label="The consent wording they agreed to", required=False, initial=data_import.consent_wording,
                widget=forms.Textarea(attrs={"rows": 3}),
                help_text="Recorded with every consent the file gives: the words on the form or page where they "
                          "ticked the box. Needed when the file has consent columns.")
        self.fields["skip_bad_rows"].initial = data_import.skip_bad_rows
        self.order_fields([*(f"map_{field.name}" for field in resource.import_fields()), "consent_wording",
                           "skip_bad_rows"])

    def mapping(self) -> dict[str, str]:
        return {name[4:]: value for name, value in self.cleaned_data.items() if name.startswith("map_") and value}


class MappingView(_OneImport, StaffScreen, FormView):
    """Which of the file's columns holds each of our fields, with the first rows' values to go by."""

    template_name = "supporters/admin/imports/map.html"
    form_class = MappingForm
    page_title = "Match the columns"
    header_icon = "upload"
    permission_required = "supporters.import_data"

    def dispatch(self, request, *args, **kwargs):
        if self.data_import.status != DataImport.Status.CHECKED or not self.data_import.file:
            return redirect("imports:report", self.data_import.pk)
        return super().dispatch(request, *args, **kwargs)

    @cached_property
    def file(self) -> ImportFile:
        return ImportFile(self.data_import.file.path, file_name=self.data_import.file_name)

    def get_form_kwargs(self):
        headings = self.file.headings
        first_rows = []
        for _, cells, _ in self.file.rows():
            first_rows.append(cells)
            if len(first_rows) == 3:
                break
        self.examples = {heading: [row[i] for row in first_rows if i < len(row) and row[i]][:3]
                         for i, heading in enumerate(headings)}
        return {**super().get_form_kwargs(), "resource": kind_of(self.data_import.kind), "headings": headings,
                "data_import": self.data_import}

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(data_import=self.data_import, examples=self.examples,
                       kind_label=kind_of(self.data_import.kind).label)
        return context

    def form_valid(self, form):
        try:
            import_services.data_import_settings(
                data_import=self.data_import, by=self.request.user, mapping=form.mapping(),
                consent_wording=form.cleaned_data.get("consent_wording"),
                skip_bad_rows=form.cleaned_data["skip_bad_rows"])
            import_services.data_import_request(data_import=self.data_import, action="check", by=self.request.user)
        except ApplicationError as error:
            form.add_error(None, error.message)
            return self.form_invalid(form)
        return redirect("imports:report", self.data_import.pk)


class ReportView(_OneImport, StaffScreen, TemplateView):
    """What the dry run found (or the import did), and what can be done next."""

    template_name = "supporters/admin/imports/report.html"
    page_title = "Import"
    header_icon = "upload"
    permission_required = "supporters.view_dataimport"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        data_import = self.data_import
        user = self.request.user
        checked = data_import.status == DataImport.Status.CHECKED and not import_services.is_working(data_import)
        ran = bool(data_import.summary) or data_import.problem_count
        summary = {name: count for name, count in data_import.summary.items()
                   if name not in ("notes", "rolled back", "supporters kept", "refused")}
        working = import_services.is_working(data_import)
        context.update(
            data_import=data_import, kind_label=kind_of(data_import.kind).label, summary=summary, working=working,
            refused=data_import.summary.get("refused", ""),
            notes=data_import.summary.get("notes", []), rolled_back=data_import.summary.get("rolled back"),
            more_problems=data_import.problem_count - len(data_import.problems),
            can_import=checked and ran and bool(data_import.file) and user.has_perm("supporters.import_data")
            and data_import.rows and (
                not data_import.problem_count or data_import.skip_bad_rows),
            can_skip=checked and data_import.problem_count and not data_import.skip_bad_rows and data_import.rows
            and user.has_perm("supporters.import_data"),
            can_remap=checked and bool(data_import.file) and user.has_perm("supporters.import_data"),
            can_roll_back=data_import.status == DataImport.Status.IMPORTED
            and user.has_perm("supporters.rollback_dataimport"),
            earlier=import_services.earlier_imports_of_file(data_import).first(),
            new_file_url=reverse("imports:new") + f"?kind={data_import.kind}&format={data_import.format_name}",
        )
        return context

    def post(self, request, *args, **kwargs):
        """Import (the button under a clean dry run), or check again skipping the bad rows."""
        if not request.user.has_perm("supporters.import_data"):
            return self.handle_no_permission()
        data_import = self.data_import
        try:
            if request.POST.get("action") == "skip_bad_rows":
                import_services.data_import_settings(data_import=data_import, by=request.user, skip_bad_rows=True)
                if not import_services.data_import_request(data_import=data_import, action="check", by=request.user):
                    messages.info(request, "Checked again: the rows with problems will be left out.")
            elif not import_services.data_import_request(data_import=data_import, action="import", by=request.user):
                data_import.refresh_from_db()
                if data_import.status == DataImport.Status.IMPORTED:
                    messages.success(request, f"Imported “{data_import.file_name}”: {data_import.rows} rows.")
                else:
                    messages.error(request, "Nothing was imported: the file has problems (listed below).")
        except ApplicationError as error:
            messages.error(request, error.message)
        return redirect("imports:report", data_import.pk)


class RollbackView(_OneImport, StaffScreen, TemplateView):
    template_name = "supporters/admin/imports/rollback.html"
    page_title = "Roll back an import"
    header_icon = "undo"
    permission_required = "supporters.rollback_dataimport"

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "data_import": self.data_import}

    def post(self, request, *args, **kwargs):
        try:
            removed = import_services.data_import_rollback(data_import=self.data_import, by=request.user)
        except ApplicationError as error:
            messages.error(request, f"Not rolled back: {error.message}")
        else:
            messages.success(request, "Rolled back: removed " + ", ".join(
                f"{count} {name}" for name, count in removed.items() if count) + "." if any(removed.values())
                else "Rolled back: it had added nothing.")
        return redirect("imports:report", self.data_import.pk)


@staff_permission_required("supporters.import_data")
def declarations_import(request):
    """The paper declarations' import, where staff knew it: the same flow as every import."""
    return redirect(reverse("imports:new") + "?" + urlencode({"kind": "declarations"}))


@staff_permission_required("supporters.import_data")
def template_file(request, kind):
    """A blank CSV with a kind's headings, for staff to fill in."""
    try:
        resource = kind_of(kind)
    except ApplicationError:
        raise Http404 from None
    response = HttpResponse(csv_bytes([[field.name for field in resource.import_fields()]]),
                            content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{kind}-import-template.csv"'
    return response
