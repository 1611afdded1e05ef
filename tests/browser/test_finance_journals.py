"""Finance previews a payout's journal, downloads it for Xero, and gives a
campaign its income code, in a real Chromium at desktop and phone widths.
Screenshots land in test-artifacts/."""

import csv
import io

import pytest
from playwright.sync_api import expect

from finance.models import CampaignLedgerCode, FinanceDownload
from tests.browser.conftest import inject_script
from tests.browser.conftest import BROWSER_DB as browser_db
from tests.browser.conftest import shot
from tests.browser.test_accessibility import BLOCKING, WCAG_TAGS, axe_source
from tests.browser.test_supporter_admin import log_in
from tests.finance.test_journals import XERO_HEADER, make_busy_payout, make_campaigns

pytestmark = pytest.mark.browser

AXE_MAIN = """async (tags) => (await axe.run({include: [["main"]]},
    {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]})).violations
    .map((v) => ({id: v.id, impact: v.impact, targets: v.nodes.map((n) => n.target.join(" "))}))"""


def serious_problems(page) -> list:
    """axe-core's serious and critical WCAG A/AA findings in the screen's own content."""
    inject_script(page, axe_source())
    return [v for v in page.evaluate(AXE_MAIN, WCAG_TAGS) if v["impact"] in BLOCKING]


@browser_db
def test_finance_previews_downloads_a_journal_and_codes_a_campaign(page, live_server, finance_user):
    winter, school = make_campaigns()
    make_busy_payout(winter, school)

    log_in(page, live_server, finance_user)
    page.goto(live_server.url + "/admin/journals/")
    page.get_by_label("One Stripe payout").check()
    page.get_by_label("Stripe payout", exact=True).select_option("po_busy")
    page.get_by_label("Xero (manual journals)").check()
    page.get_by_role("button", name="Show the journals").click()

    main = page.locator("main")
    expect(main).to_contain_text("Xero manual journals for Stripe payout po_busy")
    expect(main).to_contain_text("Gifts to Winter appeal (4)")
    expect(main).to_contain_text("“Build a school” has no income code of its own")
    expect(main).to_contain_text("each journal balances to the penny")
    shot(page, "finance-journal-preview")
    assert serious_problems(page) == []
    page.locator(".journal").first.scroll_into_view_if_needed()
    page.screenshot(path="test-artifacts/finance-journal-preview-table.png")
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "finance-journal-preview-phone")
    page.locator(".journal tbody tr").nth(3).scroll_into_view_if_needed()
    page.screenshot(path="test-artifacts/finance-journal-preview-table-phone.png")
    page.set_viewport_size({"width": 1366, "height": 900})

    with page.expect_download() as download:
        page.get_by_role("link", name="Download for Xero manual journals").click()
    assert download.value.suggested_filename == "journal-po_busy-xero.csv"
    rows = list(csv.reader(io.StringIO(open(download.value.path(), encoding="utf-8").read())))
    assert rows[0] == XERO_HEADER and sum(float(row[5]) * 100 for row in rows[1:]) == pytest.approx(0)
    assert FinanceDownload.objects.get().user == finance_user

    page.get_by_role("link", name="campaigns' income codes").first.click()
    expect(main).to_contain_text("1 campaign without a code of its own.")
    shot(page, "finance-campaign-income-codes")
    assert serious_problems(page) == []
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "finance-campaign-income-codes-phone")
    page.set_viewport_size({"width": 1366, "height": 900})
    page.get_by_role("link", name="Change Build a school's code").click()
    page.get_by_label("Income code").fill("211")
    shot(page, "finance-campaign-income-code-edit")
    page.get_by_role("button", name="Save the code").click()
    expect(main).to_contain_text("Every campaign has a code of its own.")
    assert CampaignLedgerCode.objects.get(campaign=school).income_code == "211"
