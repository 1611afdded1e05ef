"""Journals for the accounts package, built from payouts recorded through
finance's own services (fed Stripe-shaped balance transactions), gifts,
refunds and disputes recorded through donations' services, and paying-in
batches; then written as Xero's, Sage Accounting's and Sage 50's imports and a
plain CSV, by the command and the staff screen, each download logged."""

import csv
import datetime
import io
import subprocess
import sys
import zipfile
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from campaigns.models import Campaign
from config.errors import ApplicationError
from donations.models import Donation, GiftAidClaim
from donations.services import gift_aid_claims
from donations.services import refunds as donation_refunds
from finance.exports import (CsvJournalExport, JournalSelection, Sage50JournalExport, SageJournalExport,
                             XeroJournalExport)
from finance.models import (BankAccount, BankLine, BankStatement, CampaignLedgerCode, ChartOfAccounts,
                            FinanceDownload, PayingInBatch, PayingInBatchGift, Payout, PayoutLine)
from finance.services import chart_of_accounts, journals
from finance.services import payouts as payout_services
from finance.services.journals import Journal, JournalDoesNotBalance, JournalLine
from tests.donations.test_gift_aid import declare, gift
from tests.supporters.factories import SupporterFactory
from tests.helpers import log_in_verified

pytestmark = pytest.mark.django_db

D = datetime.date
NOVEMBER = D(2026, 11, 1)
XERO_HEADER = ["*Narration", "*Date", "Description", "*AccountCode", "*TaxRate", "*Amount", "TrackingName1",
               "TrackingOption1", "TrackingName2", "TrackingOption2"]


# --- Stripe's shapes, through finance's services ---------------------------------------

def stamp(day: datetime.date, hour: int = 12) -> int:
    return int(datetime.datetime.combine(day, datetime.time(hour), tzinfo=datetime.UTC).timestamp())


def txn(txn_id, category, amount, fee=0, source=None, *, on=D(2026, 11, 2), type_=None, description=""):
    """A balance transaction as Stripe's API gives it."""
    return {"id": txn_id, "object": "balance_transaction", "amount": amount, "fee": fee, "net": amount - fee,
            "currency": "gbp", "created": stamp(on), "available_on": stamp(on + datetime.timedelta(days=2), 0),
            "reporting_category": category, "type": type_ or category, "source": source,
            "description": description or None, "status": "available"}


def paid_payout(payout_id, transactions, *, arrival=D(2026, 11, 5), status="paid") -> Payout:
    """A payout recorded as the webhook and the sync record it, with its lines."""
    amount = sum(t["amount"] - t["fee"] for t in transactions)
    payout = payout_services.payout_record(payout={
        "id": payout_id, "object": "payout", "amount": amount, "currency": "gbp", "status": status,
        "arrival_date": stamp(arrival, 0), "created": stamp(arrival - datetime.timedelta(days=2)),
        "automatic": True, "statement_descriptor": "BRIGHTWELL"})
    if status == "paid":
        payout_services.payout_lines_record(payout=payout, transactions=[
            *transactions, txn(f"txn_{payout_id}", "payout", -amount, type_="payout")])
    payout.refresh_from_db()
    return payout


def card_gift(pence, charge_id, campaign=None, *, on=D(2026, 11, 1), supporter=None) -> Donation:
    moment = timezone.make_aware(datetime.datetime.combine(on, datetime.time(10)))
    return Donation.objects.create(supporter=supporter or SupporterFactory(), amount_pence=pence, campaign=campaign,
                                   status=Donation.Status.SUCCEEDED, channel=Donation.Channel.WEB,
                                   stripe_charge_id=charge_id, stripe_payment_intent_id=f"pi_{charge_id}",
                                   created_at=moment, paid_at=moment)


@pytest.fixture
def campaigns():
    return make_campaigns()


def make_campaigns():
    """Winter appeal has its own code (201); Build a school is restricted, with none."""
    winter = Campaign.objects.create(name="Winter appeal", code="winter-2026")
    school = Campaign.objects.create(name="Build a school", code="school")
    chart_of_accounts.campaign_ledger_code_set(campaign=winter, income_code="201", fund="unrestricted")
    chart_of_accounts.campaign_ledger_code_set(campaign=school, income_code="", fund="restricted")
    return winter, school


@pytest.fixture
def busy_payout(campaigns):
    return make_busy_payout(*campaigns)


def make_busy_payout(winter, school) -> Payout:
    """Charges in two campaigns and one of nobody's, a part refund, a dispute lost,
    a dispute won, and Radar's fee: the payout every figure goes through."""
    card_gift(2500, "ch_1", winter)
    card_gift(1000, "ch_2", winter)
    card_gift(5000, "ch_3", school)
    lost = card_gift(3000, "ch_4", school)
    refunded = card_gift(2000, "ch_5", winter)
    won = card_gift(4000, "ch_6", winter)
    donation_refunds.refund_record(donation=refunded, refund={"id": "re_1", "amount": 1000, "status": "succeeded",
                                                              "created": stamp(D(2026, 11, 2))})
    donation_refunds.donation_apply_refund_total(charge_id="ch_5", payment_intent_id=None, refunded_pence=1000)
    donation_refunds.donation_apply_dispute(charge_id="ch_4", payment_intent_id=None, dispute_status="lost",
                                            amount_pence=3000, closed=True, dispute_id="dp_lost")
    donation_refunds.donation_apply_dispute(charge_id="ch_6", payment_intent_id=None, dispute_status="won",
                                            amount_pence=4000, closed=True, dispute_id="dp_won")
    assert lost.pk and won.pk
    return paid_payout("po_busy", [
        txn("txn_c1", "charge", 2500, 58, "ch_1"),
        txn("txn_c2", "charge", 1000, 35, "ch_2"),
        txn("txn_c3", "charge", 5000, 95, "ch_3"),
        txn("txn_c4", "charge", 3000, 65, "ch_4"),
        txn("txn_c5", "charge", 2000, 50, "ch_5"),
        txn("txn_c6", "charge", 4000, 80, "ch_6"),
        txn("txn_c7", "charge", 1500, 43, "ch_not_ours"),
        txn("txn_r1", "refund", -1000, 0, "re_1", type_="refund"),
        txn("txn_d1", "dispute", -3000, 2000, "dp_lost", type_="adjustment"),
        txn("txn_d2", "dispute", -4000, 2000, "dp_won", type_="adjustment"),
        txn("txn_d3", "dispute_reversal", 4000, 0, "dp_won", type_="adjustment"),
        txn("txn_f1", "fee", -10, 0, None, type_="stripe_fee", description="Radar for Fraud Teams"),
    ])


def summary(journal: Journal) -> list[tuple]:
    return [(line.account_code, line.description, line.amount_pence, line.tracking, line.flagged)
            for line in journal.lines]


# --- a payout ----------------------------------------------------------------------

def test_a_payout_journal_balances_to_the_penny_with_every_figure_where_finance_said(busy_payout):
    assert busy_payout.amount_pence == 10_564  # what Stripe sent: the nets of its lines
    journal = journals.journal_for_payout(payout="po_busy")

    fees = 58 + 35 + 95 + 65 + 50 + 80 + 43 + 2000 + 2000 + 10
    assert summary(journal) == [
        ("090", "Stripe payout po_busy", 10_564, "", False),
        ("210", "Gifts to Build a school (2)", -8_000, "Build a school", True),
        ("201", "Gifts to Winter appeal (4)", -9_500, "Winter appeal", False),
        ("200", "Stripe charges with no gift of ours (1)", -1_500, "", True),
        ("404", "Stripe fees", fees, "", False),
        ("205", "Refunds (1)", 1_000, "Winter appeal", False),
        ("206", "Disputes won (funds returned) (1)", -4_000, "Winter appeal", False),
        ("206", "Disputed gifts (funds withdrawn) (1)", 3_000, "Build a school", False),
        ("206", "Disputed gifts (funds withdrawn) (1)", 4_000, "Winter appeal", False),
    ]
    assert sum(line.amount_pence for line in journal.lines) == 0
    assert journal.debits_pence == journal.credits_pence == 10_564 + fees + 1_000 + 3_000 + 4_000 == 23_000
    assert (journal.narration, journal.date, journal.reference) == ("Stripe payout po_busy", D(2026, 11, 5), "po_busy")
    assert journal.flags == [
        "1 Stripe charge (£15.00) has no gift of ours: posted to the default income code, 200.",
        "“Build a school” has no income code of its own: its gifts (£80.00) are posted to the restricted "
        "default, 210.",
    ]


def test_its_income_lines_are_the_gifts_behind_it(busy_payout, campaigns):
    journal = journals.journal_for_payout(payout=busy_payout.pk)
    income = defaultdict(int)
    for line in journal.lines:
        if line.kind == journals.INCOME and line.tracking:
            income[line.tracking] -= line.amount_pence
    gifts = defaultdict(int)
    for line in PayoutLine.objects.filter(payout=busy_payout, reporting_category="charge", donation__isnull=False):
        gifts[line.donation.campaign.name] += Donation.objects.get(pk=line.donation_id).amount_pence
    assert income == gifts == {"Winter appeal": 9_500, "Build a school": 8_000}
    charges = sum(PayoutLine.objects.filter(payout=busy_payout, reporting_category="charge")
                  .values_list("amount_pence", flat=True))
    assert journal.income_pence == charges == 19_000


def test_a_charge_finance_explained_as_not_a_gift_is_other_income_and_not_flagged(campaigns):
    paid_payout("po_ticket", [txn("txn_t", "charge", 1200, 38, "ch_ticket")])
    PayoutLine.objects.filter(stripe_balance_transaction_id="txn_t").update(
        resolution=PayoutLine.Resolution.NOT_A_GIFT, resolution_note="Raffle ticket")
    journal = journals.journal_for_payout(payout="po_ticket")
    assert summary(journal) == [("090", "Stripe payout po_ticket", 1162, "", False),
                                ("260", "Stripe charges that are not gifts (1)", -1200, "", False),
                                ("404", "Stripe fees", 38, "", False)]
    assert journal.flags == []


def test_a_new_kind_of_stripe_line_goes_to_adjustments_and_is_flagged():
    paid_payout("po_odd", [txn("txn_a", "charge", 1000, 30, "ch_a"),
                           txn("txn_b", "climate_order", -5, 0, None, type_="climate_order_purchase")])
    journal = journals.journal_for_payout(payout="po_odd")
    assert ("405", "Stripe climate order (1)", 5, "", True) in summary(journal)
    assert "Stripe's “climate_order” lines (£0.05) are posted to adjustments, 405." in journal.flags


def test_the_bank_line_once_matched_gives_the_account_and_the_day(busy_payout):
    account = BankAccount.objects.create(name="Barclays current", code="091")
    statement = BankStatement.objects.create(account=account, filename="dec.csv", layout="Barclays",
                                             first_date=D(2026, 11, 6), last_date=D(2026, 11, 6), lines_added=1,
                                             lines_already_held=0)
    line = BankLine.objects.create(account=account, statement=statement, identity="x1", date=D(2026, 11, 6),
                                   description="STRIPE", paid_in_pence=10_564, file_line=2)
    Payout.objects.filter(pk=busy_payout.pk).update(bank_line=line)
    journal = journals.journal_for_payout(payout="po_busy")
    assert (journal.lines[0].account_code, journal.lines[0].amount_pence, journal.date) == ("091", 10_564,
                                                                                           D(2026, 11, 6))


def test_a_payout_not_ready_for_its_journal_is_refused_with_the_reason():
    with pytest.raises(ApplicationError, match="There is no Stripe payout po_nothing"):
        journals.journal_for_payout(payout="po_nothing")
    paid_payout("po_transit", [], status="in_transit")
    with pytest.raises(ApplicationError, match="po_transit is in transit, not paid"):
        journals.journal_for_payout(payout="po_transit")
    payout_services.payout_record(payout={"id": "po_unfetched", "amount": 500, "status": "paid",
                                          "arrival_date": stamp(D(2026, 11, 5), 0)})
    with pytest.raises(ApplicationError, match="have not been fetched from Stripe yet"):
        journals.journal_for_payout(payout="po_unfetched")
    short = paid_payout("po_short", [txn("txn_s", "charge", 1000, 30, "ch_s")])
    Payout.objects.filter(pk=short.pk).update(amount_pence=1000)
    with pytest.raises(ApplicationError, match=r"come to £9\.70, not the £10\.00 paid out"):
        journals.journal_for_payout(payout="po_short")


def test_a_journal_that_does_not_balance_is_a_bug_not_a_file():
    journal = Journal("Out by a penny", D(2026, 11, 5), "X", [JournalLine("090", "Bank", 100),
                                                               JournalLine("200", "Income", -99)])
    with pytest.raises(JournalDoesNotBalance, match="out by 1 pence"):
        journal.check_balances()


# --- a paying-in batch, Gift Aid and a month ----------------------------------------------

def closed_batch(number, gifts, *, banked=D(2026, 11, 10), method="cheque", status="closed",
                 reference="") -> PayingInBatch:
    """A batch of offline gifts recorded through donations' service."""
    from donations.services import gifts as gift_services

    batch = PayingInBatch.objects.create(number=number, banking_date=banked, method=method, reference=reference,
                                         expected_count=len(gifts), status=status,
                                         expected_total_pence=sum(pence for pence, _campaign in gifts))
    for position, (pence, campaign) in enumerate(gifts, start=1):
        donation = gift_services.donation_record_offline(supporter=SupporterFactory(), amount_pence=pence,
                                                         received_on=banked, channel="offline", campaign=campaign)
        PayingInBatchGift.objects.create(batch=batch, donation=donation, position=position)
    return batch


def test_a_batch_journal_credits_its_gifts_by_campaign(campaigns):
    winter, school = campaigns
    closed_batch(7, [(5000, winter), (2500, winter), (10_000, school), (1234, None)], reference="SLIP 0042")
    journal = journals.journal_for_batch(batch=7)
    assert summary(journal) == [
        ("090", "Paying-in batch 7: Cheques, ref. SLIP 0042", 18_734, "", False),
        ("210", "Gifts to Build a school (1)", -10_000, "Build a school", True),
        ("201", "Gifts to Winter appeal (2)", -7_500, "Winter appeal", False),
        ("200", "Gifts to no particular campaign (1)", -1_234, "", False),
    ]
    assert (journal.narration, journal.reference, journal.date) == ("Paying-in batch 7 (cheques)", "BATCH-7",
                                                                     D(2026, 11, 10))
    assert journal.income_pence == 18_734


def test_an_open_or_unknown_batch_has_no_journal(campaigns):
    closed_batch(8, [(5000, campaigns[0])], status="open")
    with pytest.raises(ApplicationError, match="Batch 8 is still open"):
        journals.journal_for_batch(batch=8)
    with pytest.raises(ApplicationError, match="There is no paying-in batch 99"):
        journals.journal_for_batch(batch=99)


def repaid_claim(received_on=D(2026, 11, 20)) -> GiftAidClaim:
    donor = SupporterFactory()
    declare(donor, D(2026, 9, 1))
    gift(donor, 10_000, D(2026, 10, 3))
    claim = gift_aid_claims.gift_aid_claim_build(period_start=D(2026, 10, 1), period_end=D(2026, 10, 31),
                                                 today=D(2026, 11, 2))
    gift_aid_claims.gift_aid_claim_submit(claim=claim)
    return gift_aid_claims.gift_aid_claim_record_repayment(claim=claim, amount_pence=2_500, received_on=received_on,
                                                           reference="HMRC GA")


def test_a_month_is_a_journal_per_bank_credit_with_gift_aid_and_what_is_left_out(busy_payout, campaigns):
    closed_batch(7, [(5000, campaigns[0])], banked=D(2026, 11, 10))
    closed_batch(8, [(700, None)], banked=D(2026, 11, 28), status="open")
    closed_batch(9, [(900, None)], banked=D(2026, 12, 1))
    paid_payout("po_october", [txn("txn_o", "charge", 1000, 30, "ch_o")], arrival=D(2026, 10, 31))
    paid_payout("po_coming", [], arrival=D(2026, 11, 30), status="in_transit")
    claim = repaid_claim()

    month = journals.journals_for_month(month=D(2026, 11, 17))
    assert [(j.date, j.reference) for j in month.journals] == [
        (D(2026, 11, 5), "po_busy"), (D(2026, 11, 10), "BATCH-7"), (D(2026, 11, 20), claim.reference)]
    assert summary(month.journals[2]) == [
        ("090", f"HMRC Gift Aid repayment, claim {claim.reference} (HMRC GA)", 2_500, "", False),
        ("220", f"Gift Aid on claim {claim.reference}", -2_500, "", False)]
    assert month.left_out == [
        "Stripe payout po_coming (£0.00, due 30/11/2026) is not paid yet: it is not in these journals.",
        "Batch 8 (£7.00) is still open: it is not in these journals."]
    assert all(sum(line.amount_pence for line in journal.lines) == 0 for journal in month.journals)


def test_a_months_journals_are_all_there_or_refused(busy_payout):
    payout_services.payout_record(payout={"id": "po_unfetched", "amount": 500, "status": "paid",
                                          "arrival_date": stamp(D(2026, 11, 9), 0)})
    with pytest.raises(ApplicationError, match="po_unfetched's transactions have not been fetched"):
        journals.journals_for_month(month=NOVEMBER)


def test_tax_repaid_to_hmrc_directly_is_the_reverse(campaigns):
    from donations.models import GiftAidDirectRepayment

    repayment = GiftAidDirectRepayment.objects.create(repaid_on=D(2026, 11, 12), amount_pence=250, reference="GAREF1")
    journal = journals.journal_for_gift_aid_direct_repayment(repayment=repayment)
    assert summary(journal) == [("220", "Gift Aid over-claimed, repaid to HMRC (GAREF1)", 250, "", False),
                                ("090", "Repaid to HMRC: GAREF1", -250, "", False)]


# --- the files ------------------------------------------------------------------------------

def read_csv(data: bytes, encoding="utf-8") -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode(encoding))))


def test_xero_takes_its_own_template_one_journal_per_narration_and_date(busy_payout, campaigns):
    closed_batch(7, [(5000, campaigns[0])])
    exporter = XeroJournalExport(selection=JournalSelection(month=NOVEMBER))
    data, extension, count = exporter.content()
    rows = read_csv(data)
    assert extension == "csv" and rows[0] == XERO_HEADER and count == len(rows) - 1 == 9 + 2
    assert rows[1] == ["Stripe payout po_busy", "05/11/2026", "Stripe payout po_busy", "090", "No VAT", "105.64",
                       "", "", "", ""]
    assert ["Stripe payout po_busy", "05/11/2026", "Gifts to Winter appeal (4)", "201", "No VAT", "-95.00",
            "Campaign", "Winter appeal", "", ""] in rows
    sums = defaultdict(Decimal)
    for row in rows[1:]:
        sums[(row[0], row[1])] += Decimal(row[5])
    assert dict(sums) == {("Stripe payout po_busy", "05/11/2026"): 0, ("Paying-in batch 7 (cheques)", "10/11/2026"): 0}


def test_xero_files_hold_300_lines_at_most_and_never_half_a_journal():
    for number in range(110):  # three lines each: bank, fees, income
        paid_payout(f"po_{number:03d}", [txn(f"txn_{number}", "charge", 1000 + number, 30, f"ch_{number}")],
                    arrival=D(2026, 11, 1 + number % 28))
    exporter = XeroJournalExport(selection=JournalSelection(month=NOVEMBER))
    data, extension, count = exporter.content()
    assert (extension, count) == ("zip", 330)
    archive = zipfile.ZipFile(io.BytesIO(data))
    names = archive.namelist()
    assert names == ["journal-2026-11-xero-1-of-2.csv", "journal-2026-11-xero-2-of-2.csv"]
    seen = set()
    for name in names:
        rows = read_csv(archive.read(name))
        assert rows[0] == XERO_HEADER and len(rows) - 1 <= 300
        sums = defaultdict(Decimal)
        for row in rows[1:]:
            sums[(row[0], row[1])] += Decimal(row[5])
        assert set(sums.values()) == {0}
        assert not seen & set(sums), "a journal split across two files"
        seen |= set(sums)
    assert len(seen) == 110


def test_a_journal_longer_than_xero_takes_is_refused():
    names = [f"Campaign {number:03d}" for number in range(300)]
    Campaign.objects.bulk_create([Campaign(name=name, code=f"c-{number}") for number, name in enumerate(names)])
    supporter = SupporterFactory()
    Donation.objects.bulk_create([
        Donation(supporter=supporter, amount_pence=1000, status=Donation.Status.SUCCEEDED, campaign=campaign,
                 stripe_charge_id=f"ch_many_{campaign.pk}", paid_at=timezone.now())
        for campaign in Campaign.objects.all()])
    paid_payout("po_many", [txn(f"txn_many_{d.pk}", "charge", 1000, 30, d.stripe_charge_id)
                            for d in Donation.objects.all()])
    exporter = XeroJournalExport(selection=JournalSelection(payout="po_many"))
    with pytest.raises(ApplicationError, match="alone is more than Xero manual journals takes in one file"):
        exporter.content()
    assert len(exporter.journals[0].lines) == 302
    assert CsvJournalExport(selection=JournalSelection(payout="po_many")).content()[2] == 302


def test_sage_accounting_journals_share_a_reference_and_balance(busy_payout):
    data, extension, count = SageJournalExport(selection=JournalSelection(payout="po_busy")).content()
    rows = read_csv(data)
    assert rows[0] == ["Reference", "Date", "Description", "Ledger Account Number", "Details", "Debit", "Credit"]
    assert rows[1] == ["po_busy", "05/11/2026", "Stripe payout po_busy", "090", "Stripe payout po_busy", "105.64", ""]
    assert ["po_busy", "05/11/2026", "Stripe payout po_busy", "201", "Gifts to Winter appeal (4)", "", "95.00"] in rows
    assert {row[0] for row in rows[1:]} == {"po_busy"}
    debits = sum(Decimal(row[5] or 0) for row in rows[1:])
    credits = sum(Decimal(row[6] or 0) for row in rows[1:])
    assert debits == credits == Decimal("230.00")
    assert all(bool(row[5]) != bool(row[6]) for row in rows[1:])


def test_sage_files_split_under_their_size_limit_between_journals(busy_payout, campaigns):
    class SmallSage(SageJournalExport):
        max_bytes_per_file = 900  # Sage's own is 0.5 MB: the same rule, at a size a test can reach

    closed_batch(7, [(5000, campaigns[0])])
    closed_batch(8, [(6000, campaigns[1])], banked=D(2026, 11, 11))
    data, extension, _count = SmallSage(selection=JournalSelection(month=NOVEMBER)).content()
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert extension == "zip"
    references = []
    for name in archive.namelist():
        content = archive.read(name)
        assert len(content) <= 900
        rows = read_csv(content)
        assert rows[0][0] == "Reference"
        references.append({row[0] for row in rows[1:]})
    assert len(references) >= 2 and references[0] == {"po_busy"}
    assert sorted(ref for refs in references for ref in refs) == ["BATCH-7", "BATCH-8", "po_busy"]


def test_sage_50_audit_trail_journal_debits_and_credits(busy_payout, campaigns):
    Campaign.objects.filter(pk=campaigns[0].pk).update(name="Zoë's winter appeal")
    data, extension, count = Sage50JournalExport(selection=JournalSelection(payout="po_busy")).content()
    rows = read_csv(data, encoding="cp1252")
    assert rows[0] == ["Type", "Account Reference", "Nominal A/C Ref", "Department Code", "Date", "Reference",
                       "Details", "Net Amount", "Tax Code", "Tax Amount"]
    assert rows[1] == ["JD", "090", "090", "0", "05/11/2026", "po_busy", "Stripe payout po_busy", "105.64", "T9",
                       "0.00"]
    assert ["JC", "201", "201", "0", "05/11/2026", "po_busy", "Gifts to Zoë's winter appeal (4)", "95.00", "T9",
            "0.00"] in rows
    debits = sum(Decimal(row[7]) for row in rows[1:] if row[0] == "JD")
    credits = sum(Decimal(row[7]) for row in rows[1:] if row[0] == "JC")
    assert debits == credits and all(Decimal(row[7]) > 0 for row in rows[1:])
    assert "Zoë".encode("cp1252") in data


def test_the_plain_csv_reads_as_debits_and_credits_with_what_to_check(busy_payout):
    rows = read_csv(CsvJournalExport(selection=JournalSelection(payout="po_busy")).content()[0])
    assert rows[0] == ["Reference", "Date", "Narration", "Account code", "Account", "Description", "Campaign",
                       "Debit", "Credit", "Check"]
    assert ["po_busy", "2026-11-05", "Stripe payout po_busy", "210", "Donations income", "Gifts to Build a school (2)",
            "Build a school", "", "80.00", "Posted to a default code"] in rows


def test_a_month_with_nothing_banked_says_so():
    with pytest.raises(ApplicationError, match="Nothing was banked in November 2026"):
        XeroJournalExport(selection=JournalSelection(month=NOVEMBER)).content()


# --- the command ------------------------------------------------------------------------

def run_command(*args):
    out, err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8"), io.StringIO()
    call_command("export_journal", *args, stdout=out, stderr=err)
    out.flush()
    return out.buffer.getvalue(), err.getvalue()


def test_the_command_writes_the_file_alone_to_stdout_and_logs_it(busy_payout):
    data, errors = run_command("--payout", "po_busy", "--format", "xero")
    assert data == XeroJournalExport(selection=JournalSelection(payout="po_busy")).content()[0]
    assert read_csv(data)[0] == XERO_HEADER
    assert "Check: “Build a school” has no income code of its own" in errors
    download = FinanceDownload.objects.get()
    assert (download.user, download.exporter, download.file_format, download.rows) == (None, "journal_xero", "csv", 9)
    assert download.what.startswith("Xero manual journals for Stripe payout po_busy (from the command line, as ")


def test_the_command_writes_a_zip_when_the_journals_need_several_files():
    for number in range(101):
        paid_payout(f"po_{number:03d}", [txn(f"txn_{number}", "charge", 1000, 30, f"ch_{number}")])
    data, errors = run_command("--month", "2026-11", "--format", "xero")
    assert zipfile.ZipFile(io.BytesIO(data)).namelist() == ["journal-2026-11-xero-1-of-2.csv",
                                                            "journal-2026-11-xero-2-of-2.csv"]
    assert "303 journal lines in a zip of files" in errors


def test_the_command_refuses_bad_input_clearly(busy_payout, campaigns):
    closed_batch(8, [(5000, campaigns[0])], status="open")
    for args, message in [(["--payout", "po_missing"], "There is no Stripe payout po_missing."),
                          (["--batch", "8"], "Batch 8 is still open"),
                          (["--month", "2026-13"], "A month is written YYYY-MM, e.g. 2026-12 (not “2026-13”)."),
                          (["--month", "2026-10"], "Nothing was banked in October 2026 to journal.")]:
        with pytest.raises(CommandError, match=message.replace(".", r"\.").replace("(", r"\(").replace(")", r"\)")):
            run_command(*args, "--format", "sage")
    assert not FinanceDownload.objects.exists()


def test_the_command_line_itself_fails_loudly_and_prints_nothing_to_stdout():
    root = Path(__file__).resolve().parents[2]
    for args, message in [(["--format", "xero"], "one of the arguments --payout --batch --month is required"),
                          (["--month", "2026-11", "--format", "quickbooks"], "invalid choice: 'quickbooks'")]:
        done = subprocess.run([sys.executable, "manage.py", "export_journal", *args], cwd=root, capture_output=True,
                              text=True, timeout=60, env={"DJANGO_SETTINGS_MODULE": "config.settings.test",
                                                          "PATH": "/usr/bin:/bin"})
        assert done.returncode != 0 and done.stdout == "" and message in done.stderr


# --- the screens, for each role -------------------------------------------------------------

def refused(response) -> bool:
    # Wagtail answers a logged-in user's permission failure with a redirect to the dashboard.
    return response.status_code == 403 or (response.status_code == 302 and response.url == "/admin/")


def test_the_journals_screens_and_downloads_are_finances(fundraiser, busy_payout, campaigns):
    anonymous, fundraising = Client(), Client()
    log_in_verified(fundraising, fundraiser)
    for url in ["/admin/journals/?journal_for=payout&payout=po_busy&format=sage",
                "/admin/journals/download/?journal_for=payout&payout=po_busy&format=sage",
                "/admin/journals/download/?journal_for=month&month=2026-11&format=xero",
                "/admin/campaign-income-codes/", f"/admin/campaign-income-codes/{campaigns[1].pk}/"]:
        response = anonymous.get(url)
        assert response.status_code == 302 and "/admin/login/" in response.url, url
        assert refused(fundraising.get(url)), url
    assert not FinanceDownload.objects.exists()


@pytest.mark.parametrize("who", ["finance", "admin"])
def test_finance_and_superusers_preview_and_download_journals(client, finance_user, admin_user, busy_payout, who):
    user = {"finance": finance_user, "admin": admin_user}[who]
    log_in_verified(client, user)
    first = client.get("/admin/journals/").content.decode()
    assert "Show the journals" in first and '<option value="po_busy">5 Nov 2026: £105.64 (po_busy)</option>' in first
    page = client.get("/admin/journals/?journal_for=payout&payout=po_busy&format=xero")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Gifts to Winter appeal (4)" in html and "£105.64" in html
    assert "has no income code of its own" in html  # the flags, before downloading
    assert "/admin/journals/download/?journal_for=payout&amp;payout=po_busy&amp;format=xero" in html

    response = client.get("/admin/journals/download/?journal_for=payout&payout=po_busy&format=xero")
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="journal-po_busy-xero.csv"'
    assert read_csv(response.content)[0] == XERO_HEADER
    logged = FinanceDownload.objects.get()
    assert (logged.user, logged.what, logged.exporter, logged.rows) == (
        user, "Xero manual journals for Stripe payout po_busy", "journal_xero", 9)


def test_the_screen_says_why_there_is_no_journal(finance_client, campaigns):
    closed_batch(8, [(5000, campaigns[0])], status="open")
    page = finance_client.get("/admin/journals/?journal_for=batch&batch=8&format=xero")
    assert page.status_code == 200 and "Choose the batch." in page.content.decode()  # an open batch is not offered
    page = finance_client.get("/admin/journals/?journal_for=month&month=2026-11&format=xero")
    assert "Nothing was banked in November 2026" in page.content.decode()
    response = finance_client.get("/admin/journals/download/?journal_for=month&month=2026-11&format=xero",
                                  follow=True)
    assert "Nothing was banked in November 2026" in response.content.decode()
    assert not FinanceDownload.objects.exists()


def test_the_month_download_for_each_package(finance_client, busy_payout):
    for key, extension in [("xero", "csv"), ("sage", "csv"), ("sage50", "csv"), ("csv", "csv")]:
        response = finance_client.get(f"/admin/journals/download/?journal_for=month&month=2026-11&format={key}")
        assert response.status_code == 200
        assert response["Content-Disposition"] == f'attachment; filename="journal-2026-11-{key}.{extension}"'
    assert list(FinanceDownload.objects.order_by("pk").values_list("exporter", "rows")) == [
        ("journal_xero", 9), ("journal_sage", 9), ("journal_sage50", 9), ("journal_csv", 9)]


# --- the chart of accounts: each campaign's code ---------------------------------------------

def test_every_campaign_is_listed_with_its_code_or_the_flagged_default(finance_client, campaigns):
    Campaign.objects.create(name="Spring fair", code="spring")
    html = finance_client.get("/admin/campaign-income-codes/").content.decode()
    assert "2 campaigns without a code of their own." in html
    for name in ("Winter appeal", "Build a school", "Spring fair"):
        assert name in html
    assert html.count("default (flagged)") == 2
    only = finance_client.get("/admin/campaign-income-codes/?missing=1").content.decode()
    assert "Spring fair" in only and "Winter appeal" not in only


def test_finance_gives_a_campaign_its_code(finance_client, campaigns, finance_user):
    school = campaigns[1]
    url = f"/admin/campaign-income-codes/{school.pk}/"
    assert finance_client.get(url).status_code == 200
    refused = finance_client.post(url, {"income_code": "21 0", "fund": "restricted"})
    assert "with no spaces" in refused.content.decode()
    done = finance_client.post(url, {"income_code": "211", "fund": "restricted"})
    assert done.status_code == 302
    assert CampaignLedgerCode.objects.get(campaign=school).income_code == "211"
    from wagtail.models import ModelLogEntry
    assert ModelLogEntry.objects.filter(object_id=str(CampaignLedgerCode.objects.get(campaign=school).pk),
                                        user=finance_user, action="wagtail.edit").exists()
    code = CampaignLedgerCode.objects.get(campaign=school)
    assert journals.income_account(school, ChartOfAccounts.load(), code) == journals.IncomeAccount("211", "restricted",
                                                                                                   True)


def test_fundraising_cannot_change_a_campaigns_code(fundraiser_client, campaigns):
    response = fundraiser_client.post(f"/admin/campaign-income-codes/{campaigns[1].pk}/",
                                      {"income_code": "999", "fund": "unrestricted"})
    assert refused(response)
    assert CampaignLedgerCode.objects.get(campaign=campaigns[1]).income_code == ""


def test_the_finance_menu_offers_journals_and_codes_to_finance_only(rf, finance_user, fundraiser):
    from wagtail.admin.menu import admin_menu

    def labels(user):
        request = rf.get("/admin/")
        request.user = user
        items = admin_menu.menu_items_for_request(request)
        finance = [item for item in items if item.label == "Finance"]
        return [sub.label for sub in finance[0].menu.menu_items_for_request(request)] if finance else []

    assert {"Journals", "Campaign income codes"} <= set(labels(finance_user))
    assert "Journals" not in labels(fundraiser) and "Campaign income codes" not in labels(fundraiser)
