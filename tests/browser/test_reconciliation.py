"""Finance reconciles in a real Chromium: imports the bank statement, confirms
the payout's match, explains a credit, and closes the month; at desktop and
phone widths. Screenshots land in test-artifacts/."""

import csv
import datetime
import io
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from finance.models import BankAccount, BankLine, ClosedMonth, Payout
from finance.services import payouts
from supporters.models import Supporter
from tests.browser.conftest import BROWSER_DB as browser_db
from tests.browser.conftest import shot
from tests.browser.test_supporter_admin import log_in
from tests.finance.builders import bt, card_gift, lloyds, payout_data

pytestmark = pytest.mark.browser


@browser_db
def test_finance_imports_a_statement_confirms_the_match_and_closes_the_month(page, live_server, finance_user,
                                                                              tmp_path):
    last_month = (timezone.localdate().replace(day=1) - datetime.timedelta(days=1)).replace(day=1)
    gift_day, arrival = last_month + datetime.timedelta(days=2), last_month + datetime.timedelta(days=9)
    donor = Supporter.objects.create(first_name="Siân", last_name="Jones", email="sian@example.org")
    card_gift(donor, 12_345, "ch_b1", on=gift_day)
    card_gift(donor, 2_000, "ch_b2", on=gift_day)
    payout = payouts.payout_record(payout=payout_data("po_browser", 12_345 - 205 + 2_000 - 50, arrival=arrival))
    payouts.payout_lines_record(payout=payout, transactions=[bt("txn_b1", "charge", 12_345, 205, "ch_b1", on=gift_day),
                                                             bt("txn_b2", "charge", 2_000, 50, "ch_b2", on=gift_day)])
    BankAccount.objects.create(name="Lloyds current account", code="090")
    statement = tmp_path / "lloyds.csv"
    statement.write_bytes(lloyds((arrival, "STRIPE PAYMENTS UK BRIGHTWELL", 0, 140.90),
                                 (arrival + datetime.timedelta(days=1), "INTEREST (GROSS)", 0, 3.12),
                                 (arrival + datetime.timedelta(days=2), "DD BRITISH GAS", 184.50, 0)))

    log_in(page, live_server, finance_user)
    page.goto(live_server.url + "/admin/reconciliation/")
    page.get_by_role("link", name="Import a bank statement").click()
    page.get_by_label("Statement file (CSV)").set_input_files(str(statement))
    shot(page, "finance-statement-import")
    page.get_by_role("button", name="Import the statement").click()

    main = page.locator("main")
    expect(page.locator(".messages")).to_contain_text("3 lines added, 0 already held")
    expect(main).to_contain_text("Matches to confirm")
    expect(main).to_contain_text("po_browser")
    expect(main).to_contain_text("£140.90")
    shot(page, "finance-reconciliation")
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "finance-reconciliation-phone")
    page.set_viewport_size({"width": 1366, "height": 900})

    page.get_by_role("button", name="Confirm the ticked matches").click()
    expect(page.locator(".messages")).to_contain_text("1 match confirmed.")
    assert Payout.objects.get().bank_line.description == "STRIPE PAYMENTS UK BRIGHTWELL"

    page.get_by_label("Other income: what is it?").fill("Bank interest")
    page.get_by_role("button", name="Other income").click()
    expect(page.locator(".messages")).to_contain_text("marked as other income")
    expect(main).to_contain_text("Exceptions (0)")
    assert BankLine.objects.get(description="INTEREST (GROSS)").note == "Bank interest"

    page.get_by_role("link", name="Months").click()
    page.get_by_role("button", name=f"Close {last_month:%B %Y}").click()
    expect(page.locator(".messages")).to_contain_text(f"{last_month:%B %Y} is closed")
    shot(page, "finance-months")
    assert ClosedMonth.objects.get().month == last_month

    # The month's journal for Xero: the payout, posted to the bank line it matched.
    page.goto(live_server.url + "/admin/journals/")
    page.get_by_label("One Stripe payout").check()
    page.get_by_label("Stripe payout", exact=True).select_option("po_browser")
    page.get_by_label("Xero (manual journals)").check()
    page.get_by_role("button", name="Show the journals").click()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download for Xero manual journals").click()
    rows = list(csv.reader(io.StringIO(open(download.value.path(), encoding="utf-8-sig").read())))
    amounts = [Decimal(row[5]) for row in rows[1:]]
    assert amounts == [Decimal("140.90"), Decimal("-143.45"), Decimal("2.55")]  # bank, income, Stripe fees
    shot(page, "finance-journal-xero")

    page.goto(live_server.url + f"/admin/payout/inspect/{payout.pk}/")
    expect(main).to_contain_text("add up to the payout to the penny")
    shot(page, "finance-payout")
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "finance-payout-phone")
