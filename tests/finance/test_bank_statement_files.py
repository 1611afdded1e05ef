"""finance.bank_statements: each bank's export read into lines (oldest first, in
pence), the running balance checked, a line's identity across re-imports, and a
clear refusal, naming line and column, of anything else. No database needed."""

import datetime

import pytest

from finance.bank_statements import MAX_FILE_BYTES, ColumnMap, StatementError, read_bank_statement


def day(text):
    return datetime.date.fromisoformat(text)


def summary(statement):
    """Each line as (date, description, in, out, balance, file line), oldest first."""
    return [(line.date.isoformat(), line.description, line.paid_in_pence, line.paid_out_pence, line.balance_pence,
             line.file_line) for line in statement.lines]


def refusal(data, **kwargs):
    with pytest.raises(StatementError) as caught:
        read_bank_statement(data, **kwargs)
    return caught.value


# The banks' own layouts: a few lines each, as the bank writes them

LLOYDS = b"""Transaction Date,Transaction Type,Sort Code,Account Number,Transaction Description,Debit Amount,Credit Amount,Balance,
05/12/2026,DD,'30-94-12,12345678,BRITISH GAS,120.00,,4879.50,
05/12/2026,FPI,'30-94-12,12345678,J SMITH DONATION 0042,,25.00,4999.50,
04/12/2026,CHQ,'30-94-12,12345678,CHEQUE 100234,10.00,,4974.50,
"""


def test_lloyds_newest_first_with_apostrophe_sort_codes():
    statement = read_bank_statement(LLOYDS)
    assert statement.layout == "Lloyds Bank"
    assert (statement.sort_code, statement.account_number) == ("30-94-12", "12345678")
    assert statement.newest_first is True
    assert summary(statement) == [
        ("2026-12-04", "CHEQUE 100234", 0, 1000, 497450, 4),
        ("2026-12-05", "J SMITH DONATION 0042", 2500, 0, 499950, 3),
        ("2026-12-05", "BRITISH GAS", 0, 12000, 487950, 2),
    ]
    assert (statement.opening_balance_pence, statement.closing_balance_pence) == (498450, 487950)
    assert statement.lines[0].raw == ("04/12/2026", "CHQ", "'30-94-12", "12345678", "CHEQUE 100234", "10.00", "",
                                      "4974.50", "")


def test_lloyds_commercial_banking_online_leaves_out_its_ledger_rows():
    statement = read_bank_statement(
        b"Post Date,Account Number,Account Name,Type,Amount,Customer Reference,Transaction Detail,Balance\n"
        b'01/12/2026,300000-12345678 GBP,BRIGHTWELL CHILDRENS,Opening Ledger,,,,"12,000.00"\n'
        b'01/12/2026,300000-12345678 GBP,BRIGHTWELL CHILDRENS,Faster Payment,250.00,GIFT 0042,'
        b'A DONOR 300000000253124371GIFT 0042,"12,250.00"\n'
        b'02/12/2026,300000-12345678 GBP,BRIGHTWELL CHILDRENS,CHAPS,-1500.00,RENT DEC,LANDLORD LTD RENT DEC,'
        b'"10,750.00"\n'
        b'02/12/2026,300000-12345678 GBP,BRIGHTWELL CHILDRENS,Closing Ledger,,,,"10,750.00"\n')
    assert statement.layout == "Lloyds Bank Commercial Banking Online"
    assert (statement.sort_code, statement.account_number) == ("30-00-00", "12345678")
    assert summary(statement) == [
        ("2026-12-01", "A DONOR 300000000253124371GIFT 0042", 25000, 0, 1225000, 3),
        ("2026-12-02", "LANDLORD LTD RENT DEC", 0, 150000, 1075000, 4),
    ]
    assert (statement.opening_balance_pence, statement.closing_balance_pence) == (1200000, 1075000)


BARCLAYS_TO_5_DEC = b"""Number,Date,Account,Amount,Subcategory,Memo
,05/12/2026,20-32-06 13152170,10.00,COUNTER CREDIT,CHEQUE PAID IN
,05/12/2026,20-32-06 13152170,10.00,COUNTER CREDIT,CHEQUE PAID IN
,03/12/2026,20-32-06 13152170,-10.99,PAYMENT,ZOOM.US             ON 02 DEC          BCC
"""
BARCLAYS_FROM_5_DEC = b"""Number,Date,Account,Amount,Subcategory,Memo
,08/12/2026,20-32-06 13152170,500.00,DIRECTDEP,GRANT TRUST       GRANT 2026
,06/12/2026,20-32-06 13152170,-42.00,PAYMENT,ROYAL MAIL          ON 05 DEC          BCC
,05/12/2026,20-32-06 13152170,10.00,COUNTER CREDIT,CHEQUE PAID IN
,05/12/2026,20-32-06 13152170,10.00,COUNTER CREDIT,CHEQUE PAID IN
"""


def test_barclays_signed_amounts_no_balance_padding_squeezed():
    statement = read_bank_statement(BARCLAYS_TO_5_DEC)
    assert statement.layout == "Barclays"
    assert (statement.sort_code, statement.account_number) == ("20-32-06", "13152170")
    assert summary(statement) == [
        ("2026-12-03", "ZOOM.US ON 02 DEC BCC", 0, 1099, None, 4),
        ("2026-12-05", "CHEQUE PAID IN", 1000, 0, None, 3),
        ("2026-12-05", "CHEQUE PAID IN", 1000, 0, None, 2),
    ]
    assert [line.occurrence for line in statement.lines] == [1, 1, 2]
    assert (statement.opening_balance_pence, statement.closing_balance_pence) == (None, None)


def test_barclays_net_with_its_title_line_and_two_digit_years():
    statement = read_bank_statement(
        b'"Barclays.Net Transaction exported at 09:00 09/12/26"\r\n'
        b'"GROUP","ACC ID","ACCOUNT NO","TYPE","BANK CODE","CURR","ENTRY DATE","AS AT","AMOUNT","TLA CODE",'
        b'"CHEQUE NO","STATUS","DESCRIPTION"\r\n'
        b'"","","43871234","","20-45-77","GBP","03/12/26","Close",1250.00,"BGC","","C","JUSTGIVING PAYOUT"\r\n'
        b'"","","43871234","","20-45-77","GBP","04/12/26","Close",-75.20,"DDR","","C","BT GROUP PLC"\r\n')
    assert statement.layout == "Barclays.Net"
    assert (statement.sort_code, statement.account_number) == ("20-45-77", "43871234")
    assert statement.newest_first is False
    assert summary(statement) == [
        ("2026-12-03", "JUSTGIVING PAYOUT", 125000, 0, None, 3),
        ("2026-12-04", "BT GROUP PLC", 0, 7520, None, 4),
    ]


def test_hsbc_has_no_header_row():
    statement = read_bank_statement(
        b'07/12/2026,"STRIPE PAYMENTS UK STRIPE","1,842.10"\n'
        b'06/12/2026,"CHQ 100235","-45.00"\n'
        b'03/12/2026,"ST JOHNS PARISH DONATION","200.00"\n')
    assert statement.layout == "HSBC UK (no header row)"
    assert statement.newest_first is True
    assert summary(statement) == [
        ("2026-12-03", "ST JOHNS PARISH DONATION", 20000, 0, None, 3),
        ("2026-12-06", "CHQ 100235", 0, 4500, None, 2),
        ("2026-12-07", "STRIPE PAYMENTS UK STRIPE", 184210, 0, None, 1),
    ]
    assert (statement.sort_code, statement.account_number) == (None, None)


def test_natwest_blank_line_spaced_header_apostrophes_and_trailing_commas():
    statement = read_bank_statement(
        b"\r\n"
        b"Date, Type, Description, Value, Balance, Account Name, Account Number\r\n"
        b"01/12/2026,BAC,\"'GIFT AID HMRC, REF 12345\",1234.56,6234.56,\"'BRIGHTWELL CHILDREN'S TRUST\","
        b"\"'600000-12345678\",\r\n"
        b"02/12/2026,D/D,\"'NPOWER\",-89.99,6144.57,\"'BRIGHTWELL CHILDREN'S TRUST\",\"'600000-12345678\",\r\n")
    assert statement.layout == "NatWest"
    assert (statement.sort_code, statement.account_number) == ("60-00-00", "12345678")
    assert summary(statement) == [
        ("2026-12-01", "GIFT AID HMRC, REF 12345", 123456, 0, 623456, 3),
        ("2026-12-02", "NPOWER", 0, 8999, 614457, 4),
    ]
    assert (statement.opening_balance_pence, statement.closing_balance_pence) == (500000, 614457)


# Santander's "text file" download, in Windows-1252 with a no-break space (byte 0xA0) after each colon.
SANTANDER = (
    "From:\xa001/12/2026\xa0to\xa008/12/2026\r\n\t\t\t\t\t\t\t\r\n"
    "Account:\xa0XXXX XXXX XXXX 9185\r\n\t\t\t\t\t\t\r\n"
    "Date:\xa008/12/2026\r\nDescription:\xa0BANK GIRO CREDIT REF FUN RUN SPONSORS\r\n"
    "Amount:\xa0150.00\xa0\t\r\nBalance:\xa02150.00\xa0\r\n\t\t\t\t\t\t\r\n"
    "Date:\xa002/12/2026\r\nDescription:\xa0CARD PAYMENT TO POST OFFICE,6.85 GBP, RATE 1.00/GBP ON 01-12-2026\r\n"
    "Amount:\xa0-6.85\xa0\t\r\nBalance:\xa02000.00\xa0\r\n"
).encode("cp1252")


def test_santander_text_download():
    statement = read_bank_statement(SANTANDER)
    assert statement.layout == "Santander"
    assert statement.account_number == "XXXX XXXX XXXX 9185"
    assert statement.newest_first is True
    assert summary(statement) == [
        ("2026-12-02", "CARD PAYMENT TO POST OFFICE,6.85 GBP, RATE 1.00/GBP ON 01-12-2026", 0, 685, 200000, 10),
        ("2026-12-08", "BANK GIRO CREDIT REF FUN RUN SPONSORS", 15000, 0, 215000, 5),
    ]
    assert (statement.opening_balance_pence, statement.closing_balance_pence) == (200685, 215000)


def test_santander_amount_that_is_not_money_names_its_own_line():
    error = refusal(SANTANDER.replace(b"-6.85", b"-6.8S"))
    assert (error.line, error.column) == (12, "Amount")
    assert error.message == "Line 12 (“Amount”): “-6.8S” is not an amount of money."


def test_santander_transaction_without_a_balance_line():
    error = refusal(SANTANDER.replace(b"Balance:\xa02000.00\xa0\r\n", b""))
    assert (error.line, error.column) == (10, "Balance")
    assert error.message == "Line 10: the transaction starting here has no “Balance:” line."


CAF = b"""Account Activity,,,,,
Account Name:,CafCash Account,,,,
Account Type:,CAF_CASH,,,,
Bank's Name:,CafCash Account,,,,
Account Number:,00012044,,,,
Currency:,GBP,,,,
Activity Criteria:,All transactions between 01/12/2026 and 08/12/2026. Credit and Debit(NOTE: A maximum of 10000 matches will appear in this export),,,,
,,,,,
Account Transactions,,,,,
Posting Date,Value Date,Description,Debit,Credit,Book Balance
01/12/2026,01/12/2026,FP PAYMENT GIFT42 A DONOR,,25,10025.00
02/12/2026,02/12/2026,FP PAYMENT SCOUT SUBS B PARENT,,12,10037.00
03/12/2026,03/12/2026,BACS SALARIES DEC,2500.00,,7537.00
,,,,,
Account Balance,,,,,
Balance type,Date of last update,Amount,,,
Cleared Balance,04-Dec-26,7537.00,,,
Ledger Balance,04-Dec-26,7537.00,,,
"""


def test_caf_bank_account_details_above_and_balances_below():
    statement = read_bank_statement(CAF)
    assert statement.layout == "CAF Bank"
    assert (statement.sort_code, statement.account_number) == (None, "00012044")
    assert summary(statement) == [
        ("2026-12-01", "FP PAYMENT GIFT42 A DONOR", 2500, 0, 1002500, 11),
        ("2026-12-02", "FP PAYMENT SCOUT SUBS B PARENT", 1200, 0, 1003700, 12),
        ("2026-12-03", "BACS SALARIES DEC", 0, 250000, 753700, 13),
    ]
    assert (statement.opening_balance_pence, statement.closing_balance_pence) == (1000000, 753700)


def test_co_operative_bank_iso_dates_newest_first():
    statement = read_bank_statement(
        b"Date,Description,Type,Money In,Money Out,Balance\n"
        b"2026-12-04,STANDING ORDER J BLOGGS,SO,15.00,,815.00\n"
        b"2026-12-03,CARD PURCHASE AMAZON,POS,,34.99,800.00\n"
        b"2026-12-01,TRANSFER FROM RESERVE,TFR,500.00,,834.99\n")
    assert statement.layout == "Co-operative Bank"
    assert summary(statement) == [
        ("2026-12-01", "TRANSFER FROM RESERVE", 50000, 0, 83499, 4),
        ("2026-12-03", "CARD PURCHASE AMAZON", 0, 3499, 80000, 3),
        ("2026-12-04", "STANDING ORDER J BLOGGS", 1500, 0, 81500, 2),
    ]
    assert (statement.opening_balance_pence, statement.closing_balance_pence) == (33499, 81500)


def test_monzo_oldest_first_name_and_description_no_balance():
    statement = read_bank_statement(
        "Transaction ID,Date,Time,Type,Name,Emoji,Category,Amount,Currency,Local amount,Local currency,"
        "Notes and #tags,Address,Receipt,Description,Category split,Money Out,Money In\n"
        "tx_0000AbC1,01/12/2026,09:14:02,Faster payment,Brightwell Raffle,,Income,120.00,GBP,120.00,GBP,"
        "raffle #events,,,RAFFLE TICKETS,,,120.00\n"
        "tx_0000AbC2,02/12/2026,13:40:55,Card payment,Screwfix,🔧,General,-42.50,GBP,-42.50,GBP,,"
        "\"12 High St, Leeds\",,SCREWFIX DIRECT,,-42.50,\n".encode())
    assert statement.layout == "Monzo"
    assert statement.newest_first is False
    assert summary(statement) == [
        ("2026-12-01", "Brightwell Raffle / RAFFLE TICKETS", 12000, 0, None, 2),
        ("2026-12-02", "Screwfix / SCREWFIX DIRECT", 0, 4250, None, 3),
    ]


def test_monzo_older_export_with_iso_dates_and_fewer_columns():
    statement = read_bank_statement(
        b"Transaction ID,Date,Time,Type,Name,Emoji,Category,Amount,Currency,Local amount,Local currency,"
        b"Notes and #tags,Address,Receipt,Description,Category split\n"
        b"tx_01,2026-12-01T09:14:02Z,09:14:02,Faster payment,A Donor,,Income,30.00,GBP,30.00,GBP,,,,GIFT,\n")
    assert summary(statement) == [("2026-12-01", "A Donor / GIFT", 3000, 0, None, 2)]


STARLING = b"""Date,Counter Party,Reference,Type,Amount (GBP),Balance (GBP),Spending Category,Notes
,Opening Balance,,,,1000.00
01/12/2026,A Donor,GIFT 0042,FASTER PAYMENT,50.00,1050.00,INCOME,
03/12/2026,Print Co Ltd,INV 7781,FASTER PAYMENT,-220.40,829.60,BUSINESS SERVICES,
"""


def test_starling_with_its_opening_balance_row_and_a_utf8_bom():
    statement = read_bank_statement(b"\xef\xbb\xbf" + STARLING)
    assert statement.layout == "Starling Bank"
    assert summary(statement) == [
        ("2026-12-01", "A Donor / GIFT 0042", 5000, 0, 105000, 3),
        ("2026-12-03", "Print Co Ltd / INV 7781", 0, 22040, 82960, 4),
    ]
    assert (statement.opening_balance_pence, statement.closing_balance_pence) == (100000, 82960)


def test_starling_opening_balance_that_does_not_lead_to_the_first_balance():
    error = refusal(STARLING.replace(b",Opening Balance,,,,1000.00", b",Opening Balance,,,,1000.01"))
    assert (error.line, error.column) == (3, "Balance (GBP)")
    assert error.message == ("Line 3, column F (“Balance (GBP)”): the balance £1,050.00 does not follow from the "
                             "opening balance £1,000.01 stated in the file.")


# Encodings

# Nationwide-style export (a bank we don't recognise), saved by Windows: "£" is the byte 0xA3, "’" 0x92.
NATIONWIDE_1252 = (
    '"Account Name:","FlexBusiness ****12345"\r\n'
    '"Account Balance:","£3,020.50"\r\n'
    '"Available Balance: ","£3,020.50"\r\n'
    "\r\n"
    '"Date","Transaction type","Description","Paid out","Paid in","Balance"\r\n'
    '"01 Dec 2026","Transfer from","Brightwell Children’s Reserve","","£1,000.00","£3,100.50"\r\n'
    '"05 Dec 2026","Direct debit","Water Co","£80.00","","£3,020.50"\r\n'
).encode("cp1252")
NATIONWIDE_MAP = ColumnMap(date="Date", description=("Transaction type", "Description"), paid_in="Paid in",
                           paid_out="Paid out", balance="Balance")


def test_windows_1252_pound_signs_read_through_finances_column_map():
    assert b"\xa3" in NATIONWIDE_1252 and b"\x92" in NATIONWIDE_1252
    statement = read_bank_statement(NATIONWIDE_1252, columns=NATIONWIDE_MAP)
    assert statement.layout == "Columns mapped by Finance"
    assert summary(statement) == [
        ("2026-12-01", "Transfer from / Brightwell Children’s Reserve", 100000, 0, 310050, 6),
        ("2026-12-05", "Direct debit / Water Co", 0, 8000, 302050, 7),
    ]
    assert (statement.opening_balance_pence, statement.closing_balance_pence) == (210050, 302050)


def test_the_same_file_in_utf8_reads_the_same():
    as_utf8 = NATIONWIDE_1252.decode("cp1252").encode("utf-8")
    assert summary(read_bank_statement(as_utf8, columns=NATIONWIDE_MAP)) == summary(
        read_bank_statement(NATIONWIDE_1252, columns=NATIONWIDE_MAP))


def test_unknown_layout_says_what_it_saw_and_that_finance_can_map_it():
    error = refusal(NATIONWIDE_1252)
    assert error.line == 5
    assert error.column is None
    assert error.message == (
        "We don't recognise this bank's export. Line 5 reads: “Date”, “Transaction type”, “Description”, "
        "“Paid out”, “Paid in”, “Balance”. We recognise exports from Lloyds Bank (and Halifax, Bank of Scotland), "
        "Barclays, HSBC UK, NatWest, Santander, CAF Bank, the Co-operative Bank, Monzo and Starling. Finance can "
        "map this file's columns (date, description, and paid in and out or one amount) once for this bank "
        "account, and its statements will be read with that map.")


# Finance's column map, for a bank we don't know


def test_map_by_position_for_a_file_without_header_and_strict_date_format():
    statement = read_bank_statement(
        b"20261207,Card,CAFE NERO,3.20 DR,96.80 CR\n"
        b"20261205,Credit,CASH PAID IN,100.00 CR,100.00 CR\n",
        columns=ColumnMap(date=0, description=2, amount=3, balance=4, date_format="%Y%m%d", header_row=False))
    assert statement.newest_first is True
    assert summary(statement) == [
        ("2026-12-05", "CASH PAID IN", 10000, 0, 10000, 2),
        ("2026-12-07", "CAFE NERO", 0, 320, 9680, 1),
    ]
    assert statement.opening_balance_pence == 0


def test_mapped_date_format_is_strict():
    error = refusal(b"05/12/2026,CAFE NERO,-3.20\n",
                    columns=ColumnMap(date=0, description=1, amount=2, date_format="%Y%m%d", header_row=False))
    assert (error.line, error.column) == (1, "A")
    assert error.message == "Line 1, column A: “05/12/2026” is not a date like 20261205, the form mapped for this file."


def test_mapped_headers_no_longer_in_the_file():
    error = refusal(b"When,What,How much\n05/12/2026,CAFE,-3.20\n",
                    columns=ColumnMap(date="Date", description="What", amount="How much"))
    assert error.line == 1
    assert error.message == ("This file has no header row with all of the mapped columns (“Date”, “What”, "
                             "“How much”). Line 1 reads: “When”, “What”, “How much”. Has the bank changed its "
                             "export?")


def test_a_map_needs_one_amount_or_both_paid_in_and_out():
    error = refusal(b"a,b,c\n", columns=ColumnMap(date=0, description=1, paid_in=2))
    assert error.message == ("The column map needs either one amount column, or both a paid-in and a paid-out "
                             "column.")


def test_same_day_lines_take_their_order_from_the_balance():
    newest_first = b"""Transaction Date,Transaction Type,Sort Code,Account Number,Transaction Description,Debit Amount,Credit Amount,Balance
05/12/2026,DD,'30-94-12,12345678,THIRD,5.00,,115.00
05/12/2026,FPI,'30-94-12,12345678,SECOND,,20.00,120.00
05/12/2026,FPI,'30-94-12,12345678,FIRST,,100.00,100.00
"""
    statement = read_bank_statement(newest_first)
    assert statement.newest_first is True
    assert [line.description for line in statement.lines] == ["FIRST", "SECOND", "THIRD"]
    assert statement.opening_balance_pence == 0
    oldest_first = b"\n".join([newest_first.splitlines()[0], *newest_first.splitlines()[:0:-1]])
    statement = read_bank_statement(oldest_first)
    assert statement.newest_first is False
    assert [line.description for line in statement.lines] == ["FIRST", "SECOND", "THIRD"]


# A line's identity: re-importing an overlapping statement adds nothing twice


def imported(*files, account="lloyds-30-94-12-12345678"):
    """What the import keeps: each line once by its identity, as the finance app's table will."""
    kept = {}
    for data in files:
        for line in read_bank_statement(data).lines:
            kept.setdefault(line.identity(account), line)
    return kept


def test_an_overlapping_statement_adds_only_its_new_lines():
    later = b"""Transaction Date,Transaction Type,Sort Code,Account Number,Transaction Description,Debit Amount,Credit Amount,Balance
08/12/2026,BGC,'30-94-12,12345678,GRANT TRUST,,500.00,5379.50
05/12/2026,DD,'30-94-12,12345678,BRITISH GAS,120.00,,4879.50
05/12/2026,FPI,'30-94-12,12345678,J SMITH DONATION 0042,,25.00,4999.50
"""
    kept = imported(LLOYDS, later)
    assert sorted((line.date.isoformat(), line.description) for line in kept.values()) == [
        ("2026-12-04", "CHEQUE 100234"), ("2026-12-05", "BRITISH GAS"), ("2026-12-05", "J SMITH DONATION 0042"),
        ("2026-12-08", "GRANT TRUST")]
    assert imported(LLOYDS, later, LLOYDS, later).keys() == kept.keys()


def test_two_identical_cheques_on_one_day_are_both_kept_and_never_doubled():
    kept = imported(BARCLAYS_TO_5_DEC, BARCLAYS_FROM_5_DEC, BARCLAYS_TO_5_DEC)
    cheques = [line for line in kept.values() if line.description == "CHEQUE PAID IN"]
    assert [(line.date, line.paid_in_pence, line.occurrence) for line in cheques] == [
        (day("2026-12-05"), 1000, 1), (day("2026-12-05"), 1000, 2)]
    assert len(kept) == 5


def test_identity_is_per_account_and_stable():
    line = read_bank_statement(LLOYDS).lines[0]
    assert line.identity("account-a") == read_bank_statement(LLOYDS).lines[0].identity("account-a")
    assert line.identity("account-a") != line.identity("account-b")
    assert len(line.identity("account-a")) == 64


# Refusals: a clear message naming line and column, and nothing read


def test_an_amount_that_is_not_money():
    error = refusal(LLOYDS.replace(b"CHEQUE 100234,10.00", b"CHEQUE 100234,1O.00"))
    assert (error.line, error.column) == (4, "Debit Amount")
    assert error.message == "Line 4, column F (“Debit Amount”): “1O.00” is not an amount of money."


def test_more_than_two_decimal_places():
    error = refusal(LLOYDS.replace(b",,25.00,", b",,25.005,"))
    assert (error.line, error.column) == (3, "Credit Amount")
    assert error.message == ("Line 3, column G (“Credit Amount”): “25.005” has more than two decimal places; "
                             "amounts are in pounds and pence.")


def test_an_impossible_date():
    error = refusal(LLOYDS.replace(b"04/12/2026", b"31/11/2026"))
    assert (error.line, error.column) == (4, "Transaction Date")
    assert error.message == "Line 4, column A (“Transaction Date”): “31/11/2026” is not a real date."


def test_a_date_in_no_form_we_read():
    error = refusal(LLOYDS.replace(b"04/12/2026", b"Dec 4th 2026"))
    assert (error.line, error.column) == (4, "Transaction Date")
    assert "“Dec 4th 2026” is not a date we can read" in error.message


def test_a_running_balance_that_breaks():
    # 4,974.50 + 25.00 is 4,999.50, not 4,998.50: a line is missing or was changed.
    error = refusal(LLOYDS.replace(b"4999.50", b"4998.50"))
    assert (error.line, error.column) == (3, "Balance")
    assert error.message == ("Line 3, column H (“Balance”): the balance £4,998.50 does not follow from line 4 "
                             "(£4,974.50, which with the money in and out since makes £4,999.50). Is a line "
                             "missing or changed?")


def test_both_paid_in_and_paid_out_on_one_line():
    error = refusal(LLOYDS.replace(b"BRITISH GAS,120.00,,", b"BRITISH GAS,120.00,5.00,"))
    assert (error.line, error.column) == (2, "Credit Amount")
    assert error.message == ("Line 2, column G (“Credit Amount”): there is an amount both here and in column F "
                             "(“Debit Amount”); a line is either paid in or paid out.")


def test_neither_paid_in_nor_paid_out():
    error = refusal(LLOYDS.replace(b"BRITISH GAS,120.00,,", b"BRITISH GAS,,,"))
    assert (error.line, error.column) == (2, "Credit Amount")
    assert error.message == ("Line 2, column G (“Credit Amount”): there is no amount here or in column F "
                             "(“Debit Amount”).")


def test_lines_out_of_date_order():
    error = refusal(LLOYDS.replace(b"05/12/2026,FPI", b"03/12/2026,FPI"))
    assert (error.line, error.column) == (4, "Transaction Date")
    assert error.message == ("Line 4, column A (“Transaction Date”): 04/12/2026 is out of date order: this file runs "
                             "newest first, and line 3 above it is dated 03/12/2026. Was the file sorted after it "
                             "was exported?")


def test_two_accounts_in_one_file():
    error = refusal(LLOYDS.replace(b"04/12/2026,CHQ,'30-94-12,12345678", b"04/12/2026,CHQ,'30-94-12,87654321"))
    assert (error.line, error.column) == (4, "Account Number")
    assert error.message == ("Line 4: this line is for account 30-94-12 87654321, but line 2 is for 30-94-12 "
                             "12345678. Export one account at a time.")


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b"\r\n\r\n", b",,,\n"])
def test_an_empty_file(data):
    error = refusal(data)
    assert error.message == "The file is empty."
    assert (error.line, error.column) == (None, None)


def test_a_header_and_no_lines():
    error = refusal(LLOYDS.splitlines(keepends=True)[0])
    assert error.line == 1
    assert error.message == "The file has no statement lines under its header."


def test_a_file_over_five_megabytes():
    spaces = bytearray(b" " * (MAX_FILE_BYTES - len(LLOYDS)))
    spaces[999::1000] = b"\n" * len(spaces[999::1000])  # lines of blanks under the statement, to 5 MB exactly
    padded = LLOYDS + bytes(spaces)
    assert len(padded) == MAX_FILE_BYTES
    assert len(read_bank_statement(padded).lines) == 3
    error = refusal(padded + b"\n")
    assert error.message == ("The file is 5.1 MB; a statement file may be at most 5 MB. Export a shorter period "
                             "and import it in parts.")


def test_fifty_megabytes_is_refused_before_it_is_read():
    error = refusal((LLOYDS * (50 * 1024 * 1024 // len(LLOYDS) + 1))[:50 * 1024 * 1024])
    assert error.message.startswith("The file is 50.0 MB; a statement file may be at most 5 MB.")


@pytest.mark.parametrize("data, words", [
    (b"%PDF-1.7\n...", "This is a PDF statement."),
    (b"PK\x03\x04\x14\x00\x06\x00", "This is a spreadsheet (.xlsx), not a CSV file."),
    (b"\x00\x01\x02binary\x00", "The file isn't text we can read"),
])
def test_files_that_are_not_a_csv_export(data, words):
    assert refusal(data).message.startswith(words)


def test_a_negative_amount_paid_in():
    error = refusal(LLOYDS.replace(b",,25.00,", b",,-25.00,"))
    assert (error.line, error.column) == (3, "Credit Amount")
    assert error.message == ("Line 3, column G (“Credit Amount”): “-25.00” is negative in the paid-in column, so "
                             "whether it came in or went out isn't clear.")


@pytest.mark.parametrize("text, pence", [
    ("£1,234.56", 123456), ("-£1,234.56", -123456), ("£-12.50", -1250), ("12.50 DR", -1250), ("12.50CR", 1250),
    ("(12.50)", -1250), ("GBP 3.00", 300), ("−7.10", -710), ("+5", 500), (".5", 50), ("0.00", 0),
])
def test_amounts_as_banks_write_them(text, pence):
    statement = read_bank_statement(f"05/12/2026,X,{text}\n".replace(f",{text}", f',"{text}"').encode(),
                                    columns=ColumnMap(date=0, description=1, amount=2, header_row=False))
    assert statement.lines[0].amount_pence == pence


@pytest.mark.parametrize("text", ["12,34.00", "1.2.3", "12.50 DR-", "-12.50 DR", "£", "12 50", "1e3", "NaN"])
def test_amounts_that_are_not_money(text):
    error = refusal(f'05/12/2026,X,"{text}"\n'.encode(),
                    columns=ColumnMap(date=0, description=1, amount=2, header_row=False))
    assert error.message == f"Line 1, column C: “{text}” is not an amount of money."


@pytest.mark.parametrize("text, date", [
    ("05/12/2026", "2026-12-05"), ("05/12/26", "2026-12-05"), ("5/12/2026", "2026-12-05"),
    ("05-Dec-2026", "2026-12-05"), ("5 Dec 2026", "2026-12-05"), ("05 December 2026", "2026-12-05"),
    ("2026-12-05", "2026-12-05"), ("05.12.2026", "2026-12-05"), ("05-12-2026", "2026-12-05"),
])
def test_uk_dates_day_first(text, date):
    statement = read_bank_statement(f"{text},X,1.00\n".encode(),
                                    columns=ColumnMap(date=0, description=1, amount=2, header_row=False))
    assert statement.lines[0].date == day(date)
