"""Reading an import file row by row, whatever UK offices save: CSV in UTF-8
(with or without Excel's byte-order mark), UTF-16 ("Unicode text") or
Windows-1252, comma, semicolon or tab separated; or an Excel workbook (.xlsx,
its first sheet). The file is streamed from disk: a file of a million rows
takes no more memory than one of ten."""

import codecs
import csv
import datetime
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

from openpyxl import load_workbook

from config.errors import ApplicationError

_CHUNK = 1 << 20
csv.field_size_limit(1 << 20)  # a cell of a megabyte is already not a name or an address


class UnreadableFile(ApplicationError):
    """The file as a whole cannot be imported (its type, its size, no headings):
    nothing in it was read as rows."""

    def __init__(self, message: str):
        super().__init__(message, field="file")


@dataclass
class Cell:
    """A cell that cannot be taken as it is: a formula, say."""
    column: int
    problem: str


class ImportFile:
    """The headings and then the rows of a file on disk, as lists of text.
    `rows()` yields (row number as a spreadsheet shows it, cells, cell problems)."""

    def __init__(self, path: str, *, file_name: str):
        self.path, self.file_name = path, file_name
        with open(path, "rb") as file:
            start = file.read(8)
        if not start:
            raise UnreadableFile("The file is empty.")
        if start.startswith(b"%PDF"):
            raise UnreadableFile("This is a PDF: export the report as CSV or Excel (.xlsx) and upload that.")
        if start.startswith(b"\xd0\xcf\x11\xe0"):
            raise UnreadableFile("This is an old Excel file (.xls): save it as Excel Workbook (.xlsx) or CSV.")
        self.is_workbook = start.startswith(b"PK\x03\x04")
        if self.is_workbook:
            if not file_name.lower().endswith((".xlsx", ".xlsm")):
                raise UnreadableFile("This file is a zip archive, not a spreadsheet: upload a CSV or .xlsx file.")
            self.encoding = None
        else:
            self.encoding = _text_encoding(path)
        self.headings, self._heading_row = self._read_headings()

    # -- reading --------------------------------------------------------------

    def _records(self) -> Iterator[tuple[int, list[str], list[Cell]]]:
        if self.is_workbook:
            yield from self._workbook_records()
            return
        with open(self.path, encoding=self.encoding, newline="") as text:
            sample = text.read(64 * 1024)
            text.seek(0)
            reader = csv.reader(text, dialect=_dialect(sample))
            try:
                for number, cells in enumerate(reader, 1):
                    if any("\x00" in cell for cell in cells):
                        raise UnreadableFile(f"Row {number} holds binary data: is this really a CSV file?")
                    yield number, cells, []
            except csv.Error as error:
                raise UnreadableFile(f"The file is not a CSV file we can read, near row {reader.line_num}: "
                                     f"{error}.") from None

    def _workbook_records(self):
        try:
            workbook = load_workbook(self.path, read_only=True, data_only=False)
        except Exception as error:  # a damaged or mislabelled file: the person's to fix, whatever openpyxl says
            raise UnreadableFile("The file could not be opened as an Excel workbook (.xlsx): save it again, "
                                 "or as CSV.") from error
        try:
            sheet = workbook.worksheets[0]
            for number, values in enumerate(sheet.iter_rows(values_only=True), 1):
                cells, problems = [], []
                for index, value in enumerate(values):
                    if isinstance(value, str) and value.startswith("=") and len(value) > 1:
                        problems.append(Cell(index, "The cell holds a formula, not a value: copy the column and "
                                                    "paste it back as values."))
                    cells.append(_workbook_text(value))
                yield number, cells, problems
        finally:
            workbook.close()

    def _read_headings(self) -> tuple[list[str], int]:
        for number, cells, _ in self._records():
            if any(cell.strip() for cell in cells):
                return [" ".join(cell.split()) for cell in cells], number
        raise UnreadableFile("The file has no headings: the first row should name the columns.")

    def rows(self) -> Iterator[tuple[int, list[str], list[Cell]]]:
        """Every row under the headings that has anything in it."""
        for number, cells, problems in self._records():
            if number <= self._heading_row or not any(cell.strip() for cell in cells):
                continue
            yield number, cells, problems


def _text_encoding(path: str) -> str:
    """UTF-16 by its mark; UTF-8 if the whole file is (checked in one pass, a
    chunk at a time); otherwise Windows-1252, where "£" is one byte."""
    with open(path, "rb") as file:
        start = file.read(4)
        if start.startswith((b"\xff\xfe", b"\xfe\xff")):
            return "utf-16"
        file.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            while chunk := file.read(_CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
            return "utf-8-sig"
        except UnicodeDecodeError:
            pass
        file.seek(0)
        decoder = codecs.getincrementaldecoder("cp1252")()
        try:
            while chunk := file.read(_CHUNK):
                decoder.decode(chunk)
        except UnicodeDecodeError:
            raise UnreadableFile("The file's characters could not be read: save it as CSV UTF-8 and upload it "
                                 "again.") from None
    return "cp1252"


def _dialect(sample: str):
    try:
        return csv.Sniffer().sniff(sample.split("\n", 1)[0] or sample, delimiters=",;\t|")
    except csv.Error:
        return csv.excel


def _workbook_text(value) -> str:
    """A workbook's cell as the text a CSV would hold: whole numbers without ".0",
    dates as DD/MM/YYYY."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime.datetime):
        if value.time() == datetime.time():
            return value.strftime("%d/%m/%Y")
        return value.strftime("%d/%m/%Y %H:%M:%S")
    if isinstance(value, datetime.date):
        return value.strftime("%d/%m/%Y")
    return str(value)


def file_digest(path: str) -> tuple[str, int]:
    """The file's SHA-256 and size, read a chunk at a time."""
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


