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
def page(browser):
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


def shot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


