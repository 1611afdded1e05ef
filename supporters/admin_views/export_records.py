"""Reports → Export log: every download taken from the system (lists, mail-house
and mailing files, claims' schedules, journals), with who, what, when, the
format and how many rows. Read-only: the records are written by config.exports."""

from wagtail.admin.ui.tables import Column

from config.admin_screens import ReadOnlyViewSet
from config.exports import ListExportViewSet
from config.formats import admin_datetime
from supporters.models import ExportRecord

VIEW = "supporters.view_exportrecord"


class ExportRecordViewSet(ListExportViewSet, ReadOnlyViewSet):
    model = ExportRecord
    icon = "download"
    menu_label = "Export log"
    menu_hook = "register_reports_menu_item"
    url_prefix = "export-log"
    inspect_view_enabled = False
    list_display = [Column("at", label="When", accessor=lambda record: admin_datetime(record.at), sort_key="at"),
                    "user_name", "what", "exporter", "file_format", "rows"]
    list_filter = ["exporter", "file_format"]
    search_fields = ["user_name", "what"]
    search_backend_name = None
    list_per_page = 100
    list_export = ["at", "user_name", "what", "exporter", "file_format", "rows"]
    export_filename = "export-log"
    export_permission = VIEW  # those who may read the log may take it to the auditors
