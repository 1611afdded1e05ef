"""Each importer (supporters, gifts, JustGiving's report, paper declarations)
takes any file through the real import services, as staff would upload it:
arbitrary bytes, or a file with the right headings and arbitrary cells. It
is refused with a reason or checked and imported, never a crash; and when the
dry run finds a problem, importing it saves nothing."""

import csv
import io

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from config.errors import ApplicationError
from supporters.imports.engine import kind_of
from supporters.models import Supporter
from supporters.services import imports
from tests.fuzz.helpers import changed, row_counts

pytestmark = pytest.mark.django_db

KINDS = ["supporters", "gifts", "justgiving", "declarations"]
CELLS = ["", "Ann", "Lee", "O'Brien", "ann@example.org", "not an email", "LS6 2AA", "ZZ99 9ZZ", "12", "High St",
         "03/04/2026", "2026-04-03", "31/02/2026", "1/1/1900", "25.00", "£1,000", "-5", "0", "1e400", "NaN",
         "yes", "no", "Y", "TRUE", "07700 900123", "+447700900123", "GB", "France", "Leeds", "=1+1", "@SUM(A1)",
         "GBP", "USD", "Gift Aid", "Yes - Gift Aid", "Mr", "x" * 300, "\u202e", "\x00", "a\nb", 'say "hi"']


# A good row's cells, by our field's name: arbitrary cells are laid over one, so
# that they reach the checks behind the first one a random row would fail.
GOOD = {"first_name": "Ann", "last_name": "Lee", "email": "ann.lee@example.org", "address_line_1": "12 High Street",
        "house": "12", "street": "High Street", "town": "Leeds", "postcode": "LS6 2AA", "country": "GB",
        "external_ref": "G-1", "given_on": "03/04/2026", "amount": "25.00", "declared_on": "03/04/2026",
        "consent_date": "03/04/2026", "currency": "GBP", "further_contact": "yes"}


def _fields(kind: str) -> list[tuple[str, str]]:
    """(our field, the file's heading) for every field the kind reads."""
    resource = kind_of(kind)
    preset = next(iter(resource.formats.values()), {}).get("mapping", {})
    return [(field.name, preset.get(field.name, field.label)) for field in resource.import_fields()]


def _csv(kind: str, rows: list[dict[str, str]], encoding: str) -> bytes:
    fields = _fields(kind)
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow([heading for _name, heading in fields])
    for n, row in enumerate(rows):
        good = {**GOOD, "external_ref": f"G-{n}", "email": f"ann.lee{n}@example.org"}
        writer.writerow([row.get(name, good.get(name, "")) for name, _heading in fields])
    return text.getvalue().encode(encoding, errors="replace")


cell = st.one_of(st.sampled_from(CELLS), st.text(max_size=20))
files = st.one_of(
    st.binary(max_size=400).map(lambda data: (None, data)),
    st.tuples(st.lists(st.just({}) | st.dictionaries(st.sampled_from(sorted(set(GOOD) | {"title", "phone", "county", "method",
                                                                              "gift_aid", "scope", "campaign",
                                                                              "gift_aid_status", "message"})),
                                       cell, max_size=4), max_size=4),
              st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "utf-16"])),
)


def _import(kind: str, name: str, content: bytes) -> None:
    """Upload, check and import, as the screens do; ApplicationError is a refusal to show."""
    upload = io.BytesIO(content)
    data_import = imports.data_import_upload(uploaded=upload, file_name=name, kind=kind)
    run = imports.data_import_check(data_import=data_import)
    before = row_counts()
    confirmed = imports.data_import_confirm(data_import=data_import)
    if run.problem_count or confirmed.problem_count:
        event("problems found: nothing saved")
        assert changed(before, row_counts()) == {}, "a file with problems saved something"
    else:
        event(f"imported {confirmed.rows} rows")


@pytest.mark.parametrize("kind", KINDS)
@given(made=files, name=st.sampled_from(["file.csv", "file.txt", "file.xlsx", "file"]))
def test_any_file_is_refused_with_a_reason_or_imported_never_half(kind, made, name):
    for n in range(4):  # the people a declarations file names
        Supporter.objects.get_or_create(email=f"ann.lee{n}@example.org", defaults={"first_name": "Ann",
                                                                                   "last_name": "Lee"})
    rows, encoding_or_bytes = made
    if rows is None:
        content = encoding_or_bytes
    else:
        content = _csv(kind, rows, encoding_or_bytes)
    before = row_counts()
    try:
        _import(kind, name, content)
    except ApplicationError as refusal:
        event("refused")
        assert refusal.message
        assert changed(before, row_counts()) == {}, "a refused file saved something"
