"""A fundraiser writes a mailing to a tagged segment, sends a test, sends it and
watches it finish, in a real Chromium; a supporter unsubscribes by the link in
it, and the next mailing leaves them out. Screenshots land in test-artifacts/."""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from cms.models import Mailing
from tests.browser.conftest import BROWSER_DB as browser_db
from tests.browser.conftest import shot
from tests.browser.test_supporter_admin import log_in
from tests.supporters.factories import SupporterFactory

pytestmark = pytest.mark.browser


@browser_db
def test_a_mailing_from_draft_to_sent_and_an_unsubscribe_honoured(page, new_page, live_server, fundraiser):
    volunteers = SupporterFactory.create_batch(3, consent_email=True)
    for volunteer in volunteers:
        volunteer.tags.add("volunteer")
    no_consent = SupporterFactory(consent_email=False)
    no_consent.tags.add("volunteer")
    SupporterFactory(consent_email=True).tags.add("church group")  # not in the segment

    log_in(page, live_server, fundraiser)
    page.goto(live_server.url + "/admin/mailing/")
    page.get_by_role("link", name="Add mailing").first.click()
    page.locator("#id_name").fill("Volunteers' winter thank-you")
    page.locator("#id_subject").fill("{{ first_name }}, thank you for this year")
    page.locator("#id_body").fill("Dear {{ first_name }},\n\nYou gave your time this year. Thank you.")
    page.locator("#id_button_url").fill("https://brightwell.example/winter/")
    page.get_by_label("volunteer", exact=True).check()
    shot(page, "mailing-edit")
    page.get_by_role("button", name="Create").first.click()

    main = page.locator("main")
    expect(main).to_contain_text("3 supporters will receive it")
    shot(page, "mailing-draft")
    expect(main.locator("dd", has_text="Tagged “volunteer”")).to_have_count(1)
    expect(page.frame_locator("iframe.mailing-preview").get_by_text("You gave your time this year.")).to_be_visible()
    shot(page, "mailing-draft")
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "mailing-draft-phone")
    page.set_viewport_size({"width": 1366, "height": 900})

    page.get_by_role("button", name="Send a test to me").click()
    expect(page.get_by_text(f"A test was sent to {fundraiser.email}")).to_be_visible()
    assert [m.subject for m in mail.outbox] == ["[Test] Fundraiser, thank you for this year"]
    mail.outbox.clear()

    page.get_by_role("link", name="Send…").click()
    page.get_by_role("button", name="Send to 3 supporters").click()
    expect(main).to_contain_text("3 of 3 done (100%)")
    expect(main).to_contain_text("Sent")
    shot(page, "mailing-sent")
    assert sorted(m.to[0] for m in mail.outbox) == sorted(v.email for v in volunteers)

    # The first volunteer follows the unsubscribe link in their email, without logging in.
    leaver = volunteers[0]
    to_leaver = next(m for m in mail.outbox if m.to == [leaver.email])
    link = re.search(r"Unsubscribe: (\S+)", to_leaver.body).group(1)
    visitor = new_page()
    visitor.goto(live_server.url + link[link.index("/email/"):])
    visitor.get_by_role("button", name=re.compile("Unsubscribe")).click()
    expect(visitor.locator("main")).to_contain_text("unsubscribed", ignore_case=True)

    mail.outbox.clear()
    page.get_by_role("button", name="Copy to a new draft").click()
    page.get_by_role("button", name="Save").first.click()
    expect(main).to_contain_text("2 supporters will receive it")
    page.get_by_role("link", name="Send…").click()
    page.get_by_role("button", name="Send to 2 supporters").click()
    expect(main).to_contain_text("2 of 2 done (100%)")
    assert sorted(m.to[0] for m in mail.outbox) == sorted(v.email for v in volunteers[1:])
    assert Mailing.objects.filter(status="sent").count() == 2
