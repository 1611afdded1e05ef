"""Shared fixtures for tests that drive Debian's Chromium through Playwright."""

from pathlib import Path

import pytest
from django.db import connections
from playwright.sync_api import sync_playwright

# transaction=True: the live server runs in another thread, so it must see
# committed rows. serialized_rollback=True: the flush after each test would
# otherwise also wipe the staff groups that a data migration creates, and the
# next test's `fundraiser` fixture could not find "Fundraising".
BROWSER_DB = pytest.mark.django_db(transaction=True, serialized_rollback=True)

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "pass-word-123"  # set by tests/conftest.py for every staff fixture


@pytest.fixture(scope="module")
def browser(django_db_setup):
    # While Playwright's sync API is started it marks an asyncio loop as running
    # in this thread, so Django hands the tests a second, context-local
    # connection to the same in-memory database. Give that connection the
    # snapshot taken at database setup, or serialized_rollback restores nothing.
    snapshots = {
        connection.alias: connection._test_serialized_contents
        for connection in connections.all()
        if getattr(connection, "_test_serialized_contents", None)
    }
    with sync_playwright() as playwright:
        for alias, snapshot in snapshots.items():
            connections[alias]._test_serialized_contents = snapshot
        chromium = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def new_page(browser):
    """Open pages (each in its own context, so its own cookies) at any size; all
    are closed when the test ends, before its database is flushed, so no page
    left refreshing itself calls the live server during the flush. Every page
    runs under the site's Content Security Policy, enforced: a test whose pages
    broke it (the browser says so in the console) fails."""
    contexts, violations = [], []

    def open_page(width=1366, height=900):
        context = browser.new_context(viewport={"width": width, "height": height})
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.on("console", lambda message: violations.append(f"{page.url}: {message.text}")
                if message.type == "error" and "Content Security Policy" in message.text else None)
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert not violations, "\n".join(violations)


@pytest.fixture
def page(new_page):
    return new_page()


def enter_authenticator_code(page, user):
    """The second sign-in step: the code the user's authenticator app shows now
    (give them one with tests.helpers.staff_authenticator before their password,
    or the step asks them to enrol instead)."""
    from tests.helpers import authenticator_code, staff_authenticator

    code = authenticator_code(staff_authenticator(user))
    page.wait_for_url("**/admin/sign-in/code/**")
    page.fill("#id_otp_token", code)
    page.keyboard.press("Enter")
def inject_script(page, source):
    """Run a test's own script (axe-core) in the page: through the browser's
    devtools, which the site's Content Security Policy does not govern, since a
    <script> tag added by the test would be refused like any inline script."""
    page.evaluate(f"{source}\n;undefined")


def shot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.fixture
def marathon_page():
    """A live peer-to-peer campaign page with £2,000 raised of £8,000."""
    from campaigns.models import Campaign
    from campaigns.services import campaign_totals_apply
    from cms.models import CampaignPage, HomePage
    from tests.supporters.factories import SupporterFactory

    campaign = Campaign.objects.create(name="Marathon 2027", code="marathon-2027", kind="peer_to_peer",
                                       status="live", target_pence=800_000)
    page = HomePage.objects.get().add_child(instance=CampaignPage(
        title="Run the marathon for families", slug="marathon", campaign=campaign,
        intro="Take on 26.2 miles and help bring children home.",
        body=[("impact", {"heading": "What your sponsorship does",
                          "items": [{"amount": "30", "pays_for": "a social worker's visit"}]})]))
    campaign_totals_apply(campaign_id=campaign.pk, appeal_id=None, supporter_id=SupporterFactory().pk,
                          raised_pence=200_000, gift_aid_pence=25_000, gifts=1)
    return page
