"""One shape for every download staff take from the system (as pretix's
exporters): a class with a name, the permission it needs, its columns and the
items it lists. The base checks the role, writes every row through
config.spreadsheets (cells a spreadsheet would run are escaped; the whole file
is made before the response starts) and logs who took what, and hands the same to every recorder registered (the
supporters app keeps them as ExportRecord rows; config imports no app).

An exporter's inputs are plain values (ids, dates, a channel), so the same
class can run in a view, a management command or a background task:

    class ClaimGiftsExport(Exporter):
        name = "gift_aid_claim_gifts"
        label = "Gifts in a Gift Aid claim"
        permission = "donations.view_giftaidclaim"
        columns = [Column("Gift", lambda gift: gift.reference), Column("Amount", "amount_pence", money=True)]

        def __init__(self, *, claim_id): ...
        def items(self): return ...
        def filename(self): return ...

    ClaimGiftsExport(claim_id=7).response(user=request.user, file_format="csv")

Files with a layout fixed by someone else (HMRC's schedule, an accounts
package's journal) are exporters too: they override `rows` or `write`."""

import dataclasses
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpResponse
from django.utils.http import content_disposition_header
from django.utils.functional import cached_property

from config import spreadsheets

logger = logging.getLogger("brightwell.exports")

# Called for every download with user=, exporter=, what=, file_format=, rows=:
# apps register theirs from ready(), so this kernel imports none of them.
_RECORDERS: list[Callable[..., Any]] = []


def export_recorder_register(recorder: Callable[..., Any]) -> None:
    """Have `recorder` called for every download, after its file is made and
    before it is sent: an error there fails the download (nothing unrecorded leaves)."""
    if recorder not in _RECORDERS:
        _RECORDERS.append(recorder)


@dataclasses.dataclass(frozen=True)
class Column:
    """A column: its heading and how to read its cell from an item (a dotted
    attribute path, where an empty relation gives an empty cell, or a function).
    `money` columns hold integer pence and are written as pounds (12345 -> 123.45)."""

    heading: str
    value: str | Callable[[Any], Any]
    money: bool = False

    def cell(self, item):
        value = spreadsheets.lookup(item, self.value) if isinstance(self.value, str) else self.value(item)
        return spreadsheets.pounds(value) if self.money else value


class Exporter:
    name: str = ""          # for the log and for code: "mailing_list"
    label: str = ""         # for people: "Mailing list"
    permission: str = ""    # the Django permission a user needs; superusers have all
    formats: Sequence[str] = ("csv", "xlsx")
    columns: Sequence[Column] = ()
    chunk_size = 2000       # rows read from the database at a time

    def items(self) -> Iterable:
        raise NotImplementedError

    def filename(self) -> str:
        """Without its extension."""
        return self.name.replace("_", "-")

    def describe(self) -> str:
        """What was taken, for the log (e.g. which claim or month)."""
        return self.label

    def headings(self) -> list[str]:
        return [column.heading for column in self.columns]

    def rows(self) -> Iterator[Sequence]:
        """The header, then a row per item."""
        yield self.headings()
        items = self.items()
        if isinstance(items, QuerySet):
            items = items.iterator(chunk_size=self.chunk_size)
        for item in items:
            yield self.cells(item)

    def cells(self, item) -> list:
        return [column.cell(item) for column in self.columns]

    def allowed(self, user) -> bool:
        return bool(user and user.is_active and user.has_perm(self.permission))

    def response(self, *, user, file_format: str = "csv") -> HttpResponse:
        """The file, for `user`: PermissionDenied (a 403) without the role; an
        unknown format is the first of `formats`. Complete before it is sent:
        an error while making it is a 500, never a file cut short."""
        if not self.allowed(user):
            raise PermissionDenied
        if file_format not in self.formats:
            file_format = self.formats[0]
        response, count = self.make_file(file_format)
        self.log(user=user, file_format=file_format, count=count)
        return response

    def make_file(self, file_format: str) -> tuple[HttpResponse, int]:
        """The whole file as a response, and its rows after the header. A file in
        someone else's fixed layout overrides this (see fixed_file)."""
        return spreadsheets.spreadsheet_file(rows=self.rows(), file_format=file_format, filename=self.filename())

    def fixed_file(self, content: bytes, *, extension: str, content_type: str, count: int) -> tuple[HttpResponse, int]:
        """A file already made whole in memory (HMRC's, an accounts package's)."""
        response = HttpResponse(content, content_type=content_type)
        response["Content-Disposition"] = content_disposition_header(True, f"{self.filename()}.{extension}")
        return response, count

    def log(self, *, user, file_format: str, count: int) -> None:
        what = self.describe()
        logger.info("%s downloaded %s (%s, %s.%s, %d rows)", user or "Someone", what, self.name,
                    self.filename(), file_format, count)
        for recorder in _RECORDERS:
            recorder(user=user, exporter=self.name, what=what, file_format=file_format, rows=count)


# --- Wagtail's listings ---------------------------------------------------------------

class ListingExport(Exporter):
    """The download of a Wagtail listing (our admin lists, Wagtail's reports,
    redirects, form submissions), made by this base: escaped, complete, logged.
    Its columns are the view's `list_export`; the role is the view's own check
    (ExportPermissionMixin for ours)."""

    def __init__(self, view, queryset):
        self.view, self.queryset = view, queryset
        model = getattr(view, "model", None)
        # Wagtail's generic IndexView serves many lists: the model says which.
        self.name = f"{model._meta.label_lower}_list" if model else view.__class__.__name__
        self.label = f"the list of {model._meta.verbose_name_plural}" if model else f"the list {view.get_filename()}"

    def allowed(self, user) -> bool:
        return True  # the view has let the request in (see ExportPermissionMixin)

    def describe(self) -> str:
        """The list and the filters and search it was taken with (a period of gifts, say)."""
        query = self.view.request.GET.copy()
        query.pop("export", None)
        chosen = [f"{key}={', '.join(value for value in query.getlist(key) if value)}"
                  for key in query if any(query.getlist(key))]
        return f"{self.label} ({'; '.join(chosen)})" if chosen else self.label

    def filename(self) -> str:
        return self.view.get_filename()

    def headings(self) -> list[str]:
        return [self.view.get_heading(self.queryset, field) for field in self.view.list_export]

    def items(self):
        return self.queryset

    def cells(self, item) -> list:
        view = self.view
        return [view.preprocess_field_value(field, value, view.FORMAT_CSV)
                for field, value in view.to_row_dict(item).items()]


def _wagtail_as_spreadsheet(view, queryset, spreadsheet_format):
    """Wagtail's SpreadsheetExportMixin.as_spreadsheet, through ListingExport."""
    if spreadsheet_format not in spreadsheets.CONTENT_TYPES:
        raise PermissionDenied  # as Wagtail, which offers only these two
    return ListingExport(view, queryset).response(user=view.request.user, file_format=spreadsheet_format)


def install_for_wagtail() -> None:
    """Every Wagtail listing's download (ours, and Wagtail's reports, whose cells
    can hold text from the public, such as a fundraising page's title in Site
    history) is made by ListingExport: escaped, complete and logged."""
    from wagtail.admin.views.mixins import SpreadsheetExportMixin

    SpreadsheetExportMixin.as_spreadsheet = _wagtail_as_spreadsheet


class ExportPermissionMixin:
    """For an admin IndexView with `list_export`: the download buttons and the
    files are for users with `export_permission` only, and an empty relation is
    an empty cell rather than an error."""

    export_permission = ""

    @cached_property
    def show_export_buttons(self):
        return bool(self.list_export) and self.request.user.has_perm(self.export_permission)

    def get(self, request, *args, **kwargs):
        if self.is_export and not self.show_export_buttons:
            raise PermissionDenied
        return super().get(request, *args, **kwargs)

    def to_row_dict(self, item):
        return {field: spreadsheets.lookup(item, field) for field in self.list_export}


class ListExportViewSet:
    """For a ModelViewSet whose list downloads as CSV and XLSX (`list_export`):
    the buttons and the files are for `export_permission` only, through
    ExportPermissionMixin, added to its index view if that lacks it. A view
    that names its own export_permission keeps it."""

    export_permission = ""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        view = getattr(cls, "index_view_class", None)
        if view is not None and not issubclass(view, ExportPermissionMixin):
            cls.index_view_class = type(view.__name__, (ExportPermissionMixin, view), {})

    def get_index_view_kwargs(self, **kwargs):
        if self.export_permission:
            kwargs.setdefault("export_permission", self.export_permission)
        return super().get_index_view_kwargs(**kwargs)
