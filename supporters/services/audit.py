"""Writes to the audit log that django-auditlog does not make itself: a staff
member viewing someone's record, a download, an erasure. Each is one insert in
the caller's transaction."""

from django.contrib.contenttypes.models import ContentType

from supporters.audit import audited_models
from supporters.models import AuditEntry, ExportRecord

ERASED = "(erased)"


def _entry(*, user, event: str, instance, label: str | None = None, **fields) -> AuditEntry:
    person = user if getattr(user, "is_authenticated", False) else None
    return AuditEntry.objects.create(
        content_type=ContentType.objects.get_for_model(instance), object_pk=str(instance.pk), object_id=instance.pk,
        object_repr=(label if label is not None else str(instance))[:255], event=event,
        action=AuditEntry.Action.ACCESS if event != AuditEntry.Event.ERASED else AuditEntry.Action.UPDATE,
        actor=person, actor_email=getattr(person, "email", None) or None, **fields,
    )


def audit_viewed(*, user, instance, what: str = "") -> AuditEntry:
    """Record that `user` opened `instance` (a supporter's record, their subject-access page)."""
    return _entry(user=user, event=AuditEntry.Event.VIEWED, instance=instance,
                  additional_data={"page": what} if what else None)


def audit_exported(*, user, instance=None, export_record: ExportRecord | None = None, what: str = "") -> AuditEntry:
    """Record a download: a list's (pointing at its ExportRecord, which keeps its
    rows and format) or one person's data (their subject-access file)."""
    return _entry(user=user, event=AuditEntry.Event.EXPORTED, instance=instance or export_record,
                  export_record=export_record, additional_data={"page": what} if what else None)


def audit_related_keys(*, supporter) -> list[tuple[ContentType, list[str]]]:
    """The records of `supporter` whose changes are logged, as (content type, ids):
    read before an erasure deletes some of them."""
    content_type = ContentType.objects.get_for_model(type(supporter))
    merged = AuditEntry.objects.filter(content_type=content_type, additional_data__merged_into=supporter.pk)
    keys = [(content_type, [str(supporter.pk), *{entry.object_pk for entry in merged.only("object_pk")}])]
    for model, field in audited_models():
        if model is type(supporter):
            continue
        ids = [str(pk) for pk in model._base_manager.filter(**{field: supporter}).values_list("pk", flat=True)]
        if ids:
            keys.append((ContentType.objects.get_for_model(model), ids))
    return keys


def audit_merged(*, duplicate_pk: int, survivor) -> None:
    """Mark the log's entries about a merged-away record as the survivor's
    person's, so that erasing the survivor scrubs them too."""
    content_type = ContentType.objects.get_for_model(type(survivor))
    entries = list(AuditEntry.objects.filter(content_type=content_type, object_pk=str(duplicate_pk))
                   | AuditEntry.objects.filter(additional_data__merged_into=duplicate_pk))  # merged into it before
    for entry in entries:
        entry.additional_data = {**(entry.additional_data or {}), "merged_into": survivor.pk}
    AuditEntry.objects.bulk_update(entries, ["additional_data"], batch_size=500)


def audit_erase(*, supporter, keys, by, traces=None) -> AuditEntry:
    """Scrub the person out of the log's earlier entries about their records
    (labels, values before and after; which fields changed, who and when stay),
    and out of any other entry's label that names them (a download of a search
    for them), then record the erasure itself: who, when, which record id,
    nothing more."""
    if traces is not None:
        named = list(AuditEntry.objects.filter(traces.named_in("object_repr")))
        for entry in named:
            entry.object_repr = traces.scrubbed(entry.object_repr)
        AuditEntry.objects.bulk_update(named, ["object_repr"], batch_size=500)
    for content_type, ids in keys:
        entries = list(AuditEntry.objects.filter(content_type=content_type, object_pk__in=ids))
        model = content_type.model_class()
        for entry in entries:
            entry.object_repr = f"{model._meta.verbose_name.capitalize()} #{entry.object_pk}"
            entry.changes = {field: [ERASED, ERASED] for field in (entry.changes or {})} or None
            entry.changes_text = ""
            entry.serialized_data = None
        AuditEntry.objects.bulk_update(entries, ["object_repr", "changes", "changes_text", "serialized_data"],
                                       batch_size=500)
    return _entry(user=by, event=AuditEntry.Event.ERASED, instance=supporter, label=f"Supporter #{supporter.pk}")
