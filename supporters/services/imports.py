"""Imports as staff run them, from the screens and from `manage.py import_data`:
upload a file, map its columns (remembered per format), check it (a dry run),
import it, and roll it back. The rows themselves are handled by the import
flow (supporters.imports.engine) and the kinds registered with it."""

import os
import shutil
import tempfile
from collections.abc import Callable

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.db.models import ProtectedError, Q
from django.utils import timezone
from django.utils.text import slugify

from config.errors import ApplicationError
from supporters.imports.engine import ImportRun, kind_of, mapping_guess, run_import
from supporters.imports.reading import ImportFile, UnreadableFile, file_digest
from supporters.models import (
    ConsentEvent,
    DataImport,
    GiftAidDeclaration,
    ImportMapping,
    LikelyDuplicate,
    Supporter,
    SupporterExternalId,
)
from supporters.services import consents_refresh

_rollback_steps: list[Callable] = []


def import_rollback_step_register(step: Callable) -> None:
    """An app above supporters (donations: the import's gifts) registers how to
    undo its part of an import: step(data_import=…) raises ApplicationError,
    naming what stands in the way, or removes its rows and returns a count by name."""
    if step not in _rollback_steps:
        _rollback_steps.append(step)


def max_upload_bytes() -> int:
    return settings.IMPORT_MAX_MB * 1024 * 1024


def data_import_upload(*, uploaded, file_name: str, kind: str, format_name: str = "", by=None) -> DataImport:
    """Keep an uploaded file (a Django UploadedFile or an open binary file) for
    its import, read its headings and map its columns: the mapping remembered
    for this format, else the format's own, else by the headings' names. Raises
    ApplicationError (field "file") for a file that cannot be imported at all."""
    resource = kind_of(kind)
    size = getattr(uploaded, "size", None)
    if size is None:
        uploaded.seek(0, os.SEEK_END)
        size = uploaded.tell()
        uploaded.seek(0)
    if size > max_upload_bytes():
        raise UnreadableFile(f"The file is {size / 1024 / 1024:.0f} MB: the most we import at once is "
                             f"{settings.IMPORT_MAX_MB} MB. Split it into smaller files (by month, say).")
    format_name = " ".join((format_name or next(iter(resource.formats), resource.label)).split())[:60]
    preset = resource.formats.get(format_name, {})
    with tempfile.NamedTemporaryFile(suffix=os.path.splitext(file_name)[1][:10]) as copy:
        shutil.copyfileobj(uploaded, copy)
        copy.flush()
        headings = ImportFile(copy.name, file_name=file_name).headings
        digest, size = file_digest(copy.name)
        remembered = ImportMapping.objects.filter(kind=kind, format_name=format_name).first()
        if remembered:
            mapping, source = remembered.mapping, remembered.source
        else:
            mapping = {field: heading for field, heading in preset.get("mapping", {}).items() if heading in headings}
            mapping = {**mapping_guess(resource, headings), **mapping}
            source = preset.get("source") or slugify(format_name)[:40] or kind
        mapping = {field: heading for field, heading in mapping.items() if heading in headings}
        data_import = DataImport(kind=kind, format_name=format_name, source=source, file_name=file_name[:255],
                                 file_sha256=digest, file_bytes=size, mapping=mapping, uploaded_by=by,
                                 consent_wording=getattr(resource, "consent_wording", ""))
        copy.seek(0)
        data_import.file.save(os.path.basename(file_name)[:100] or "import.csv", File(copy), save=False)
    data_import.save()
    return data_import


def file_headings(data_import: DataImport) -> list[str]:
    return ImportFile(data_import.file.path, file_name=data_import.file_name).headings


def earlier_imports_of_file(data_import: DataImport):
    """The same file (by its contents) imported before, and not rolled back."""
    return (DataImport.objects.filter(file_sha256=data_import.file_sha256, status=DataImport.Status.IMPORTED)
            .exclude(pk=data_import.pk).order_by("-imported_at"))


def _check_file_kept(data_import: DataImport) -> None:
    if not data_import.file:
        raise ApplicationError("The file is no longer kept (files are deleted after "
                               f"{settings.IMPORT_FILE_DAYS} days, or when someone in it is erased): upload it again.")


def _record(data_import: DataImport, run: ImportRun) -> None:
    data_import.rows = run.rows
    data_import.summary = dict(run.counts)
    data_import.problems = [problem.as_list() for problem in run.problems]
    data_import.problem_count = run.problem_count
    data_import.preview = run.preview
    data_import.summary["notes"] = [note.as_list() for note in run.notes]


def data_import_settings(*, data_import: DataImport, by=None, mapping: dict | None = None,
                         consent_wording: str | None = None, skip_bad_rows: bool | None = None) -> DataImport:
    """How the file is to be read, before it is checked: its columns' mapping
    (remembered for the format), the consent wording, whether to leave out bad rows."""
    if data_import.status != DataImport.Status.CHECKED:
        raise ApplicationError("This file has been imported already.")
    if mapping is not None:
        data_import.mapping = {field: heading for field, heading in mapping.items() if heading}
        ImportMapping.objects.update_or_create(
            kind=data_import.kind, format_name=data_import.format_name,
            defaults={"mapping": data_import.mapping, "source": data_import.source, "updated_by": by})
    if consent_wording is not None:
        data_import.consent_wording = " ".join(consent_wording.split())
    if skip_bad_rows is not None:
        data_import.skip_bad_rows = skip_bad_rows
    data_import.save(update_fields=["mapping", "consent_wording", "skip_bad_rows"])
    return data_import


def data_import_check(*, data_import: DataImport, by=None, **settings_given) -> ImportRun:
    """The dry run: the whole import done and undone, to report what it would
    create, match, update and skip, and every problem by row and column. Settings
    given here (see data_import_settings) are saved first."""
    if settings_given:
        data_import_settings(data_import=data_import, by=by, **settings_given)
    if data_import.status != DataImport.Status.CHECKED:
        raise ApplicationError("This file has been imported already.")
    _check_file_kept(data_import)
    run = run_import(data_import=data_import, path=data_import.file.path, dry_run=True, by=by)
    _record(data_import, run)
    data_import.save()
    return run


def data_import_confirm(*, data_import: DataImport, by=None) -> ImportRun:
    """Import the file for real: every row, or (with problems, unless staff chose
    to skip the bad rows) nothing. Two confirmations at once import it once."""
    with transaction.atomic():
        data_import = DataImport.objects.select_for_update().get(pk=data_import.pk)
        if data_import.status != DataImport.Status.CHECKED:
            raise ApplicationError("This file has been imported already.")
        _check_file_kept(data_import)
        run = run_import(data_import=data_import, path=data_import.file.path, dry_run=False, by=by)
        _record(data_import, run)
        saved = run.rows and (not run.problem_count or data_import.skip_bad_rows)
        if saved:
            data_import.status = DataImport.Status.IMPORTED
            data_import.imported_by, data_import.imported_at = by, timezone.now()
        data_import.save()
    return run


@transaction.atomic
def data_import_rollback(*, data_import: DataImport, by=None) -> dict[str, int]:
    """Undo an import: its gifts (each app's part, through the registered steps),
    its declarations and consent, and the supporters it created who have nothing
    else by now. Refused, naming why, if a gift is in a submitted Gift Aid claim
    or a closed month. Returns what was removed, by name."""
    data_import = DataImport.objects.select_for_update().get(pk=data_import.pk)
    if data_import.status != DataImport.Status.IMPORTED:
        raise ApplicationError("Only an import that has been made can be rolled back.")
    removed: dict[str, int] = {}
    for step in _rollback_steps:
        removed.update(step(data_import=data_import))
    try:
        removed["declarations"] = GiftAidDeclaration.objects.filter(data_import=data_import).delete()[0]
    except ProtectedError as error:
        raise ApplicationError("A declaration this import recorded is now on a gift: it cannot be rolled back.") \
            from error
    touched = list(ConsentEvent.objects.filter(data_import=data_import).values_list("supporter_id", flat=True))
    removed["consent records"] = ConsentEvent.objects.filter(data_import=data_import).delete()[0]
    SupporterExternalId.objects.filter(data_import=data_import).delete()
    LikelyDuplicate.objects.filter(data_import=data_import).delete()
    made = Supporter.objects.filter(data_import=data_import)
    alone = (made.filter(donations__isnull=True, recurring_gifts__isnull=True, gift_aid_declarations__isnull=True,
                         consent_events__isnull=True, interactions__isnull=True, erased_at__isnull=True)
             .values_list("pk", flat=True))
    ids = list(alone)
    kept = made.exclude(pk__in=ids).count()
    for start in range(0, len(ids), 2000):
        Supporter.objects.filter(pk__in=ids[start:start + 2000]).delete()
    removed["supporters"] = len(ids)
    consents_refresh(supporter_ids=set(touched) - set(ids))
    data_import.status = DataImport.Status.ROLLED_BACK
    data_import.rolled_back_by, data_import.rolled_back_at = by, timezone.now()
    data_import.summary = {**data_import.summary, "rolled back": removed, "supporters kept": kept}
    data_import.save()
    return removed


def summary_lines(data_import: DataImport) -> list[str]:
    """The import's outcome as lines of text (for the command, the log and emails)."""
    done = {DataImport.Status.CHECKED: "Checked (nothing saved)", DataImport.Status.IMPORTED: "Imported",
            DataImport.Status.ROLLED_BACK: "Rolled back"}[data_import.status]
    lines = [f"{done}: {data_import.file_name} ({data_import.format_name}), {data_import.rows} rows."]
    summary = {key: value for key, value in data_import.summary.items() if key not in ("notes", "rolled back", "refused")}
    lines += [f"  {name}: {count}" for name, count in summary.items()]
    if earlier := earlier_imports_of_file(data_import).first():
        lines.append(f"  The same file was imported on {earlier.imported_at:%d/%m/%Y} (import #{earlier.pk}).")
    for row, column, value, message in data_import.summary.get("notes", []):
        lines.append(f"  Note, row {row}, {column}: {message}")
    for row, column, value, message in data_import.problems:
        where = f"row {row}" if row else "the file"
        lines.append(f"  Problem, {where}" + (f", column “{column}”" if column else "")
                     + (f" (“{value}”)" if value else "") + f": {message}")
    if data_import.problem_count > len(data_import.problems):
        lines.append(f"  … and {data_import.problem_count - len(data_import.problems)} more problems.")
    return lines


def _forget_files(imports) -> int:
    """Delete the kept files of these imports and the rows they showed (names,
    addresses); what each import counted, and the records it made, stay."""
    forgotten = 0
    for data_import in imports:
        if data_import.file:
            data_import.file.delete(save=False)
        data_import.file = ""
        data_import.preview = []
        data_import.problems = []
        data_import.summary = {**data_import.summary, "notes": []}
        data_import.save(update_fields=["file", "preview", "problems", "summary"])
        forgotten += 1
    return forgotten


def import_files_purge(*, older_than_days: int | None = None) -> int:
    """The files of imports uploaded more than IMPORT_FILE_DAYS ago, and the rows
    their reports show, deleted (nightly: a file of supporters is personal data,
    kept no longer than its import needs). Returns how many imports were cleared."""
    days = settings.IMPORT_FILE_DAYS if older_than_days is None else older_than_days
    cutoff = timezone.now() - timezone.timedelta(days=days)
    return _forget_files(DataImport.objects.filter(uploaded_at__lt=cutoff).exclude(file="", preview=[], problems=[]))


def imports_forget_supporter(*, supporter: Supporter, traces: "PersonalTraces") -> None:
    """Erasure: the files of the imports that brought this person in, or their
    gifts, consent or declarations, or that still hold their email or phone
    (an import that only updated them leaves no other mark), go, with the rows
    their reports show; the imports' file names lose their name. Called with
    the traces taken before the record was blanked."""
    touched = Q(pk=supporter.data_import_id) | Q(pk__in=ConsentEvent.objects.filter(
        supporter=supporter).exclude(data_import=None).values("data_import_id")) | Q(
        pk__in=GiftAidDeclaration.objects.filter(supporter=supporter).exclude(data_import=None).values("data_import_id"))
    touched |= Q(pk__in=LikelyDuplicate.objects.filter(Q(supporter=supporter) | Q(may_be=supporter))
                 .exclude(data_import=None).values("data_import_id"))
    for step in _erasure_steps:
        touched |= Q(pk__in=step(supporter))
    kept = DataImport.objects.exclude(file="").exclude(pk__in=DataImport.objects.filter(touched).values("pk"))
    holding = [data_import.pk for data_import in kept if _file_holds(data_import, traces)]
    imports = DataImport.objects.filter(touched | Q(pk__in=holding))
    _forget_files(imports)
    for data_import in DataImport.objects.filter(traces.named_in("file_name")):
        data_import.file_name = traces.scrubbed(data_import.file_name)
        data_import.save(update_fields=["file_name"])


def _file_holds(data_import: DataImport, traces: "PersonalTraces") -> bool:
    try:
        rows = ImportFile(data_import.file.path, file_name=data_import.file_name).rows()
        return any(traces.in_cell(cell) for _number, cells, _problems in rows for cell in cells)
    except (OSError, UnreadableFile):
        return False  # nothing we can read: the nightly purge removes it in its time


_erasure_steps: list[Callable] = []


def import_erasure_step_register(step: Callable) -> None:
    """An app above supporters (donations) names the imports that brought in a
    supporter's records of its own: step(supporter) -> a values("pk") queryset of DataImport ids."""
    if step not in _erasure_steps:
        _erasure_steps.append(step)


# Large files, in the background ------------------------------------------------------

WORK_STALE_AFTER = timezone.timedelta(minutes=30)  # a worker that died meanwhile: staff may start again


def is_working(data_import: DataImport) -> bool:
    return bool(data_import.working_on) and timezone.now() - data_import.working_since < WORK_STALE_AFTER


def data_import_request(*, data_import: DataImport, action: str, by=None) -> bool:
    """Check ("check") or import ("import") the file: now, or, for a file over
    IMPORT_BACKGROUND_MB, by the task worker (the report page then says so and
    refreshes). Returns True if queued."""
    if action not in ("check", "import"):
        raise ValueError(action)
    if data_import.file_bytes <= settings.IMPORT_BACKGROUND_MB * 1024 * 1024:
        (data_import_check if action == "check" else data_import_confirm)(data_import=data_import, by=by)
        return False
    from supporters.tasks import run_data_import

    with transaction.atomic():
        held = DataImport.objects.select_for_update().get(pk=data_import.pk)
        if held.status != DataImport.Status.CHECKED:
            raise ApplicationError("This file has been imported already.")
        if is_working(held):
            raise ApplicationError("The file is being worked on already: this page shows when it is done.")
        _check_file_kept(held)
        DataImport.objects.filter(pk=held.pk).update(working_on=action, working_since=timezone.now())
        transaction.on_commit(lambda: run_data_import.enqueue(held.pk, action, getattr(by, "pk", None)))
    return True


def data_import_run_queued(*, data_import_id: int, action: str, by=None) -> None:
    """The task worker's part of data_import_request."""
    data_import = DataImport.objects.get(pk=data_import_id)
    try:
        (data_import_check if action == "check" else data_import_confirm)(data_import=data_import, by=by)
    except ApplicationError as error:
        DataImport.objects.filter(pk=data_import_id).update(summary={**data_import.summary, "refused": error.message})
    finally:
        DataImport.objects.filter(pk=data_import_id).update(working_on="", working_since=None)
