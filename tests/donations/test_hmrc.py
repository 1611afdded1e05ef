"""HMRC's formats for a Gift Aid claim (donations/hmrc.py): cleaning names and
postcodes, the schedule as CSV and .ods, the R68 GovTalk message and its IRmark.

Pure functions, so no database. The IRmark is checked against HMRC's own published
vectors (hmrc/charities-claims, Apache-2.0: test-chris-submission-1-flat.xml and
test-irmark-*.xml with the values asserted in IRmarkCalculatorSpec.scala).
"""

import csv
import dataclasses
import datetime
import io
import shutil
import subprocess

import pytest
from lxml import etree
from odf import teletype
from odf.opendocument import load
from odf.table import Table, TableCell, TableRow

from donations import hmrc
from donations.hmrc import (
    MAX_ROWS_PER_SCHEDULE,
    SCHEDULE_COLUMNS,
    ClaimHeader,
    ScheduleRow,
    format_amount,
    hmrc_house,
    hmrc_name,
    hmrc_postcode,
    hmrc_title,
    irmark,
    is_valid_uk_postcode,
    r68_xml,
    schedule_csv,
    schedule_ods,
    schedules,
)

GT = "http://www.govtalk.gov.uk/CM/envelope"
R68 = "http://www.govtalk.gov.uk/taxation/charities/r68/2"
NS = {"gt": GT, "r": R68}


@pytest.fixture(autouse=True)
def _every_gift_test_talks_to_local_stripe():
    """These tests are pure: override tests/donations' autouse local-Stripe fixture."""
    return None


# --------------------------------------------------------------------------
# Fixed data
# --------------------------------------------------------------------------

UK_ROW = ScheduleRow(
    title="Mrs", first_name="Zoe", last_name="Smith Jones", house="12", postcode="SW1A 1AA",
    overseas=False, aggregated="", sponsored=False, date=datetime.date(2024, 4, 6), amount_pence=950,
)
OVERSEAS_ROW = ScheduleRow(
    title="", first_name="Jose", last_name="Odegaard", house="25 Rue de la Paix 75002 Paris France",
    postcode="", overseas=True, aggregated="", sponsored=False, date=datetime.date(2024, 5, 1),
    amount_pence=1000,
)
AGGREGATED_ROW = ScheduleRow(
    title="", first_name="", last_name="", house="", postcode="", overseas=False,
    aggregated="Sunday collection April", sponsored=False, date=datetime.date(2024, 4, 28),
    amount_pence=100000,
)
SPONSORED_ROW = ScheduleRow(
    title="Rev", first_name="Sian", last_name="O'Brien", house="Rose Cottage", postcode="CF10 1AA",
    overseas=False, aggregated="", sponsored=True, date=datetime.date(2024, 12, 31), amount_pence=5,
)
ROWS = [UK_ROW, OVERSEAS_ROW, AGGREGATED_ROW, SPONSORED_ROW]

HEADER = ClaimHeader(
    charity_hmrc_reference="AB12345", charity_name="Brightwell Trust", regulator="CCEW",
    regulator_number="1234567", official_title="Dr", official_first_name="Mary Ann",
    official_last_name="Khan", official_postcode="SW1A 2AA", official_phone="020 7946 0000",
    period_end=datetime.date(2024, 12, 31), earliest_gift_date=datetime.date(2024, 4, 6),
    adjustment_pence=2500, other_info="Refund of a 100.00 gift claimed in March",
    sender_id="323412300001", sender_password="testing1", vendor_id="8205",
    product_name="Brightwell", product_version="1.0", test=True,
)

# Our own fixed claim's IRmark: it changes only if the Body's bytes change.
FIXED_IRMARK = "lGMowVeoHLBIj5Xpe1tObvqmmks="

# HMRC's published sample, a whole GovTalk message with its IRmark
# (hmrc/charities-claims test/resources/test-chris-submission-1-flat.xml).
HMRC_SAMPLE_MESSAGE = (
    b"<?xml version='1.0' encoding='UTF-8'?><GovTalkMessage xmlns=\"http://www.govtalk.gov.uk/CM/envelope\">"
    b"<EnvelopeVersion>2.0</EnvelopeVersion><Header><MessageDetails><Class>HMRC-CHAR-CLM</Class>"
    b"<Qualifier>request</Qualifier><Function>submit</Function>"
    b"<CorrelationID>D240212BD8464107966120F5B312BA63</CorrelationID>"
    b"<GatewayTimestamp>2025-11-06T14:58:32.486</GatewayTimestamp></MessageDetails><SenderDetails></SenderDetails>"
    b"</Header><GovTalkDetails><Keys><Key Type=\"CredentialID\">authorityOrg1</Key><Key Type=\"CHARID\">XR4010</Key>"
    b"<Key Type=\"SessionID\">session-7dd01275-60b7-47fd-b08f-ab834ce94555</Key></Keys><ChannelRouting><Channel>"
    b"<URI>9998</URI><Product>Charities Portal</Product><Version>1.0</Version></Channel></ChannelRouting>"
    b"</GovTalkDetails><Body><IRenvelope xmlns=\"http://www.govtalk.gov.uk/taxation/charities/r68/2\"><IRheader>"
    b"<Keys><Key Type=\"CHARID\">XR4010</Key></Keys><PeriodEnd>2012-01-01</PeriodEnd>"
    b"<IRmark Type=\"generic\">oCHbGp+XAIi/AYdxWxLNLMmbEno=</IRmark><Sender>Other</Sender></IRheader><R68>"
    b"<AuthOfficial><Trustee>Joe Bloggs</Trustee><OffID><Postcode>AB12 3YZ</Postcode></OffID>"
    b"<Phone>07777777777</Phone></AuthOfficial><Declaration>yes</Declaration><Claim><OrgName>CHARITY TC088</OrgName>"
    b"<HMRCref>XR4010</HMRCref><Regulator><RegName>CCEW</RegName><RegNo>1234</RegNo></Regulator><Repayment><GAD>"
    b"<Donor><Ttl>Mr</Ttl><Fore>John</Fore><Sur>Smith</Sur><House>100 Champs Elysees, Paris</House>"
    b"<Overseas>yes</Overseas></Donor><Date>2025-01-02</Date><Total>250.00</Total></GAD>"
    b"<EarliestGAdate>2025-01-01</EarliestGAdate></Repayment><OtherInfo>def</OtherInfo></Claim></R68>"
    b"</IRenvelope></Body></GovTalkMessage>"
)

# HMRC's test-irmark-1.xml: a Body with odd spacing inside tags ("<Key  Type"),
# which only canonicalisation evens out; HMRC's C14N hash is KIYp...
HMRC_BODY_1 = """<Body xmlns="http://www.govtalk.gov.uk/CM/envelope" >
<IRenvelope xmlns="http://www.govtalk.gov.uk/taxation/charities/r68/2" >
<IRheader >
<Keys >
<Key  Type="CHARID" >XR4010</Key >
</Keys >
<PeriodEnd >2012-01-01</PeriodEnd >
<Sender >Other</Sender >
</IRheader >
<R68 >
<AuthOfficial >
<Trustee >Joe Bloggs</Trustee >
<ClaimNo >CHR-DS-029</ClaimNo >
<OffID >
<Postcode >AB12 3YZ</Postcode >
</OffID >
<Phone >07777777777</Phone >
</AuthOfficial >
<Declaration >yes</Declaration >
<Claim >
<OrgName >CHARITY TC088</OrgName >
<HMRCref >XR4010</HMRCref >
<Regulator >
<RegName >CCNI</RegName >
<RegNo >1137948</RegNo >
</Regulator >
<Repayment >
<OtherInc >
<Payer >Joe Bloggs</Payer >
<OIDate >2025-01-01</OIDate >
<Gross >100.00</Gross >
<Tax >20.00</Tax >
</OtherInc >
<OtherInc >
<Payer >Imogen Smith</Payer >
<OIDate >2025-02-02</OIDate >
<Gross >157.66</Gross >
<Tax >31.53</Tax >
</OtherInc >
<OtherInc >
<Payer >Paul Robinson</Payer >
<OIDate >2025-03-03</OIDate >
<Gross >45222.78</Gross >
<Tax >9044.56</Tax >
</OtherInc >
<Adjustment >123.45</Adjustment >
</Repayment >
<OtherInfo >Blah Blah</OtherInfo >
</Claim >
</R68 >
</IRenvelope >
</Body >"""

# HMRC's test-irmark-3.xml (already canonical): RXvO...
HMRC_BODY_3 = (
    '<Body xmlns="http://www.govtalk.gov.uk/CM/envelope"><IRenvelope xmlns="http://www.govtalk.gov.uk/taxation/'
    'charities/r68/2"><IRheader><Keys><Key Type="CHARID">CH1234</Key></Keys><PeriodEnd>2012-01-01</PeriodEnd>'
    '<Sender>Other</Sender></IRheader><R68><AgtOrNom><OrgName>MR B BANANA</OrgName><RefNo>95100000001295</RefNo>'
    '<ClaimNo>CHR-DS-029</ClaimNo><AoNID><Overseas>yes</Overseas></AoNID><Phone>07777777777</Phone></AgtOrNom>'
    '<Declaration>yes</Declaration><Claim><OrgName>DFFE</OrgName><HMRCref>CH1234</HMRCref><Repayment><GAD><Donor>'
    '<Ttl>Prof</Ttl><Fore>Henry</Fore><Sur>House Martin</Sur><House>152A</House><Postcode>M99 2QD</Postcode>'
    '</Donor><Date>2025-03-24</Date><Total>240.00</Total></GAD><GAD><Donor><Ttl>Mr</Ttl><Fore>John</Fore>'
    '<Sur>Smith</Sur><House>100 Champs Elysees, Paris</House><Overseas>yes</Overseas></Donor><Date>2025-06-24'
    '</Date><Total>250.00</Total></GAD><GAD><AggDonation>One off Gift Aid donations</AggDonation><Date>2025-03-31'
    '</Date><Total>880.00</Total></GAD><GAD><Donor><Ttl>Miss</Ttl><Fore>B</Fore><Sur>Chaudry</Sur><House>21'
    '</House><Postcode>L43 4FB</Postcode></Donor><Sponsored>yes</Sponsored><Date>2025-04-26</Date>'
    '<Total>4000.00</Total></GAD><EarliestGAdate>2025-01-01</EarliestGAdate></Repayment></Claim></R68>'
    '</IRenvelope></Body>'
)


def _in_message(body: str) -> bytes:
    return f'<GovTalkMessage xmlns="{GT}"><EnvelopeVersion>2.0</EnvelopeVersion>{body}</GovTalkMessage>'.encode()


def _children(element) -> list[str]:
    return [etree.QName(child).localname for child in element]


def _parse(xml: bytes):
    return etree.fromstring(xml)


# --------------------------------------------------------------------------
# Cleaning
# --------------------------------------------------------------------------

@pytest.mark.parametrize("raw, clean", [
    ("O'Brien", "O'Brien"),
    ("D\u2019Arcy", "D'Arcy"),                 # a typographic apostrophe becomes a plain one
    ("Smith-Jones", "Smith Jones"),
    ("House-Martin", "House Martin"),
    ("Zo\u00eb", "Zoe"),
    ("Si\u00e2n", "Sian"),
    ("Jos\u00e9", "Jose"),
    ("\u00d8degaard", "Odegaard"),
    ("  Mary   Ann  ", "Mary Ann"),
    ("Bob\U0001F600!", "Bob"),                  # no emoji, no "!"
    ("", ""),
])
def test_names_are_plain_letters_with_apostrophes_kept_and_hyphens_as_spaces(raw, clean):
    assert hmrc_name(raw) == clean


def test_long_names_are_cut_at_35_without_a_trailing_space():
    assert hmrc_name("A" * 50) == "A" * 35
    cut = hmrc_name("Wolfeschlegelsteinhausen-Bergerdorff Senior")
    assert cut == "Wolfeschlegelsteinhausen Bergerdorf"
    assert len(cut) == 35
    assert hmrc_name("A" * 34 + " Bcd") == "A" * 34   # the cut lands after a space


@pytest.mark.parametrize("raw, clean", [
    ("Mr", "Mr"), ("MRS", "Mrs"), ("ms", "Ms"), ("Miss", "Miss"), ("Dr.", "Dr"),
    ("Professor", "Prof"), ("Reverend", "Rev"), ("The Reverend", "Rev"), ("Doctor", "Dr"),
    ("Prof", "Prof"), ("Sir", "Sir"), ("Dame", "Dame"),
    ("Baroness", ""), ("Rev Dr", ""), ("M", ""), ("", ""),
])
def test_titles_fit_four_characters_or_are_left_out(raw, clean):
    assert hmrc_title(raw) == clean
    assert len(hmrc_title(raw)) <= 4


@pytest.mark.parametrize("raw, clean", [
    ("sw1a1aa", "SW1A 1AA"), (" sw1a 1aa ", "SW1A 1AA"), ("m1  1ae", "M1 1AE"),
    ("S19 2BD", "S19 2BD"), ("cf10-1aa", "CF10 1AA"), ("", ""), ("   ", ""),
])
def test_postcodes_are_capitals_with_one_space(raw, clean):
    assert hmrc_postcode(raw) == clean


@pytest.mark.parametrize("postcode, valid", [
    ("SW1A 1AA", True), ("M1 1AE", True), ("B33 8TH", True), ("CR2 6XH", True),
    ("DN55 1PT", True), ("GIR 0AA", True), ("S19 2BD", True),
    ("SW1A1AA", False), ("sw1a 1aa", False), ("AI1 1AA", False), ("X", False), ("", False),
    ("SW1A  1AA", False),
])
def test_uk_postcode_pattern_is_hmrcs(postcode, valid):
    assert is_valid_uk_postcode(postcode) is valid


def test_house_is_plain_stripped_and_at_most_40():
    assert hmrc_house("  Ty\u0302 Gwyn  ") == "Ty Gwyn"
    assert hmrc_house("Flat 3,   Caf\u00e9 House") == "Flat 3, Cafe House"
    assert hmrc_house("1 Rue de la Paix, 75002 Paris, France, Europe") == "1 Rue de la Paix, 75002 Paris, France, E"
    assert hmrc_house("A" * 39 + " Bcd") == "A" * 39      # the cut lands on a space, which goes


@pytest.mark.parametrize("pence, shown", [
    (950, "9.50"), (5, "0.05"), (100, "1.00"), (100000, "1000.00"), (123456789, "1234567.89"), (0, "0.00"),
])
def test_amounts_have_two_decimals_and_no_pound_sign(pence, shown):
    assert format_amount(pence) == shown


def test_amounts_refuse_floats():
    with pytest.raises(TypeError):
        format_amount(9.5)
    with pytest.raises(TypeError):
        format_amount(True)


# --------------------------------------------------------------------------
# Schedules
# --------------------------------------------------------------------------

def _numbered(count: int) -> list[ScheduleRow]:
    return [dataclasses.replace(UK_ROW, amount_pence=100 + i) for i in range(count)]


def test_2500_rows_make_schedules_of_1000_1000_and_500_in_order():
    rows = _numbered(2500)
    parts = schedules(rows)
    assert [len(p) for p in parts] == [1000, 1000, 500]
    assert [r for part in parts for r in part] == rows


def test_schedules_edges():
    assert schedules([]) == []
    assert [len(p) for p in schedules(_numbered(MAX_ROWS_PER_SCHEDULE))] == [1000]
    assert [len(p) for p in schedules(_numbered(1001))] == [1000, 1]


EXPECTED_ROWS = [
    ["Mrs", "Zoe", "Smith Jones", "12", "SW1A 1AA", "", "", "06/04/24", "9.50"],
    ["", "Jose", "Odegaard", "25 Rue de la Paix 75002 Paris France", "X", "", "", "01/05/24", "10.00"],
    ["", "", "", "", "", "Sunday collection April", "", "28/04/24", "1000.00"],
    ["Rev", "Sian", "O'Brien", "Rose Cottage", "CF10 1AA", "", "Yes", "31/12/24", "0.05"],
]


def test_csv_reads_back_as_hmrcs_nine_columns():
    data = schedule_csv(ROWS)
    lines = list(csv.reader(io.StringIO(data.decode("utf-8"))))
    assert lines[0] == list(SCHEDULE_COLUMNS) == [
        "Title", "First name", "Last name", "House name or number", "Postcode",
        "Aggregated donations", "Sponsored event", "Donation date", "Amount",
    ]
    assert lines[1:] == EXPECTED_ROWS


def test_csv_has_no_blank_rows_no_padding_and_no_placeholders():
    text = schedule_csv(ROWS).decode("utf-8")
    lines = list(csv.reader(io.StringIO(text)))
    assert all(any(cell for cell in line) for line in lines)
    for line in lines:
        for cell in line:
            assert cell == cell.strip()
            assert cell not in ("0.00", "n/a", "N/A")
    assert "\u00a3" not in text


def test_csv_keeps_utf8_and_quotes_commas():
    row = dataclasses.replace(UK_ROW, house="Flat 2, The Mews")
    lines = list(csv.reader(io.StringIO(schedule_csv([row]).decode("utf-8"))))
    assert lines[1][3] == "Flat 2, The Mews"


def test_csv_escapes_a_house_a_spreadsheet_would_run():
    row = dataclasses.replace(UK_ROW, house='=HYPERLINK("http://evil.example")')
    lines = list(csv.reader(io.StringIO(schedule_csv([row]).decode("utf-8"))))
    assert lines[1][3] == "'=HYPERLINK(\"http://evil.example\")"


def test_an_aggregated_row_never_shows_a_name_or_address():
    stray = dataclasses.replace(AGGREGATED_ROW, first_name="Ann", last_name="Lee", house="3", postcode="M1 1AE")
    line = list(csv.reader(io.StringIO(schedule_csv([stray]).decode())))[1]
    assert line[:5] == ["", "", "", "", ""]
    assert line[5] == "Sunday collection April"


def test_rows_hmrc_would_reject_are_refused():
    with pytest.raises(ValueError):
        schedule_csv([dataclasses.replace(UK_ROW, postcode="")])        # UK donor without postcode
    with pytest.raises(ValueError):
        schedule_csv([dataclasses.replace(UK_ROW, amount_pence=0)])
    with pytest.raises(ValueError):
        schedule_csv([dataclasses.replace(UK_ROW, first_name="")])
    with pytest.raises(TypeError):
        schedule_csv([dataclasses.replace(UK_ROW, amount_pence=9.5)])


# --------------------------------------------------------------------------
# .ods
# --------------------------------------------------------------------------

def _ods_sheet(data: bytes):
    """(sheet name, rows of cells) with repeated rows expanded, as HMRC's reader does."""
    doc = load(io.BytesIO(data))
    tables = doc.spreadsheet.getElementsByType(Table)
    assert len(tables) == 1
    rows = []
    for row in tables[0].getElementsByType(TableRow):
        cells = row.getElementsByType(TableCell)
        assert all(not c.getAttribute("numbercolumnsrepeated") for c in cells)
        rows.extend([cells] * int(row.getAttribute("numberrowsrepeated") or 1))
    return tables[0].getAttribute("name"), rows


def _texts(cells) -> list[str]:
    return [teletype.extractText(cell) for cell in cells]


def _ods(rows=ROWS, adjustment_pence=2500):
    return schedule_ods(rows, earliest_gift_date=datetime.date(2024, 4, 6), adjustment_pence=adjustment_pence)


def test_ods_is_hmrcs_sheet_with_header_then_rows_in_column_order():
    name, rows = _ods_sheet(_ods())
    assert name == "R68GAD_V1_00_0_EN"
    assert _texts(rows[22]) == ["", "Item"] + list(SCHEDULE_COLUMNS)      # row 23, B-K
    assert all(_texts(r) == [""] for r in rows[23:24])                    # row 24
    data = rows[24:]                                                      # from row 25
    assert len(data) == len(ROWS)
    assert [_texts(r)[1] for r in data] == ["1", "2", "3", "4"]
    assert [_texts(r)[2:] for r in data] == EXPECTED_ROWS
    assert [_texts(r)[0] for r in data] == ["", "", "", ""]                # column A stays empty


def test_ods_earliest_date_and_adjustment_sit_where_hmrc_reads_them():
    _, rows = _ods_sheet(_ods())
    assert _texts(rows[11])[3] == "Earliest donation date in the period of claim. (DD/MM/YY)"   # D12
    earliest = rows[12][3]                                                                  # D13
    assert teletype.extractText(earliest) == "06/04/24"
    assert earliest.getAttribute("valuetype") == "date"
    assert earliest.getAttribute("datevalue") == "2024-04-06"
    assert "adjustment" in _texts(rows[15])[3].lower()                                     # D16
    adjustment = rows[16][3]                                                                # D17
    assert teletype.extractText(adjustment) == "25.00"
    assert adjustment.getAttribute("valuetype") == "float"
    assert adjustment.getAttribute("value") == "25.00"
    assert all(not any(_texts(r)) for r in rows[:11])


def test_ods_without_adjustment_leaves_it_blank():
    _, rows = _ods_sheet(_ods(adjustment_pence=0))
    assert _texts(rows[16]) == ["", "", "", ""]
    assert not rows[16][3].getAttribute("valuetype")


def test_ods_amounts_are_numbers_with_two_decimals_and_dates_are_dates():
    _, rows = _ods_sheet(_ods())
    for row, expected in zip(rows[24:], EXPECTED_ROWS):
        amount, date = row[10], row[9]
        assert amount.getAttribute("valuetype") == "float"
        assert amount.getAttribute("value") == expected[8]
        assert teletype.extractText(amount) == expected[8]
        assert date.getAttribute("valuetype") == "date"
        assert teletype.extractText(date) == expected[7]
    blanks = [c for r in rows[24:] for c in r if not teletype.extractText(c)]
    assert all(not c.getAttribute("valuetype") for c in blanks)   # blank means empty, not 0


def test_ods_holds_at_most_one_schedule():
    _, rows = _ods_sheet(_ods(_numbered(MAX_ROWS_PER_SCHEDULE)))
    assert len(rows) == 24 + 1000
    assert _texts(rows[-1])[1] == "1000"
    with pytest.raises(ValueError):
        _ods(_numbered(MAX_ROWS_PER_SCHEDULE + 1))


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) is not installed")
def test_libreoffice_opens_the_ods_and_shows_hmrcs_formats(tmp_path):
    source = tmp_path / "schedule.ods"
    source.write_bytes(_ods())
    subprocess.run(
        ["soffice", f"-env:UserInstallation=file://{tmp_path}/profile", "--headless",
         "--convert-to", "csv:Text - txt - csv (StarCalc):44,34,76,1", "--outdir", str(tmp_path), str(source)],
        check=True, capture_output=True, timeout=180,
    )
    lines = list(csv.reader(io.StringIO((tmp_path / "schedule.csv").read_text("utf-8"))))
    assert lines[12][3] == "06/04/24"
    assert lines[16][3] == "25.00"
    assert lines[22][1:] == ["Item"] + list(SCHEDULE_COLUMNS)
    assert [line[2:] for line in lines[24:]] == EXPECTED_ROWS


# --------------------------------------------------------------------------
# R68 XML
# --------------------------------------------------------------------------

def test_govtalk_header_is_in_order():
    root = _parse(r68_xml(HEADER, ROWS))
    assert etree.QName(root).namespace == GT
    assert _children(root) == ["EnvelopeVersion", "Header", "GovTalkDetails", "Body"]
    assert root.findtext("gt:EnvelopeVersion", namespaces=NS) == "2.0"
    details = root.find("gt:Header/gt:MessageDetails", NS)
    assert _children(details) == ["Class", "Qualifier", "Function", "CorrelationID", "Transformation", "GatewayTest"]
    assert [c.text or "" for c in details] == ["HMRC-CHAR-CLM", "request", "submit", "", "XML", "1"]
    auth = root.find("gt:Header/gt:SenderDetails/gt:IDAuthentication", NS)
    assert auth.findtext("gt:SenderID", namespaces=NS) == "323412300001"
    assert [c.text for c in auth.find("gt:Authentication", NS)] == ["clear", "principal", "testing1"]
    talk = root.find("gt:GovTalkDetails", NS)
    assert _children(talk) == ["Keys", "ChannelRouting"]
    key = talk.find("gt:Keys/gt:Key", NS)
    assert (key.get("Type"), key.text) == ("CHARID", "AB12345")
    assert [c.text for c in talk.find("gt:ChannelRouting/gt:Channel", NS)] == ["8205", "Brightwell", "1.0"]


def test_live_claims_have_no_gateway_test_flag():
    root = _parse(r68_xml(dataclasses.replace(HEADER, test=False), ROWS))
    assert root.find("gt:Header/gt:MessageDetails/gt:GatewayTest", NS) is None


def test_ir_header_and_r68_are_in_schema_order():
    root = _parse(r68_xml(HEADER, ROWS))
    envelope = root.find("gt:Body/r:IRenvelope", NS)
    assert _children(envelope) == ["IRheader", "R68"]
    ir_header = envelope.find("r:IRheader", NS)
    assert _children(ir_header) == ["Keys", "PeriodEnd", "DefaultCurrency", "IRmark", "Sender"]
    assert ir_header.findtext("r:Keys/r:Key", namespaces=NS) == "AB12345"
    assert ir_header.findtext("r:PeriodEnd", namespaces=NS) == "2024-12-31"
    assert ir_header.findtext("r:DefaultCurrency", namespaces=NS) == "GBP"
    assert ir_header.find("r:IRmark", NS).get("Type") == "generic"
    assert ir_header.findtext("r:Sender", namespaces=NS) == "Individual"

    r68 = envelope.find("r:R68", NS)
    assert _children(r68) == ["AuthOfficial", "Declaration", "Claim"]
    official = r68.find("r:AuthOfficial", NS)
    assert _children(official) == ["OffName", "OffID", "Phone"]
    assert _children(official.find("r:OffName", NS)) == ["Ttl", "Fore", "Fore", "Sur"]
    assert [c.text for c in official.find("r:OffName", NS)] == ["Dr", "Mary", "Ann", "Khan"]
    assert official.findtext("r:OffID/r:Postcode", namespaces=NS) == "SW1A 2AA"
    assert official.findtext("r:Phone", namespaces=NS) == "020 7946 0000"
    assert r68.findtext("r:Declaration", namespaces=NS) == "yes"

    claim = r68.find("r:Claim", NS)
    assert _children(claim) == ["OrgName", "HMRCref", "Regulator", "Repayment", "OtherInfo"]
    assert claim.findtext("r:OrgName", namespaces=NS) == "Brightwell Trust"
    assert claim.findtext("r:HMRCref", namespaces=NS) == "AB12345"
    assert [c.text for c in claim.find("r:Regulator", NS)] == ["CCEW", "1234567"]
    assert claim.findtext("r:OtherInfo", namespaces=NS) == "Refund of a 100.00 gift claimed in March"
    repayment = claim.find("r:Repayment", NS)
    assert _children(repayment) == ["GAD"] * 4 + ["EarliestGAdate", "Adjustment"]
    assert repayment.findtext("r:EarliestGAdate", namespaces=NS) == "2024-04-06"
    assert repayment.findtext("r:Adjustment", namespaces=NS) == "25.00"


def _gads(xml: bytes):
    return _parse(xml).findall("gt:Body/r:IRenvelope/r:R68/r:Claim/r:Repayment/r:GAD", NS)


def test_gift_rows_in_the_xml():
    uk, overseas, aggregated, sponsored = _gads(r68_xml(HEADER, ROWS))

    assert _children(uk) == ["Donor", "Date", "Total"]
    assert _children(uk.find("r:Donor", NS)) == ["Ttl", "Fore", "Sur", "House", "Postcode"]
    assert [c.text for c in uk.find("r:Donor", NS)] == ["Mrs", "Zoe", "Smith Jones", "12", "SW1A 1AA"]
    assert (uk.findtext("r:Date", namespaces=NS), uk.findtext("r:Total", namespaces=NS)) == ("2024-04-06", "9.50")

    donor = overseas.find("r:Donor", NS)
    assert _children(donor) == ["Fore", "Sur", "House", "Overseas"]          # no Ttl, no Postcode
    assert donor.findtext("r:Overseas", namespaces=NS) == "yes"
    assert donor.findtext("r:House", namespaces=NS) == "25 Rue de la Paix 75002 Paris France"

    assert _children(aggregated) == ["AggDonation", "Date", "Total"]          # no Donor at all
    assert aggregated.findtext("r:AggDonation", namespaces=NS) == "Sunday collection April"
    assert aggregated.findtext("r:Total", namespaces=NS) == "1000.00"

    assert _children(sponsored) == ["Donor", "Sponsored", "Date", "Total"]
    assert sponsored.findtext("r:Sponsored", namespaces=NS) == "yes"
    assert sponsored.findtext("r:Date", namespaces=NS) == "2024-12-31"
    assert sponsored.findtext("r:Total", namespaces=NS) == "0.05"
    assert sponsored.find("r:Donor/r:Sur", NS).text == "O'Brien"


def test_optional_parts_are_left_out_when_empty():
    header = dataclasses.replace(HEADER, adjustment_pence=0, other_info="  ", regulator="", official_title="")
    root = _parse(r68_xml(header, ROWS))
    claim = root.find("gt:Body/r:IRenvelope/r:R68/r:Claim", NS)
    assert _children(claim) == ["OrgName", "HMRCref", "Repayment"]
    assert _children(claim.find("r:Repayment", NS))[-1] == "EarliestGAdate"
    name = root.find("gt:Body/r:IRenvelope/r:R68/r:AuthOfficial/r:OffName", NS)
    assert _children(name) == ["Fore", "Fore", "Sur"]


def test_regulators_and_an_official_without_postcode():
    scottish = _parse(r68_xml(dataclasses.replace(HEADER, regulator="oscr", regulator_number="SC012345"), ROWS))
    regulator = scottish.find("gt:Body/r:IRenvelope/r:R68/r:Claim/r:Regulator", NS)
    assert [(etree.QName(c).localname, c.text) for c in regulator] == [("RegName", "OSCR"), ("RegNo", "SC012345")]
    other = _parse(r68_xml(dataclasses.replace(HEADER, regulator="Isle of Man", regulator_number=""), ROWS))
    regulator = other.find("gt:Body/r:IRenvelope/r:R68/r:Claim/r:Regulator", NS)
    assert [(etree.QName(c).localname, c.text) for c in regulator] == [("OtherReg", "Isle of Man")]
    abroad = _parse(r68_xml(dataclasses.replace(HEADER, official_postcode=""), ROWS))
    off_id = abroad.find("gt:Body/r:IRenvelope/r:R68/r:AuthOfficial/r:OffID", NS)
    assert [(etree.QName(c).localname, c.text) for c in off_id] == [("Overseas", "yes")]


def test_xml_is_utf8_with_a_declaration():
    xml = r68_xml(HEADER, ROWS)
    assert xml.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    xml.decode("utf-8")


# --------------------------------------------------------------------------
# IRmark
# --------------------------------------------------------------------------

def _embedded_irmark(xml: bytes) -> str:
    return _parse(xml).findtext("gt:Body/r:IRenvelope/r:IRheader/r:IRmark", namespaces=NS)


def test_irmark_matches_hmrcs_published_sample():
    assert irmark(HMRC_SAMPLE_MESSAGE) == "oCHbGp+XAIi/AYdxWxLNLMmbEno="
    assert _embedded_irmark(HMRC_SAMPLE_MESSAGE) == "oCHbGp+XAIi/AYdxWxLNLMmbEno="


def test_irmark_canonicalises_like_hmrc():
    # HMRC's vectors are bare Body elements; in a message Body takes GovTalk's
    # namespace from its parent, which C14N writes out just the same.
    assert irmark(_in_message(HMRC_BODY_1)) == "KIYpXR8h95dWC6kB6HDq2c0d5TY="
    assert irmark(_in_message(HMRC_BODY_3)) == "RXvO9aWqS4RSVmxzx9uvPe2FmtI="


def test_our_claim_has_a_stable_irmark_that_recomputes_to_itself():
    xml = r68_xml(HEADER, ROWS)
    assert _embedded_irmark(xml) == FIXED_IRMARK
    assert irmark(xml) == FIXED_IRMARK          # the IRmark element is removed before hashing
    assert r68_xml(HEADER, ROWS) == xml


def test_the_irmark_ignores_only_the_irmark_and_the_envelope_outside_body():
    xml = r68_xml(HEADER, ROWS)
    assert irmark(xml.replace(FIXED_IRMARK.encode(), b"anything")) == FIXED_IRMARK
    assert irmark(xml.replace(b"<Value>testing1</Value>", b"<Value>other</Value>")) == FIXED_IRMARK
    assert irmark(xml.replace(b"<Sender>Individual</Sender>", b"<Sender>Agent</Sender>")) != FIXED_IRMARK


def test_changing_any_amount_changes_the_irmark():
    marks = {FIXED_IRMARK}
    for i, row in enumerate(ROWS):
        changed = list(ROWS)
        changed[i] = dataclasses.replace(row, amount_pence=row.amount_pence + 1)
        xml = r68_xml(HEADER, changed)
        assert irmark(xml) == _embedded_irmark(xml)
        marks.add(_embedded_irmark(xml))
    marks.add(_embedded_irmark(r68_xml(dataclasses.replace(HEADER, adjustment_pence=2501), ROWS)))
    assert len(marks) == len(ROWS) + 2


def test_irmark_needs_a_body():
    with pytest.raises(ValueError):
        irmark(f'<GovTalkMessage xmlns="{GT}"/>'.encode())


def test_module_reads_no_settings_or_models():
    source = open(hmrc.__file__, encoding="utf-8").read()
    assert "django" not in source
