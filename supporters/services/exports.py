"""The record of downloads taken from the system (who, what, when, how many
rows). Every exporter (config.exports) calls `export_record_create` through the
recorder this app registers at start-up, so config needs no app of its own."""

from supporters.models import ExportRecord
from supporters.services.audit import audit_exported


def export_record_create(*, user, exporter: str, what: str, file_format: str, rows: int) -> ExportRecord:
    """Record one download. `user` may be None or anonymous (a command, a task):
    the record then names nobody. Runs in the caller's transaction, if any; an
    error here fails the download, so no file leaves unrecorded."""
    person = user if getattr(user, "is_authenticated", False) else None
    record = ExportRecord.objects.create(
        user=person, user_name=person.get_username() if person else "",
        exporter=exporter[:100], what=what[:255], file_format=file_format[:10], rows=rows,
    )
    audit_exported(user=person, export_record=record)  # the audit log points at the record, no copy
    return record
