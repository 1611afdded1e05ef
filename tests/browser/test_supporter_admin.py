"""Supporter screens in the Wagtail admin, driven through a real Chromium.

Run with:  .venv/bin/python -m pytest tests/browser -q
Screenshots land in test-artifacts/ (gitignored).
"""

import re
from pathlib import Path

import pytest
from django.db import connections
from playwright.sync_api import expect, sync_playwright

from supporters.models import Supporter
from tests.supporters.factories import SupporterFactory

pytestmark = pytest.mark.browser

# transaction=True: the live server runs in another thread, so it must see
# committed rows. serialized_rollback=True: the flush after each test would
# otherwise also wipe the staff groups that a data migration creates, and the
# next test's `fundraiser` fixture could not find "Fundraising".
browser_db = pytest.mark.django_db(transaction=True, serialized_rollback=True)

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
def page(browser):
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


def shot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def log_in(page, live_server, user):
    page.goto(live_server.url + "/admin/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live_server.url + "/admin/")


@browser_db
def test_fundraiser_finds_supporter_and_corrects_postcode(page, live_server, fundraiser):
    wanted = SupporterFactory(first_name="Agatha", last_name="Quillfeather", postcode="N16 8AA")
    other = SupporterFactory(first_name="Bertram", last_name="Ormsby", postcode="N16 8AA")

    log_in(page, live_server, fundraiser)
    page.goto(live_server.url + "/admin/supporter/")
    results = page.locator("#listing-results")
    expect(results).to_contain_text("Bertram Ormsby")  # both listed before searching
    expect(results).to_contain_text("Agatha Quillfeather")

    page.locator("#id_q").fill("quillfeather")
    expect(results).not_to_contain_text("Bertram Ormsby")  # waits for the live search to swap the results
    expect(results).to_contain_text("Agatha Quillfeather")
    shot(page, "supporter-search")

    results.get_by_role("link", name="Agatha Quillfeather").click()
    page.wait_for_url(f"{live_server.url}/admin/supporter/inspect/{wanted.pk}/")
    expect(page.locator("main")).to_contain_text(wanted.reference)
    shot(page, "supporter-inspect")

    page.get_by_role("link", name="Edit details").click()
    page.wait_for_url(f"{live_server.url}/admin/supporter/edit/{wanted.pk}/")
    postcode = page.locator("#id_postcode")
    postcode.fill("QQ1 1AA")
    page.get_by_role("button", name="Save", exact=True).click()

    expect(page.locator(".messages")).to_contain_text("could not be saved")
    error = page.locator('[data-contentpath="postcode"] .error-message')
    expect(error).to_contain_text("“QQ1 1AA” is not a valid UK postcode")
    error.scroll_into_view_if_needed()
    expect(error).to_be_visible()
    expect(page.locator("#id_postcode")).to_have_value("QQ1 1AA")  # what they typed is kept to correct
    shot(page, "supporter-edit-invalid-postcode")
    wanted.refresh_from_db()
    assert wanted.postcode == "N16 8AA"

    page.locator("#id_postcode").fill("sw1a1aa")
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_url(re.compile(r"/admin/supporter/(?!edit/)"))
    expect(page.locator(".messages")).to_contain_text("updated")
    expect(page.locator("main")).not_to_contain_text("not a valid UK postcode")
    shot(page, "supporter-edit-saved")
    wanted.refresh_from_db()
    other.refresh_from_db()
    assert wanted.postcode == "SW1A 1AA"
    assert other.postcode == "N16 8AA"


@browser_db
def test_fundraiser_merges_duplicate_found_by_email(page, live_server, fundraiser):
    older = SupporterFactory(first_name="Cora", last_name="Penhallow", email="cora@example.org")
    newer = SupporterFactory(first_name="Cora", last_name="Penhallow-Smith", email="cora@example.org")

    log_in(page, live_server, fundraiser)
    page.goto(live_server.url + "/admin/supporter/duplicates/")
    expect(page.locator("main")).to_contain_text("cora@example.org")
    shot(page, "supporter-duplicates")

    page.get_by_role("link", name=f"Merge into {older.reference}").click()
    page.wait_for_url(re.compile(rf"/admin/supporter/{older.pk}/merge/\?duplicate={newer.pk}$"))
    confirm = page.get_by_label("I have checked these are the same person")
    confirm.check()
    expect(confirm).to_be_checked()
    shot(page, "supporter-merge-confirm")
    page.get_by_role("button", name=f"Merge {newer.reference} into {older.reference}").click()

    page.wait_for_url(f"{live_server.url}/admin/supporter/inspect/{older.pk}/")
    expect(page.locator("body")).to_contain_text(f"Merged {newer.reference} into {older.reference}.")
    shot(page, "supporter-merged")
    assert list(Supporter.objects.values_list("pk", flat=True)) == [older.pk]
