"""A UK bank's statement export, read into statement lines.

`read_bank_statement(data)` takes the bytes Finance uploaded and returns a
`BankStatement`: which bank's layout it is, the account it names, and every
line oldest first, in integer pence. Anything wrong (a layout we don't know, a
figure that isn't money, a date that can't be, a running balance that breaks)
raises one `StatementError` naming the line and column, and nothing is returned
in part. A bank we don't recognise is read through a `ColumnMap` Finance gives
once for that bank account.

Pure Python: nothing here touches the database, so the finance app's import
service decides what is new by each line's `identity()`."""

from __future__ import annotations

import csv
import datetime
import hashlib
import io
import math
import re
from dataclasses import dataclass

from config.errors import ApplicationError
from config.uploads import UnreadableUpload, decode_csv_upload
from config.formats import parse_uk_date
from config.money import format_pence, parse_pence

MAX_FILE_BYTES = 5 * 1024 * 1024
# CAF Bank's export has nine lines of account details above its header.
_HEADER_SEARCH_LINES = 30


class StatementError(ApplicationError):
    """A statement file Finance must fix, or map: `message` is for them to read.
    `line` is the line as a spreadsheet numbers it (the header counts), and
    `column` the column's header (or its letter when the file has no header)."""

    def __init__(self, message: str, *, line: int | None = None, column: str | None = None,
                 unknown_layout: bool = False):
        super().__init__(message)
        self.line = line
        self.column = column
        self.unknown_layout = unknown_layout  # Finance's column map may read it


def is_unknown_layout(error: StatementError) -> bool:
    return error.unknown_layout


Column = str | int


@dataclass(frozen=True)
class ColumnMap:
    """Where the figures are in an export whose layout we don't recognise, by
    header ("Txn Date") or by position (0 is column A). Give `amount` (one
    signed column, money in positive) or both `paid_in` and `paid_out`.
    `date_format` (e.g. "%d/%m/%Y") reads the dates strictly; None reads any UK
    form, day first. `newest_first` None works the order out from the dates."""

    date: Column
    description: Column | tuple[Column, ...]
    paid_in: Column | None = None
    paid_out: Column | None = None
    amount: Column | None = None
    balance: Column | None = None
    date_format: str | None = None
    newest_first: bool | None = None
    header_row: bool = True


@dataclass(frozen=True)
class StatementLine:
    date: datetime.date
    description: str
    paid_in_pence: int
    paid_out_pence: int
    balance_pence: int | None
    file_line: int
    raw: tuple[str, ...]
    # 1 for the first of identical lines on one day (same figures and words), 2 for the next, ...
    occurrence: int = 1

    @property
    def amount_pence(self) -> int:
        return self.paid_in_pence - self.paid_out_pence

    def identity(self, account_code: str) -> str:
        """The same for this line in any export of the account that shows it, so
        a re-import of an overlapping statement finds it already there; two
        identical cheques on one day differ by `occurrence`."""
        parts = (account_code, self.date.isoformat(), str(self.paid_in_pence), str(self.paid_out_pence),
                 self.description, "" if self.balance_pence is None else str(self.balance_pence),
                 str(self.occurrence))
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


@dataclass(frozen=True)
class BankStatement:
    layout: str
    lines: tuple[StatementLine, ...]  # oldest first, whatever the file's order
    sort_code: str | None = None
    account_number: str | None = None
    opening_balance_pence: int | None = None
    closing_balance_pence: int | None = None
    newest_first: bool = False  # the file's own order


@dataclass(frozen=True)
class _Layout:
    name: str
    header: tuple[str, ...]  # all of these on one row mark the layout, in any order (lower case)
    date: str
    description: tuple[str, ...]
    amount: str | None = None
    paid_in: str | None = None
    paid_out: str | None = None
    balance: str | None = None
    sort_code: str | None = None
    account_number: str | None = None  # may hold the sort code too ("300000-12345678 GBP")
    opening_balance_row: tuple[str, str] | None = None  # (column, text) of a stated opening balance
    not_lines: tuple[tuple[str, str], ...] = ()  # (column, text) of rows that are no transaction
    ends_at: str | None = None  # a first cell after which the file holds no more lines


# The header each bank's export has, as public guides and importers record it.
LAYOUTS = (
    # Lloyds Internet Banking, business and personal; Halifax and Bank of Scotland export the same. Newest first.
    _Layout("Lloyds Bank", ("transaction date", "transaction type", "sort code", "account number",
                            "transaction description", "debit amount", "credit amount", "balance"),
            date="transaction date", description=("transaction description",), paid_in="credit amount",
            paid_out="debit amount", balance="balance", sort_code="sort code", account_number="account number"),
    # Lloyds Commercial Banking Online, "Balances & Transactions" export (Lloyds' own guide lists the fields).
    # Its opening and closing ledger rows are not transactions; where they stand in a file of
    # several days isn't documented, so they are left out rather than checked.
    _Layout("Lloyds Bank Commercial Banking Online",
            ("post date", "account number", "account name", "type", "amount", "customer reference",
             "transaction detail", "balance"),
            date="post date", description=("transaction detail",), amount="amount", balance="balance",
            account_number="account number", not_lines=(("type", "opening ledger"), ("type", "closing ledger"))),
    # Barclays Online Banking: no balance; "Account" is "20-32-06 13152170".
    _Layout("Barclays", ("number", "date", "account", "amount", "subcategory", "memo"),
            date="date", description=("memo",), amount="amount", account_number="account"),
    # Barclays.Net (larger businesses): a title line above the header, dates dd/mm/yy.
    _Layout("Barclays.Net", ("group", "acc id", "account no", "type", "bank code", "curr", "entry date", "as at",
                             "amount", "tla code", "cheque no", "status", "description"),
            date="entry date", description=("description",), amount="amount", sort_code="bank code",
            account_number="account no"),
    # NatWest (and RBS) Online Banking download; cells start with an apostrophe, lines end with a comma.
    # NatWest's Bankline (larger businesses) is another layout, not covered: map its columns.
    _Layout("NatWest", ("date", "type", "description", "value", "balance", "account name", "account number"),
            date="date", description=("description",), amount="value", balance="balance",
            account_number="account number"),
    # CAF Bank Online before June 2025: account details above the header, balances below the lines.
    # The export of CAF's new online banking (from 9 June 2025) isn't published: map its columns.
    _Layout("CAF Bank", ("posting date", "value date", "description", "debit", "credit", "book balance"),
            date="posting date", description=("description",), paid_in="credit", paid_out="debit",
            balance="book balance", ends_at="account balance"),
    # The Co-operative Bank (and smile): reported by importers, not by the bank; dates may be ISO. Newest first.
    _Layout("Co-operative Bank", ("date", "description", "type", "money in", "money out", "balance"),
            date="date", description=("description",), paid_in="money in", paid_out="money out",
            balance="balance"),
    # Monzo: no balance; older exports had ISO dates. Uncertain: the business export is taken to match the personal.
    _Layout("Monzo", ("transaction id", "date", "time", "type", "name", "emoji", "category", "amount", "currency"),
            date="date", description=("name", "description"), amount="amount"),
    # Starling: oldest first, sometimes with an "Opening Balance" row that has no date.
    _Layout("Starling Bank", ("date", "counter party", "reference", "type", "amount (gbp)", "balance (gbp)"),
            date="date", description=("counter party", "reference"), amount="amount (gbp)",
            balance="balance (gbp)", opening_balance_row=("counter party", "opening balance")),
)
# HSBC UK's download has no header at all: date, description, signed amount (as importers report it; any
# three-column file starting with a date is taken for it). Santander's "text file" download is no CSV but
# "Date:", "Description:", "Amount:", "Balance:" lines under "From: … to …".
_HSBC = "HSBC UK (no header row)"
_SANTANDER = "Santander"
_KNOWN_BANKS = ("Lloyds Bank (and Halifax, Bank of Scotland), Barclays, HSBC UK, NatWest, Santander, CAF Bank, "
                "the Co-operative Bank, Monzo and Starling")


@dataclass
class _Record:
    line: int
    cells: list[str]
    cell_lines: list[int] | None = None  # Santander's fields are each on their own line


@dataclass
class _Plan:
    layout: str
    header: list[str] | None  # the file's own names, for messages
    data_from: int  # index of the first record after the header
    date: int
    description: tuple[int, ...]
    amount: int | None = None
    paid_in: int | None = None
    paid_out: int | None = None
    balance: int | None = None
    sort_code: int | None = None
    account_number: int | None = None
    date_format: str | None = None
    newest_first: bool | None = None
    opening_balance_row: tuple[int, str] | None = None
    not_lines: tuple[tuple[int, str], ...] = ()
    ends_at: str | None = None
    letters: bool = True  # name columns A, B, C (a CSV) or by field name only (Santander's text)
    sort_code_given: str | None = None  # from lines above the header
    account_number_given: str | None = None


@dataclass
class _Row:
    date: datetime.date
    description: str
    paid_in: int
    paid_out: int
    balance: int | None
    record: _Record


def layout_names() -> list[str]:
    return [layout.name for layout in LAYOUTS] + [_HSBC, _SANTANDER]


def read_bank_statement(data: bytes, *, columns: ColumnMap | None = None, layout: str | None = None) -> BankStatement:
    """Every line of one account's statement export, oldest first, or a
    StatementError (line and column named) and nothing. `columns` reads a bank
    whose layout isn't recognised; `layout` (one of layout_names()) insists on
    one bank's layout. Refuses a file over 5 MB before reading it."""
    if layout is not None and layout not in layout_names():
        raise StatementError(f"No layout is called “{layout}”. Layouts: {', '.join(layout_names())}.")
    text = _decode(data)
    if columns is None and _is_santander_text(text) and layout in (None, _SANTANDER):
        plan, records = _santander(text)
    else:
        records = _csv_records(text)
        plan = _plan_from_map(columns, records) if columns else _recognise(records)
        if layout is not None and plan.layout != layout:
            raise StatementError(f"This file is in {plan.layout}'s layout, not {layout}'s. Leave the layout out "
                                 "to have it recognised.")
    rows, stated_opening, sort_code, account_number = _read_rows(plan, records)
    newest_first = _newest_first(plan, rows)
    in_order = rows[::-1] if newest_first else rows
    _check_date_order(plan, in_order, newest_first)
    opening, closing = _check_balances(plan, in_order, stated_opening)
    seen: dict[tuple, int] = {}
    lines = []
    for row in in_order:
        key = (row.date, row.paid_in, row.paid_out, row.description, row.balance)
        seen[key] = seen.get(key, 0) + 1
        lines.append(StatementLine(date=row.date, description=row.description, paid_in_pence=row.paid_in,
                                   paid_out_pence=row.paid_out, balance_pence=row.balance,
                                   file_line=row.record.line, raw=tuple(row.record.cells), occurrence=seen[key]))
    return BankStatement(layout=plan.layout, lines=tuple(lines), sort_code=sort_code, account_number=account_number,
                         opening_balance_pence=opening, closing_balance_pence=closing, newest_first=newest_first)


# Reading the bytes


def _decode(data: bytes) -> str:
    size = len(data)
    if size > MAX_FILE_BYTES:
        megabytes = math.ceil(size * 10 / 1024 / 1024) / 10  # rounded up: 5 MB and a byte is "5.1 MB"
        raise StatementError(f"The file is {megabytes:.1f} MB; a statement file may be at most "
                             f"{MAX_FILE_BYTES // 1024 // 1024} MB. Export a shorter period and import it in parts.")
    try:
        text = decode_csv_upload(
            data, pdf="This is a PDF statement. Export the transactions as a CSV file instead.",
            xlsx="This is a spreadsheet (.xlsx), not a CSV file. Export the transactions as CSV, or save this sheet "
                 "as CSV.",
            unreadable="The file isn't text we can read: is it the bank's CSV export?")
    except UnreadableUpload as error:
        raise StatementError(error.message) from None
    if not text.strip():
        raise StatementError("The file is empty.")
    return text


def _csv_records(text: str) -> list[_Record]:
    reader = csv.reader(io.StringIO(text, newline=""))
    records = []
    try:
        for number, cells in enumerate(reader, 1):
            records.append(_Record(number, cells))
    except csv.Error as error:
        raise StatementError(f"Line {len(records) + 1}: the file isn't a CSV file we can read ({error}).",
                             line=len(records) + 1) from None
    return records


# Which layout


def _header_name(cell: str) -> str:
    return " ".join(cell.strip().lstrip("'").split()).casefold()


def _recognise(records: list[_Record]) -> _Plan:
    for index, record in enumerate(records[:_HEADER_SEARCH_LINES]):
        names = [_header_name(cell) for cell in record.cells]
        found = [layout for layout in LAYOUTS if set(layout.header) <= set(names)]
        if found:
            layout = max(found, key=lambda each: len(each.header))
            return _plan_for_layout(layout, records, index, names)
    plan = _hsbc_without_header(records)
    if plan:
        return plan
    written = [r for r in records[:_HEADER_SEARCH_LINES] if any(c.strip() for c in r.cells)]
    if not written:
        raise StatementError("The file is empty.")
    # The line with most cells filled is the likeliest header, not a title or account line above it.
    seen = max(written, key=lambda r: sum(1 for c in r.cells if c.strip()))
    shown = ", ".join(f"“{cell.strip()}”" for cell in seen.cells if cell.strip())
    raise StatementError(
        f"We don't recognise this bank's export. Line {seen.line} reads: {shown}. We recognise exports from "
        f"{_KNOWN_BANKS}. Finance can map this file's columns (date, description, and paid in and out or one "
        f"amount) once for this bank account, and its statements will be read with that map.",
        line=seen.line, unknown_layout=True)


def _plan_for_layout(layout: _Layout, records: list[_Record], index: int, names: list[str]) -> _Plan:
    def at(name: str | None) -> int | None:
        return None if name is None else names.index(name)

    # A description column an older export lacks (Monzo's "Description") is left out.
    description = tuple(names.index(name) for name in layout.description if name in names)
    sort_code, account_number = _details_above(records[:index])
    return _Plan(
        layout=layout.name, header=[cell.strip() for cell in records[index].cells], data_from=index + 1,
        date=at(layout.date), description=description, amount=at(layout.amount), paid_in=at(layout.paid_in),
        paid_out=at(layout.paid_out), balance=at(layout.balance), sort_code=at(layout.sort_code),
        account_number=at(layout.account_number),
        opening_balance_row=(at(layout.opening_balance_row[0]), layout.opening_balance_row[1])
        if layout.opening_balance_row else None,
        not_lines=tuple((at(column), text) for column, text in layout.not_lines), ends_at=layout.ends_at,
        sort_code_given=sort_code, account_number_given=account_number)


def _details_above(records: list[_Record]) -> tuple[str | None, str | None]:
    """"Account Number:,123456" and the like, above a header (CAF Bank)."""
    sort_code = account_number = None
    for record in records:
        if len(record.cells) >= 2 and record.cells[1].strip():
            label = _header_name(record.cells[0]).rstrip(":")
            if label == "sort code":
                sort_code = _sort_code(record.cells[1])
            elif label == "account number":
                account_number = _clean(record.cells[1])
    return sort_code, account_number


def _hsbc_without_header(records: list[_Record]) -> _Plan | None:
    first = next((r.cells for r in records if any(c.strip() for c in r.cells)), [])
    while first and not first[-1].strip():
        first = first[:-1]
    if len(first) != 3:
        return None
    try:
        parse_uk_date(first[0].strip(), None)
        parse_pence(first[2])
    except ValueError:
        return None
    return _Plan(layout=_HSBC, header=None, data_from=0, date=0, description=(1,), amount=2)


def _plan_from_map(columns: ColumnMap, records: list[_Record]) -> _Plan:
    one_amount = columns.amount is not None and columns.paid_in is None and columns.paid_out is None
    in_and_out = columns.amount is None and columns.paid_in is not None and columns.paid_out is not None
    if not (one_amount or in_and_out):
        raise StatementError("The column map needs either one amount column, or both a paid-in and a paid-out "
                             "column.")
    description = columns.description if isinstance(columns.description, tuple) else (columns.description,)
    mapped = [columns.date, *description, columns.paid_in, columns.paid_out, columns.amount, columns.balance]
    mapped = [column for column in mapped if column is not None]
    if any(isinstance(column, int) and column < 0 for column in mapped):
        raise StatementError("The column map gives a column position below 0; column A is 0.")
    names = [_header_name(column) for column in mapped if isinstance(column, str)]
    if names and not columns.header_row:
        raise StatementError("The column map names columns by their headers, but says the file has no header "
                             "row: give the columns' positions instead.")
    header_index = None
    if columns.header_row:
        candidates = [(i, r) for i, r in enumerate(records[:_HEADER_SEARCH_LINES]) if any(c.strip() for c in r.cells)]
        if names:
            header_index = next((i for i, r in candidates if set(names) <= {_header_name(c) for c in r.cells}), None)
            if header_index is None:
                first = candidates[0][1] if candidates else records[0]
                missing = ", ".join(f"“{column}”" for column in mapped if isinstance(column, str))
                shown = ", ".join(f"“{cell.strip()}”" for cell in first.cells if cell.strip())
                raise StatementError(f"This file has no header row with all of the mapped columns ({missing}). "
                                     f"Line {first.line} reads: {shown}. Has the bank changed its export?",
                                     line=first.line)
        elif candidates:
            header_index = candidates[0][0]
    header_names = [_header_name(c) for c in records[header_index].cells] if header_index is not None else []

    def at(column: Column | None) -> int | None:
        if column is None or isinstance(column, int):
            return column
        return header_names.index(_header_name(column))

    return _Plan(
        layout="Columns mapped by Finance",
        header=[c.strip() for c in records[header_index].cells] if header_index is not None else None,
        data_from=header_index + 1 if header_index is not None else 0, date=at(columns.date),
        description=tuple(at(column) for column in description), amount=at(columns.amount),
        paid_in=at(columns.paid_in), paid_out=at(columns.paid_out), balance=at(columns.balance),
        date_format=columns.date_format, newest_first=columns.newest_first)


_SANTANDER_FROM = re.compile(r"^\s*From:\s*\d{1,2}/\d{1,2}/\d{2,4}\s+to\s+\d", re.IGNORECASE)
_SANTANDER_FIELD = re.compile(r"^\s*(Date|Description|Amount|Balance|Account|From)\s*:\s*(.*?)\s*$",
                              re.IGNORECASE)
_SANTANDER_NAMES = ("Date", "Description", "Amount", "Balance")


def _is_santander_text(text: str) -> bool:
    first = next((line for line in text.splitlines() if line.strip()), "")
    return bool(_SANTANDER_FROM.match(first.replace("\xa0", " ")))


def _santander(text: str) -> tuple[_Plan, list[_Record]]:
    """Santander's download: "Date:", "Description:", "Amount:", "Balance:" on
    lines of their own for each transaction, newest first, under "From:" and
    "Account:" lines; a no-break space follows each colon."""
    records: list[_Record] = []
    account = None
    fields: dict[str, tuple[str, int]] = {}

    def finish():
        if not fields:
            return
        start = min(number for _, number in fields.values())
        for name in _SANTANDER_NAMES:
            if name not in fields:
                raise StatementError(f"Line {start}: the transaction starting here has no “{name}:” line.",
                                     line=start, column=name)
        records.append(_Record(start, [fields[name][0] for name in _SANTANDER_NAMES],
                               [fields[name][1] for name in _SANTANDER_NAMES]))
        fields.clear()

    for number, line in enumerate(text.splitlines(), 1):
        line = line.replace("\xa0", " ")
        if not line.strip():
            continue
        match = _SANTANDER_FIELD.match(line)
        if not match:
            raise StatementError(f"Line {number}: “{line.strip()[:60]}” is not a line of Santander's statement "
                                 "download (Date:, Description:, Amount: or Balance:).", line=number)
        name, value = match.group(1).capitalize(), match.group(2)
        if name == "Account":
            account = _clean(value)
        elif name in _SANTANDER_NAMES:
            if name == "Date" or name in fields:
                finish()
            fields[name] = (value, number)
    finish()
    plan = _Plan(layout=_SANTANDER, header=list(_SANTANDER_NAMES), data_from=0, date=0, description=(1,),
                 amount=2, balance=3, letters=False, account_number_given=account)
    return plan, records


# Reading the lines


def _clean(text: str) -> str:
    """Words as the bank meant them: NatWest and Lloyds start cells with an
    apostrophe (so a spreadsheet keeps them as text), Barclays pads with spaces."""
    return " ".join(text.strip().lstrip("'").split())


def _letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _column_name(plan: _Plan, index: int) -> str:
    if plan.header and index < len(plan.header) and plan.header[index]:
        return plan.header[index]
    return _letter(index)


def _fail(plan: _Plan, record: _Record, index: int, problem: str) -> StatementError:
    """The error for one cell: "Line 4, column F (“Debit Amount”): …"."""
    line = record.cell_lines[index] if record.cell_lines else record.line
    name = _column_name(plan, index)
    if not plan.letters:
        where = f"Line {line} (“{name}”)"
    elif name != _letter(index):
        where = f"Line {line}, column {_letter(index)} (“{name}”)"
    else:
        where = f"Line {line}, column {name}"
    return StatementError(f"{where}: {problem}", line=line, column=name)


def _cell(record: _Record, index: int | None) -> str:
    if index is None or index >= len(record.cells):
        return ""
    return record.cells[index].strip()


def _read_rows(plan: _Plan, records: list[_Record]):
    rows: list[_Row] = []
    stated_opening = None
    account = first_account_line = None
    for record in records[plan.data_from:]:
        if not any(cell.strip() for cell in record.cells):
            continue  # NatWest puts a blank line above its header and between accounts
        if plan.ends_at and record.cells and _header_name(record.cells[0]) == plan.ends_at:
            break
        if any(_header_name(_cell(record, column)) == text for column, text in plan.not_lines):
            continue
        if plan.opening_balance_row:
            column, text = plan.opening_balance_row
            if _header_name(_cell(record, column)) == text and not _cell(record, plan.date):
                stated_opening = _money(plan, record, plan.balance)
                continue
        row = _read_row(plan, record)
        this_account = _account(plan, record)
        if account is None:
            account, first_account_line = this_account, record.line
        elif this_account != account:
            raise StatementError(
                f"Line {record.line}: this line is for account {_show_account(this_account)}, but line "
                f"{first_account_line} is for {_show_account(account)}. Export one account at a time.",
                line=record.line, column=_column_name(plan, plan.account_number if plan.account_number is not None
                                                      else plan.sort_code))
        rows.append(row)
    if not rows:
        raise StatementError("The file has no statement lines" + (" under its header." if plan.header else "."),
                             line=records[plan.data_from - 1].line if plan.data_from else None)
    sort_code, account_number = account if account and any(account) else (plan.sort_code_given,
                                                                             plan.account_number_given)
    return rows, stated_opening, sort_code, account_number


def _read_row(plan: _Plan, record: _Record) -> _Row:
    date_text = _cell(record, plan.date)
    if not date_text:
        raise _fail(plan, record, plan.date, "there is no date.")
    try:
        date = parse_uk_date(date_text, plan.date_format)
    except ValueError as error:
        raise _fail(plan, record, plan.date, str(error)) from None
    description = " / ".join(text for text in (_clean(_cell(record, i)) for i in plan.description) if text)
    if plan.amount is not None:
        amount = _money(plan, record, plan.amount)
        if amount is None:
            raise _fail(plan, record, plan.amount, "there is no amount.")
        paid_in, paid_out = max(amount, 0), max(-amount, 0)
    else:
        paid_in = _money(plan, record, plan.paid_in)
        paid_out = _money(plan, record, plan.paid_out)
        if paid_in is None and paid_out is None:
            raise _fail(plan, record, plan.paid_in, f"there is no amount here or in column {_letter(plan.paid_out)} "
                                                    f"(“{_column_name(plan, plan.paid_out)}”).")
        if paid_in and paid_out:
            raise _fail(plan, record, plan.paid_in,
                        f"there is an amount both here and in column {_letter(plan.paid_out)} "
                        f"(“{_column_name(plan, plan.paid_out)}”); a line is either paid in or paid out.")
        if paid_in and paid_in < 0:
            raise _fail(plan, record, plan.paid_in, f"“{_cell(record, plan.paid_in)}” is negative in the paid-in "
                                                    "column, so whether it came in or went out isn't clear.")
        paid_in, paid_out = paid_in or 0, abs(paid_out or 0)  # some banks sign their paid-out column
    balance = _money(plan, record, plan.balance)
    return _Row(date, description, paid_in, paid_out, balance, record)


def _money(plan: _Plan, record: _Record, index: int | None) -> int | None:
    text = _cell(record, index)
    if not text:
        return None
    try:
        return parse_pence(text)
    except ValueError as error:
        raise _fail(plan, record, index, str(error)) from None


def _sort_code(text: str) -> str:
    digits = re.sub(r"\D", "", text)
    return f"{digits[:2]}-{digits[2:4]}-{digits[4:]}" if len(digits) == 6 else _clean(text)


_SORT_CODE_AND_ACCOUNT = re.compile(r"(\d{2})-?(\d{2})-?(\d{2})[\s-]+(\d{6,10})(?:\s+[A-Z]{3})?")


def _account(plan: _Plan, record: _Record) -> tuple[str | None, str | None]:
    """(sort code, account number) as this line gives them; some banks write
    both in one cell: "300000-12345678 GBP", "'606004-12345678", "20-00-00 12345678"."""
    sort_code = _sort_code(_cell(record, plan.sort_code)) if _cell(record, plan.sort_code) else None
    account = _clean(_cell(record, plan.account_number)) or None
    if account and (both := _SORT_CODE_AND_ACCOUNT.fullmatch(account)):
        sort_code, account = f"{both.group(1)}-{both.group(2)}-{both.group(3)}", both.group(4)
    return sort_code, account


def _show_account(account: tuple[str | None, str | None]) -> str:
    return " ".join(part for part in account if part) or "(none given)"


# Order and balances


def _newest_first(plan: _Plan, rows: list[_Row]) -> bool:
    if plan.newest_first is not None:
        return plan.newest_first
    if rows[0].date != rows[-1].date:
        return rows[0].date > rows[-1].date
    # One day's lines: only the running balance tells which way they run.
    return not _balances_follow(rows) and _balances_follow(rows[::-1])


def _balances_follow(in_order: list[_Row]) -> bool:
    running = None
    for row in in_order:
        if running is not None:
            running += row.paid_in - row.paid_out
        if row.balance is not None:
            if running is not None and running != row.balance:
                return False
            running = row.balance
    return True


def _check_date_order(plan: _Plan, in_order: list[_Row], newest_first: bool) -> None:
    for before, row in zip(in_order, in_order[1:]):
        if row.date < before.date:
            # Blame the lower of the two lines in the file: the one that broke the order so far.
            lower, upper = (before, row) if newest_first else (row, before)
            raise _fail(plan, lower.record, plan.date,
                        f"{lower.date:%d/%m/%Y} is out of date order: this file runs "
                        f"{'newest' if newest_first else 'oldest'} first, and line {upper.record.line} above it is "
                        f"dated {upper.date:%d/%m/%Y}. Was the file sorted after it was exported?")


def _check_balances(plan: _Plan, in_order: list[_Row], stated_opening: int | None):
    """Each balance is the one before plus what came in less what went out;
    returns the opening and closing balances where the file shows them."""
    if plan.balance is None:
        return None, None
    running = before = None
    moved = 0  # money in less out before the first balance shown
    opening = None
    for row in in_order:
        change = row.paid_in - row.paid_out
        if running is not None:
            running += change
        elif row.balance is None:
            moved += change
        if row.balance is not None:
            if running is None:
                opening = row.balance - moved - change
                if stated_opening is not None and opening != stated_opening:
                    raise _fail(plan, row.record, plan.balance,
                                f"the balance {format_pence(row.balance)} does not follow from the opening balance "
                                f"{format_pence(stated_opening)} stated in the file.")
            elif running != row.balance:
                raise _fail(plan, row.record, plan.balance,
                            f"the balance {format_pence(row.balance)} does not follow from line {before.record.line} "
                            f"({format_pence(before.balance)}, which with the money in and out since makes "
                            f"{format_pence(running)}). Is a line missing or changed?")
            running, before = row.balance, row
    return (opening if opening is not None else stated_opening), running
