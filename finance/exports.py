"""Finance's downloads (exporters: see config.exports): the journals of a
payout, a batch or a month, in the layout each accounts package imports; and
the lists of paying-in batches and of campaigns' income codes as CSV or XLSX.

- Xero, manual journals (help.xero.com, "Import manual journals"): the columns
  of Xero's template (*Narration, *Date, Description, *AccountCode, *TaxRate,
  *Amount, TrackingName1, TrackingOption1, TrackingName2, TrackingOption2);
  lines with the same narration and date make one journal; a positive amount
  is a debit, a negative one a credit; dates dd/mm/yyyy; at most 300 lines in a
  file. Xero posts no manual journal to a bank account: for Xero, the chart of
  accounts' bank code is a clearing account, and each bank credit is then
  reconciled against it.
- Sage Accounting, journals import (Sage's knowledge base, "Import journals"):
  Reference, Date, Description, Ledger Account Number, Details, Debit, Credit;
  the lines of one journal share its reference and their debits and credits
  balance; files under 0.5 MB.
- Sage 50 Accounts, audit trail transactions import: a journal debit (JD) or
  credit (JC) per line: Type, Account Reference, Nominal A/C Ref, Department
  Code, Date, Reference, Details, Net Amount, Tax Code, Tax Amount; tax code T9
  (outside the scope of VAT); Windows-1252 text, as Sage 50 reads it.
- A plain CSV, with debits and credits, for anything else and for reading.

Past a package's limit, the journals are split between files, never a journal
across two (each file must balance on its own), and the files come as one zip
to import one after the other (as Xero and Sage tell their users to split)."""

import dataclasses
import datetime
import io
import re
import zipfile

from django.utils import timezone
from django.utils.functional import cached_property

from campaigns.models import Campaign
from config import spreadsheets
from config.errors import ApplicationError
from config.exports import Column, Exporter
from finance import selectors
from finance.models import CampaignLedgerCode, ChartOfAccounts, FinanceDownload
from finance.services import journals as journal_services
from finance.services.journals import Journal

JOURNAL_PERMISSION = "finance.view_payout"


@dataclasses.dataclass(frozen=True)
class JournalSelection:
    """Which journals: one payout (its pk or Stripe id), one batch (its number) or one month."""

    payout: int | str | None = None
    batch: int | None = None
    month: datetime.date | None = None

    def __post_init__(self):
        if sum(value is not None for value in (self.payout, self.batch, self.month)) != 1:
            raise ValueError("Choose one payout, one batch or one month.")



class JournalExport(Exporter):
    """The journals of a selection, in one accounts package's layout. Subclasses
    give the layout (`headings`, `journal_rows`) and the package's limits."""

    permission = JOURNAL_PERMISSION
    formats = ("csv",)
    key = ""                     # the format's name on the command line and the screen
    max_lines_per_file: int | None = None
    max_bytes_per_file: int | None = None
    encoding = "utf-8"

    def __init__(self, *, selection: JournalSelection, source: str = ""):
        self.selection = selection
        self.source = source     # for the log: e.g. "from the command line, as finance"
        self.extension = "csv"

    @cached_property
    def chart(self) -> ChartOfAccounts:
        return ChartOfAccounts.load()

    @cached_property
    def built(self) -> tuple[list[Journal], list[str]]:
        selection = self.selection
        if selection.payout is not None:
            journal = journal_services.journal_for_payout(payout=selection.payout, chart=self.chart)
            return [journal], journal.flags
        if selection.batch is not None:
            journal = journal_services.journal_for_batch(batch=selection.batch, chart=self.chart)
            return [journal], journal.flags
        month = journal_services.journals_for_month(month=selection.month, chart=self.chart)
        if not month.journals:
            left_out = " ".join(month.left_out)
            raise ApplicationError(f"Nothing was banked in {selection.month:%B %Y} to journal. {left_out}".strip(),
                                   field="month")
        return month.journals, month.flags

    @property
    def journals(self) -> list[Journal]:
        return self.built[0]

    @property
    def flags(self) -> list[str]:
        return self.built[1]

    def subject(self) -> str:
        selection = self.selection
        if selection.payout is not None:
            return f"Stripe payout {self.journals[0].reference}"
        if selection.batch is not None:
            return f"paying-in batch {selection.batch}"
        return f"{selection.month:%B %Y}"

    def filename(self) -> str:
        selection = self.selection
        if selection.payout is not None:
            what = self.journals[0].reference
        else:
            what = f"batch-{selection.batch}" if selection.batch is not None else f"{selection.month:%Y-%m}"
        return f"journal-{what}-{self.key}"

    def describe(self) -> str:
        return f"{self.label} for {self.subject()}" + (f" ({self.source})" if self.source else "")

    # --- the layout ---------------------------------------------------------------

    def headings(self) -> list[str]:
        raise NotImplementedError

    def journal_rows(self, journal: Journal) -> list[list]:
        raise NotImplementedError

    def rows(self):
        yield self.headings()
        for journal in self.journals:
            yield from self.journal_rows(journal)

    def _encode(self, rows) -> bytes:
        data = spreadsheets.csv_bytes(rows)
        return data if self.encoding == "utf-8" else data.decode("utf-8").encode(self.encoding, errors="replace")

    def files(self) -> list[tuple[bytes, int]]:
        """The CSV files (each with its header) and their line counts: one file,
        or as many as the package's limits need, each holding whole journals."""
        header = self._encode([self.headings()])
        files, chunks, lines, size = [], [], 0, len(header)
        for journal in self.journals:
            rows = self.journal_rows(journal)
            chunk = self._encode(rows)
            too_many = self.max_lines_per_file is not None and len(rows) > self.max_lines_per_file
            too_big = self.max_bytes_per_file is not None and len(header) + len(chunk) > self.max_bytes_per_file
            if too_many or too_big:
                raise ApplicationError(f"The journal {journal.narration} alone is more than {self.label} takes in "
                                       f"one file; enter it by hand or in parts.")
            if chunks and ((self.max_lines_per_file is not None and lines + len(rows) > self.max_lines_per_file)
                           or (self.max_bytes_per_file is not None and size + len(chunk) > self.max_bytes_per_file)):
                files.append((header + b"".join(chunks), lines))
                chunks, lines, size = [], 0, len(header)
            chunks.append(chunk)
            lines += len(rows)
            size += len(chunk)
        files.append((header + b"".join(chunks), lines))
        return files

    def content(self) -> tuple[bytes, str, int]:
        """The download (a CSV, or a zip of CSVs past the package's limits), its
        extension and how many journal lines it holds."""
        files = self.files()
        count = sum(lines for _data, lines in files)
        if len(files) == 1:
            return files[0][0], "csv", count
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for number, (data, _lines) in enumerate(files, start=1):
                archive.writestr(f"{self.filename()}-{number}-of-{len(files)}.csv", data)
        return buffer.getvalue(), "zip", count

    def make_file(self, file_format: str):
        data, self.extension, count = self.content()
        content_type = "application/zip" if self.extension == "zip" else f"text/csv; charset={self.encoding}"
        return self.fixed_file(data, extension=self.extension, content_type=content_type, count=count)

    def log(self, *, user, file_format: str, count: int) -> None:
        super().log(user=user, file_format=self.extension, count=count)
        FinanceDownload.objects.create(user=user if getattr(user, "is_authenticated", False) else None,
                                       what=self.describe()[:255], exporter=self.name, file_format=self.extension,
                                       rows=count)

    # --- cells ------------------------------------------------------------------------

    @staticmethod
    def uk_date(day: datetime.date) -> str:
        return f"{day:%d/%m/%Y}"

    @staticmethod
    def money(pence: int):
        return spreadsheets.pounds(pence)


class XeroJournalExport(JournalExport):
    name = "journal_xero"
    key = "xero"
    label = "Xero manual journals"
    max_lines_per_file = 300

    def headings(self):
        return ["*Narration", "*Date", "Description", "*AccountCode", "*TaxRate", "*Amount",
                "TrackingName1", "TrackingOption1", "TrackingName2", "TrackingOption2"]

    def journal_rows(self, journal):
        tracking_name = self.chart.tracking_name.strip()
        return [[journal.narration, self.uk_date(journal.date), line.description, line.account_code,
                 self.chart.tax_rate, self.money(line.amount_pence),
                 tracking_name if tracking_name and line.tracking else "",
                 line.tracking if tracking_name else "", "", ""]
                for line in journal.lines]


class SageJournalExport(JournalExport):
    name = "journal_sage"
    key = "sage"
    label = "Sage Accounting journals"
    max_bytes_per_file = 500_000  # Sage: files under 0.5 MB

    def headings(self):
        return ["Reference", "Date", "Description", "Ledger Account Number", "Details", "Debit", "Credit"]

    def journal_rows(self, journal):
        return [[journal.reference[:75], self.uk_date(journal.date), journal.narration[:200], line.account_code,
                 line.description[:200], self.money(line.debit_pence) if line.debit_pence else "",
                 self.money(line.credit_pence) if line.credit_pence else ""]
                for line in journal.lines]


class Sage50JournalExport(JournalExport):
    name = "journal_sage50"
    key = "sage50"
    label = "Sage 50 journals (audit trail transactions)"
    encoding = "cp1252"

    def headings(self):
        return ["Type", "Account Reference", "Nominal A/C Ref", "Department Code", "Date", "Reference", "Details",
                "Net Amount", "Tax Code", "Tax Amount"]

    @cached_property
    def tax_code(self) -> str:
        # The chart's tax rate serves Xero too ("No VAT"); Sage 50 wants its own code.
        code = self.chart.tax_rate.strip().upper()
        return code if re.fullmatch(r"T\d{1,2}", code) else "T9"

    def journal_rows(self, journal):
        return [["JD" if line.amount_pence > 0 else "JC", line.account_code, line.account_code, 0,
                 self.uk_date(journal.date), journal.reference[:30], line.description[:60],
                 self.money(abs(line.amount_pence)), self.tax_code, self.money(0)]
                for line in journal.lines]


class CsvJournalExport(JournalExport):
    name = "journal_csv"
    key = "csv"
    label = "Journals (plain CSV)"

    def headings(self):
        return ["Reference", "Date", "Narration", "Account code", "Account", "Description", "Campaign", "Debit",
                "Credit", "Check"]

    def journal_rows(self, journal):
        return [[journal.reference, journal.date, journal.narration, line.account_code, line.account_label,
                 line.description, line.tracking, self.money(line.debit_pence) if line.debit_pence else "",
                 self.money(line.credit_pence) if line.credit_pence else "",
                 "Posted to a default code" if line.flagged else ""]
                for line in journal.lines]


JOURNAL_EXPORTERS: dict[str, type[JournalExport]] = {
    cls.key: cls for cls in (XeroJournalExport, SageJournalExport, Sage50JournalExport, CsvJournalExport)}
JOURNAL_FORMAT_CHOICES = [("xero", "Xero (manual journals)"), ("sage", "Sage Accounting (journals import)"),
                          ("sage50", "Sage 50 Accounts (audit trail import)"), ("csv", "Plain CSV")]


def parse_month(text: str) -> datetime.date:
    """"2026-12" as the month's first day; ApplicationError for anything else."""
    match = re.fullmatch(r"\s*(\d{4})-(\d{1,2})\s*", text or "")
    if not match or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 1900:
        raise ApplicationError(f"A month is written YYYY-MM, e.g. 2026-12 (not “{text}”).", field="month")
    return datetime.date(int(match.group(1)), int(match.group(2)), 1)


class PayingInBatchesExport(Exporter):
    """Finance → Paying-in batches as a file: every batch, open ones first, with
    its gifts so far against its slip. Finance's alone, as the screen is."""

    name = "paying_in_batches"
    label = "Paying-in batches"
    permission = "finance.view_payinginbatch"
    columns = [
        Column("Batch", "number"),
        Column("Banked", "banking_date"),
        Column("How", "get_method_display"),
        Column("Reference", "reference"),
        Column("Gifts", "gift_count"),
        Column("Gifts on the slip", "expected_count"),
        Column("Gifts total", "gifts_pence", money=True),
        Column("Slip total", "expected_total_pence", money=True),
        Column("Status", "get_status_display"),
        Column("Entered by", lambda batch: batch.entered_by.get_username() if batch.entered_by else ""),
        Column("Opened", "created_at"),
        Column("Closed", "closed_at"),
        Column("Bank credit's date", "bank_line.date"),
    ]

    def items(self):
        return selectors.batches_listed()

    def filename(self) -> str:
        return f"paying-in-batches-{timezone.localdate().isoformat()}"

    def describe(self) -> str:
        return "the list of paying-in batches"


class CampaignIncomeCodesExport(Exporter):
    """Finance → Campaign income codes as a file: every campaign with the code
    and fund its gifts post to (its own, or the fund's default, which journals flag)."""

    name = "campaign_income_codes"
    label = "Campaign income codes"
    permission = "finance.view_campaignledgercode"
    columns = [
        Column("Campaign", lambda row: row[0].name),
        Column("Campaign code", lambda row: row[0].code),
        Column("Income code", lambda row: row[1].code),
        Column("Fund", lambda row: CampaignLedgerCode.Fund(row[1].fund).label),
        Column("Own code", lambda row: row[1].own_code),
    ]

    def items(self):
        chart = ChartOfAccounts.load()
        for campaign in Campaign.objects.select_related("ledger_code").order_by("name", "pk").iterator(
                chunk_size=self.chunk_size):
            yield campaign, journal_services.income_account(campaign, chart, getattr(campaign, "ledger_code", None))

    def filename(self) -> str:
        return f"campaign-income-codes-{timezone.localdate().isoformat()}"

    def describe(self) -> str:
        return "the list of campaigns' income codes"

