"""Reports → Audit log: who viewed, exported, changed or erased personal data,
filtered by staff member, event and day. Read-only: django-auditlog and
supporters.services.audit write it. For superusers and whoever they grant
*Can view audit entry*; its download is theirs alone, and is itself logged."""

import django_filters
from django.contrib.auth import get_user_model
from wagtail.admin.filters import DateRangePickerWidget, WagtailFilterSet
from wagtail.admin.ui.tables import Column
from wagtail.admin.views import generic

from config.admin_screens import ReadOnlyViewSet
from config.exports import ListExportViewSet
from config.formats import admin_datetime
from supporters.models import AuditEntry

VIEW = "supporters.view_auditentry"


class AuditFilterSet(WagtailFilterSet):
    actor = django_filters.ModelChoiceFilter(
        label="Staff member", queryset=get_user_model().objects.filter(is_active=True).order_by("username"))
    event = django_filters.MultipleChoiceFilter(label="Action", choices=AuditEntry.Event.choices)
    timestamp = django_filters.DateFromToRangeFilter(label="When (UK time)", widget=DateRangePickerWidget)

    class Meta:
        model = AuditEntry
        fields = []


def _what(entry) -> str:
    record = f"{entry.content_type.name.capitalize()} #{entry.object_pk}"
    return record if entry.object_repr == record else f"{entry.object_repr} ({record})"


def _fields(entry) -> str:
    # A change names its fields; a new or deleted record's are all of them, so say nothing.
    return ", ".join(sorted(entry.changes or {})) if entry.event == AuditEntry.Event.CHANGED else ""


class AuditIndexView(generic.IndexView):
    page_title = "Audit log"

    def get_base_queryset(self):
        return super().get_base_queryset().select_related("actor", "content_type")


class AuditEntryViewSet(ListExportViewSet, ReadOnlyViewSet):
    model = AuditEntry
    icon = "history"
    menu_label = "Audit log"
    menu_hook = "register_reports_menu_item"
    url_prefix = "audit-log"
    inspect_view_enabled = False
    filterset_class = AuditFilterSet
    list_display = [
        Column("timestamp", label="When", accessor=lambda entry: admin_datetime(entry.timestamp),
               sort_key="timestamp"),
        Column("who", label="Staff member", accessor="who"),
        Column("event", label="Action", accessor="get_event_display"),
        Column("object_repr", label="What", accessor=_what),
        Column("fields", label="Fields changed", accessor=_fields),
    ]
    search_fields = None
    list_per_page = 100
    list_export = ["timestamp", "who", "event", "content_type", "object_pk", "object_repr", "changes",
                   "export_record", "remote_addr"]
    export_headings = {"timestamp": "When", "who": "Staff member", "event": "Action", "content_type": "Kind",
                       "object_pk": "Record id", "object_repr": "What", "changes": "Changes",
                       "export_record": "Export log entry", "remote_addr": "From address"}
    export_filename = "audit-log"
    export_permission = VIEW

    index_view_class = AuditIndexView
