"""A visitor on a campaign page, and a supporter's fundraising page from sign-up
to the leaderboard, in real Chromium, at a phone's width and a desktop's."""

import pytest
from playwright.sync_api import expect

from campaigns.models import FundraiserPage
from tests.browser.conftest import BROWSER_DB, PASSWORD, enter_authenticator_code, shot
from tests.helpers import staff_authenticator

pytestmark = pytest.mark.browser


@BROWSER_DB
@pytest.mark.parametrize("width, height, name", [(390, 844, "phone"), (1366, 900, "desktop")])
def test_a_visitor_sees_the_total_and_reaches_the_form(new_page, live_server, stripe_settings, marathon_page,
                                                       width, height, name):
    page = new_page(width, height)
    page.goto(live_server.url + "/marathon/")
    expect(page.locator(".progress__raised")).to_contain_text("£2,000 raised of £8,000 target")
    expect(page.locator(".progress__bar")).to_have_attribute("aria-valuenow", "25")
    expect(page.locator("main")).to_contain_text("pays for a social worker's visit")
    # Nothing on the page overflows the screen sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.locator("#pay-button").scroll_into_view_if_needed()
    expect(page.locator("#pay-button")).to_be_visible()
    expect(page.locator("#donation-form input[name=form_token]")).not_to_have_value("")
    shot(page, f"campaign-page-{name}")


@BROWSER_DB
@pytest.mark.parametrize("width, height, name", [(390, 844, "phone"), (1366, 900, "desktop")])
def test_the_give_buttons_lead_to_this_campaigns_form(new_page, live_server, stripe_settings, marathon_page,
                                                      width, height, name):
    page = new_page(width, height)
    page.goto(live_server.url + "/marathon/")
    form = page.locator("#donation-form")
    if name == "phone":
        # The form comes before the story, not below all of it.
        assert form.bounding_box()["y"] < page.locator(".block-impact").bounding_box()["y"]
    hero_give = page.locator(".campaign-hero").get_by_role("link", name="Give now")
    expect(hero_give).to_be_visible()
    hero_give.click()
    expect(page.locator(".campaign-give__title")).to_be_in_viewport()
    expect(form.locator("input[name=campaign]")).to_have_value("marathon-2027")
    page.evaluate("window.scrollTo(0, 0)")
    donate = page.locator("header").get_by_role("link", name="Donate")
    expect(donate).to_have_attribute("href", "#give")  # this appeal's form, not the generic one
    donate.click()
    expect(page.locator(".campaign-give__title")).to_be_in_viewport()
    shot(page, f"campaign-give-{name}")


@BROWSER_DB
def test_a_fundraiser_signs_up_staff_approve_and_the_page_leads_the_board(page, new_page, stripe_webhooks_to_live_server,
                                                                          marathon_page, fundraiser):
    live_server = stripe_webhooks_to_live_server
    page.goto(live_server.url + "/marathon/")
    page.get_by_role("link", name="Start your own fundraising page").click()
    page.fill("#id_first_name", "Sam")
    page.fill("#id_last_name", "Okafor")
    page.fill("#id_email", "sam@example.org")
    page.fill("#id_title", "Sam runs for families")
    page.fill("#id_story", "Twenty-six miles for children who deserve a home.")
    page.fill("#id_target", "500")
    shot(page, "fundraiser-signup")
    page.get_by_role("button", name="Create my page").click()
    expect(page.locator("h1")).to_contain_text("Thank you, Sam")
    fundraiser_page = FundraiserPage.objects.get()
    assert fundraiser_page.status == "pending"

    staff = new_page()
    staff_authenticator(fundraiser)
    staff.goto(live_server.url + "/admin/login/")
    staff.fill("#id_username", fundraiser.username)
    staff.fill("#id_password", PASSWORD)
    staff.get_by_role("button", name="Sign in").click()
    enter_authenticator_code(staff, fundraiser)
    staff.wait_for_url(live_server.url + "/admin/")
    staff.goto(f"{live_server.url}/admin/fundraiser_page/inspect/{fundraiser_page.pk}/")
    staff.get_by_role("button", name="Approve and publish").click()
    expect(staff.locator(".messages")).to_contain_text("is now live")

    page.goto(f"{live_server.url}/fundraise/{fundraiser_page.slug}/")
    expect(page.locator("h1")).to_contain_text("Sam runs for families")
    page.get_by_role("button", name="£50").click()
    page.fill("#id_first_name", "Grace")
    page.fill("#id_last_name", "Okafor")
    page.fill("#id_email", "grace@example.org")
    page.fill("#card-element input[placeholder=number]", "4242424242424242")
    page.fill("#card-element input[placeholder=exp_month]", "12")
    page.fill("#card-element input[placeholder=exp_year]", "34")
    page.fill("#card-element input[placeholder=cvc]", "123")
    shot(page, "fundraiser-page")
    page.click("#pay-button")
    page.wait_for_url("**/donate/thank-you/**")

    page.goto(live_server.url + "/marathon/")
    board = page.locator(".leaderboard")
    expect(board).to_contain_text("Sam runs for families")
    expect(board).to_contain_text("£50")
    expect(page.locator(".progress__raised")).to_contain_text("£2,050 raised")
    shot(page, "campaign-leaderboard")
