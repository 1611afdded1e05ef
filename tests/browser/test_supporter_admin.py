"""Supporter screens in the Wagtail admin, driven through a real Chromium.

Run with:  .venv/bin/python -m pytest tests/browser -q
Screenshots land in test-artifacts/ (gitignored).
"""

import re
import pytest
from playwright.sync_api import expect

from supporters.models import Supporter
from tests.helpers import staff_authenticator
from tests.supporters.factories import SupporterFactory

from tests.browser.conftest import BROWSER_DB as browser_db, PASSWORD, enter_authenticator_code, shot

pytestmark = pytest.mark.browser


def log_in(page, live_server, user):
    """Both sign-in steps, as staff take them: password, then their authenticator's code."""
    staff_authenticator(user)  # enrolled already
    page.goto(live_server.url + "/admin/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    enter_authenticator_code(page, user)
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
