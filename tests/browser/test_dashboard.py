"""A fundraiser uses the dashboard in a real Chromium: logs in to the admin
home's summary, opens the dashboard, filters to one campaign, clicks a figure
through to its gifts, and downloads a table's CSV; at desktop and phone widths.
Screenshots land in test-artifacts/ (dashboard-*.png), to be looked at."""

import csv
import io
import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from campaigns.models import Campaign
from donations.models import IncomeTarget
from tests.browser.conftest import BROWSER_DB as browser_db
from tests.browser.conftest import ARTIFACTS, shot
from tests.browser.test_finance_journals import serious_problems
from tests.browser.test_supporter_admin import log_in

pytestmark = pytest.mark.browser

PHONE, DESKTOP = {"width": 390, "height": 844}, {"width": 1366, "height": 900}
# The days of year_of_gifts' busy week (tax year 2026-27), as tests/cms/test_dashboard.py reads them.
FIRST, LAST = "2026-04-06", "2026-04-10"
CHRISTMAS_KEPT = 2_000 + 2_500 + 25_000  # Ann's 6 April gift, what is left of 'partly', the cheque


def pence(text: str) -> int:
    return int(Decimal(re.sub(r"[£,\s]", "", text)) * 100)


def shown(text: str):
    """A cell as the page or the CSV gives it, comparable: '£1,234.50' and '1234.5' -> Decimal('1234.5'), '—' -> ''."""
    text = " ".join(text.split())
    if text == "—":
        return ""
    if re.fullmatch(r"£[\d,]+(\.\d+)?|[\d,]+(\.\d+)?%?", text):
        return Decimal(re.sub(r"[£,%]", "", text))
    return text


def table_rows(section) -> list[list]:
    return [[shown(cell) for cell in row.locator("th, td").all_inner_texts()]
            for row in section.locator("tbody tr").all()]


SETTLE = """() => new Promise((done) => requestAnimationFrame(() => {
    // Wagtail's sidebar slides away when the window narrows to a phone's; headless Chromium may
    // leave it part-way, the page shifted, so every transition is brought to its end.
    document.getAnimations().forEach((a) => { if (a instanceof CSSTransition) a.finish(); });
    done();
}))"""


def resize(page, size):
    page.set_viewport_size(size)
    page.evaluate(SETTLE)


def tall(page, size):
    """A window of this width as tall as the screen: Wagtail's admin scrolls its <main>, not
    the page, so Playwright's full_page shot would stop at the window's foot."""
    resize(page, size)
    height = page.evaluate("document.querySelector('main').scrollHeight")
    resize(page, {"width": size["width"], "height": max(size["height"], height)})


def whole(page, name, size):
    tall(page, size)
    shot(page, name)
    resize(page, size)


def shots(page, name):
    """The screen at desktop and phone widths, whole, then back to the desktop."""
    whole(page, name, DESKTOP)
    whole(page, f"{name}-phone", PHONE)
    assert not overflowing(page), f"wider than a phone: {overflowing(page)}"
    resize(page, DESKTOP)


SECTIONS = ("headlines", "table-income", "table-income_over_time", "table-by_channel", "table-donors",
            "table-campaigns")


def sections(page, size, suffix):
    """The dashboard's parts one by one, at the width a person reads them (in a window
    as tall as the page, so that no part is cut off)."""
    tall(page, size)
    page.locator(".dashboard-filters").screenshot(path=str(ARTIFACTS / f"dashboard-filters{suffix}.png"))
    for name in SECTIONS:
        page.locator(f"section[aria-labelledby='{name}-heading'], section[aria-labelledby='{name}']").screenshot(
            path=str(ARTIFACTS / f"dashboard-{name.removeprefix('table-').replace('_', '-')}{suffix}.png"))
    resize(page, DESKTOP)


OVERFLOWING = """() => {
    // What sticks out past the window's or <main>'s right edge (<main> hides it, it is not scrolled to),
    // other than inside a table's own scroller.
    const edge = Math.min(window.innerWidth, document.querySelector('main').getBoundingClientRect().right);
    return [...document.querySelectorAll('main *')]
        .filter((el) => el.getBoundingClientRect().right > edge + 1 && !el.closest('.table-scroll')
                        && el.getClientRects().length)
        .map((el) => el.tagName.toLowerCase() + (el.className && el.className.baseVal === undefined
                                                  ? '.' + el.className.split(' ').join('.') : ''))
        .slice(0, 5);
}"""


def overflowing(page) -> list[str]:
    return page.evaluate(OVERFLOWING)


@browser_db
def test_a_fundraiser_filters_the_dashboard_follows_a_figure_and_downloads_a_table(page, live_server, fundraiser,
                                                                                  year_of_gifts):
    # Live campaigns, so the progress chart has bars; a target, so the headlines have theirs.
    Campaign.objects.update(status=Campaign.Status.LIVE)
    IncomeTarget.objects.create(tax_year=2026, target_pence=36_500_000)
    christmas = Campaign.objects.get(code="xmas")

    log_in(page, live_server, fundraiser)
    panel = page.locator(".dashboard-panel")
    expect(panel).to_contain_text("Income at a glance")
    expect(panel).to_contain_text("This tax year")
    shots(page, "dashboard-admin-home")

    panel.get_by_role("link", name="Open the dashboard").click()
    page.wait_for_url(live_server.url + "/admin/dashboard/")
    expect(page.locator(".dashboard-showing")).to_contain_text("Showing")
    assert serious_problems(page) == []

    # Filter to the week of April's gifts and one campaign.
    filters = page.get_by_role("form", name="Filters")
    filters.get_by_label("Period").select_option("custom")
    filters.get_by_label("From").fill(FIRST)
    filters.get_by_label("To", exact=True).fill(LAST)
    filters.get_by_label("Campaign").select_option(label="Home for Christmas")
    filters.get_by_role("button", name="Show").click()
    page.wait_for_url(re.compile(rf"campaign={christmas.pk}"))
    expect(page.locator(".dashboard-showing")).to_contain_text("for Home for Christmas")
    expect(page.get_by_role("heading", name="Income to Home for Christmas")).to_be_visible()
    assert serious_problems(page) == []
    resize(page, PHONE)
    assert serious_problems(page) == []  # the phone's charts and scrolling tables too
    shots(page, "dashboard")
    for size, suffix in ((DESKTOP, ""), (PHONE, "-phone")):
        sections(page, size, suffix)

    # The table's CSV holds the rows the page shows.
    income = page.locator("section[aria-labelledby='table-income']")
    on_page = table_rows(income)
    with page.expect_download() as download:
        income.get_by_role("link", name=re.compile(r"^Download CSV")).click()
    assert download.value.suggested_filename == f"dashboard-income-xmas-{FIRST}-to-{LAST}.csv"
    with open(download.value.path(), encoding="utf-8-sig") as downloaded:
        rows = list(csv.reader(io.StringIO(downloaded.read())))
    assert rows[0] == ["Figure", "This period", "Same days last year"]
    assert [[shown(value) for value in row] for row in rows[1:]] == on_page

    # The kept figure, clicked, lists gifts whose total is that figure.
    kept = income.locator("tr", has_text="Kept: income net of refunds and disputes").locator("td").first
    expect(kept).to_have_text("£295.00")
    assert pence(kept.inner_text()) == CHRISTMAS_KEPT
    kept.get_by_role("link").click()
    totals = page.locator(".donation-totals")
    expect(totals).to_contain_text("These gifts add up to")
    assert pence(re.search(r"kept (£[\d,.]+)", totals.inner_text()).group(1)) == CHRISTMAS_KEPT
    # Bob's gift lost in dispute is listed but kept nothing, so it is not counted.
    expect(page.locator("#listing-results tbody tr")).to_have_count(4)
    expect(totals).to_contain_text("3 counted gifts")
    shots(page, "dashboard-gifts")
