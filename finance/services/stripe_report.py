"""Stripe's itemised payout reconciliation report (report type
payout_reconciliation.itemized.5, the CSV the dashboard's Reports → Payout
reconciliation page downloads), imported: for the months before this system
went live, and as a cross-check of what the API gave.

`read_stripe_report(data)` reads the file (UTF-8 with or without a byte-order
mark, or Windows-1252 as Excel saves it) and checks every line before anything
is saved: amounts in pounds and pence ("10.00", never three decimal places),
net = gross − fee, dates, ids. Every problem names the file's line (as a
spreadsheet numbers it: the header is line 1) and the column's header, in one
`StripeReportError`.

`stripe_report_import` then records each payout and its lines, once
(balance transactions are unique by Stripe's id, so a re-import changes
nothing), and runs the same reconciliation as the API's lines: each line is
matched to its gift, refund or dispute. The report has no column for the
payout's amount: a payout we already hold (from Stripe, or an earlier report)
must be what its lines add up to, to the penny, or the whole file is refused;
a payout we do not hold is recorded with that sum.

A charge with no gift of ours (taken on Stripe's dashboard, or before go-live)
is an exception, and `stripe_report_line_create_gift` records the gift from it
through donations' service, for the supporter with its email (or a new one).
The email and name come from the report's customer columns or, for a guest
payment, from its payment_metadata[email], [name] and the like. A fee line
never becomes a supporter or a gift."""

from __future__ import annotations

import csv
import dataclasses
import datetime
import io
import math
import re
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from campaigns.models import Campaign
from config.errors import ApplicationError
from config.money import format_pence
from config.uploads import UnreadableUpload, decode_csv_upload
from donations.models import Donation, Refund
from donations.services import gifts as donation_gifts
from donations.services import refunds as donation_refunds
from finance.models import Payout, PayoutLine
from finance.services.payouts import GIFT_CATEGORIES, payout_lines_match, payout_record
from supporters import services as supporter_services
from supporters.models import AcquisitionSource, Supporter

REPORT_TYPE = "payout_reconciliation.itemized.5"
# A busy year of gifts is a few MB; a larger file is the wrong file, or years at once.
MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_PROBLEMS_SHOWN = 50
_CHUNK = 1000

# Every column Stripe documents for payout_reconciliation.itemized.5 (the earlier
# versions' columns are among them), and the metadata columns, "payment_metadata[key]".
COLUMNS = frozenset({
    "automatic_payout_effective_at", "automatic_payout_effective_at_utc", "automatic_payout_id", "available_on",
    "available_on_utc", "balance_transaction_id", "card_address_city", "card_address_country", "card_address_line1",
    "card_address_line2", "card_address_postal_code", "card_address_state", "card_brand", "card_country",
    "card_funding", "charge_created", "charge_created_utc", "charge_id", "connected_account_country",
    "connected_account_direct_charge_id", "connected_account_id", "connected_account_name", "created", "created_utc",
    "currency", "customer_address_city", "customer_address_country", "customer_address_line1",
    "customer_address_line2", "customer_address_postal_code", "customer_address_state", "customer_description",
    "customer_email", "customer_facing_amount", "customer_facing_currency", "customer_id", "customer_name",
    "customer_shipping_address_city", "customer_shipping_address_country", "customer_shipping_address_line1",
    "customer_shipping_address_line2", "customer_shipping_address_postal_code", "customer_shipping_address_state",
    "description", "destination_payment_id", "dispute_reason", "fee", "gross", "invoice_id", "invoice_number",
    "is_link", "net", "order_id", "payment_intent_id", "payment_method_type", "regulatory_tag", "reporting_category",
    "shipping_address_city", "shipping_address_country", "shipping_address_line1", "shipping_address_line2",
    "shipping_address_postal_code", "shipping_address_state", "source_id", "statement_descriptor", "subscription_id",
    "trace_id", "trace_id_status",
})
_METADATA_COLUMN = re.compile(r"(payment|refund|transfer)_metadata\[([^\]]+)\]")
REQUIRED_COLUMNS = ("automatic_payout_id", "balance_transaction_id", "currency", "gross", "fee", "net",
                    "reporting_category")
# (UTC, the report's own time zone): either will do, UTC preferred.
_DATE_COLUMNS = {"payout_date": ("automatic_payout_effective_at_utc", "automatic_payout_effective_at"),
                 "created": ("created_utc", "created")}


# --- problems ------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Problem:
    """One thing wrong with the file: its line (the header is line 1) and the
    column's header as the file writes it, where there is one."""

    line: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        if self.line and self.column:
            return f"Line {self.line}, column “{self.column}”: {self.message}"
        if self.line:
            return f"Line {self.line}: {self.message}"
        return self.message


class StripeReportError(ApplicationError):
    """The file cannot be imported, and nothing of it was saved. `problems`
    holds the first fifty, each naming its line and column; `message` the
    first of them and how many more there are."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems[:MAX_PROBLEMS_SHOWN]
        self.problem_count = len(problems)
        more = len(problems) - 1
        text = str(problems[0]) + (f" (and {more} more problem{'s' if more != 1 else ''})" if more else "")
        super().__init__(text, field="file")


# --- reading the file ----------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class ReportLine:
    """One balance transaction of the report, in pence and aware datetimes."""

    file_line: int
    payout_id: str
    payout_date: datetime.date
    balance_transaction_id: str
    created: datetime.datetime
    currency: str
    gross_pence: int
    fee_pence: int
    net_pence: int
    reporting_category: str
    available_on: datetime.date | None = None
    source_id: str = ""
    description: str = ""
    customer_email: str = ""
    customer_name: str = ""
    charge_id: str = ""
    payment_intent_id: str = ""


@dataclasses.dataclass
class ReportPayout:
    """A payout of the report: its lines, in the file's order."""

    stripe_payout_id: str
    currency: str
    arrival_date: datetime.date
    lines: list[ReportLine]

    @property
    def net_pence(self) -> int:
        return sum(line.net_pence for line in self.lines)

    @property
    def first_line(self) -> int:
        return self.lines[0].file_line


def _megabytes(size: int) -> str:
    return f"{math.ceil(size * 10 / 1024 / 1024) / 10:.1f} MB"  # rounded up: a byte over is "20.1 MB"


def check_size(size: int) -> None:
    """Refuse a file over the limit before reading it (the screen and the
    command call this with the upload's size)."""
    if size > MAX_FILE_BYTES:
        raise StripeReportError([Problem(None, None, (
            f"The file is {_megabytes(size)}; a Stripe report may be at most {MAX_FILE_BYTES // 1024 // 1024} MB. "
            f"Download fewer months at a time and import each file."))])


def _decode(data: bytes) -> str:
    check_size(len(data))
    data = bytes(data)
    if not data.strip():
        raise StripeReportError([Problem(None, None, "The file is empty.")])
    try:
        text = decode_csv_upload(
            data, pdf="This is a PDF. Download Stripe's report as CSV instead.",
            xlsx="This is a spreadsheet (.xlsx), not a CSV file. Download Stripe's report as CSV, or save this sheet "
                 "as CSV.",
            unreadable="The file isn't text we can read: is it Stripe's CSV report?")
    except UnreadableUpload as error:
        raise StripeReportError([Problem(None, None, error.message)]) from None
    return text


def _records(text: str) -> list[tuple[int, list[str]]]:
    first = text.lstrip("\ufeff").split("\n", 1)[0]
    delimiter = "\t" if "\t" in first and "," not in first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    records = []
    try:
        for number, cells in enumerate(reader, 1):
            records.append((number, cells))
    except csv.Error as error:
        raise StripeReportError([Problem(len(records) + 1, None,
                                         f"the file isn't a CSV file we can read ({error}).")]) from None
    return records


_MONEY = re.compile(r"([+-])?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d*))?")


def parse_pence(text: str) -> int:
    """"10.00" → 1000, "-1,234.5" → -123450, exactly (Decimal). ValueError, with
    words for Finance, for anything else, and for more than two decimal places."""
    text = text.strip()
    match = _MONEY.fullmatch(text)
    if not match:
        raise ValueError(f"“{text}” is not an amount in pounds and pence (e.g. 10.00)" if text else
                         "it is empty; it should be an amount in pounds and pence (e.g. 10.00)")
    decimals = match.group(3) or ""
    if len(decimals) > 2:
        raise ValueError(f"“{text}” has {len(decimals)} decimal places; Stripe's amounts are pounds and pence, "
                         f"with two at most")
    return int(Decimal(text.replace(",", "")) * 100)


_UK_FORMATS = ("%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y")


def _parse_when(text: str, *, utc: bool) -> datetime.datetime:
    """Stripe writes "2026-11-02 00:00:00"; Excel, re-saving the file in the UK,
    "02/11/2026 00:00". A column without "_utc" is in the report's own time
    zone, taken to be the charity's."""
    text = text.strip()
    if not text:
        raise ValueError("it is empty; it should be a date (e.g. 2026-11-02 00:00:00)")
    try:
        when = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        for pattern in _UK_FORMATS:
            try:
                when = datetime.datetime.strptime(text, pattern)
                break
            except ValueError:
                continue
        else:
            raise ValueError(f"“{text}” is not a date (e.g. 2026-11-02 00:00:00)") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC if utc else ZoneInfo(settings.TIME_ZONE))
    return when.astimezone(datetime.UTC)


_STRIPE_ID = re.compile(r"[A-Za-z0-9_]+")


class _Row:
    """A data row's cells by column name, collecting its problems."""

    def __init__(self, number: int, cells: list[str], index: dict[str, int], headers: list[str],
                 problems: list[Problem]):
        self.number, self.cells, self.index, self.headers, self.problems = number, cells, index, headers, problems

    def has(self, name: str) -> bool:
        return name in self.index

    def text(self, name: str) -> str:
        return self.cells[self.index[name]].strip() if name in self.index else ""

    def fail(self, name: str, message: str) -> None:
        self.problems.append(Problem(self.number, self.headers[self.index[name]] if name in self.index else name,
                                     message))

    def stripe_id(self, name: str, *, required: bool = False, prefix: tuple[str, ...] = ()) -> str:
        value = self.text(name)
        if not value:
            if required:
                self.fail(name, "it is empty; every line needs it")
            return ""
        if not _STRIPE_ID.fullmatch(value) or len(value) > 255 or (prefix and not value.startswith(prefix)):
            expected = " or ".join(f"“{p}…”" for p in prefix) if prefix else "letters, digits and “_”"
            self.fail(name, f"“{value}” is not a Stripe id ({expected})")
            return ""
        return value

    def pence(self, name: str) -> int | None:
        try:
            return parse_pence(self.text(name))
        except ValueError as error:
            self.fail(name, str(error))
            return None

    def when(self, key: str) -> datetime.datetime | None:
        name = next(column for column in _DATE_COLUMNS[key] if column in self.index)
        try:
            return _parse_when(self.text(name), utc=name.endswith("_utc"))
        except ValueError as error:
            self.fail(name, str(error))
            return None


def _read_header(records: list[tuple[int, list[str]]]) -> tuple[int, list[str], dict[str, int]]:
    start = next((i for i, (_n, cells) in enumerate(records) if any(c.strip() for c in cells)), None)
    if start is None:
        raise StripeReportError([Problem(None, None, "The file is empty.")])
    number, cells = records[start]
    headers = [cell.strip().lstrip("\ufeff").strip() for cell in cells]
    while headers and not headers[-1]:
        headers.pop()  # a trailing comma
    problems, index = [], {}
    for position, header in enumerate(headers):
        name = header.lower()
        if not header:
            problems.append(Problem(number, f"column {position + 1}", "the header is blank; every column of Stripe's "
                                                                       "report has a name"))
        elif name in index:
            problems.append(Problem(number, header, "the column appears twice"))
        elif name not in COLUMNS and not _METADATA_COLUMN.fullmatch(name):
            problems.append(Problem(number, header, (
                f"this is not a column of Stripe's itemised payout reconciliation report ({REPORT_TYPE}). Download "
                f"that report from Stripe's dashboard (Reports → Payout reconciliation) as CSV, and import it "
                f"with its columns as Stripe names them")))
        index.setdefault(name, position)
    for name in REQUIRED_COLUMNS:
        if name not in index:
            problems.append(Problem(number, name, "the report has no such column, and every line needs it. "
                                                  "Include it when downloading the report"))
    for utc_name, local_name in _DATE_COLUMNS.values():
        if utc_name not in index and local_name not in index:
            problems.append(Problem(number, utc_name, f"the report has no such column (nor “{local_name}”), and "
                                                      f"every line needs it. Include it when downloading the report"))
    if problems:
        raise StripeReportError(problems)
    return start, headers, index


def _read_line(row: _Row) -> ReportLine | None:
    problems_before = len(row.problems)
    category = row.text("reporting_category").lower()
    if not re.fullmatch(r"[a-z_]+", category):
        row.fail("reporting_category", f"“{row.text('reporting_category')}” is not one of Stripe's reporting "
                                       f"categories (e.g. charge, refund, fee)" if category else
                 "it is empty; every line has a reporting category (e.g. charge, refund, fee)")
    bt_id = row.stripe_id("balance_transaction_id", required=True)
    payout_id = row.stripe_id("automatic_payout_id", required=True, prefix=("po_",))
    payout_when = row.when("payout_date")
    created = row.when("created")
    currency = row.text("currency").lower()
    if not re.fullmatch(r"[a-z]{3}", currency):
        row.fail("currency", f"“{row.text('currency')}” is not a currency code (e.g. gbp)" if currency else
                 "it is empty; it should be a currency code (e.g. gbp)")
    gross, fee, net = row.pence("gross"), row.pence("fee"), row.pence("net")
    if None not in (gross, fee, net) and gross - fee != net:
        row.fail("net", f"{row.text('net')} is not the gross {row.text('gross')} less the fee {row.text('fee')}")
    available_on = None
    for name in ("available_on_utc", "available_on"):
        if row.text(name):
            try:
                available_on = _parse_when(row.text(name), utc=True).date()
            except ValueError as error:
                row.fail(name, str(error))
            break
    source_id, charge_id = row.stripe_id("source_id"), row.stripe_id("charge_id")
    payment_intent_id = row.stripe_id("payment_intent_id")
    metadata = {header.lower()[len("payment_metadata["):-1]: row.cells[position].strip()
                for position, header in enumerate(row.headers) if header.lower().startswith("payment_metadata[")}
    email = (row.text("customer_email") or _first(metadata, _METADATA_EMAIL)).lower()
    if len(email) > 254:
        row.fail("customer_email", "it is longer than an email address can be")
    name = row.text("customer_name") or _first(metadata, _METADATA_NAME) or \
        f"{metadata.get('first_name', '')} {metadata.get('last_name', '')}"
    if len(row.problems) > problems_before:
        return None
    description = row.text("description")
    if row.text("dispute_reason"):
        description = f"{description} (dispute: {row.text('dispute_reason')})".strip()
    return ReportLine(
        file_line=row.number, payout_id=payout_id, payout_date=payout_when.date(), balance_transaction_id=bt_id,
        created=created, currency=currency, gross_pence=gross, fee_pence=fee, net_pence=net,
        reporting_category=category, available_on=available_on, source_id=source_id, description=description[:500],
        customer_email=email, customer_name=" ".join(name.split())[:255], charge_id=charge_id,
        payment_intent_id=payment_intent_id)


# Where a payment has no Stripe customer (a guest payment), the donor's form
# may have put them in the payment's metadata: the usual keys are read.
_METADATA_EMAIL = ("email", "donor_email", "customer_email")
_METADATA_NAME = ("name", "donor_name", "full_name", "customer_name")


def _first(metadata: dict[str, str], keys: tuple[str, ...]) -> str:
    return next((metadata[key] for key in keys if metadata.get(key)), "")


def read_stripe_report(data: bytes) -> list[ReportPayout]:
    """Every payout of the report with its lines, or StripeReportError naming
    each problem's line and column (and nothing). No database needed."""
    records = _records(_decode(data))
    start, headers, index = _read_header(records)
    problems: list[Problem] = []
    lines: list[ReportLine] = []
    for number, cells in records[start + 1:]:
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) < len(headers) or any(cell.strip() for cell in cells[len(headers):]):
            problems.append(Problem(number, None, f"the line has {len(cells)} cells where the header has "
                                                  f"{len(headers)}: is a comma missing, or a quote?"))
            continue
        row = _Row(number, cells, index, headers, problems)
        if row.text("reporting_category").lower() == "payout":
            continue  # the payout's own transaction, as some reports list it: it is the payout, not a line of it
        line = _read_line(row)
        if line is not None:
            lines.append(line)
    seen: dict[str, int] = {}
    payouts: dict[str, ReportPayout] = {}
    for line in lines:
        if line.balance_transaction_id in seen:
            problems.append(Problem(line.file_line, headers[index["balance_transaction_id"]],
                                    f"{line.balance_transaction_id} is also on line "
                                    f"{seen[line.balance_transaction_id]}; a balance transaction is in a report once"))
            continue
        seen[line.balance_transaction_id] = line.file_line
        payout = payouts.setdefault(line.payout_id, ReportPayout(line.payout_id, line.currency, line.payout_date, []))
        if line.currency != payout.currency:
            problems.append(Problem(line.file_line, headers[index["currency"]], (
                f"payout {line.payout_id} is in {payout.currency.upper()} (line {payout.first_line}), "
                f"but this line of it is in {line.currency.upper()}")))
        elif line.payout_date != payout.arrival_date:
            column = next(c for c in _DATE_COLUMNS["payout_date"] if c in index)
            problems.append(Problem(line.file_line, headers[index[column]], (
                f"payout {line.payout_id} arrives on {payout.arrival_date:%-d %B %Y} (line {payout.first_line}), "
                f"but this line of it says {line.payout_date:%-d %B %Y}")))
        payout.lines.append(line)
    if problems:
        raise StripeReportError(problems)
    if not payouts:
        raise StripeReportError([Problem(None, None, "The report has no lines, only its header.")])
    return list(payouts.values())


# --- importing -------------------------------------------------------------------------

@dataclasses.dataclass
class ImportSummary:
    """What an import read and did: the figures the screen and the command show."""

    filename: str
    payout_ids: list[str]
    payouts_new: int
    lines: int
    lines_new: int
    matched: int
    exceptions: int
    other_lines: int

    @property
    def payouts(self) -> int:
        return len(self.payout_ids)

    def __str__(self) -> str:
        def count(number, word):
            return f"{number} {word}{'' if number == 1 else 's'}"

        return (f"{self.filename}: {count(self.payouts, 'payout')} ({self.payouts_new} new), "
                f"{count(self.lines, 'line')} ({self.lines_new} new, {self.lines - self.lines_new} already held), "
                f"{self.matched} matched to gifts, {count(self.exceptions, 'exception')}, "
                f"{count(self.other_lines, 'other line')} (Stripe's fees, adjustments).")


def _in_chunks(items: list, size: int = _CHUNK):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _held_lines(ids: list[str]) -> dict[str, PayoutLine]:
    held = {}
    for chunk in _in_chunks(ids):
        for line in PayoutLine.objects.filter(stripe_balance_transaction_id__in=chunk).select_related("payout"):
            held[line.stripe_balance_transaction_id] = line
    return held


def _check_against_held(payouts: list[ReportPayout], held_payouts: dict[str, Payout],
                        held_lines: dict[str, PayoutLine]) -> list[Problem]:
    """What the report says that contradicts what we hold: a payout's sum, its
    currency, a line we hold in another payout."""
    problems = []
    for report_payout in payouts:
        held = held_payouts.get(report_payout.stripe_payout_id)
        if held is not None:
            where = "Stripe paid" if held.source == Payout.Source.STRIPE else "an earlier report recorded"
            net = report_payout.net_pence
            if held.currency != report_payout.currency:
                problems.append(Problem(report_payout.first_line, "currency", (
                    f"payout {held.stripe_payout_id} is in {held.currency.upper()} in our records, not "
                    f"{report_payout.currency.upper()}")))
            elif held.amount_pence != net:
                difference = net - held.amount_pence
                problems.append(Problem(report_payout.first_line, "net", (
                    f"the lines of payout {held.stripe_payout_id} add up to {format_pence(net, held.currency)}, but "
                    f"{where} {format_pence(held.amount_pence, held.currency)}: a difference of "
                    f"{format_pence(difference, held.currency)}. Is the report filtered (by reporting category or "
                    f"currency), or cut short? Download it whole for the payout's dates")))
        for line in report_payout.lines:
            known = held_lines.get(line.balance_transaction_id)
            if known is not None and known.payout.stripe_payout_id != report_payout.stripe_payout_id:
                problems.append(Problem(line.file_line, "automatic_payout_id", (
                    f"{line.balance_transaction_id} is in payout {known.payout.stripe_payout_id} in our records, "
                    f"not {report_payout.stripe_payout_id}")))
    return problems


def _midnight_utc(day: datetime.date) -> int:
    return int(datetime.datetime.combine(day, datetime.time(), tzinfo=datetime.UTC).timestamp())


_FILLED_FROM_REPORT = ("charge_id", "payment_intent_id", "customer_email", "customer_name")


def _charge_id(line: ReportLine) -> str:
    if line.charge_id:
        return line.charge_id
    return line.source_id if line.source_id.startswith(("ch_", "py_")) else ""


def _new_line(payout: Payout, line: ReportLine) -> PayoutLine:
    return PayoutLine(
        payout=payout, stripe_balance_transaction_id=line.balance_transaction_id, type="",
        reporting_category=line.reporting_category, amount_pence=line.gross_pence, fee_pence=line.fee_pence,
        net_pence=line.net_pence, currency=line.currency, stripe_created_at=line.created,
        available_on=line.available_on, description=line.description, source_id=line.source_id,
        charge_id=_charge_id(line), payment_intent_id=line.payment_intent_id, customer_email=line.customer_email,
        customer_name=line.customer_name)


def stripe_report_import(*, data: bytes, filename: str, by=None) -> ImportSummary:
    """Import Stripe's itemised payout reconciliation report: the whole file or
    nothing. Raises StripeReportError (an ApplicationError naming each problem's
    line and column) for a file we cannot read, or whose payouts disagree with
    those we hold; saves nothing then. Idempotent: a line already held (from the
    API or an earlier report) is left as it is, only its charge, PaymentIntent
    and customer filled where blank. Then matches every line not yet matched
    (payout_lines_match) and records, through donations' services, a refund the
    report shows on a gift of ours that we did not know of."""
    payouts = read_stripe_report(data)
    ids = [line.balance_transaction_id for payout in payouts for line in payout.lines]
    with transaction.atomic():
        held_payouts = {}
        for chunk in _in_chunks([payout.stripe_payout_id for payout in payouts]):
            held_payouts.update({payout.stripe_payout_id: payout for payout in
                                 Payout.objects.select_for_update().filter(stripe_payout_id__in=chunk)})
        held_lines = _held_lines(ids)
        problems = _check_against_held(payouts, held_payouts, held_lines)
        if problems:
            raise StripeReportError(problems)
        now, today = timezone.now(), timezone.localdate()
        records, new_lines, filled = [], [], []
        for report_payout in payouts:
            payout = held_payouts.get(report_payout.stripe_payout_id)
            if payout is None:
                payout = payout_record(source=Payout.Source.REPORT, payout={
                    "id": report_payout.stripe_payout_id, "amount": report_payout.net_pence,
                    "currency": report_payout.currency, "arrival_date": _midnight_utc(report_payout.arrival_date),
                    "automatic": True,
                    "status": Payout.Status.PAID if report_payout.arrival_date <= today else Payout.Status.IN_TRANSIT})
            if payout.lines_fetched_at is None:
                # Its lines are whole: they add up to the payout (checked above, or its amount is their sum).
                Payout.objects.filter(pk=payout.pk).update(lines_fetched_at=now)
            records.append(payout)
            for line in report_payout.lines:
                known = held_lines.get(line.balance_transaction_id)
                if known is None:
                    new_lines.append(_new_line(payout, line))
                    continue
                values = {"charge_id": _charge_id(line), "payment_intent_id": line.payment_intent_id,
                          "customer_email": line.customer_email, "customer_name": line.customer_name}
                blanks = [name for name in _FILLED_FROM_REPORT if not getattr(known, name) and values[name]]
                for name in blanks:
                    setattr(known, name, values[name])
                if blanks:
                    filled.append(known)
        # A second import of the same file at the same moment finds them there: no error, nothing twice.
        PayoutLine.objects.bulk_create(new_lines, batch_size=2000, ignore_conflicts=True)
        PayoutLine.objects.bulk_update(filled, list(_FILLED_FROM_REPORT), batch_size=2000)
        _match(PayoutLine.objects.filter(payout__in=records, donation__isnull=True,
                                         reporting_category__in=GIFT_CATEGORIES))
        lines = PayoutLine.objects.filter(payout__in=records)
        return ImportSummary(
            filename=filename, payout_ids=[payout.stripe_payout_id for payout in payouts],
            payouts_new=len(payouts) - len(held_payouts), lines=len(ids), lines_new=len(new_lines),
            matched=lines.filter(donation__isnull=False).count(),
            exceptions=lines.filter(donation__isnull=True, reporting_category__in=GIFT_CATEGORIES,
                                    resolution="").count(),
            other_lines=lines.exclude(reporting_category__in=GIFT_CATEGORIES).count())


def _match(unmatched) -> None:
    """Match the lines to gifts, then record the refunds they show on gifts
    that do not hold them."""
    pks = list(unmatched.values_list("pk", flat=True))
    for chunk in _in_chunks(pks):
        payout_lines_match(lines=list(PayoutLine.objects.filter(pk__in=chunk)))
    refunds = list(PayoutLine.objects.filter(pk__in=pks, reporting_category="refund", donation__isnull=False,
                                             refund__isnull=True))
    _record_refunds(refunds)


def _record_refunds(lines: list[PayoutLine]) -> None:
    """A refund line matched to its gift by the charge, where the gift does not
    hold that refund (made on Stripe's dashboard, or before go-live): kept on the
    gift through donations' services, as Stripe's refund event would have."""
    done = []
    for line in lines:
        if line.amount_pence >= 0 or not line.source_id:
            continue
        # The gift's lock first: a second import at the same moment then finds the refund recorded.
        donation = Donation.objects.select_for_update().get(pk=line.donation_id)
        refund = donation_refunds.refund_record(donation=donation, reason="Refunded on Stripe (from its payout report)",
                                                refund={"id": line.source_id, "amount": -line.amount_pence,
                                                        "status": "succeeded",
                                                        "created": int(line.stripe_created_at.timestamp()),
                                                        "balance_transaction": line.stripe_balance_transaction_id})
        refunded = sum(Refund.objects.filter(donation_id=donation.pk, status__in=("succeeded", "pending"))
                       .values_list("amount_pence", flat=True))
        donation_refunds.donation_apply_refund_total(
            charge_id=donation.stripe_charge_id or line.charge_id, payment_intent_id=donation.stripe_payment_intent_id,
            refunded_pence=refunded)
        line.refund_id = refund.pk
        done.append(line)
    PayoutLine.objects.bulk_update(done, ["refund"])


# --- the exceptions: gifts recorded from lines ----------------------------------------

def report_exceptions(*, payout_ids: list[str]):
    """The report's lines about a gift with no gift of ours, not yet explained."""
    return (PayoutLine.objects.filter(payout__stripe_payout_id__in=payout_ids, donation__isnull=True,
                                      reporting_category__in=GIFT_CATEGORIES, resolution="")
            .select_related("payout").order_by("payout__arrival_date", "stripe_created_at", "pk"))


_TITLES = {"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "rev", "revd", "sir", "dame", "lady", "lord"}


def split_name(name: str) -> tuple[str, str, str]:
    """A card holder's name as (title, first names, surname): the last word is
    taken for the surname ("Dr Ann Marie Jones" → ("Dr", "Ann Marie", "Jones")),
    and Finance corrects it on the form where that is wrong."""
    words = " ".join((name or "").split()).split(" ") if (name or "").strip() else []
    title = ""
    if len(words) > 2 and words[0].rstrip(".").lower() in _TITLES:
        title = words.pop(0)
    if len(words) < 2:
        return title, (words[0] if words else ""), ""
    return title, " ".join(words[:-1]), words[-1]


@dataclasses.dataclass
class LineDonor:
    """Whose gift a charge line would be: the supporter with its email, or who
    would be created (from the report's customer name)."""

    email: str
    supporter: Supporter | None
    title: str
    first_name: str
    last_name: str
    refusal: str  # why no gift can be recorded from the line ("" when one can)


def _refusal(line: PayoutLine) -> str:
    if line.donation_id is not None:
        return f"The line is already matched to gift {line.donation.reference}."
    if line.resolution:
        return f"The line is already resolved: {line.get_resolution_display().lower()}."
    if line.reporting_category == "fee":
        return ("This line is one of Stripe's own fees (such as Radar's), not a gift: no gift or supporter is made "
                "from it. Mark it “not a gift” instead.")
    if line.reporting_category != "charge":
        return (f"Only a charge (a payment to the charity) can become a gift; this line is a "
                f"{line.reporting_category.replace('_', ' ')}. It matches once its gift is recorded from its charge.")
    if line.amount_pence <= 0:
        return "The charge is of nothing, so it cannot be a gift."
    if not line.customer_email.strip():
        return ("Stripe's report gives no email for this payment, so no supporter can be found or created for it. "
                "If it is not a gift, mark it “not a gift” with a note saying what it is.")
    if not (line.charge_id or line.source_id.startswith(("ch_", "py_"))):
        return "The line names no Stripe charge, so a gift recorded from it could never be matched."
    return ""


def stripe_report_line_donor(line: PayoutLine) -> LineDonor:
    """Read only: who the gift on this line would be from, or why none can be
    recorded from it."""
    email = line.customer_email.strip().lower()
    supporter = (Supporter.objects.filter(email=email, erased_at__isnull=True).order_by("created_at", "pk").first()
                 if email else None)
    title, first, last = split_name(line.customer_name)
    return LineDonor(email=email, supporter=supporter, title=title, first_name=first, last_name=last,
                     refusal=_refusal(line))


@transaction.atomic
def stripe_report_line_create_gift(*, line: PayoutLine, campaign: Campaign | None = None, by=None,
                                   first_name: str = "", last_name: str = "") -> Donation:
    """Record the gift a charge line of Stripe's report shows, that we never
    had (taken on Stripe's dashboard, or before go-live): for the supporter with
    the line's email, in any case, or a new supporter named by the report's
    customer name (or `first_name`/`last_name` where Finance gives them);
    through donations' service, carrying Stripe's ids, on the day Stripe charged
    it, with the line's fee and net; then the line is linked (resolution
    "gift recorded from the line"), and any refund or dispute line of the same
    charge with it. Locks the line, so two clicks record one gift.

    If a gift of ours carries the charge by now, the line is linked to it and
    that gift returned: nothing is created. Raises ApplicationError for a fee
    line, any line that is not a charge, a line without an email (no supporter
    is created from it) and a line already matched or explained."""
    # The gift is read after the lock (not joined): a second click then sees the one the first recorded.
    line = PayoutLine.objects.select_for_update(of=("self",)).select_related("payout").get(pk=line.pk)
    if line.donation_id is None and line.reporting_category == "charge" and not line.resolution:
        payout_lines_match(lines=[line])  # a gift of ours may carry the charge by now
        if line.donation_id is not None:
            return Donation.objects.get(pk=line.donation_id)
    donor = stripe_report_line_donor(line)
    if donor.refusal:
        raise ApplicationError(donor.refusal)
    supporter = donor.supporter
    if supporter is None:
        first = " ".join((first_name or donor.first_name).split())
        last = " ".join((last_name or donor.last_name).split())
        if not first or not last:
            raise ApplicationError(f"Give the donor's first and last name: Stripe's report names no one for "
                                   f"{donor.email}.", field="first_name" if not first else "last_name")
        supporter, _created = supporter_services.supporter_find_or_create(
            email=donor.email, title=donor.title if not first_name else "", first_name=first, last_name=last,
            source=AcquisitionSource.IMPORT)
    charge_id = line.charge_id or line.source_id
    donation = donation_gifts.donation_record_from_stripe_report(
        supporter=supporter, amount_pence=line.amount_pence, fee_pence=line.fee_pence, net_pence=line.net_pence,
        currency=line.currency, paid_at=line.stripe_created_at, charge_id=charge_id,
        payment_intent_id=line.payment_intent_id or None, balance_transaction_id=line.stripe_balance_transaction_id,
        campaign=campaign, by=by)
    line.donation, line.resolution, line.resolved_by = donation, PayoutLine.Resolution.GIFT_CREATED, by
    line.resolution_note = f"Gift {donation.reference} recorded from Stripe's report"
    line.save(update_fields=["donation", "resolution", "resolution_note", "resolved_by"])
    same_payment = Q(charge_id=charge_id) | Q(source_id=charge_id)
    if line.payment_intent_id:
        same_payment |= Q(payment_intent_id=line.payment_intent_id)
    _match(PayoutLine.objects.filter(same_payment, donation__isnull=True, reporting_category__in=GIFT_CATEGORIES))
    return donation
