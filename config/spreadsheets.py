"""Every CSV and XLSX file the system writes is made here.

- A text cell a spreadsheet would run (it begins with =, +, -, @, a tab or a
  carriage return: a formula, or DDE) gets a leading apostrophe, so a name such
  as "=HYPERLINK(…)" typed into a public form is shown, never run. Numbers,
  dates and booleans stay what they are (a refund of -500 pence is a number).
- The whole file is made before the response starts (in memory, or on disk once
  it is large), so an error is a 500 that staff see, never a 200 that stops halfway.

Downloads are made by an exporter (config.exports), which uses this module."""

import contextlib
import csv
import datetime
import io
import tempfile
from collections.abc import Iterable, Sequence
from decimal import Decimal

from django.http import FileResponse
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8",
                 "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
_IN_MEMORY_BYTES = 8 * 1024 * 1024


def safe_cell(value):
    """A cell as the file should hold it: text escaped if a spreadsheet would run
    it; None empty; True/False as Yes/No; aware date-times in local time; numbers
    and dates as they are; anything else as its text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, (int, float, Decimal, datetime.date)):
        if isinstance(value, datetime.datetime) and timezone.is_aware(value):
            return timezone.localtime(value).replace(tzinfo=None)
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def pounds(pence: int | None) -> Decimal | None:
    """Integer pence as a number of pounds for a money column: 12345 -> 123.45."""
    return None if pence is None else Decimal(int(pence)).scaleb(-2)


def _csv_text(value) -> str:
    value = safe_cell(value)
    if isinstance(value, datetime.datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    return value if isinstance(value, str) else str(value)


def write_csv(rows: Iterable[Sequence], output) -> int:
    """Write rows (the header first) as UTF-8 CSV to a binary file; returns the rows after the header."""
    text = io.TextIOWrapper(output, encoding="utf-8", newline="", write_through=True)
    writer = csv.writer(text)
    count = -1
    for row in rows:
        writer.writerow([_csv_text(value) for value in row])
        count += 1
    text.detach()  # leave `output` open for the caller
    return max(count, 0)


def write_xlsx(rows: Iterable[Sequence], output, *, title: str = "Sheet1") -> int:
    """Write rows (the header first) as one XLSX sheet to a binary file; returns the rows after the header."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])
    count = -1
    try:
        for row in rows:
            cells = []
            for value in row:
                cell = WriteOnlyCell(sheet, safe_cell(value))
                if cell.data_type == "f":
                    cell.data_type = "s"  # never a formula, whatever openpyxl guesses
                if isinstance(cell.value, datetime.datetime):
                    cell.number_format = "yyyy-mm-dd hh:mm"
                elif isinstance(cell.value, datetime.date):
                    cell.number_format = "yyyy-mm-dd"
                cells.append(cell)
            sheet.append(cells)
            count += 1
    except BaseException:
        with contextlib.suppress(Exception):
            sheet.close()  # let openpyxl finish its own temporary file before the error goes on
        raise
    workbook.save(output)
    return max(count, 0)


def csv_bytes(rows: Iterable[Sequence]) -> bytes:
    buffer = io.BytesIO()
    write_csv(rows, buffer)
    return buffer.getvalue()


def spreadsheet_file(*, rows: Iterable[Sequence], file_format: str, filename: str) -> tuple[FileResponse, int]:
    """The rows (the header first) as a CSV or XLSX download named `filename`
    (without its extension), and how many rows it holds after the header. The
    file is complete before the response is made: an error while making it
    propagates (a 500), with nothing sent. Exports call this through
    config.exports.Exporter, which checks the role and logs the download."""
    if file_format not in CONTENT_TYPES:
        raise ValueError(f"Unknown spreadsheet format: {file_format}")
    output = tempfile.SpooledTemporaryFile(max_size=_IN_MEMORY_BYTES)
    try:
        count = (write_xlsx if file_format == "xlsx" else write_csv)(rows, output)
    except BaseException:
        output.close()
        raise
    output.seek(0)
    return FileResponse(output, as_attachment=True, filename=f"{filename}.{file_format}",
                        content_type=CONTENT_TYPES[file_format]), count


def lookup(item, dotted: str):
    """`item.a.b` for an export column: an empty relation on the way (a gift
    with no campaign) gives None, an empty cell; a method is called."""
    value = item
    for name in dotted.split("."):
        if value is None:
            return None
        value = getattr(value, name)
        if callable(value):
            value = value()
    return value
