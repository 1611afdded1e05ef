"""A finance officer keys a paying-in slip of fifty cheques with the keyboard
alone, in a real Chromium, and closes the batch; and the same entry row works
as a plain form where JavaScript does not run. Screenshots at 1280px and 390px
land in test-artifacts/."""

import datetime

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from campaigns.models import Appeal, Campaign
from donations.models import Donation
from finance.models import PayingInBatch
from tests.browser.conftest import inject_script
from tests.browser.conftest import BROWSER_DB as browser_db
from tests.browser.conftest import PASSWORD, enter_authenticator_code, shot
from tests.helpers import staff_authenticator
from tests.browser.test_accessibility import BLOCKING, WCAG_TAGS, _report, axe_source
from tests.browser.test_supporter_admin import log_in
from tests.supporters.factories import SupporterFactory

pytestmark = pytest.mark.browser

# Fifty cheques: varied amounts, as a slip lists them.
AMOUNTS = [2_500, 1_000, 5_000, 2_000, 1_500, 10_000, 750, 2_500, 3_000, 1_234] * 5


def _world():
    campaign = Campaign.objects.create(name="Winter appeal 2026", code="winter-2026", status=Campaign.Status.LIVE)
    Campaign.objects.create(name="Summer fair", code="summer-fair", status=Campaign.Status.LIVE)
    Appeal.objects.create(campaign=campaign, code="WIN26-POST", name="Winter letter")
    donors = [SupporterFactory(first_name=f"Donor{i}", last_name=f"Cheque{i:02d}") for i in range(48)]
    okafor = SupporterFactory(first_name="Adaeze", last_name="Okafor", postcode="LS6 2AA", email="ada@example.org")
    SupporterFactory(first_name="Obi", last_name="Okafor", postcode="M1 1AE")
    quill = SupporterFactory(first_name="Agatha", last_name="Quillfeather", postcode="YO1 7HH")
    return campaign, donors, okafor, quill


@pytest.fixture
def uk_page(browser):
    """A page as a UK finance officer's Chromium shows it (dates day first)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB", timezone_id="Europe/London")
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


RUN_AXE_ON_BATCH = """async ({tags}) => {
    const results = await axe.run({include: [[".batch-page"]]},
                                  {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]});
    return results.violations.map((v) => ({
        id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
        nodes: v.nodes.map((n) => ({target: n.target, failureSummary: n.failureSummary})),
    }));
}"""


def assert_accessible(page, where):
    """axe-core finds no serious or critical WCAG A/AA problem in the batch's part of the page."""
    if not page.evaluate("typeof axe !== 'undefined'"):
        inject_script(page, axe_source())
    blocking = [v for v in page.evaluate(RUN_AXE_ON_BATCH, {"tags": WCAG_TAGS}) if v["impact"] in BLOCKING]
    assert not blocking, _report(blocking, where, page.viewport_size["width"])


def _count(page):
    return page.locator("[data-batch-count]")


@browser_db
def test_a_finance_officer_keys_fifty_cheques_without_the_mouse_and_closes_the_batch(uk_page, live_server,
                                                                                    finance_user):
    campaign, donors, okafor, quill = _world()
    page = uk_page
    log_in(page, live_server, finance_user)
    page.goto(live_server.url + "/admin/paying_in_batch/new/")

    # The slip: the banking date (today's, given) typed over, day first, cheques (the default), its reference, count and total.
    expect(page.locator("#id_banking_date")).to_be_focused()
    banked = timezone.localdate() - datetime.timedelta(days=1)
    page.keyboard.press("Control+A")
    page.keyboard.type(f"{banked:%d/%m/%Y}")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.type("004512")
    page.keyboard.press("Tab")
    page.keyboard.type("50")
    page.keyboard.press("Tab")
    page.keyboard.type(f"{sum(AMOUNTS) / 100:.2f}")
    shot(page, "paying-in-batch-new")
    page.keyboard.press("Enter")
    expect(page.locator(".messages")).to_contain_text("Batch 1 is open: key its 50 gifts.")
    batch = PayingInBatch.objects.get()
    assert (batch.banking_date, batch.method, batch.reference) == (banked, "cheque", "004512")

    by_reference = iter(donors)
    supporter_box = page.locator("#id_supporter")
    expect(supporter_box).to_be_focused()
    for index, pence in enumerate(AMOUNTS):
        if index == 10:  # by name: typed, the list offers the matches, arrow down to the one meant, Enter
            page.keyboard.type("okafor")
            expect(page.locator("#supporter-options").get_by_role("option")).to_have_count(2)
            shot(page, "paying-in-batch-picker")
            assert_accessible(page, "the entry page, picker open")
            page.keyboard.press("ArrowDown")  # Obi, then Adaeze: alphabetical by surname, then first name
            page.keyboard.press("ArrowUp")
            expect(page.get_by_role("option", name="Adaeze Okafor")).to_have_attribute("aria-selected", "true")
            page.keyboard.press("Enter")
            expect(page.locator("#id_amount")).to_be_focused()
            assert supporter_box.input_value().startswith(f"{okafor.reference} Adaeze Okafor")
        elif index == 20:  # by postcode
            page.keyboard.type("YO1 7HH")
            expect(page.locator("#supporter-options").get_by_role("option")).to_have_count(1)
            page.keyboard.press("Enter")
        else:
            page.keyboard.type(next(by_reference).reference)
            page.keyboard.press("Tab")
        if index == 3:  # a slip of the finger: three decimal places, refused on the amount, corrected
            page.keyboard.type("20.001")
            page.keyboard.press("Enter")
            expect(page.locator("#gift-entry-errors")).to_contain_text("Amount (£): Enter an amount in pounds")
            expect(page.locator("#id_amount")).to_be_focused()
            shot(page, "paying-in-batch-error")
            assert_accessible(page, "the entry page, a gift refused")
            page.keyboard.press("Control+A")
        page.keyboard.type(f"{pence / 100:.2f}")
        tabs_to_gift_aid = 3  # campaign, appeal code, Gift Aid
        if index == 0:  # the first sets the campaign and appeal; they stay for the next rows
            page.keyboard.press("Tab")
            page.keyboard.type("Winter")
            page.keyboard.press("Tab")
            page.keyboard.type("WIN26-POST")
            tabs_to_gift_aid = 1
        if index % 7 == 0:  # some donors declared Gift Aid on the cheque's form
            for _ in range(tabs_to_gift_aid):
                page.keyboard.press("Tab")
            page.keyboard.press("Space")
        page.keyboard.press("Enter")
        expect(_count(page)).to_have_text(str(index + 1))
        if index == 24:
            expect(page.locator("#id_supporter")).to_be_focused()
            shot(page, "paying-in-batch-keying-desktop")
            page.set_viewport_size({"width": 390, "height": 844})
            page.wait_for_timeout(400)  # the admin's sidebar folds away
            shot(page, "paying-in-batch-keying-phone")
            assert page.evaluate("document.documentElement.scrollWidth") <= 391
            page.set_viewport_size({"width": 1280, "height": 900})
            page.locator("#id_supporter").focus()  # the resize does not move it; this only makes sure

    # The fiftieth adds up: the focus is on Close, and Enter closes.
    close = page.get_by_role("button", name="Close the batch")
    expect(close).to_be_focused()
    shot(page, "paying-in-batch-adds-up")
    assert_accessible(page, "the entry page, adding up")
    page.keyboard.press("Enter")
    expect(page.locator(".messages")).to_contain_text("Batch 1 is closed")
    shot(page, "paying-in-batch-closed-desktop")
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(400)
    shot(page, "paying-in-batch-closed-phone")
    assert page.evaluate("document.documentElement.scrollWidth") <= 391

    batch.refresh_from_db()
    assert batch.status == PayingInBatch.Status.CLOSED and batch.closed_by == finance_user
    gifts = Donation.objects.filter(paying_in_batch__batch=batch)
    assert gifts.count() == 50 and sum(g.amount_pence for g in gifts) == sum(AMOUNTS)
    assert set(gifts.values_list("campaign__code", flat=True)) == {"winter-2026"}
    assert set(gifts.values_list("appeal__code", flat=True)) == {"WIN26-POST"}
    assert gifts.filter(gift_aid_declared=True).count() == len(range(0, 50, 7))
    assert {gift.supporter for gift in gifts} >= {okafor, quill}
    assert list(batch.gifts.order_by("position").values_list("donation__amount_pence", flat=True)) == AMOUNTS

    page.goto(live_server.url + "/admin/paying_in_batch/")
    shot(page, "paying-in-batch-list-phone")
    page.set_viewport_size({"width": 1280, "height": 900})
    shot(page, "paying-in-batch-list-desktop")
    assert_accessible(page, "the list of batches")


@browser_db
def test_without_javascript_the_entry_row_is_a_plain_form(browser, live_server, finance_user):
    from finance.services import batches

    SupporterFactory(first_name="Adaeze", last_name="Okafor", postcode="LS6 2AA")
    obi = SupporterFactory(first_name="Obi", last_name="Okafor", postcode="M1 1AE")
    other = SupporterFactory()
    batch = batches.batch_open(banking_date=timezone.localdate(), method="cash", expected_count=2,
                               expected_total_pence=3_000, by=finance_user)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, java_script_enabled=False)
    try:
        page = context.new_page()
        staff_authenticator(finance_user)
        page.goto(live_server.url + "/admin/login/")
        page.fill("#id_username", finance_user.username)
        page.fill("#id_password", PASSWORD)
        page.keyboard.press("Enter")
        enter_authenticator_code(page, finance_user)
        page.wait_for_url(live_server.url + "/admin/")
        page.goto(live_server.url + f"/admin/paying_in_batch/{batch.pk}/")

        expect(page.locator("#id_supporter")).to_be_focused()
        page.keyboard.type("okafor")
        page.keyboard.press("Tab")
        page.keyboard.type("10")
        page.keyboard.press("Enter")
        # Two match: the row comes back with both to choose from, the first chosen, the rest kept.
        expect(page.locator("#gift-entry-errors")).to_contain_text("Supporter: Choose which supporter you mean")
        expect(page.locator("#id_amount")).to_have_value("10")
        shot(page, "paying-in-batch-no-js-choose")
        expect(page.locator("#id_supporter")).to_be_focused()
        page.keyboard.press("Tab")  # to the matches: the first is chosen
        expect(page.locator("input[name=supporter_pick]").first).to_be_focused()
        page.keyboard.press("ArrowDown")  # the second: Obi
        page.keyboard.press("Enter")
        expect(page.locator(".messages")).to_contain_text("Gift 1 saved: £10.00 from Obi Okafor")
        expect(page.locator("#id_supporter")).to_be_focused()
        page.keyboard.type(other.reference)
        page.keyboard.press("Tab")
        page.keyboard.type("20")
        page.keyboard.press("Enter")
        close = page.get_by_role("button", name="Close the batch")
        expect(close).to_be_focused()
        page.keyboard.press("Enter")
        expect(page.locator(".messages")).to_contain_text("Batch 1 is closed")
    finally:
        context.close()
    batch.refresh_from_db()
    assert batch.status == PayingInBatch.Status.CLOSED
    assert batch.gifts.get(position=1).donation.supporter == obi
