"""Reconciliation through finance's services: a payout's balance transactions
matched to gifts, refunds and disputes and adding up to the penny; bank
statements imported once per line; credits matched only on an exact amount in
the window; closed months refused by donations' own services."""

import datetime
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from config.errors import ApplicationError
from donations.models import Donation
from donations.services import donation_record_offline
from finance import selectors
from finance.models import BankLine, ClosedMonth, MonthReopening, Payout, PayoutLine
from finance.services import bank, months, payouts
from finance.services.reconcile import reconcile
from tests.finance.builders import D, LLOYDS_HEADER, bt, card_gift, lloyds, payout_data

pytestmark = pytest.mark.django_db

def test_each_line_is_matched_to_its_gift_refund_or_dispute_and_gifts_get_their_fees(month_of_payout):
    payout = month_of_payout["payout"]
    first, second, third = month_of_payout["gifts"]
    lines = {line.stripe_balance_transaction_id: line for line in payout.lines.all()}
    assert "txn_po" not in lines  # the payout's own transaction is the payout
    assert lines["txn_1"].donation == first and lines["txn_2"].donation == second
    assert lines["txn_4"].refund == month_of_payout["refund"] and lines["txn_4"].donation == first
    assert lines["txn_5"].donation == third
    assert lines["txn_6"].donation is None
    first.refresh_from_db()
    assert (first.fee_pence, first.net_pence, first.stripe_balance_transaction_id) == (95, 4905, "txn_1")


def test_the_payout_adds_up_to_the_penny_by_category(month_of_payout):
    figures = selectors.payout_figures(month_of_payout["payout"])
    assert figures.adds_up and figures.difference_pence == 0
    assert figures.net_pence == month_of_payout["net"] == 8000 - 180 - 500 - 1000 - 2000 - 5
    by = {c.category: c for c in figures.categories}
    assert [c.category for c in figures.categories] == ["charge", "refund", "dispute", "fee"]
    assert (by["charge"].count, by["charge"].amount_pence, by["charge"].fee_pence) == (3, 8000, 180)
    assert figures.gross_pence == 8000
    assert figures.fees_pence == 180 + 2000 + 5  # card fees, the dispute fee and Radar
    assert figures.unmatched_lines == []


def test_a_payout_whose_lines_do_not_add_up_says_by_how_much_and_a_line_without_gift_is_an_exception(donor):
    card_gift(donor, 3000, "ch_a")
    payout = payouts.payout_record(payout=payout_data("po_2", 4269))  # the lines come to £41.69: £1 short
    payouts.payout_lines_record(payout=payout, transactions=[bt("txn_a", "charge", 3000, 45, "ch_a"),
                                                             bt("txn_b", "charge", 1234, 20, "ch_unknown")])
    figures = selectors.payout_figures(payout)
    assert not figures.adds_up and figures.difference_pence == 100
    assert [line.stripe_balance_transaction_id for line in figures.unmatched_lines] == ["txn_b"]
    exceptions = selectors.finance_exceptions(today=D(2026, 11, 20))
    assert [line.stripe_balance_transaction_id for line in exceptions.lines_without_gift] == ["txn_b"]
    assert exceptions.payouts_not_adding_up == [(payout, figures.difference_pence)]


def test_recording_again_changes_nothing_and_an_old_status_never_takes_a_payout_back(month_of_payout):
    payout = month_of_payout["payout"]
    again = payouts.payout_record(payout=payout_data("po_1", month_of_payout["net"], status="in_transit"))
    assert again.pk == payout.pk and again.status == Payout.Status.PAID
    payouts.payout_lines_record(payout=payout, transactions=[bt("txn_1", "charge", 5000, 95, "ch_1")])
    assert PayoutLine.objects.count() == 6
    failed = payouts.payout_record(payout={**payout_data("po_1", month_of_payout["net"], status="failed"),
                                           "failure_code": "account_closed"})
    assert failed.status == Payout.Status.FAILED and failed.failure_code == "account_closed"


def test_recording_again_links_a_line_whose_gift_came_since_and_keeps_every_link_made(donor, month_of_payout):
    payout = month_of_payout["payout"]
    late, later = bt("txn_7", "charge", 1500, 43, "ch_7"), bt("txn_8", "charge", 900, 34, "ch_8")
    payouts.payout_lines_record(payout=payout, transactions=[bt("txn_1", "charge", 5000, 95, "ch_1"), late, later])
    assert PayoutLine.objects.get(stripe_balance_transaction_id="txn_7").donation is None

    gift, other = card_gift(donor, 1500, "ch_7"), card_gift(donor, 900, "ch_8")   # their webhooks came late
    payouts.payout_lines_record(payout=payout, transactions=[bt("txn_4", "refund", -500, 0, "re_1"), late])
    lines = {line.stripe_balance_transaction_id: line for line in payout.lines.all()}
    assert lines["txn_7"].donation == gift and lines["txn_7"].refund is None
    assert lines["txn_8"].donation == other   # the payout's line, though not in this list
    assert (lines["txn_4"].donation, lines["txn_4"].refund) == (month_of_payout["gifts"][0], month_of_payout["refund"])
    assert lines["txn_1"].donation == month_of_payout["gifts"][0] and lines["txn_6"].donation is None
    gift.refresh_from_db()
    assert (gift.fee_pence, gift.net_pence, gift.stripe_balance_transaction_id) == (43, 1457, "txn_7")


def test_a_gift_in_no_payout_after_seven_days_is_an_exception(donor, month_of_payout):
    late = card_gift(donor, 700, "ch_late", on=D(2026, 11, 5))
    assert selectors.finance_exceptions(today=D(2026, 11, 12)).gifts_not_paid_out == []
    assert selectors.finance_exceptions(today=D(2026, 11, 13)).gifts_not_paid_out == [late]


# --- the bank ----------------------------------------------------------------------

def test_a_statement_is_imported_once_per_line_even_overlapping(account):
    first = bank.bank_statement_import(account=account, filename="nov-1.csv", data=lloyds(
        (D(2026, 11, 2), "CHEQUE 100", 0, 10.00), (D(2026, 11, 2), "CHEQUE 100", 0, 10.00),
        (D(2026, 11, 3), "RENT", 500.00, 0)))
    assert (first.layout, first.lines_added, first.lines_already_held) == ("Lloyds Bank", 3, 0)
    second = bank.bank_statement_import(account=account, filename="nov-2.csv", data=lloyds(
        (D(2026, 11, 2), "CHEQUE 100", 0, 10.00), (D(2026, 11, 2), "CHEQUE 100", 0, 10.00),
        (D(2026, 11, 3), "RENT", 500.00, 0), (D(2026, 11, 4), "INTEREST", 0, 1.23)))
    assert (second.lines_added, second.lines_already_held) == (1, 3)
    assert BankLine.objects.count() == 4
    assert BankLine.objects.get(description="RENT").status == BankLine.Status.NOT_A_CREDIT


def test_a_statement_for_another_account_is_refused_and_saves_nothing(account):
    other = LLOYDS_HEADER + "02/11/2026,BGC,'30-94-12,87654321,X,,1.00,1001.00\n"
    with pytest.raises(ApplicationError, match="account number 87654321"):
        bank.bank_statement_import(account=account, filename="x.csv", data=other.encode())
    assert not BankLine.objects.exists()


def test_a_payout_matches_only_its_exact_amount_within_three_working_days(account, month_of_payout):
    net = month_of_payout["net"]  # £43.15
    bank.bank_statement_import(account=account, filename="nov.csv", data=lloyds(
        (D(2026, 11, 5), "STRIPE BRIGHTWELL", 0, net / 100),       # 3 working days early: the window's first day
        (D(2026, 11, 10), "STRIPE BRIGHTWELL", 0, (net + 9) / 100),  # a digit off
        (D(2026, 11, 16), "STRIPE BRIGHTWELL", 0, net / 100)))       # too late (4 working days)
    certain, to_choose = bank.bank_match_proposals()
    assert [(p.payout, [line.date for line in p.candidates]) for p in certain] == [
        (month_of_payout["payout"], [D(2026, 11, 5)])]
    assert to_choose == []


def test_two_credits_that_fit_are_for_finance_to_choose_and_a_confirmed_match_is_kept(account, month_of_payout,
                                                                                      admin_user):
    amount = month_of_payout["net"] / 100
    bank.bank_statement_import(account=account, filename="nov.csv", data=lloyds(
        (D(2026, 11, 10), "FASTER PAYMENT", 0, amount), (D(2026, 11, 11), "FASTER PAYMENT", 0, amount)))
    certain, to_choose = bank.bank_match_proposals()
    assert certain == [] and len(to_choose) == 1 and len(to_choose[0].candidates) == 2
    chosen = to_choose[0].candidates[1]
    bank.bank_match_confirm(line=chosen, payout=month_of_payout["payout"], by=admin_user)
    payout = Payout.objects.get(pk=month_of_payout["payout"].pk)
    assert payout.bank_line == chosen and payout.matched_by == admin_user
    with pytest.raises(ApplicationError, match="already"):
        bank.bank_match_confirm(line=to_choose[0].candidates[0], payout=payout)


def test_certain_matches_are_confirmed_together_those_chosen_or_all(account, month_of_payout, admin_user):
    second = payouts.payout_record(payout=payout_data("po_2", 2500, arrival=D(2026, 11, 17)))
    payouts.payout_lines_record(payout=second, transactions=[bt("txn_21", "charge", 2556, 56, "ch_21")])
    bank.bank_statement_import(account=account, filename="nov.csv", data=lloyds(
        (D(2026, 11, 10), "STRIPE BRIGHTWELL", 0, month_of_payout["net"] / 100),
        (D(2026, 11, 17), "STRIPE BRIGHTWELL", 0, 25.00)))
    certain, _ = bank.bank_match_proposals()
    assert [proposal.key for proposal in certain] == [f"payout-{month_of_payout['payout'].pk}", f"payout-{second.pk}"]

    assert bank.bank_matches_confirm(keys=[f"payout-{second.pk}"], by=admin_user) == 1
    second.refresh_from_db()
    assert second.bank_line.date == D(2026, 11, 17) and second.matched_by == admin_user and second.matched_at
    assert second.bank_line.status == BankLine.Status.MATCHED and second.bank_line.resolved_by == admin_user
    assert Payout.objects.get(pk=month_of_payout["payout"].pk).bank_line is None

    assert bank.bank_matches_confirm() == 1
    first = Payout.objects.get(pk=month_of_payout["payout"].pk)
    assert first.bank_line.date == D(2026, 11, 10) and first.matched_by is None
    assert bank.bank_matches_confirm() == 0
    assert BankLine.objects.filter(status=BankLine.Status.UNMATCHED).count() == 0


def test_the_reference_decides_between_two_credits(account, month_of_payout):
    amount = month_of_payout["net"] / 100
    bank.bank_statement_import(account=account, filename="nov.csv", data=lloyds(
        (D(2026, 11, 10), "FASTER PAYMENT J SMITH", 0, amount), (D(2026, 11, 11), "STRIPE BRIGHTWELL", 0, amount)))
    result = reconcile(today=D(2026, 11, 20))
    assert result.bank_matches_now == 1
    assert Payout.objects.get().bank_line.description == "STRIPE BRIGHTWELL"
    assert [line.description for line in result.exceptions.unmatched_credits] == ["FASTER PAYMENT J SMITH"]


def test_other_income_needs_a_note(account, admin_user):
    bank.bank_statement_import(account=account, filename="nov.csv", data=lloyds((D(2026, 11, 4), "INTEREST", 0, 1.23)))
    line = BankLine.objects.get()
    with pytest.raises(ApplicationError, match="Say what the money is"):
        bank.bank_line_mark_other_income(line=line, note=" ", by=admin_user)
    bank.bank_line_mark_other_income(line=line, note="Bank interest", by=admin_user)
    line.refresh_from_db()
    assert (line.status, line.note, line.resolved_by) == (BankLine.Status.OTHER_INCOME, "Bank interest", admin_user)
    assert selectors.finance_exceptions(today=D(2026, 11, 20)).unmatched_credits == []


# --- closed months ---------------------------------------------------------------------

def test_a_closed_month_refuses_gifts_dated_in_it_until_reopened_with_a_reason(donor, admin_user):
    with pytest.raises(ApplicationError, match="not over yet"):
        months.month_close(month=D(2026, 11, 1), today=D(2026, 11, 30))
    months.month_close(month=D(2026, 10, 1), by=admin_user, today=D(2026, 11, 1))
    assert months.month_close(month=D(2026, 10, 1), today=D(2026, 11, 1)) == ClosedMonth.objects.get()
    with pytest.raises(ApplicationError, match="October 2026 is closed"):
        donation_record_offline(supporter=donor, amount_pence=2500, received_on=D(2026, 10, 31),
                                channel=Donation.Channel.OFFLINE)
    assert not Donation.objects.exists()
    donation_record_offline(supporter=donor, amount_pence=2500, received_on=D(2026, 11, 1),
                            channel=Donation.Channel.OFFLINE)
    with pytest.raises(ApplicationError, match="Say why"):
        months.month_reopen(month=D(2026, 10, 1), reason="", by=admin_user)
    months.month_reopen(month=D(2026, 10, 1), reason="Cheque batch 41 keyed to the wrong month", by=admin_user)
    assert MonthReopening.objects.get().reopened_by == admin_user
    donation_record_offline(supporter=donor, amount_pence=2500, received_on=D(2026, 10, 31),
                            channel=Donation.Channel.OFFLINE)
    assert Donation.objects.count() == 2


# --- commands ------------------------------------------------------------------------

def test_import_bank_statement_command_prints_a_summary_and_fails_loudly(account, tmp_path):
    path = tmp_path / "nov.csv"
    path.write_bytes(lloyds((D(2026, 11, 2), "CHEQUE 100", 0, 10.00)))
    out = io.StringIO()
    call_command("import_bank_statement", str(path), "--account", "090", stdout=out)
    assert out.getvalue().strip() == "nov.csv (Lloyds Bank), 02/11/2026 to 02/11/2026: 1 lines added, 0 already held."
    bad = tmp_path / "bad.csv"
    bad.write_bytes((LLOYDS_HEADER + "02/11/2026,BGC,'30-94-12,12345678,X,,ten,1010.00\n").encode())
    with pytest.raises(CommandError, match=r"bad.csv: Line 2, column G"):
        call_command("import_bank_statement", str(bad), "--account", "090")
    with pytest.raises(CommandError, match="No bank account has the code 999"):
        call_command("import_bank_statement", str(path), "--account", "999")
    with pytest.raises(CommandError, match="No layout is called"):
        call_command("import_bank_statement", str(path), "--layout", "Bank of Nowhere")


def test_reconcile_command_prints_what_is_matched_and_each_unexplained_difference(account, month_of_payout):
    PayoutLine.objects.filter(stripe_balance_transaction_id="txn_6").delete()  # the Radar fee went missing
    bank.bank_statement_import(account=account, filename="nov.csv", data=lloyds(
        (D(2026, 11, 10), "STRIPE BRIGHTWELL", 0, month_of_payout["net"] / 100)))
    out = io.StringIO()
    call_command("reconcile", "--month", "2026-11", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("November 2026: 0 Stripe lines and 1 bank credits matched now (1 payouts matched")
    assert lines[1] == "  po_1 (10/11/2026, £43.15): -£0.05 unexplained"
    with pytest.raises(CommandError, match="--month must be YYYY-MM"):
        call_command("reconcile", "--month", "Nov")


def test_a_closed_month_refuses_withdrawing_its_gifts_and_recording_them_from_stripes_report(donor, admin_user):
    from donations.services import donation_offline_withdraw
    from donations.services.gifts import donation_record_from_stripe_report

    kept = donation_record_offline(supporter=donor, amount_pence=1000, received_on=D(2026, 10, 30),
                                   channel=Donation.Channel.OFFLINE)
    months.month_close(month=D(2026, 10, 1), today=D(2026, 11, 1))
    with pytest.raises(ApplicationError, match="October 2026 is closed"):
        donation_offline_withdraw(donation=kept, reason="Keyed twice", by=admin_user)
    with pytest.raises(ApplicationError, match="October 2026 is closed"):
        donation_record_from_stripe_report(
            supporter=donor, amount_pence=2000, fee_pence=50, net_pence=1950, currency="gbp",
            paid_at=datetime.datetime(2026, 10, 15, 12, tzinfo=datetime.UTC), charge_id="ch_old",
            payment_intent_id=None, balance_transaction_id="txn_old")
    assert Donation.objects.get().status == Donation.Status.SUCCEEDED


def test_a_months_exceptions_are_that_months_only(donor):
    card_gift(donor, 3000, "ch_oct", on=D(2026, 10, 2))
    payout = payouts.payout_record(payout=payout_data("po_oct", 3000 - 45 + 100, arrival=D(2026, 10, 6)))  # £1 short
    payouts.payout_lines_record(payout=payout, transactions=[bt("txn_oct", "charge", 3000, 45, "ch_oct",
                                                                on=D(2026, 10, 2))])
    october = selectors.finance_exceptions(today=D(2026, 11, 20), month=D(2026, 10, 1))
    november = selectors.finance_exceptions(today=D(2026, 11, 20), month=D(2026, 11, 1))
    assert october.payouts_not_adding_up == [(payout, 100)]
    assert november.payouts_not_adding_up == [] and november.count == 0
