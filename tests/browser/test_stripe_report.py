"""Finance imports Stripe's payout report in a real Chromium, sees what it held,
records a gift from a pre-go-live charge and marks a line "not a gift"; a bad
report shows its problems by line and column. Desktop and phone widths;
screenshots in test-artifacts/, and axe finds no serious WCAG problem."""

import pytest
from playwright.sync_api import expect

from donations.models import Donation
from finance.models import PayoutLine
from tests.browser.conftest import inject_script
from tests.browser.conftest import BROWSER_DB as browser_db
from tests.browser.conftest import ARTIFACTS, shot
from tests.browser.test_accessibility import BLOCKING, RUN_AXE, WCAG_TAGS, _report, axe_source
from tests.browser.test_supporter_admin import log_in
from tests.finance.test_stripe_report import LINES, REPORT, ours, with_line
from tests.supporters.factories import SupporterFactory

pytestmark = pytest.mark.browser


def no_serious_wcag_problems(page, name):
    inject_script(page, axe_source())
    # Wagtail's own message banner fades in: measured mid-fade, its green is a shade too light.
    exclude = [".messages"]
    violations = [v for v in page.evaluate(RUN_AXE, {"tags": WCAG_TAGS, "exclude": exclude})
                  if v["impact"] in BLOCKING]
    assert not violations, _report(violations, name, page.viewport_size["width"])


@browser_db
def test_finance_imports_the_report_and_records_a_gift_from_it(page, live_server, finance_user, tmp_path):
    ours("ch_ours1", "pi_ours1", 2500)
    ours(None, "pi_ours2", 5000)
    ours("ch_ours3", "pi_ours3", 1000, stripe_dispute_id="du_ours3")
    ours("ch_ours4", "pi_ours4", 10000)
    priya = SupporterFactory(first_name="Priya", last_name="Shah", email="priya.shah@example.org")
    report = tmp_path / "stripe-november.csv"
    report.write_bytes(REPORT)

    log_in(page, live_server, finance_user)
    page.goto(live_server.url + "/admin/")
    page.get_by_role("navigation", name="Main menu").get_by_role("button", name="Finance").click()
    page.get_by_role("link", name="Import Stripe's report").click()
    page.get_by_label("Stripe's report (CSV)").set_input_files(str(report))
    shot(page, "stripe-report-upload")
    page.get_by_role("button", name="Import the report").click()

    main = page.locator("main")
    expect(main).to_contain_text("Imported from “stripe-november.csv”")
    expect(main).to_contain_text("£58.07")
    expect(main).to_contain_text("Yes, to the penny")
    exceptions = page.locator("table.stripe-report-exceptions tbody tr")
    expect(exceptions).to_have_count(4)
    shot(page, "stripe-report-result")
    exceptions.last.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "stripe-report-exceptions.png"))
    no_serious_wcag_problems(page, "stripe report result")
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "stripe-report-result-phone")
    exceptions.last.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "stripe-report-exceptions-phone.png"))
    no_serious_wcag_problems(page, "stripe report result (phone)")

    exceptions.filter(has_text="Priya Shah").get_by_role("link", name="Record the gift").click()
    expect(main).to_contain_text("the supporter with the email priya.shah@example.org")
    shot(page, "stripe-report-gift-phone")
    page.set_viewport_size({"width": 1366, "height": 900})
    page.get_by_label("Campaign", exact=True).select_option(index=0)
    page.get_by_label(f"Record a gift of £10.00 from {priya}").check()
    shot(page, "stripe-report-gift")
    no_serious_wcag_problems(page, "record the gift")
    page.get_by_role("button", name="Record the gift").click()

    gift = Donation.objects.get(stripe_charge_id="ch_pre1")
    expect(page.locator(".messages")).to_contain_text(f"Recorded gift {gift.reference} of £10.00 from {priya}")
    expect(exceptions).to_have_count(3)

    exceptions.filter(has_text="No name or email").get_by_role("link", name="Not a gift").click()
    page.get_by_label("What is it, if not a gift?").fill("Staff test payment")
    shot(page, "stripe-report-not-a-gift")
    page.get_by_role("button", name="Mark it not a gift").click()
    expect(exceptions).to_have_count(2)
    assert PayoutLine.objects.get(stripe_balance_transaction_id="txn_1Charge5").resolution == "not_a_gift"


@browser_db
def test_a_bad_report_is_shown_line_by_line(page, live_server, finance_user, tmp_path):
    bad = tmp_path / "stripe-bad.csv"
    bad.write_bytes(with_line(4, LINES[2].replace(",50.00,0.95,", ",fifty,0.95,").replace(",gbp,", ",pounds,")))
    log_in(page, live_server, finance_user)
    page.goto(live_server.url + "/admin/stripe-report/")
    page.get_by_label("Stripe's report (CSV)").set_input_files(str(bad))
    page.get_by_role("button", name="Import the report").click()

    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("2 problems in “stripe-bad.csv”. Nothing was saved.")
    rows = page.locator("table.import-problems tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("currency")
    expect(rows.nth(1)).to_contain_text("“fifty” is not an amount in pounds and pence")
    shot(page, "stripe-report-problems")
    no_serious_wcag_problems(page, "stripe report problems")
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "stripe-report-problems-phone")
    assert not PayoutLine.objects.exists()
