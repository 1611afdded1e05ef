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


@browser_db
def test_finance_records_a_collection_claims_it_and_repays_hmrc_directly(page, new_page, live_server, finance_user):
    """Small donations from the offline form to the claim's GASDS part; then a
    claimed gift refunded in full with nothing new to claim: repaid directly."""
    from donations import services

    end = timezone.localdate().replace(day=1) - datetime.timedelta(days=1)
    start = end.replace(day=1)
    donor = SupporterFactory(first_name="Maya", last_name="Patel")
    declare(donor, start)
    gift(donor, 50_000, start, stripe_charge_id="ch_browser_owed")

    log_in(page, live_server, finance_user)
    page.goto(live_server.url + "/admin/donation/offline/")
    page.locator("#id_amount").fill("245.60")
    page.locator("#id_received_on").fill((start + datetime.timedelta(days=1)).isoformat())
    page.get_by_label("Small donations (Gift Aid Small Donations Scheme)").check()
    page.locator("#id_description").fill("Bucket collection, York Minster")
    shot(page, "offline-collection-form")
    page.get_by_role("button", name="Record an offline gift").click()
    expect(page.locator(".messages")).to_contain_text("from Collection: Bucket collection, York Minster")

    page.goto(live_server.url + "/admin/gift_aid_claim/build/")
    page.locator("#id_period_start").fill(start.isoformat())
    page.locator("#id_period_end").fill(end.isoformat())
    page.get_by_role("button", name="Build a Gift Aid claim").click()
    main = page.locator("main")
    expect(main).to_contain_text("Small donations (Gift Aid Small Donations Scheme)")
    expect(main).to_contain_text("£245.60: top-up £61.40")
    expect(main).to_contain_text("£186.40")  # £125.00 Gift Aid + £61.40 top-up
    shot(page, "gift-aid-claim-with-small-donations")
    page.get_by_role("link", name="Submit the claim").click()
    page.get_by_label("I have checked the claim").check()
    page.get_by_role("button", name="Submit the claim").click()
    expect(main).to_contain_text("submitted and locked")

    services.donation_apply_refund_total(charge_id="ch_browser_owed", payment_intent_id=None, refunded_pence=50_000)
    page.goto(live_server.url + "/admin/gift_aid_claim/")
    page.get_by_role("link", name="Owed to HMRC").click()
    expect(main).to_contain_text("£125.00 is owed to HMRC")
    for width, height, name in ((390, 844, "phone"), (1366, 900, "desktop")):
        page.set_viewport_size({"width": width, "height": height})
        shot(page, f"gift-aid-owed-to-hmrc-{name}")
        assert page.evaluate("document.documentElement.scrollWidth") <= width + 1
    page.locator("#id_reference").fill("CHY REPAY 2026-1")
    page.get_by_role("button", name="Record the repayment").click()
    expect(page.locator(".messages")).to_contain_text("£125.00 repaid to HMRC")
    expect(main).to_contain_text("Nothing: every over-claim")
    expect(main).to_contain_text("CHY REPAY 2026-1")
