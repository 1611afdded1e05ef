"""Finance builds, reviews, downloads and submits a Gift Aid claim in a real
Chromium, at desktop and phone widths. Screenshots land in test-artifacts/."""

import datetime
import io
import zipfile

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from donations.models import GiftAidClaim
from tests.browser.conftest import BROWSER_DB as browser_db
from tests.browser.conftest import shot
from tests.browser.test_supporter_admin import log_in
from tests.donations.test_gift_aid import declare, gift
from tests.supporters.factories import SupporterFactory

pytestmark = pytest.mark.browser


@browser_db
def test_finance_builds_reviews_downloads_and_submits_a_claim(page, live_server, finance_user):
    end = timezone.localdate().replace(day=1) - datetime.timedelta(days=1)
    start = end.replace(day=1)
    for index, (first, last, pence) in enumerate([("Zoë", "O'Brien-Smith", 12_345), ("Siân", "Jones", 1500),
                                                  ("Ade", "Okafor", 2000), ("Priya", "Shah", 25_000)]):
        donor = SupporterFactory(first_name=first, last_name=last)
        declare(donor, start)
        gift(donor, pence, start + datetime.timedelta(days=index))

    log_in(page, live_server, finance_user)
    page.goto(live_server.url + "/admin/gift_aid_claim/")
    page.get_by_role("link", name="Build a claim").click()
    page.locator("#id_period_start").fill(start.isoformat())
    page.locator("#id_period_end").fill(end.isoformat())
    shot(page, "gift-aid-build")
    page.get_by_role("button", name="Build a Gift Aid claim").click()

    main = page.locator("main")
    expect(main).to_contain_text("A draft: check it")
    expect(main).to_contain_text("£408.45")  # 123.45 + 15 + 20 + 250
    expect(main).to_contain_text("£102.11")  # a quarter, rounded down to the penny
    expect(main).to_contain_text("O'Brien Smith")
    expect(main).to_contain_text("2 small gifts")
    shot(page, "gift-aid-claim-draft")

    with page.expect_download() as download:
        page.get_by_role("link", name="Spreadsheet (.ods)").click()
    ods = zipfile.ZipFile(io.BytesIO(open(download.value.path(), "rb").read()))
    assert "Zoe" in ods.read("content.xml").decode() and download.value.suggested_filename.endswith(".ods")

    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "gift-aid-claim-draft-phone")
    page.set_viewport_size({"width": 1366, "height": 900})

    page.get_by_role("link", name="Submit the claim").click()
    page.locator("#id_hmrc_reference").fill("CORR-123")
    page.get_by_label("I have checked the claim").check()
    page.get_by_role("button", name="Submit the claim").click()
    expect(main).to_contain_text("submitted and locked")
    expect(page.get_by_role("link", name="Submit the claim")).to_have_count(0)
    expect(page.get_by_role("button", name="Discard this draft")).to_have_count(0)
    shot(page, "gift-aid-claim-submitted")
    claim = GiftAidClaim.objects.get()
    assert (claim.status, claim.hmrc_reference, claim.tax_pence) == ("submitted", "CORR-123", 10_211)
