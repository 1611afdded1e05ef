"""One import flow for every kind of file (supporters, gifts, declarations, a
platform's report), on django-import-export's model: a resource declares the
fields, its widgets read the cells, and a dry run does the whole import inside
a transaction that is then rolled back, so what it reports (created, matched,
updated, already imported, every problem by row and column) is what the real
run will do.

The real run saves every row, or nothing: a file with problems saves nothing
unless staff chose to skip the bad rows. Unlike import-export's row-by-row
import_data (a few hundred rows a second, a thousand or two in its bulk mode),
rows are read from the file as a stream and handled a chunk at a time with
set-based look-ups and writes, so a JustGiving year of 100,000 gifts imports in
seconds with flat memory. A kind registers itself (kind_register) from its
app's ready(); donations registers gifts and the platforms' reports."""

import dataclasses
import itertools
import logging
from collections import Counter
from collections.abc import Iterable

from django.db import connection, transaction
from django.utils import timezone
from import_export import resources

from config.db import analyze_filled_tables
from supporters.imports.fields import ImportField, heading_key
from supporters.imports.reading import ImportFile, UnreadableFile

logger = logging.getLogger(__name__)

CHUNK_ROWS = 2000
KEEP_PROBLEMS = 500   # every problem is counted; the first ones are kept to show
KEEP_PREVIEW = 60     # rows shown of what each action will do


@dataclasses.dataclass
class Problem:
    row: int | None  # as the spreadsheet numbers it (the headings' row is 1 in a plain file)
    column: str      # the file's own heading
    value: str
    message: str

    def as_list(self) -> list:
        return [self.row, self.column, self.value, self.message]


@dataclasses.dataclass
class ParsedRow:
    number: int
    cells: dict[str, str]           # our field -> the cell's text
    values: dict = dataclasses.field(default_factory=dict)
    errors: dict[str, str] = dataclasses.field(default_factory=dict)  # our field ('' for the row) -> message
    action: str = ""
    detail: str = ""

    @property
    def ok(self) -> bool:
        return not self.errors


class _RolledBack(Exception):
    pass


class ImportRun:
    """What one run (dry or real) of one file found and did."""

    def __init__(self, *, data_import, dry_run: bool, by, headings: dict[str, str]):
        self.data_import, self.dry_run, self.by = data_import, dry_run, by
        self.headings = headings  # our field -> the file's heading
        self.labels: dict[str, str] = {}
        self.counts: Counter = Counter()
        self.problems: list[Problem] = []
        self.problem_count = 0
        self.notes: list[Problem] = []  # flags that do not stop the row (a likely duplicate…)
        self.preview: list[list] = []
        self._previewed: Counter = Counter()
        self.rows = 0

    @property
    def source(self) -> str:
        return self.data_import.source

    def column(self, field: str) -> str:
        """Where a field is, as staff see it: the file's heading, else our field's label."""
        return self.headings.get(field) or self.labels.get(field, field)

    def problem(self, row: int | None, field: str, value: str, message: str) -> None:
        self.problem_count += 1
        if len(self.problems) < KEEP_PROBLEMS:
            self.problems.append(Problem(row, self.column(field), value, message))

    def note(self, row: int, field: str, value: str, message: str) -> None:
        self.counts["notes"] += 1
        if len(self.notes) < KEEP_PROBLEMS:
            self.notes.append(Problem(row, self.column(field), value, message))

    def done(self, row: ParsedRow, action: str, detail: str = "", *, counted_as: str | None = "") -> None:
        """Count what a row did (`counted_as`, e.g. "gifts created"; else its
        action; None: counted already) and keep a few rows of each action to show."""
        row.action, row.detail = action, detail
        if counted_as is not None:
            self.counts[counted_as or action] += 1
        if self._previewed[action] < KEEP_PREVIEW // 3 or len(self.preview) < KEEP_PREVIEW:
            self._previewed[action] += 1
            self.preview.append([row.number, action, detail])

    def source_detail(self, row: int) -> str:
        return f"Imported from “{self.data_import.file_name}”, row {row}"[:255]


class ImportResource(resources.Resource):
    """A kind of import. Subclasses declare ImportFields and implement
    save_rows (the chunk's good rows, in order) and finish (once, after the last
    chunk: totals and rollups)."""

    kind = ""
    label = ""
    source_required = True  # rows carry references unique within the source
    formats: dict[str, dict] = {}  # ready-made formats: name -> {"source": …, "mapping": {field: heading}}

    class Meta:
        # Our fields are declared, not read from a model; rows are never updated by import-export's own
        # machinery, so no id fields (see ImportFile and save_rows instead).
        import_id_fields = ()

    def __init__(self, run: ImportRun | None = None):
        super().__init__()
        self.run = run

    @classmethod
    def import_fields(cls) -> list[ImportField]:
        return [field for field in cls().get_import_fields() if isinstance(field, ImportField)]

    def parse(self, row: ParsedRow) -> None:
        for field in self._fields:
            try:
                row.values[field.name] = field.clean(row.cells)
            except ValueError as error:
                row.errors[field.name] = str(error)
        unreadable = dict(row.errors)
        self.check_row(row)
        row.errors.update(unreadable)  # a cell's own problem says more than a rule across cells

    def check_row(self, row: ParsedRow) -> None:
        """Rules across a row's cells: add to row.errors. Runs on a row whose
        other cells have problems too (so every problem is named at once): a
        value that could not be read is missing from row.values."""

    def save_rows(self, rows: list[ParsedRow]) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        pass

    def run_file(self, file: ImportFile, index: dict[str, int]) -> None:
        self._fields = [field for field in self.import_fields() if field.name in index]
        mapped = list(index.items())
        rows = file.rows()
        planned_on_figures = False
        while chunk := list(itertools.islice(rows, CHUNK_ROWS)):
            parsed = []
            for number, cells, cell_problems in chunk:
                row = ParsedRow(number, {field: cells[i] if i < len(cells) else "" for field, i in mapped})
                for problem in cell_problems:
                    field = next((f for f, i in mapped if i == problem.column), None)
                    if field is not None:
                        row.errors[field] = problem.problem
                if row.ok:
                    self.parse(row)
                parsed.append(row)
            self.run.rows += len(parsed)
            good = []
            for row in parsed:
                if row.ok:
                    good.append(row)
                    continue
                for field, message in row.errors.items():
                    self.run.problem(row.number, field, row.cells.get(field, ""), message)
            if good:
                self.save_rows(good)
                if not planned_on_figures:  # a new site's first import: the next chunks are planned on figures
                    analyze_filled_tables()
                    planned_on_figures = True
        self.finish()


_KINDS: dict[str, type[ImportResource]] = {}


def kind_register(resource: type[ImportResource]) -> None:
    """Make a kind of import available (called from an app's ready())."""
    _KINDS[resource.kind] = resource


def kinds() -> dict[str, type[ImportResource]]:
    return dict(_KINDS)


def kind_of(name: str) -> type[ImportResource]:
    try:
        return _KINDS[name]
    except KeyError:
        raise UnreadableFile(f"There is no import of “{name}”: choose one of {', '.join(sorted(_KINDS))}.") from None


def mapping_guess(resource: type[ImportResource], headings: Iterable[str]) -> dict[str, str]:
    """Our field -> the file's heading, for every heading that names one of our fields."""
    by_key = {heading_key(h): h for h in headings if h}
    guess = {}
    for field in resource.import_fields():
        for alias in field.aliases:
            if alias in by_key:
                guess[field.name] = by_key[alias]
                break
    return guess


def mapping_problems(resource: type[ImportResource], mapping: dict[str, str], headings: list[str]) -> list[Problem]:
    """What is wrong with a mapping for this file: a required field not mapped,
    a heading that is not in the file, one heading used twice."""
    problems = []
    fields = {field.name: field for field in resource.import_fields()}
    for name, field in fields.items():
        if field.required and not mapping.get(name):
            problems.append(Problem(1, field.label, "", f"The file needs a column for {field.label.lower()}: "
                                                        "none of its headings is mapped to it."))
    used = Counter(h for h in mapping.values() if h)
    for name, heading in mapping.items():
        if name not in fields:
            problems.append(Problem(1, heading, heading, f"“{name}” is not one of this import's fields."))
        elif heading and heading not in headings:
            problems.append(Problem(1, heading, heading, f"The file has no column headed “{heading}”."))
        elif heading and used[heading] > 1:
            problems.append(Problem(1, heading, heading, f"The column “{heading}” is mapped to two fields."))
    return problems


_IMPORT_LOCK = 0x1D0A7E  # any fixed number: the one advisory lock imports take


def _one_import_at_a_time() -> None:
    """Imports (and dry runs, which write and roll back) run one after another,
    so two at once cannot both add the same new person or gift: the second
    finds what the first made. SQLite runs one writer at a time anyway."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_IMPORT_LOCK])


def run_import(*, data_import, path: str, dry_run: bool, by=None) -> ImportRun:
    """Run (dry_run=True: check) the import described by `data_import` on the
    file at `path`. Everything is done in one transaction, rolled back for a dry
    run, or when any row has a problem and the bad rows are not to be skipped.
    Raises UnreadableFile for a file that cannot be read at all."""
    resource_class = kind_of(data_import.kind)
    file = ImportFile(path, file_name=data_import.file_name)
    mapping = {name: heading for name, heading in (data_import.mapping or {}).items() if heading}
    run = ImportRun(data_import=data_import, dry_run=dry_run, by=by, headings=mapping)
    run.labels = {field.name: field.label for field in resource_class.import_fields()}
    for problem in mapping_problems(resource_class, mapping, file.headings):
        run.problem(problem.row, problem.column, problem.value, problem.message)
    if run.problem_count:
        return run
    index = {name: file.headings.index(heading) for name, heading in mapping.items()}
    started = timezone.now()
    try:
        with transaction.atomic():
            _one_import_at_a_time()
            resource_class(run).run_file(file, index)
            if run.rows == 0:
                run.problem(None, "", "", "The file has headings but no rows under them.")
            if dry_run or (run.problem_count and not data_import.skip_bad_rows) or run.rows == 0:
                raise _RolledBack
    except _RolledBack:
        pass
    logger.info("Import %s (%s, %s) %s: %d rows, %d problems, %s in %.1fs", data_import.pk, data_import.kind,
                data_import.file_name, "checked" if dry_run else "run", run.rows, run.problem_count,
                dict(run.counts), (timezone.now() - started).total_seconds())
    return run
