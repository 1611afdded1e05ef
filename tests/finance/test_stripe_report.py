"""Stripe's itemised payout reconciliation report imported: read whole or
refused (line and column named, nothing saved), recorded once, matched to our
gifts, and gifts recorded from the charges we never had. Through the real
stack: the database, donations' services, the command and the staff screen."""

import datetime
import html
import io
import os
import subprocess
import sys

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from campaigns.models import Campaign
from campaigns.selectors import campaign_totals
from config.errors import ApplicationError
from donations.models import Donation, Refund
from finance import selectors
from finance.models import Payout, PayoutLine
from finance.services import payouts as payout_services
from finance.services import stripe_report
from finance.services.stripe_report import StripeReportError, read_stripe_report, stripe_report_import
from supporters.models import Interaction, Supporter
from tests.helpers import run_at_once, log_in_verified
from tests.supporters.factories import SupporterFactory

pytestmark = pytest.mark.django_db

HEADER = ("automatic_payout_id,automatic_payout_effective_at_utc,balance_transaction_id,created_utc,available_on_utc,"
          "currency,gross,fee,net,reporting_category,source_id,description,customer_email,customer_name,charge_id,"
          "payment_intent_id,dispute_reason,payment_metadata[donation_uid],payment_metadata[campaign]")
PO1 = "po_1QaNov02"
PO2 = "po_1QbNov09"
# Two payouts as Stripe's dashboard downloads them: gifts of ours (by charge, by
# PaymentIntent), a refund we hold, a Radar fee, a dispute on a gift of ours,
# gifts taken before go-live (one with a refund), and a charge with no email.
LINES = [
    f"{PO1},2026-11-02 00:00:00,txn_1Charge1,2026-10-27 09:15:02,2026-10-29 00:00:00,gbp,25.00,0.58,24.42,charge,"
    f"ch_ours1,Gift to Brightwell,ann@example.org,Ann Ours,ch_ours1,pi_ours1,,6f1d,winter",
    f"{PO1},2026-11-02 00:00:00,txn_1Charge2,2026-10-27 18:40:11,2026-10-29 00:00:00,gbp,10.00,0.35,9.65,charge,"
    f"ch_pre1,Payment for Invoice,Priya.Shah@Example.ORG,Priya Shah,ch_pre1,pi_pre1,,,",
    f"{PO1},2026-11-02 00:00:00,txn_1Charge3,2026-10-28 07:05:59,2026-10-30 00:00:00,gbp,50.00,0.95,49.05,charge,"
    f"ch_ours2,Gift to Brightwell,bob@example.org,Bob Ours,ch_ours2,pi_ours2,,,",
    f"{PO1},2026-11-02 00:00:00,txn_1Refund1,2026-10-29 10:00:00,2026-10-29 00:00:00,gbp,-25.00,0.00,-25.00,refund,"
    f"re_ours1,REFUND FOR CHARGE (Gift to Brightwell),ann@example.org,Ann Ours,ch_ours1,pi_ours1,,,",
    f"{PO1},2026-11-02 00:00:00,txn_1Radar1,2026-10-30 00:00:00,2026-10-30 00:00:00,gbp,-0.05,0.00,-0.05,fee,,"
    f'"Radar (2026-10-30): Radar for Fraud Teams",,,,,,,',
    f"{PO2},2026-11-09 00:00:00,txn_1Charge4,2026-11-03 12:00:00,2026-11-05 00:00:00,gbp,20.00,0.50,19.50,charge,"
    f"ch_pre2,Donation,new.donor@example.org,Mr Tom Baker,ch_pre2,pi_pre2,,,",
    f"{PO2},2026-11-09 00:00:00,txn_1Refund2,2026-11-04 12:00:00,2026-11-04 00:00:00,gbp,-5.00,0.00,-5.00,refund,"
    f"re_pre2,REFUND FOR CHARGE (Donation),new.donor@example.org,Mr Tom Baker,ch_pre2,pi_pre2,,,",
    f"{PO2},2026-11-09 00:00:00,txn_1Dispute1,2026-11-04 15:30:00,2026-11-04 00:00:00,gbp,-10.00,20.00,-30.00,"
    f"dispute,du_ours3,Chargeback withdrawal for ch_ours3,,,ch_ours3,pi_ours3,fraudulent,,",
    f"{PO2},2026-11-09 00:00:00,txn_1Charge5,2026-11-05 08:00:00,2026-11-07 00:00:00,gbp,5.00,0.27,4.73,charge,"
    f"ch_pre3,,,,ch_pre3,,,,",
    f"{PO2},2026-11-09 00:00:00,txn_1Charge6,2026-11-05 09:00:00,2026-11-07 00:00:00,gbp,100.00,1.70,98.30,charge,"
    f"ch_ours4,Gift to Brightwell,cat@example.org,Cat Ours,ch_ours4,pi_ours4,,,",
]
REPORT = (HEADER + "\n" + "\n".join(LINES) + "\n").encode()
PO1_NET = 2442 + 965 + 4905 - 2500 - 5  # 5807
PO2_NET = 1950 - 500 - 3000 + 473 + 9830  # 8753


def at(text):
    return datetime.datetime.fromisoformat(text).replace(tzinfo=datetime.UTC)


def ours(charge=None, intent=None, pence=2500, **extra):
    """A gift of ours, as the donation form and Stripe's webhook leave it."""
    return Donation.objects.create(supporter=SupporterFactory(), amount_pence=pence, status=Donation.Status.SUCCEEDED,
                                   channel=Donation.Channel.WEB, stripe_charge_id=charge,
                                   stripe_payment_intent_id=intent, created_at=at("2026-10-27 09:15:00"),
                                   paid_at=at("2026-10-27 09:15:00"), **extra)


@pytest.fixture
def gifts():
    first = ours("ch_ours1", "pi_ours1", 2500)
    Refund.objects.create(donation=first, stripe_refund_id="re_ours1", amount_pence=2500)
    Donation.objects.filter(pk=first.pk).update(refunded_pence=2500, status=Donation.Status.REFUNDED)
    return {"by_charge": first,
            "by_intent": ours(None, "pi_ours2", 5000),  # its charge id never reached us
            "disputed": ours("ch_ours3", "pi_ours3", 1000, stripe_dispute_id="du_ours3"),
            "fourth": ours("ch_ours4", "pi_ours4", 10000)}


def refused(data):
    with pytest.raises(StripeReportError) as caught:
        stripe_report_import(data=data, filename="report.csv")
    assert not PayoutLine.objects.exists() and not Payout.objects.filter(source="report").exists()
    return caught.value


def line(bt_id):
    return PayoutLine.objects.select_related("donation", "refund").get(stripe_balance_transaction_id=bt_id)


# --- reading ---------------------------------------------------------------------------

def test_the_report_is_read_into_payouts_in_pence():
    payouts = read_stripe_report(REPORT)
    assert [(p.stripe_payout_id, p.arrival_date, p.currency, p.net_pence, len(p.lines)) for p in payouts] == [
        (PO1, datetime.date(2026, 11, 2), "gbp", PO1_NET, 5), (PO2, datetime.date(2026, 11, 9), "gbp", PO2_NET, 5)]
    charge = payouts[0].lines[1]
    assert (charge.file_line, charge.gross_pence, charge.fee_pence, charge.net_pence, charge.created) == (
        3, 1000, 35, 965, at("2026-10-27 18:40:11"))
    assert (charge.customer_email, charge.customer_name, charge.charge_id, charge.payment_intent_id) == (
        "priya.shah@example.org", "Priya Shah", "ch_pre1", "pi_pre1")
    radar = payouts[0].lines[4]
    assert (radar.reporting_category, radar.gross_pence, radar.net_pence, radar.description) == (
        "fee", -5, -5, "Radar (2026-10-30): Radar for Fraud Teams")
    assert payouts[1].lines[2].description == "Chargeback withdrawal for ch_ours3 (dispute: fraudulent)"


@pytest.mark.parametrize("text, pence", [("10.00", 1000), ("-25", -2500), ("0.5", 50), ("1,234.56", 123456),
                                         ("+3.10", 310), ("-0.05", -5)])
def test_amounts_are_pounds_and_pence_read_exactly(text, pence):
    assert stripe_report.parse_pence(text) == pence


def test_a_guest_payment_s_donor_comes_from_its_metadata():
    data = (HEADER.replace("payment_metadata[campaign]", "payment_metadata[email],payment_metadata[first_name],"
                                                         "payment_metadata[last_name]") + "\n"
            + f"{PO1},2026-11-02 00:00:00,txn_g,2026-10-27 09:00:00,,gbp,5.00,0.27,4.73,charge,ch_g,,,,ch_g,,,,"
              f"Guest@Example.org,Sam,Lee\n").encode()
    (payout,) = read_stripe_report(data)
    assert (payout.lines[0].customer_email, payout.lines[0].customer_name) == ("guest@example.org", "Sam Lee")


# --- importing and matching -------------------------------------------------------------

def test_the_report_is_recorded_and_matched_to_our_gifts(gifts):
    summary = stripe_report_import(data=REPORT, filename="payouts-nov.csv")

    assert str(summary) == ("payouts-nov.csv: 2 payouts (2 new), 10 lines (10 new, 0 already held), "
                            "5 matched to gifts, 4 exceptions, 1 other line (Stripe's fees, adjustments).")
    first, second = Payout.objects.get(stripe_payout_id=PO1), Payout.objects.get(stripe_payout_id=PO2)
    assert (first.source, first.amount_pence, first.arrival_date, first.status, first.currency) == (
        "report", PO1_NET, datetime.date(2026, 11, 2), "paid", "gbp")
    assert (second.amount_pence, second.arrival_date, second.lines.count()) == (PO2_NET, datetime.date(2026, 11, 9), 5)
    assert first.lines_fetched_at is not None

    assert line("txn_1Charge1").donation == gifts["by_charge"]
    assert line("txn_1Charge3").donation == gifts["by_intent"]
    assert line("txn_1Refund1").refund == Refund.objects.get(stripe_refund_id="re_ours1")
    assert line("txn_1Dispute1").donation == gifts["disputed"]
    assert line("txn_1Charge6").donation == gifts["fourth"]
    assert line("txn_1Radar1").donation is None
    # The gifts take Stripe's fee and net from their charge's line, as from the API's.
    gifts["by_intent"].refresh_from_db()
    assert (gifts["by_intent"].fee_pence, gifts["by_intent"].net_pence,
            gifts["by_intent"].stripe_balance_transaction_id) == (95, 4905, "txn_1Charge3")
    # The lines of the gifts taken before go-live are the exceptions (the refund of
    # one of them too, until its gift is recorded), and the report's figures add up.
    exceptions = stripe_report.report_exceptions(payout_ids=summary.payout_ids)
    assert [x.stripe_balance_transaction_id for x in exceptions] == [
        "txn_1Charge2", "txn_1Charge4", "txn_1Refund2", "txn_1Charge5"]
    charge = line("txn_1Charge2")
    assert (charge.amount_pence, charge.fee_pence, charge.net_pence, charge.customer_email, charge.customer_name,
            charge.charge_id, charge.payment_intent_id, charge.type) == (
        1000, 35, 965, "priya.shah@example.org", "Priya Shah", "ch_pre1", "pi_pre1", "")
    assert summary.exceptions == len(exceptions)
    assert selectors.payout_figures(first).adds_up and selectors.payout_figures(second).adds_up


def test_a_re_import_changes_nothing(gifts):
    stripe_report_import(data=REPORT, filename="r.csv")
    before = list(PayoutLine.objects.order_by("pk").values())
    payouts = list(Payout.objects.order_by("pk").values())
    gifts_before = list(Donation.objects.order_by("pk").values())

    again = stripe_report_import(data=REPORT, filename="r.csv")

    assert (again.payouts_new, again.lines_new, again.lines) == (0, 0, 10)
    assert list(PayoutLine.objects.order_by("pk").values()) == before
    assert list(Payout.objects.order_by("pk").values()) == payouts
    assert list(Donation.objects.order_by("pk").values()) == gifts_before


def test_a_payout_held_from_stripe_keeps_its_lines_and_gains_the_report_s_details(gifts):
    payout = Payout.objects.create(stripe_payout_id=PO1, amount_pence=PO1_NET, arrival_date=datetime.date(2026, 11, 2),
                                   status="paid", statement_descriptor="BRIGHTWELL STRIPE")
    payout_services.payout_lines_record(payout=payout, transactions=[{
        "id": "txn_1Charge2", "type": "charge", "reporting_category": "charge", "amount": 1000, "fee": 35,
        "net": 965, "currency": "gbp", "created": 1793123456, "description": "From the API", "source": "ch_pre1"}])
    api_line = line("txn_1Charge2")
    assert (api_line.customer_email, api_line.payment_intent_id) == ("", "")

    summary = stripe_report_import(data=REPORT, filename="r.csv")

    assert summary.payouts_new == 1 and summary.lines_new == 9
    payout.refresh_from_db()
    assert (payout.source, payout.statement_descriptor, payout.amount_pence) == ("stripe", "BRIGHTWELL STRIPE", PO1_NET)
    api_line = line("txn_1Charge2")
    assert (api_line.description, api_line.type, api_line.stripe_created_at) == (
        "From the API", "charge", datetime.datetime.fromtimestamp(1793123456, tz=datetime.UTC))
    assert (api_line.customer_email, api_line.customer_name, api_line.payment_intent_id, api_line.charge_id) == (
        "priya.shah@example.org", "Priya Shah", "pi_pre1", "ch_pre1")


def test_a_payout_held_from_stripe_whose_lines_differ_refuses_the_whole_report(gifts):
    Payout.objects.create(stripe_payout_id=PO2, amount_pence=PO2_NET + 250, arrival_date=datetime.date(2026, 11, 9),
                          status="paid")
    with pytest.raises(StripeReportError) as caught:
        stripe_report_import(data=REPORT, filename="r.csv")
    assert str(caught.value) == (
        f"Line 7, column “net”: the lines of payout {PO2} add up to £87.53, but Stripe paid £90.03: a difference of "
        f"-£2.50. Is the report filtered (by reporting category or currency), or cut short? Download it whole for the "
        f"payout's dates")
    assert not PayoutLine.objects.exists() and not Payout.objects.filter(stripe_payout_id=PO1).exists()


def test_a_line_held_in_another_payout_refuses_the_report():
    other = Payout.objects.create(stripe_payout_id="po_other", amount_pence=965, arrival_date=datetime.date(2026, 11, 2))
    PayoutLine.objects.create(payout=other, stripe_balance_transaction_id="txn_1Charge2", reporting_category="charge",
                              amount_pence=1000, fee_pence=35, net_pence=965, stripe_created_at=at("2026-10-27 18:40:11"))
    with pytest.raises(StripeReportError) as caught:
        stripe_report_import(data=REPORT, filename="r.csv")
    assert caught.value.problems[0].line == 3
    assert "txn_1Charge2 is in payout po_other in our records, not po_1QaNov02" in str(caught.value)
    assert PayoutLine.objects.count() == 1


# --- gifts recorded from the report's lines -----------------------------------------------

def test_a_charge_taken_before_go_live_becomes_a_gift_of_the_supporter_with_its_email(gifts, finance_user):
    priya = SupporterFactory(first_name="Priya", last_name="Shah", email="priya.shah@example.org")
    campaign = Campaign.objects.create(name="Winter 2026", code="winter-2026", status="live")
    stripe_report_import(data=REPORT, filename="r.csv")

    donation = stripe_report.stripe_report_line_create_gift(line=line("txn_1Charge2"), campaign=campaign,
                                                            by=finance_user)

    assert donation.supporter == priya and Supporter.objects.filter(email="priya.shah@example.org").count() == 1
    assert (donation.amount_pence, donation.fee_pence, donation.net_pence, donation.status, donation.channel) == (
        1000, 35, 965, "succeeded", "import")
    assert (donation.stripe_charge_id, donation.stripe_payment_intent_id, donation.stripe_balance_transaction_id) == (
        "ch_pre1", "pi_pre1", "txn_1Charge2")
    assert donation.paid_at == at("2026-10-27 18:40:11") == donation.created_at
    assert donation.campaign == campaign and donation.receipt_sent_at is None
    assert campaign_totals(campaign=campaign)["raised_pence"] == 1000
    assert Interaction.objects.filter(supporter=priya, source_ref=f"donation:{donation.pk}").exists()
    charge = line("txn_1Charge2")
    assert (charge.donation, charge.resolution, charge.resolved_by) == (donation, "gift_created", finance_user)
    assert "txn_1Charge2" not in [x.stripe_balance_transaction_id for x in
                                  stripe_report.report_exceptions(payout_ids=[PO1])]


def test_a_new_donor_is_created_from_the_report_and_the_gift_s_refund_follows_it(gifts):
    stripe_report_import(data=REPORT, filename="r.csv")

    donation = stripe_report.stripe_report_line_create_gift(line=line("txn_1Charge4"))

    tom = donation.supporter
    assert (tom.title, tom.first_name, tom.last_name, tom.email, tom.source) == (
        "Mr", "Tom", "Baker", "new.donor@example.org", "import")
    refund_line = line("txn_1Refund2")
    assert refund_line.donation == donation and refund_line.refund.stripe_refund_id == "re_pre2"
    donation.refresh_from_db()
    assert (donation.refunded_pence, donation.status) == (500, "partly_refunded")
    assert stripe_report.report_exceptions(payout_ids=[PO2]).get().stripe_balance_transaction_id == "txn_1Charge5"


def test_a_gift_is_recorded_once_from_its_line(gifts):
    stripe_report_import(data=REPORT, filename="r.csv")
    stripe_report.stripe_report_line_create_gift(line=line("txn_1Charge4"))
    with pytest.raises(ApplicationError, match="already matched to gift D"):
        stripe_report.stripe_report_line_create_gift(line=line("txn_1Charge4"))
    assert Donation.objects.filter(stripe_charge_id="ch_pre2").count() == 1


def test_a_line_whose_gift_has_come_since_is_linked_to_it(gifts):
    stripe_report_import(data=REPORT, filename="r.csv")
    later = ours("ch_pre1", "pi_pre1", 1000)
    assert stripe_report.stripe_report_line_create_gift(line=line("txn_1Charge2")) == later
    assert line("txn_1Charge2").donation == later and Donation.objects.count() == 5


def test_a_fee_line_never_creates_a_supporter_or_a_gift(gifts):
    stripe_report_import(data=REPORT, filename="r.csv")
    supporters, donations = Supporter.objects.count(), Donation.objects.count()
    with pytest.raises(ApplicationError, match="one of Stripe's own fees"):
        stripe_report.stripe_report_line_create_gift(line=line("txn_1Radar1"))
    assert (Supporter.objects.count(), Donation.objects.count()) == (supporters, donations)
    explained = payout_services.payout_line_explain(line=line("txn_1Radar1"), note="Radar fee for October")
    assert (explained.resolution, explained.resolution_note) == ("not_a_gift", "Radar fee for October")


def test_a_charge_without_an_email_creates_no_supporter_and_can_be_explained(gifts, finance_user):
    stripe_report_import(data=REPORT, filename="r.csv")
    supporters = Supporter.objects.count()
    with pytest.raises(ApplicationError, match="gives no email for this payment"):
        stripe_report.stripe_report_line_create_gift(line=line("txn_1Charge5"))
    assert Supporter.objects.count() == supporters
    with pytest.raises(ApplicationError, match="Say what the line is"):
        payout_services.payout_line_explain(line=line("txn_1Charge5"), note="  ")
    payout_services.payout_line_explain(line=line("txn_1Charge5"), note="Staff test payment", by=finance_user)
    assert not stripe_report.report_exceptions(payout_ids=[PO2]).filter(stripe_balance_transaction_id="txn_1Charge5")
    with pytest.raises(ApplicationError, match="already resolved"):
        stripe_report.stripe_report_line_create_gift(line=line("txn_1Charge5"))


def test_refund_and_dispute_lines_are_not_gifts(gifts):
    stripe_report_import(data=REPORT, filename="r.csv")
    with pytest.raises(ApplicationError, match="Only a charge .* this line is a refund"):
        stripe_report.stripe_report_line_create_gift(line=line("txn_1Refund2"))


def test_a_donor_without_a_surname_is_named_by_finance(gifts):
    data = (HEADER + "\n" + f"{PO1},2026-11-02 00:00:00,txn_x,2026-10-27 09:00:00,,gbp,5.00,0.27,4.73,charge,ch_x,,"
                            f"Madonna@example.org,Madonna,ch_x,,,,\n").encode()
    stripe_report_import(data=data, filename="r.csv")
    with pytest.raises(ApplicationError, match="Give the donor's first and last name") as caught:
        stripe_report.stripe_report_line_create_gift(line=line("txn_x"))
    assert caught.value.field == "last_name" and not Supporter.objects.filter(email="madonna@example.org").exists()
    donation = stripe_report.stripe_report_line_create_gift(line=line("txn_x"), first_name="Madonna",
                                                            last_name="Ciccone")
    assert (donation.supporter.first_name, donation.supporter.last_name) == ("Madonna", "Ciccone")


@pytest.mark.parametrize("name, parts", [("Jane Smith", ("", "Jane", "Smith")),
                                         ("Dr Ann Marie Jones", ("Dr", "Ann Marie", "Jones")),
                                         ("Mrs Jo Bloggs", ("Mrs", "Jo", "Bloggs")), ("Cher", ("", "Cher", "")),
                                         ("", ("", "", ""))])
def test_a_card_holder_s_name_is_split_at_the_last_word(name, parts):
    assert stripe_report.split_name(name) == parts


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # keep the roles that migrations made
def test_four_clicks_at_once_record_one_gift():
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL")
    stripe_report_import(data=REPORT, filename="r.csv")
    charge = line("txn_1Charge4")
    results = run_at_once(lambda: stripe_report.stripe_report_line_create_gift(line=charge), workers=4)
    gifts = [result for result in results if isinstance(result, Donation)]
    assert len(gifts) == 1 and Donation.objects.filter(stripe_charge_id="ch_pre2").count() == 1
    assert all("already matched to gift" in result.message for result in results if result not in gifts)
    assert Supporter.objects.filter(email="new.donor@example.org").count() == 1
    assert Refund.objects.filter(stripe_refund_id="re_pre2").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_same_report_imported_twice_at_once_is_held_once():
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL")
    first = ours("ch_ours4", "pi_ours4", 10000)
    text = REPORT.decode() + (f"{PO2},2026-11-09 00:00:00,txn_1Refund3,2026-11-06 12:00:00,,gbp,-10.00,0.00,"
                              f"-10.00,refund,re_dash,REFUND FOR CHARGE,,,ch_ours4,pi_ours4,,,\n")
    Payout.objects.create(stripe_payout_id=PO2, amount_pence=PO2_NET - 1000, arrival_date=datetime.date(2026, 11, 9))
    results = run_at_once(lambda: stripe_report_import(data=text.encode(), filename="r.csv"), workers=3)
    assert all(not isinstance(result, ApplicationError) for result in results), results
    assert (PayoutLine.objects.count(), Payout.objects.count()) == (11, 2)
    # A refund made on Stripe's dashboard, that our gift never heard of, is kept on it once.
    assert Refund.objects.filter(stripe_refund_id="re_dash", donation=first).count() == 1
    first.refresh_from_db()
    assert (first.refunded_pence, first.status) == (1000, "partly_refunded")


# --- bad input: a clear message, naming line and column, and nothing saved ------------------

def with_line(number, cells):
    """The report with its line `number` (the header is 1) replaced."""
    rows = [HEADER, *LINES]
    rows[number - 1] = cells
    return ("\n".join(rows) + "\n").encode()


def test_an_unknown_column_is_named():
    error = refused(REPORT.replace(b"customer_name,", b"Customer Full Name,", 1))
    assert str(error.problems[0]).startswith(
        "Line 1, column “Customer Full Name”: this is not a column of Stripe's itemised payout reconciliation report "
        "(payout_reconciliation.itemized.5)")


def test_a_missing_column_is_named():
    header, *rest = REPORT.decode().split("\n")
    without_net = "\n".join(",".join(cell for i, cell in enumerate(row.split(",")) if i != 8) for row in [header])
    error = refused((without_net + "\n").encode())
    assert str(error) == ("Line 1, column “net”: the report has no such column, and every line needs it. Include it "
                          "when downloading the report")


def test_a_bank_statement_is_not_a_stripe_report():
    error = refused(b"Date,Description,Amount\n01/11/2026,STRIPE PAYMENTS UK,58.07\n")
    # "Description" is one of Stripe's columns too; the nine the report must have are missing.
    assert [p.column for p in error.problems[:2]] == ["Date", "Amount"] and error.problem_count == 2 + 9


def test_a_non_numeric_amount_names_its_line_and_column():
    bad = LINES[2].replace(",50.00,0.95,", ",fifty,0.95,")
    error = refused(with_line(4, bad))
    assert str(error) == "Line 4, column “gross”: “fifty” is not an amount in pounds and pence (e.g. 10.00)"


def test_three_decimal_places_are_refused():
    error = refused(with_line(3, LINES[1].replace(",0.35,9.65,", ",0.345,9.655,")))
    assert [str(p) for p in error.problems] == [
        "Line 3, column “fee”: “0.345” has 3 decimal places; Stripe's amounts are pounds and pence, with two at most",
        "Line 3, column “net”: “9.655” has 3 decimal places; Stripe's amounts are pounds and pence, with two at most"]
    assert str(error).endswith("(and 1 more problem)")


def test_a_net_that_is_not_gross_less_fee_is_refused():
    error = refused(with_line(2, LINES[0].replace(",24.42,", ",24.40,")))
    assert str(error) == "Line 2, column “net”: 24.40 is not the gross 25.00 less the fee 0.58"


@pytest.mark.parametrize("old, new, column, words", [
    (",2026-10-27 09:15:02,", ",27th Oct,", "created_utc", "“27th Oct” is not a date"),
    (",gbp,", ",pounds,", "currency", "“pounds” is not a currency code"),
    (f"{PO1},", "tr_1Q,", "automatic_payout_id", "“tr_1Q” is not a Stripe id (“po_…”)"),
    (",txn_1Charge1,", ",,", "balance_transaction_id", "it is empty; every line needs it"),
    (",charge,", ",,", "reporting_category", "it is empty; every line has a reporting category"),
])
def test_every_cell_is_checked(old, new, column, words):
    error = refused(with_line(2, LINES[0].replace(old, new, 1)))
    assert (error.problems[0].line, error.problems[0].column) == (2, column) and words in str(error)


def test_every_problem_is_reported_at_once():
    rows = [LINES[0].replace(",25.00,", ",2500p,"), LINES[1], LINES[2].replace(",gbp,", ",,")]
    error = refused((HEADER + "\n" + "\n".join(rows) + "\n").encode())
    assert [(p.line, p.column) for p in error.problems] == [(2, "gross"), (4, "currency")]


def test_a_balance_transaction_twice_is_refused():
    error = refused((HEADER + "\n" + LINES[0] + "\n" + LINES[0] + "\n").encode())
    assert str(error) == ("Line 3, column “balance_transaction_id”: txn_1Charge1 is also on line 2; a balance "
                          "transaction is in a report once")


def test_a_line_with_a_cell_too_many_is_refused():
    error = refused(with_line(5, LINES[3] + ",extra"))
    assert str(error) == "Line 5: the line has 20 cells where the header has 19: is a comma missing, or a quote?"


def test_a_payout_s_lines_must_agree_on_its_date():
    error = refused(with_line(3, LINES[1].replace("2026-11-02 00:00:00", "2026-11-03 00:00:00")))
    assert str(error) == ("Line 3, column “automatic_payout_effective_at_utc”: payout po_1QaNov02 arrives on "
                          "2 November 2026 (line 2), but this line of it says 3 November 2026")


@pytest.mark.parametrize("data, words", [
    (b"", "The file is empty."), (b"\r\n \r\n", "The file is empty."),
    (HEADER.encode() + b"\n", "The report has no lines, only its header."),
    (b"%PDF-1.7 ...", "This is a PDF."), (b"PK\x03\x04...", "This is a spreadsheet (.xlsx)"),
    (b"\x00\x01\x02binary\x00", "The file isn't text we can read"),
])
def test_empty_and_wrong_files_are_refused(data, words):
    assert str(refused(data)).startswith(words)


def test_a_50_mb_file_is_refused_before_it_is_read():
    error = refused(b"x" * (50 * 1024 * 1024))
    assert str(error) == ("The file is 50.0 MB; a Stripe report may be at most 20 MB. Download fewer months at a time "
                          "and import each file.")


def test_windows_1252_as_excel_saves_it_is_read():
    text = REPORT.decode().replace("Priya Shah", "Zoë Brontë-Smith").replace("Payment for Invoice", "Gift £10")
    stripe_report_import(data=text.encode("cp1252"), filename="excel.csv")
    charge = line("txn_1Charge2")
    assert (charge.customer_name, charge.description) == ("Zoë Brontë-Smith", "Gift £10")


def test_utf8_with_a_byte_order_mark_and_windows_line_ends_is_read():
    data = b"\xef\xbb\xbf" + REPORT.replace(b"\n", b"\r\n").replace(b"Priya Shah", "Siân Ó Briain".encode())
    summary = stripe_report_import(data=data, filename="bom.csv")
    assert summary.lines == 10 and line("txn_1Charge2").customer_name == "Siân Ó Briain"


def test_excel_s_uk_dates_and_the_report_s_own_time_zone_are_read():
    header = HEADER.replace("automatic_payout_effective_at_utc", "automatic_payout_effective_at").replace(
        "created_utc", "created")
    row = LINES[1].replace("2026-11-02 00:00:00", "02/11/2026 00:00").replace("2026-10-27 18:40:11",
                                                                              "20/10/2026 18:40")
    (payout,) = read_stripe_report((header + "\n" + row + "\n").encode())
    assert payout.arrival_date == datetime.date(2026, 11, 2)
    assert payout.lines[0].created == at("2026-10-20 17:40:00")  # 18:40 in London was 17:40 UTC (summer time)


# --- the command ------------------------------------------------------------------------------

def test_the_command_prints_a_one_line_summary(tmp_path, gifts):
    path = tmp_path / "stripe-nov.csv"
    path.write_bytes(REPORT)
    out = io.StringIO()
    call_command("import_stripe_report", str(path), stdout=out)
    assert out.getvalue() == ("stripe-nov.csv: 2 payouts (2 new), 10 lines (10 new, 0 already held), 5 matched to "
                              "gifts, 4 exceptions, 1 other line (Stripe's fees, adjustments).\n")


def test_the_command_names_each_problem_and_fails(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(with_line(4, LINES[2].replace(",50.00,0.95,", ",fifty,0.95,")))
    err = io.StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("import_stripe_report", str(path), stderr=err)
    assert str(caught.value) == ("bad.csv was not imported, and nothing of it was saved. Line 4, column “gross”: "
                                 "“fifty” is not an amount in pounds and pence (e.g. 10.00)")
    assert not PayoutLine.objects.exists()


def test_the_command_lists_every_problem(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(with_line(3, LINES[1].replace(",0.35,9.65,", ",0.345,9.655,")))
    err = io.StringIO()
    with pytest.raises(CommandError, match=r"Line 3, column “fee”: .* \(and 1 more problem\)$"):
        call_command("import_stripe_report", str(path), stderr=err)
    assert err.getvalue().splitlines() == [
        "Line 3, column “fee”: “0.345” has 3 decimal places; Stripe's amounts are pounds and pence, with two at most",
        "Line 3, column “net”: “9.655” has 3 decimal places; Stripe's amounts are pounds and pence, with two at most"]


def test_the_command_refuses_a_50_mb_file_without_reading_it(tmp_path):
    path = tmp_path / "huge.csv"
    with open(path, "wb") as handle:
        handle.truncate(50 * 1024 * 1024)  # sparse: nothing to read, only its size
    with pytest.raises(CommandError, match="at most 20 MB"):
        call_command("import_stripe_report", str(path), stderr=io.StringIO())


def test_the_command_exits_non_zero(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    result = subprocess.run([sys.executable, "manage.py", "import_stripe_report", str(path)], capture_output=True,
                            text=True, env=env)
    assert result.returncode == 1 and "The file is empty." in result.stderr
    result = subprocess.run([sys.executable, "manage.py", "import_stripe_report", str(tmp_path / "missing.csv")],
                            capture_output=True, text=True, env=env)
    assert result.returncode == 1 and "Cannot read" in result.stderr


# --- the staff screen ---------------------------------------------------------------------------

URL = "/admin/stripe-report/"


def text(response):
    return html.unescape(response.content.decode())


def upload(client, data=REPORT, name="stripe-nov.csv"):
    return client.post(URL, {"file": SimpleUploadedFile(name, data, content_type="text/csv")})


def refused_to(response, role):
    """Wagtail's answer to no permission: the login page for a visitor, the
    dashboard (with its message) for staff without the role."""
    if role == "anonymous":
        return response.status_code == 302 and response["Location"].startswith("/admin/login/")
    return response.status_code == 302 and response["Location"] == "/admin/"


@pytest.mark.parametrize("role", ["anonymous", "fundraiser", "finance", "admin"])
def test_only_finance_and_superusers_reach_the_screen(client, django_user_model, role, gifts):
    from tests.conftest import _staff

    allowed = role in ("finance", "admin")
    if role != "anonymous":
        log_in_verified(client, _staff(django_user_model, role, group={"fundraiser": "Fundraising", "finance": "Finance"}
                                  .get(role), superuser=role == "admin"))
    response = client.get(URL)
    assert response.status_code == 200 if allowed else refused_to(response, role)
    response = upload(client)
    assert response["Location"] == URL if allowed else refused_to(response, role)
    assert PayoutLine.objects.exists() == allowed
    if not allowed:
        stripe_report_import(data=REPORT, filename="r.csv")
    charge, radar = line("txn_1Charge4"), line("txn_1Radar1")
    response = client.get(f"{URL}line/{charge.pk}/gift/")
    assert response.status_code == 200 if allowed else refused_to(response, role)
    response = client.post(f"{URL}line/{charge.pk}/gift/", {"confirm": "on"})
    assert response["Location"] == URL if allowed else refused_to(response, role)
    response = client.post(f"{URL}line/{radar.pk}/not-a-gift/", {"note": "Radar"})
    assert response["Location"] == URL if allowed else refused_to(response, role)
    assert Donation.objects.filter(stripe_charge_id="ch_pre2").exists() == allowed
    assert bool(line("txn_1Radar1").resolution) == allowed


def test_the_menu_shows_the_import_to_finance_only(client, fundraiser, finance_user):
    log_in_verified(client, finance_user)
    assert URL.encode() in client.get("/admin/").content
    log_in_verified(client, fundraiser)
    assert URL.encode() not in client.get("/admin/").content


def test_finance_imports_the_report_and_sees_what_it_held(finance_client, gifts):
    priya = SupporterFactory(first_name="Priya", last_name="Shah", email="priya.shah@example.org")
    response = upload(finance_client)
    assert response.status_code == 302 and response["Location"] == URL

    page = text(finance_client.get(URL))
    assert "Imported stripe-nov.csv: 2 payouts (2 new), 10 lines (10 new, 0 already held), 5 matched" in page
    assert PO1 in page and "£58.07" in page and "£87.53" in page and "Yes, to the penny" in page
    charge2, charge4, radar = line("txn_1Charge2"), line("txn_1Charge4"), line("txn_1Radar1")
    assert f"{URL}line/{charge2.pk}/gift/" in page and f"{URL}line/{charge4.pk}/gift/" in page
    assert f"Supporter {priya.reference}" in page
    assert f"line/{radar.pk}/" not in page  # a fee is no exception
    no_email = line("txn_1Charge5")
    assert f"{URL}line/{no_email.pk}/gift/" not in page and f"{URL}line/{no_email.pk}/not-a-gift/" in page
    assert "gives no email for this payment" in page


def test_a_bad_report_is_shown_with_its_lines_and_columns(finance_client):
    response = upload(finance_client, with_line(4, LINES[2].replace(",50.00,0.95,", ",fifty,0.95,")), "bad.csv")
    page = text(response)
    assert response.status_code == 200 and "1 problem in “bad.csv”. Nothing was saved." in page
    assert '<td class="nowrap" data-label="Line">4</td>' in page and "<code>gross</code>" in page
    assert "“fifty” is not an amount in pounds and pence" in page
    assert not PayoutLine.objects.exists()


def test_a_50_mb_upload_is_refused(finance_client):
    page = text(upload(finance_client, b"x" * (50 * 1024 * 1024), "huge.csv"))
    assert "a Stripe report may be at most 20 MB" in page and not Payout.objects.exists()


def test_finance_records_the_gift_for_the_supporter_with_its_email(finance_client, gifts, finance_user):
    priya = SupporterFactory(first_name="Priya", last_name="Shah", email="priya.shah@example.org")
    campaign = Campaign.objects.create(name="Winter 2026", code="winter-2026", status="live")
    stripe_report_import(data=REPORT, filename="r.csv")
    url = f"{URL}line/{line('txn_1Charge2').pk}/gift/"

    page = text(finance_client.get(url))
    assert f"Record a gift of £10.00 from {priya} ({priya.reference})" in page
    assert 'name="first_name"' not in page
    assert finance_client.post(url, {"campaign": campaign.pk}).status_code == 200  # not confirmed: nothing
    assert not Donation.objects.filter(stripe_charge_id="ch_pre1").exists()

    response = finance_client.post(url, {"campaign": campaign.pk, "confirm": "on"}, follow=True)
    donation = Donation.objects.get(stripe_charge_id="ch_pre1")
    assert (donation.supporter, donation.campaign, line("txn_1Charge2").resolved_by) == (priya, campaign, finance_user)
    assert f"Recorded gift {donation.reference} of £10.00 from {priya}" in text(response)


def test_finance_names_a_new_donor(finance_client, gifts):
    stripe_report_import(data=REPORT, filename="r.csv")
    url = f"{URL}line/{line('txn_1Charge4').pk}/gift/"
    page = text(finance_client.get(url))
    assert "No supporter has the email new.donor@example.org" in page and 'value="Tom"' in page
    finance_client.post(url, {"first_name": "Thomas", "last_name": "Baker", "confirm": "on"})
    supporter = Donation.objects.get(stripe_charge_id="ch_pre2").supporter
    assert (supporter.first_name, supporter.last_name, supporter.email) == ("Thomas", "Baker", "new.donor@example.org")


def test_the_screen_never_makes_a_supporter_from_a_fee(finance_client, gifts):
    stripe_report_import(data=REPORT, filename="r.csv")
    radar = line("txn_1Radar1")
    page = text(finance_client.get(f"{URL}line/{radar.pk}/gift/"))
    assert "one of Stripe's own fees" in page and 'name="confirm"' not in page
    supporters = Supporter.objects.count()
    response = finance_client.post(f"{URL}line/{radar.pk}/gift/", {"confirm": "on"})
    assert response.status_code == 200 and "one of Stripe's own fees" in text(response)
    assert Supporter.objects.count() == supporters

    response = finance_client.post(f"{URL}line/{radar.pk}/not-a-gift/", {"note": "Radar fee, October"}, follow=True)
    assert "marked not a gift: “Radar fee, October”" in text(response)
    assert line("txn_1Radar1").resolution == "not_a_gift"
