"""HMRC's formats for a Gift Aid claim: the schedule (CSV and .ods) and the R68 XML.

A pure module: no database, no models, no settings. Callers pass plain values
(`ScheduleRow`, `ClaimHeader`) and get bytes back; money is integer pence.

Where the formats come from (see each section for the detail):
- the schedule's columns and rules: GOV.UK "Schedule spreadsheet to claim back tax
  on Gift Aid donations" and docs/gift-aid.md;
- the .ods layout: HMRC's own validator of uploaded schedules
  (github.com/hmrc/charities-claims-validation: CommonFileValidation.scala,
  DocumentRow.scala, OdsReaderService.scala), cross-checked against a copy of
  HMRC's template read with openpyxl (peterthomas "gift_aid_schedule_builder");
- the R68 element order: HMRC's R68 schema (hmrc/charities-claims
  conf/xsd/r68-v0-3.xsd) with the r68/2 additions (Donor/Overseas) seen in HMRC's
  own r68/2 messages (hmrc/charities-claims test-chris-submission-1.xml) and in
  thebiggive/hmrc-gift-aid src/GiftAid.php;
- the IRmark: HMRC's published vectors (hmrc/charities-claims
  IRmarkCalculatorSpec.scala), which the tests check against.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import io
import re
import unicodedata
from dataclasses import dataclass

from anyascii import anyascii
from lxml import etree
from odf.number import DateStyle, Day, Month, Number, NumberStyle, Year
from odf.number import Text as NumberText
from odf.opendocument import OpenDocumentSpreadsheet
from odf.style import Style, TableColumnProperties
from odf.table import Table, TableCell, TableColumn, TableRow
from odf.text import P

from config.spreadsheets import csv_bytes

MAX_ROWS_PER_SCHEDULE = 1000

SCHEDULE_COLUMNS = (
    "Title",
    "First name",
    "Last name",
    "House name or number",
    "Postcode",
    "Aggregated donations",
    "Sponsored event",
    "Donation date",
    "Amount",
)

NAME_MAX = 35
TITLE_MAX = 4
HOUSE_MAX = 40
AGGREGATED_MAX = 35
ORG_NAME_MAX = 160
OTHER_INFO_MAX = 350
PHONE_MAX = 30
OVERSEAS_POSTCODE = "X"  # what the schedule shows for a donor living abroad


@dataclass(frozen=True)
class ScheduleRow:
    title: str            # already cleaned with hmrc_title()
    first_name: str       # cleaned with hmrc_name(); "" on an aggregated row
    last_name: str        # cleaned with hmrc_name(); "" on an aggregated row
    house: str            # house name or number; for an overseas donor, the full address (cleaned, <= 40 chars)
    postcode: str         # cleaned with hmrc_postcode(); "" when overseas or aggregated
    overseas: bool
    aggregated: str       # description (<= 35 chars) on an aggregated row, else ""
    sponsored: bool
    date: datetime.date   # the gift's date, or the last gift's date for a series / aggregated row
    amount_pence: int


@dataclass(frozen=True)
class ClaimHeader:
    charity_hmrc_reference: str   # HMRC charities reference, e.g. "AB12345"
    charity_name: str
    regulator: str                # e.g. "CCEW", "OSCR", "CCNI" or ""
    regulator_number: str         # charity registration number
    official_title: str           # the authorised official (for the XML's Authorised Official block)
    official_first_name: str
    official_last_name: str
    official_postcode: str
    official_phone: str
    period_end: datetime.date     # end of the claim period
    earliest_gift_date: datetime.date
    adjustment_pence: int         # tax over-claimed before, to deduct (0 if none)
    other_info: str               # reasons for the adjustment etc. ("" if none)
    sender_id: str                # Government Gateway user id for the GovTalk header ("" when not known)
    sender_password: str          # sent as the GovTalk credentials; may be ""
    vendor_id: str                # HMRC vendor id ("" in test)
    product_name: str             # e.g. "Brightwell"
    product_version: str
    test: bool = True             # GatewayTest 1 for HMRC's test service
    # Small donations (GASDS): (tax year, named by the year it ends; amount in pence) each.
    small_donations: tuple[tuple[int, int], ...] = ()
    connected_charities: bool = False


# --------------------------------------------------------------------------
# Cleaning values into what HMRC accepts
# --------------------------------------------------------------------------

# The R68 schema's surname pattern is [A-Za-z0-9 ,.()/&\-']; hyphens are turned
# into spaces first (HMRC: "House Martin", not "House-Martin").
_NAME_REJECTED = re.compile(r"[^A-Za-z0-9 ,.()/&']")
_SPACES = re.compile(r"\s+")
_POSTCODE_JUNK = re.compile(r"[^A-Z0-9]")
# HMRC's r68_PostCodeType pattern; XSD patterns are anchored, hence fullmatch.
_UK_POSTCODE = re.compile(
    r"(GIR 0AA)|((([A-Z][0-9][0-9]?)|(([A-Z][A-HJ-Y][0-9][0-9]?)|(([A-Z][0-9][A-Z])"
    r"|([A-Z][A-HJ-Y][0-9]?[A-Z])))) [0-9][A-Z]{2})"
)
# Titles too long for HMRC's four characters, and the abbreviation that fits.
_TITLE_ABBREVIATIONS = {
    "professor": "Prof",
    "reverend": "Rev",
    "the reverend": "Rev",
    "revd": "Rev",
    "doctor": "Dr",
    "mister": "Mr",
    "mistress": "Mrs",
    "captain": "Capt",
    "colonel": "Col",
    "major": "Maj",
    "lieutenant": "Lt",
    "sergeant": "Sgt",
    "general": "Gen",
    "councillor": "Cllr",
    "father": "Fr",
    "sister": "Sr",
    "brother": "Br",
}
# Short titles in their usual spelling, so "MRS" and "mrs" both become "Mrs".
_TITLE_SPELLINGS = {
    t.lower(): t
    for t in ("Mr", "Mrs", "Ms", "Miss", "Mx", "Dr", "Prof", "Rev", "Sir", "Dame",
              "Lady", "Lord", "Capt", "Col", "Maj", "Lt", "Sgt", "Gen", "Cllr", "Fr",
              "Sr", "Br")
}


def _plain(value: str) -> str:
    """Accented and non-Latin letters to plain ASCII; symbols (emoji etc.) dropped.

    anyascii would spell an emoji as ":grinning:", which has no place in a name,
    so only letters, marks, numbers, punctuation and spaces are transliterated.
    """
    out = []
    for ch in unicodedata.normalize("NFC", value or ""):
        if ch.isascii():
            out.append(ch if ch.isprintable() else " ")
        elif unicodedata.category(ch)[0] in "LMNPZ":
            out.append(anyascii(ch))
    return "".join(out)


def _squash(value: str) -> str:
    return _SPACES.sub(" ", value).strip()


def _cut(value: str, limit: int) -> str:
    # Cutting can leave a trailing space, which HMRC rejects.
    return value[:limit].strip()


def hmrc_name(value: str) -> str:
    """A first or last name as HMRC takes it: plain letters, hyphen as space, <= 35 chars."""
    text = _plain(value).replace("-", " ")
    text = _NAME_REJECTED.sub("", text)
    return _cut(_squash(text), NAME_MAX)


def hmrc_title(value: str) -> str:
    """A title of at most 4 letters ("Prof", "Rev", "Mrs"); "" when none fits."""
    words = re.sub(r"[^A-Za-z' -]", "", _plain(value)).replace("-", " ")
    key = _squash(words).lower()
    if not key:
        return ""
    if key in _TITLE_SPELLINGS:
        return _TITLE_SPELLINGS[key]
    if key in _TITLE_ABBREVIATIONS:
        return _TITLE_ABBREVIATIONS[key]
    # HMRC's validator wants one word of 2 to 4 characters, starting with a letter.
    if " " not in key and 2 <= len(key) <= TITLE_MAX and key[0].isalpha():
        return key.capitalize()
    return ""


def hmrc_postcode(value: str) -> str:
    """Capitals with one space before the inward code ("sw1a1aa" -> "SW1A 1AA"); "" if blank."""
    compact = _POSTCODE_JUNK.sub("", _plain(value).upper())
    if len(compact) < 5:
        return compact  # too short to split; is_valid_uk_postcode() will say no
    return f"{compact[:-3]} {compact[-3:]}"


def is_valid_uk_postcode(value: str) -> bool:
    """True when `value` (already through hmrc_postcode) matches HMRC's postcode pattern."""
    return bool(value) and len(value) <= 8 and _UK_POSTCODE.fullmatch(value) is not None


def hmrc_house(value: str) -> str:
    """A house name or number (or an overseas address): plain characters, <= 40, stripped."""
    return _cut(_squash(_plain(value)), HOUSE_MAX)


def _hmrc_text(value: str, limit: int) -> str:
    return _cut(_squash(_plain(value)), limit)


def format_amount(pence: int) -> str:
    """950 -> "9.50": pounds with two decimals, no £ sign, never via float."""
    if isinstance(pence, bool) or not isinstance(pence, int):
        raise TypeError(f"amount must be integer pence, got {type(pence).__name__}")
    sign = "-" if pence < 0 else ""
    pounds, rest = divmod(abs(pence), 100)
    return f"{sign}{pounds}.{rest:02d}"


def _schedule_date(day: datetime.date) -> str:
    return day.strftime("%d/%m/%y")


def _iso_date(day: datetime.date) -> str:
    return day.strftime("%Y-%m-%d")


# --------------------------------------------------------------------------
# Rows
# --------------------------------------------------------------------------

def _check_row(row: ScheduleRow) -> None:
    """Refuse a row HMRC would reject outright, rather than write a bad claim."""
    if isinstance(row.amount_pence, bool) or not isinstance(row.amount_pence, int):
        raise TypeError("amount_pence must be an int")
    if row.amount_pence <= 0:
        raise ValueError(f"a Gift Aid row needs a positive amount, got {row.amount_pence}")
    if row.aggregated:
        return
    if not (row.first_name and row.last_name and row.house):
        raise ValueError("a donor row needs a first name, a last name and a house name or number")
    if not row.overseas and not row.postcode:
        raise ValueError("a UK donor row needs a postcode (or mark the donor overseas)")


def schedules(rows: list[ScheduleRow]) -> list[list[ScheduleRow]]:
    """Rows split into schedules of at most MAX_ROWS_PER_SCHEDULE (HMRC's limit per sheet)."""
    return [rows[i:i + MAX_ROWS_PER_SCHEDULE] for i in range(0, len(rows), MAX_ROWS_PER_SCHEDULE)]


def _schedule_values(row: ScheduleRow) -> list[str]:
    """One row as the schedule's nine text values; a field that does not apply is ""."""
    _check_row(row)
    if row.aggregated:
        # HMRC: no name or address on an aggregated row.
        donor = ["", "", "", "", ""]
    else:
        postcode = OVERSEAS_POSTCODE if row.overseas else row.postcode
        donor = [row.title, row.first_name, row.last_name, row.house, postcode]
    values = donor + [
        row.aggregated,
        "Yes" if row.sponsored else "",
        _schedule_date(row.date),
        format_amount(row.amount_pence),
    ]
    return [v.strip() for v in values]


def schedule_csv(rows: list[ScheduleRow]) -> bytes:
    """UTF-8 CSV: the header, then one line per row, HMRC's nine columns in order
    (a cell a spreadsheet would run is escaped, as in every file we write)."""
    return csv_bytes([SCHEDULE_COLUMNS, *(_schedule_values(row) for row in rows)])


# --------------------------------------------------------------------------
# The .ods schedule
#
# HMRC's Gift Aid schedule is one sheet named "R68GAD_V1_00_0_EN"; HMRC's
# validator accepts a sheet whose name starts "R68GAD_V1_00_0" and reads, by
# position (0-based in the Scala, 1-based here):
#   D13  earliest donation date (label "Earliest donation date in the period of
#        claim. (DD/MM/YY)" in D12),
#   D17  the previously over-claimed amount (the "old Gift Aid adjustment"),
#   rows 25-1025, columns B-K: Item, Title, First name, Last name, House name or
#        number, Postcode, Aggregated donations, Sponsored event, Donation date,
#        Amount (headings in row 23 of the template).
# So the sheet keeps column A empty and numbers each row in column B ("Item",
# 1-1000; HMRC's validator rejects a row without it). What HMRC's template shows in
# rows 1-11, the wording of the D16 label and row 24 could not be established;
# those rows are left empty apart from our own labels.
#
# Cells are written one element each (never "number-columns-repeated") because
# HMRC reads D13 and D17 as the fourth table-cell element of the row.
#
# Dates are real date cells (office:value-type="date") with a DD/MM/YY data style,
# and their shown text is DD/MM/YY as well, so a reader of either the value or
# the text (HMRC's reads the text) gets DD/MM/YY; LibreOffice shows and exports
# them as DD/MM/YY (checked with soffice --convert-to csv). Amounts are float
# cells shown with two decimals; the value is written from the pence as text.
# --------------------------------------------------------------------------

SHEET_NAME = "R68GAD_V1_00_0_EN"
SHEET_HEADINGS = ("Item",) + SCHEDULE_COLUMNS
EARLIEST_DATE_LABEL = "Earliest donation date in the period of claim. (DD/MM/YY)"
ADJUSTMENT_LABEL = "Old Gift Aid adjustment (tax over-claimed before, to deduct). Leave blank if none"
EARLIEST_DATE_ROW = 13      # 1-based sheet rows, as a person sees them
ADJUSTMENT_ROW = 17
HEADINGS_ROW = 23
FIRST_DATA_ROW = 25
VALUE_COLUMN = 3            # D, 0-based
FIRST_TABLE_COLUMN = 1      # B, 0-based
_COLUMN_WIDTHS = ("0.3in", "0.5in", "0.6in", "1.3in", "1.3in", "1.8in", "0.9in",
                  "1.8in", "0.9in", "1.0in", "0.9in")


class _OdsStyles:
    """The cell styles the schedule uses, registered once on the document."""

    def __init__(self, doc: OpenDocumentSpreadsheet):
        date_format = DateStyle(name="N_DDMMYY")
        date_format.addElement(Day(style="long"))
        date_format.addElement(NumberText(text="/"))
        date_format.addElement(Month(style="long"))
        date_format.addElement(NumberText(text="/"))
        date_format.addElement(Year(style="short"))
        money_format = NumberStyle(name="N_MONEY")
        money_format.addElement(Number(decimalplaces="2", minintegerdigits="1", grouping="false"))
        doc.automaticstyles.addElement(date_format)
        doc.automaticstyles.addElement(money_format)

        self.date = Style(name="ce_date", family="table-cell", datastylename="N_DDMMYY")
        self.money = Style(name="ce_money", family="table-cell", datastylename="N_MONEY")
        doc.automaticstyles.addElement(self.date)
        doc.automaticstyles.addElement(self.money)
        self.columns = []
        for i, width in enumerate(_COLUMN_WIDTHS):
            column = Style(name=f"co{i + 1}", family="table-column")
            column.addElement(TableColumnProperties(columnwidth=width))
            doc.automaticstyles.addElement(column)
            self.columns.append(column)


def _text_cell(value: str) -> TableCell:
    if not value:
        return TableCell()  # blank, never "0.00" or "n/a"
    cell = TableCell(valuetype="string")
    cell.addElement(P(text=value))
    return cell


def _money_cell(pence: int, styles: _OdsStyles) -> TableCell:
    shown = format_amount(pence)
    cell = TableCell(valuetype="float", value=shown, stylename=styles.money)
    cell.addElement(P(text=shown))
    return cell


def _date_cell(day: datetime.date, styles: _OdsStyles) -> TableCell:
    cell = TableCell(valuetype="date", datevalue=_iso_date(day), stylename=styles.date)
    cell.addElement(P(text=_schedule_date(day)))
    return cell


def _item_cell(number: int) -> TableCell:
    cell = TableCell(valuetype="float", value=str(number))
    cell.addElement(P(text=str(number)))
    return cell


def _sheet_row(cells: list[TableCell]) -> TableRow:
    row = TableRow()
    for cell in cells or [TableCell()]:
        row.addElement(cell)
    return row


def _blank_rows(count: int) -> TableRow:
    row = TableRow(numberrowsrepeated=str(count))
    row.addElement(TableCell())
    return row


def _at_value_column(cell: TableCell) -> list[TableCell]:
    return [TableCell() for _ in range(VALUE_COLUMN)] + [cell]


def _donation_cells(item: int, row: ScheduleRow, styles: _OdsStyles) -> list[TableCell]:
    values = _schedule_values(row)
    cells = [TableCell(), _item_cell(item)]
    cells += [_text_cell(v) for v in values[:7]]
    cells.append(_date_cell(row.date, styles))
    cells.append(_money_cell(row.amount_pence, styles))
    return cells


def _sheet_rows(rows: list[ScheduleRow], earliest_gift_date: datetime.date,
                adjustment_pence: int, styles: _OdsStyles) -> list[TableRow]:
    adjustment = _money_cell(adjustment_pence, styles) if adjustment_pence else TableCell()
    headings = [TableCell()] + [_text_cell(h) for h in SHEET_HEADINGS]
    return [
        _blank_rows(EARLIEST_DATE_ROW - 2),                              # rows 1-11
        _sheet_row(_at_value_column(_text_cell(EARLIEST_DATE_LABEL))),   # row 12
        _sheet_row(_at_value_column(_date_cell(earliest_gift_date, styles))),  # row 13
        _blank_rows(ADJUSTMENT_ROW - EARLIEST_DATE_ROW - 2),             # rows 14-15
        _sheet_row(_at_value_column(_text_cell(ADJUSTMENT_LABEL))),      # row 16
        _sheet_row(_at_value_column(adjustment)),                        # row 17
        _blank_rows(HEADINGS_ROW - ADJUSTMENT_ROW - 1),                  # rows 18-22
        _sheet_row(headings),                                            # row 23
        _blank_rows(FIRST_DATA_ROW - HEADINGS_ROW - 1),                  # row 24
    ] + [_sheet_row(_donation_cells(i, row, styles)) for i, row in enumerate(rows, start=1)]


def schedule_ods(rows: list[ScheduleRow], *, earliest_gift_date: datetime.date,
                 adjustment_pence: int) -> bytes:
    """HMRC's Gift Aid schedule as an OpenDocument spreadsheet (one schedule, <= 1000 rows).

    Raises ValueError past MAX_ROWS_PER_SCHEDULE: HMRC ignores rows beyond it,
    so split with schedules() first.
    """
    if len(rows) > MAX_ROWS_PER_SCHEDULE:
        raise ValueError(f"{len(rows)} rows: a schedule holds at most {MAX_ROWS_PER_SCHEDULE}")
    if adjustment_pence < 0:
        raise ValueError("the adjustment is the tax over-claimed, a positive figure")
    doc = OpenDocumentSpreadsheet()
    styles = _OdsStyles(doc)
    table = Table(name=SHEET_NAME)
    for column_style in styles.columns:
        table.addElement(TableColumn(stylename=column_style))
    for sheet_row in _sheet_rows(rows, earliest_gift_date, adjustment_pence, styles):
        table.addElement(sheet_row)
    doc.spreadsheet.addElement(table)
    buffer = io.BytesIO()
    doc.save(buffer)  # save() closes the zip; write() would leave it unfinished
    return buffer.getvalue()


# --------------------------------------------------------------------------
# The R68 claim as a GovTalk message
#
# Element order follows HMRC's R68 schema (r68-v0-3.xsd, the r68 structure HMRC
# still publishes in hmrc/charities-claims) and the r68/2 messages HMRC itself
# sends:
#   IRheader: Keys, PeriodEnd, DefaultCurrency, IRmark, Sender
#   R68: AuthOfficial(OffName(Ttl?, Fore{1,2}, Sur), OffID(Postcode|Overseas), Phone),
#        Declaration,
#        Claim(OrgName, HMRCref, Regulator?(RegName|OtherReg, RegNo?),
#              Repayment(GAD*, EarliestGAdate, Adjustment?),
#              GASDS?(ConnectedCharities, GASDSClaim(Year, Amount)*, CommBldgs), OtherInfo?)
#   GAD: (Donor(Ttl?, Fore, Sur, House, Postcode|Overseas) | AggDonation),
#        Sponsored?, Date, Total
# GASDS is optional in the schema and left out when there are no small donations
# (HMRC's own service omits it then); its Year is the calendar year in which the
# tax year ends (2026 for 6 April 2025 to 5 April 2026), as the GASDS claim form
# names tax years. Guesses, for want of a field to say otherwise:
# - regulator "" leaves Regulator out (the schema allows that); a name other than
#   CCEW/CCNI/OSCR goes in OtherReg;
# - a blank official_postcode is sent as OffID/Overseas "yes" (the schema needs
#   one of the two, and the header has no overseas flag);
# - the official's forenames go in up to two Fore elements (the schema's
#   pattern allows no space inside one);
# - GovTalk TargetDetails is left out (optional; HMRC's own messages omit it) and
#   CorrelationID is sent empty with Transformation "XML", as the GovTalk
#   libraries for HMRC do.
# The message is indented; the IRmark is computed over the bytes as sent, so the
# indentation inside Body is part of what HMRC hashes, as it must be.
# --------------------------------------------------------------------------

GOVTALK_NS = "http://www.govtalk.gov.uk/CM/envelope"
R68_NS = "http://www.govtalk.gov.uk/taxation/charities/r68/2"
MESSAGE_CLASS = "HMRC-CHAR-CLM"
KNOWN_REGULATORS = ("CCEW", "CCNI", "OSCR")
_XML_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)


def _sub(parent: etree._Element, tag: str, text: str | None = None,
         **attrib: str) -> etree._Element:
    """A child in the parent's namespace."""
    namespace = etree.QName(parent).namespace
    child = etree.SubElement(parent, f"{{{namespace}}}{tag}", attrib)
    if text is not None:
        child.text = text
    return child


def _govtalk_header(root: etree._Element, header: ClaimHeader) -> None:
    head = _sub(root, "Header")
    details = _sub(head, "MessageDetails")
    _sub(details, "Class", MESSAGE_CLASS)
    _sub(details, "Qualifier", "request")
    _sub(details, "Function", "submit")
    _sub(details, "CorrelationID", "")
    _sub(details, "Transformation", "XML")
    if header.test:
        _sub(details, "GatewayTest", "1")
    auth = _sub(_sub(head, "SenderDetails"), "IDAuthentication")
    _sub(auth, "SenderID", header.sender_id)
    credentials = _sub(auth, "Authentication")
    _sub(credentials, "Method", "clear")
    _sub(credentials, "Role", "principal")
    _sub(credentials, "Value", header.sender_password)


def _govtalk_details(root: etree._Element, header: ClaimHeader) -> None:
    details = _sub(root, "GovTalkDetails")
    _sub(_sub(details, "Keys"), "Key", _charity_reference(header), Type="CHARID")
    channel = _sub(_sub(details, "ChannelRouting"), "Channel")
    _sub(channel, "URI", header.vendor_id)
    _sub(channel, "Product", header.product_name)
    _sub(channel, "Version", header.product_version)


def _charity_reference(header: ClaimHeader) -> str:
    return header.charity_hmrc_reference.strip().upper()


def _ir_header(envelope: etree._Element, header: ClaimHeader) -> None:
    ir_header = _sub(envelope, "IRheader")
    _sub(_sub(ir_header, "Keys"), "Key", _charity_reference(header), Type="CHARID")
    _sub(ir_header, "PeriodEnd", _iso_date(header.period_end))
    _sub(ir_header, "DefaultCurrency", "GBP")
    _sub(ir_header, "IRmark", "", Type="generic")  # filled in once the body is final
    _sub(ir_header, "Sender", "Individual")


def _official_forenames(value: str) -> list[str]:
    """Up to two Fore values; HMRC's pattern for each is [A-Za-z][A-Za-z'-]*."""
    words = [re.sub(r"[^A-Za-z'-]", "", w) for w in _plain(value).split()]
    words = [w.lstrip("'-") for w in words]
    return [w[:NAME_MAX] for w in words if w][:2]


def _phone(value: str) -> str:
    """HMRC allows digits, spaces, brackets and hyphens; "+44" becomes "0044"."""
    text = _plain(value).strip()
    if text.startswith("+"):
        text = "00" + text[1:]
    return _cut(_squash(re.sub(r"[^0-9()\- ]", "", text)), PHONE_MAX)


def _auth_official(r68: etree._Element, header: ClaimHeader) -> None:
    official = _sub(r68, "AuthOfficial")
    name = _sub(official, "OffName")
    title = hmrc_title(header.official_title)
    if title:
        _sub(name, "Ttl", title)
    for forename in _official_forenames(header.official_first_name):
        _sub(name, "Fore", forename)
    _sub(name, "Sur", hmrc_name(header.official_last_name))
    off_id = _sub(official, "OffID")
    postcode = hmrc_postcode(header.official_postcode)
    if postcode:
        _sub(off_id, "Postcode", postcode)
    else:
        _sub(off_id, "Overseas", "yes")
    _sub(official, "Phone", _phone(header.official_phone))


def _regulator(claim: etree._Element, header: ClaimHeader) -> None:
    name = header.regulator.strip()
    if not name:
        return
    regulator = _sub(claim, "Regulator")
    if name.upper() in KNOWN_REGULATORS:
        _sub(regulator, "RegName", name.upper())
    else:
        _sub(regulator, "OtherReg", _hmrc_text(name, ORG_NAME_MAX))
    number = _hmrc_text(header.regulator_number, 20)
    if number:
        _sub(regulator, "RegNo", number)


def _gad(repayment: etree._Element, row: ScheduleRow) -> None:
    _check_row(row)
    gad = _sub(repayment, "GAD")
    if row.aggregated:
        _sub(gad, "AggDonation", row.aggregated)
    else:
        donor = _sub(gad, "Donor")
        if row.title:
            _sub(donor, "Ttl", row.title)
        _sub(donor, "Fore", row.first_name)
        _sub(donor, "Sur", row.last_name)
        _sub(donor, "House", row.house)
        if row.overseas:
            _sub(donor, "Overseas", "yes")
        else:
            _sub(donor, "Postcode", row.postcode)
    if row.sponsored:
        _sub(gad, "Sponsored", "yes")
    _sub(gad, "Date", _iso_date(row.date))
    _sub(gad, "Total", format_amount(row.amount_pence))


def _claim(r68: etree._Element, header: ClaimHeader, rows: list[ScheduleRow]) -> None:
    claim = _sub(r68, "Claim")
    _sub(claim, "OrgName", _hmrc_text(header.charity_name, ORG_NAME_MAX))
    _sub(claim, "HMRCref", _charity_reference(header))
    _regulator(claim, header)
    repayment = _sub(claim, "Repayment")
    for row in rows:
        _gad(repayment, row)
    _sub(repayment, "EarliestGAdate", _iso_date(header.earliest_gift_date))
    if header.adjustment_pence > 0:
        _sub(repayment, "Adjustment", format_amount(header.adjustment_pence))
    if header.small_donations:
        _gasds(claim, header)
    other_info = _hmrc_text(header.other_info, OTHER_INFO_MAX)
    if other_info:
        _sub(claim, "OtherInfo", other_info)


def _gasds(claim: etree._Element, header: ClaimHeader) -> None:
    """The Gift Aid Small Donations Scheme part: the small donations of each tax year.
    Community buildings are not claimed here (they need each building's details)."""
    gasds = _sub(claim, "GASDS")
    _sub(gasds, "ConnectedCharities", "yes" if header.connected_charities else "no")
    for year, pence in header.small_donations:
        item = _sub(gasds, "GASDSClaim")
        _sub(item, "Year", str(year))
        _sub(item, "Amount", format_amount(pence))
    _sub(gasds, "CommBldgs", "no")


def _ir_envelope(body: etree._Element, header: ClaimHeader, rows: list[ScheduleRow]) -> None:
    envelope = etree.SubElement(body, f"{{{R68_NS}}}IRenvelope", nsmap={None: R68_NS})
    _ir_header(envelope, header)
    r68 = _sub(envelope, "R68")
    _auth_official(r68, header)
    _sub(r68, "Declaration", "yes")
    _claim(r68, header, rows)


def _serialise(root: etree._Element, *, pretty: bool) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=pretty)


def r68_xml(header: ClaimHeader, rows: list[ScheduleRow]) -> bytes:
    """The whole GovTalk message for an R68 claim, with its IRmark filled in (UTF-8)."""
    if header.adjustment_pence < 0:
        raise ValueError("the adjustment is the tax over-claimed, a positive figure")
    root = etree.Element(f"{{{GOVTALK_NS}}}GovTalkMessage", nsmap={None: GOVTALK_NS})
    _sub(root, "EnvelopeVersion", "2.0")
    _govtalk_header(root, header)
    _govtalk_details(root, header)
    _ir_envelope(_sub(root, "Body"), header, rows)
    # Indent first, then hash those exact bytes: re-parsing keeps the whitespace,
    # so setting the IRmark's text changes nothing that is hashed.
    draft = _serialise(root, pretty=True)
    final = etree.fromstring(draft, _XML_PARSER)
    final.find(f".//{{{R68_NS}}}IRmark").text = irmark(draft)
    return _serialise(final, pretty=False)


def _remove_keeping_whitespace(element: etree._Element) -> None:
    """Remove an element as a DOM would: the text around it stays where it was."""
    parent = element.getparent()
    previous = element.getprevious()
    if element.tail:
        if previous is not None:
            previous.tail = (previous.tail or "") + element.tail
        else:
            parent.text = (parent.text or "") + element.tail
    parent.remove(element)


def irmark(xml: bytes) -> str:
    """HMRC's IRmark of a GovTalk message: base64 SHA-1 of the C14N Body without IRmark.

    Inclusive C14N 1.0 without comments of the Body element, in its GovTalk
    namespace context (in-scope namespace declarations are written on Body), with
    every IRmark element inside it removed, so a message that already carries its
    IRmark gives the same value.
    """
    root = etree.fromstring(xml, _XML_PARSER)
    body = root.find(f"{{{GOVTALK_NS}}}Body")
    if body is None:
        raise ValueError("no GovTalk Body element to mark")
    for mark in list(body.iter("{*}IRmark")):
        _remove_keeping_whitespace(mark)
    canonical = etree.tostring(body, method="c14n", exclusive=False, with_comments=False)
    return base64.b64encode(hashlib.sha1(canonical).digest()).decode("ascii")
