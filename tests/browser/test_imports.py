"""A fundraiser imports a month of JustGiving gifts in a real Chromium: uploads
the report, sees the columns matched, reads the dry run's problem (a date that
does not exist), uploads the corrected file, imports it, imports it again with
nothing new, and rolls the import back; at desktop and phone widths, with
axe-core's checks. Screenshots land in test-artifacts/ (imports-*.png)."""

import csv
import re

import pytest
from playwright.sync_api import expect

from campaigns.models import Campaign
from donations.models import Donation
from supporters.models import DataImport
from tests.browser.conftest import BROWSER_DB as browser_db
from tests.browser.test_dashboard import shots
from tests.browser.test_finance_journals import serious_problems
from tests.browser.test_supporter_admin import log_in
from tests.supporters import test_imports as import_tests

pytestmark = pytest.mark.browser


def report_file(path, rows):
    with open(path, "w", newline="", encoding="utf-8-sig") as file:
        writer = csv.writer(file)
        writer.writerow(import_tests.JG_HEADINGS)
        writer.writerows(rows)
    return str(path)


def upload(page, live_server, path):
    page.goto(live_server.url + "/admin/imports/new/")
    page.get_by_label("What the file holds").select_option(label="JustGiving donations report")
    page.get_by_label("Format", exact=True).fill("JustGiving donations report")
    page.locator("#id_file").set_input_files(path)
    page.get_by_role("button", name="Upload and match the columns").click()
    expect(page.get_by_role("heading", name="Match the columns")).to_be_visible()


@browser_db
def test_a_fundraiser_imports_a_justgiving_report_fixes_a_row_and_rolls_back(page, live_server, fundraiser,
                                                                             tmp_path):
    Campaign.objects.create(name="Winter appeal", code="winter", target_pence=1_000_000)
    rows = import_tests.TestJustGiving.ROWS
    wrong = report_file(tmp_path / "DonationsReport-April.csv", [*rows, import_tests.jg_row("JG-6", "31/02/2026")])
    right = report_file(tmp_path / "DonationsReport-April-corrected.csv", [*rows, import_tests.jg_row("JG-6", "28/02/2026")])

    log_in(page, live_server, fundraiser)
    page.goto(live_server.url + "/admin/imports/")
    shots(page, "imports-list-empty")
    upload(page, live_server, wrong)
    expect(page.get_by_label("Amount (£) (needed)")).to_have_value("Donation Auth Amount")
    assert serious_problems(page) == []
    shots(page, "imports-map")
    page.get_by_role("button", name="Check the file").click()

    problems = page.get_by_role("table").filter(has_text="What is wrong")
    expect(page.get_by_role("alert")).to_contain_text("1 problem in the file. Nothing has been saved.")
    expect(problems.locator("tbody tr")).to_have_text([re.compile(r"7\s+Donation Date\s+31/02/2026\s+.*not a real date")],
                                                      use_inner_text=True)
    assert serious_problems(page) == []
    shots(page, "imports-problems")
    assert not Donation.objects.exists()

    page.get_by_role("link", name="Upload a corrected file").click()
    page.locator("#id_file").set_input_files(right)
    page.get_by_role("button", name="Upload and match the columns").click()
    page.get_by_role("button", name="Check the file").click()
    expect(page.locator("main .help-block").first).to_contain_text("Checked: nothing has been saved yet")
    expect(page.locator(".import-summary")).to_contain_text("Gifts created")
    shots(page, "imports-checked")
    page.get_by_role("button", name="Import 6 rows").click()
    expect(page.locator("main .help-block").first).to_contain_text("Imported")
    assert Donation.objects.count() == 6
    shots(page, "imports-done")

    # The same file again: found, nothing added.
    upload(page, live_server, right)
    page.get_by_role("button", name="Check the file").click()
    expect(page.locator(".import-summary")).to_contain_text("Gifts already imported")
    expect(page.locator("main")).to_contain_text("This same file was imported")
    page.get_by_role("button", name="Import 6 rows").click()
    expect(page.locator("main .help-block").first).to_contain_text("Imported")
    assert Donation.objects.count() == 6

    # Roll the first import back.
    first = DataImport.objects.get(file_name="DonationsReport-April-corrected.csv", summary__has_key="gifts created")
    page.goto(live_server.url + f"/admin/imports/{first.pk}/")
    page.get_by_role("link", name="Roll back this import").click()
    page.wait_for_url(f"**/admin/imports/{first.pk}/roll-back/")
    shots(page, "imports-rollback")
    page.get_by_role("button", name="Roll back the import").click()
    expect(page.locator("main .help-block").first).to_contain_text("Rolled back")
    assert not Donation.objects.exists()
    page.goto(live_server.url + "/admin/imports/")
    assert serious_problems(page) == []
    shots(page, "imports-list")
