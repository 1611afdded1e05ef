"""Staff sign-in in a real Chromium: enrolling an authenticator after the first
password (phone and desktop widths), and the code step refusing a wrong code.
Screenshots land in test-artifacts/."""

import base64

import pytest
from django_otp.oath import TOTP
from playwright.sync_api import expect

from tests.browser.conftest import BROWSER_DB, PASSWORD, shot
from tests.helpers import authenticator_code, staff_authenticator

pytestmark = [pytest.mark.browser, BROWSER_DB]


def sign_in_with_password(page, live_server, user):
    page.goto(live_server.url + "/admin/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def fits_the_width(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("width", [390, 1280])
def test_a_new_member_of_staff_sets_up_their_authenticator_and_reaches_the_admin(new_page, live_server, fundraiser,
                                                                                 width):
    page = new_page(width=width, height=900)
    sign_in_with_password(page, live_server, fundraiser)
    page.wait_for_url("**/admin/sign-in/enrol/**")
    expect(page.get_by_role("heading", level=1)).to_have_text("Set up two-factor sign-in")
    qr = page.get_by_role("img", name="QR code for your authenticator app")
    expect(qr).to_be_visible()
    box = qr.bounding_box()
    assert box["width"] >= 150 and box["x"] >= 0 and box["x"] + box["width"] <= width  # scannable, on screen
    assert fits_the_width(page)
    shot(page, f"staff-two-factor-enrol-{width}")

    secret = page.locator(".two-factor-secret code").inner_text().replace(" ", "")
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    page.fill("#id_otp_token", "000000")
    page.get_by_role("button", name="Confirm and sign in").click()
    expect(page.locator("main")).to_contain_text("That code is not right")
    shot(page, f"staff-two-factor-enrol-wrong-code-{width}")

    from django_otp.plugins.otp_totp.models import TOTPDevice

    # django-otp makes the next try wait after a wrong code; the person would wait a second or two.
    TOTPDevice.objects.filter(user=fundraiser).update(throttling_failure_count=0, throttling_failure_timestamp=None)
    page.fill("#id_otp_token", f"{TOTP(key).token():06d}")
    page.get_by_role("button", name="Confirm and sign in").click()
    page.wait_for_url(live_server.url + "/admin/")
    expect(page.locator("body")).to_contain_text("Dashboard")


def test_the_code_step_refuses_a_wrong_code_and_takes_the_right_one(new_page, live_server, finance_user):
    device = staff_authenticator(finance_user)
    page = new_page(width=390, height=800)
    page.goto(live_server.url + "/admin/donation/")  # where they meant to go
    page.fill("#id_username", finance_user.username)
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/admin/sign-in/code/**")
    expect(page.get_by_label("6-digit code from your authenticator app")).to_be_focused()
    assert fits_the_width(page)
    shot(page, "staff-two-factor-code-390")

    page.goto(live_server.url + "/admin/supporter/")  # nothing else of the admin opens meanwhile
    page.wait_for_url("**/admin/sign-in/code/**")

    page.fill("#id_otp_token", "000000")
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_contain_text("That code is not right")
    device.refresh_from_db()
    device.throttling_failure_count, device.throttling_failure_timestamp = 0, None
    device.save()
    page.fill("#id_otp_token", authenticator_code(device))
    page.keyboard.press("Enter")
    page.wait_for_url(live_server.url + "/admin/supporter/")


def test_after_five_wrong_passwords_the_sign_in_page_says_it_is_locked(new_page, live_server, fundraiser):
    page = new_page(width=390, height=800)
    for _ in range(5):
        page.goto(live_server.url + "/admin/login/")
        page.fill("#id_username", fundraiser.username)
        page.fill("#id_password", "not-my-password")
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_load_state()
    expect(page.locator("main")).to_contain_text("Too many failed sign-in attempts")
    expect(page.locator("main")).to_contain_text("locked for 30 minutes")
    assert fits_the_width(page)
    shot(page, "staff-sign-in-locked-390")
