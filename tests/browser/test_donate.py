"""A supporter gives through the real donation page in Chromium: Stripe.js (the
local Stripe's) makes the PaymentMethod, our server takes the gift, and the
webhook that the local Stripe signs and sends records the fee and net."""

import time

import pytest
from playwright.sync_api import expect

from donations.models import Donation, RecurringGift, StripeEvent
from tests.browser.conftest import BROWSER_DB, shot

pytestmark = pytest.mark.browser


def fill_in(page, *, email, number="4242424242424242"):
    page.fill("#id_first_name", "Maya")
    page.fill("#id_last_name", "Patel")
    page.fill("#id_email", email)
    page.fill("#id_address_house", "7")
    page.fill("#id_address_street", "Mill Lane")
    page.fill("#id_address_town", "York")
    page.fill("#id_postcode", "yo1 7hh")
    page.check("#id_gift_aid")
    page.fill("#card-element input[placeholder=number]", number)
    page.fill("#card-element input[placeholder=exp_month]", "12")
    page.fill("#card-element input[placeholder=exp_year]", "34")
    page.fill("#card-element input[placeholder=cvc]", "123")


def wait_for(condition, seconds=10):
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


@BROWSER_DB
def test_a_one_off_gift_from_form_to_webhook(page, stripe_webhooks_to_live_server):
    live_server = stripe_webhooks_to_live_server
    page.goto(live_server.url + "/donate/?appeal=XMAS26&utm_source=newsletter")
    page.get_by_role("button", name="£50").click()
    expect(page.locator("#pay-button")).to_contain_text("Give £50")
    fill_in(page, email="maya@example.org")
    shot(page, "donate-filled")
    page.click("#pay-button")
    page.wait_for_url("**/donate/thank-you/**")
    expect(page.locator("h1")).to_contain_text("Thank you, Maya")
    expect(page.locator("main")).to_contain_text("£50.00")
    shot(page, "donate-thank-you")

    donation = Donation.objects.get()
    assert (donation.amount_pence, donation.appeal_code, donation.utm_source) == (5000, "XMAS26", "newsletter")
    assert donation.gift_aid_declared
    # The local Stripe signs and sends payment_intent.succeeded about a second later.
    assert wait_for(lambda: StripeEvent.objects.filter(type="payment_intent.succeeded", status="processed").exists())
    # The fee is read from the balance transaction just after the event's commit.
    assert wait_for(lambda: Donation.objects.filter(pk=donation.pk, fee_pence__isnull=False).exists())
    donation.refresh_from_db()
    assert (donation.status, donation.fee_pence, donation.net_pence) == ("succeeded", 95, 4905)


@BROWSER_DB
def test_a_declined_card_then_a_good_one(page, stripe_webhooks_to_live_server):
    live_server = stripe_webhooks_to_live_server
    page.goto(live_server.url + "/donate/")
    fill_in(page, email="dee@example.org", number="4000000000000341")
    page.click("#pay-button")
    expect(page.locator("#form-alert")).to_contain_text("declined")
    shot(page, "donate-declined")
    page.fill("#card-element input[placeholder=number]", "4242424242424242")
    page.click("#pay-button")
    page.wait_for_url("**/donate/thank-you/**")
    assert list(Donation.objects.order_by("pk").values_list("status", flat=True)) == ["failed", "succeeded"]


@BROWSER_DB
def test_a_monthly_gift_is_set_up_in_the_browser(page, new_page, stripe_webhooks_to_live_server):
    live_server = stripe_webhooks_to_live_server
    page.goto(live_server.url + "/donate/")
    page.locator("label.frequency__option", has_text="Give monthly").click()
    page.get_by_role("button", name="£20").click()
    expect(page.locator("#pay-button")).to_contain_text("a month")
    fill_in(page, email="monthly@example.org")
    page.click("#pay-button")
    page.wait_for_url("**/donate/thank-you/monthly/**")
    expect(page.locator("main")).to_contain_text("We took your first payment of £20.00 today")
    expect(page.locator("main")).to_contain_text("with the link in the welcome email")
    shot(page, "donate-monthly-thank-you")
    phone = new_page(390, 844)
    phone.goto(page.url)
    shot(phone, "donate-monthly-thank-you-phone")
    recurring = RecurringGift.objects.get()
    assert (recurring.status, recurring.amount_pence, recurring.card_last4) == ("active", 2000, "4242")
    assert recurring.charges.get().donation.status == "succeeded"

    # Through the welcome email's link, the supporter changes the card, then the amount.
    from donations.links import monthly_manage_url

    page.goto(live_server.url + monthly_manage_url(recurring))
    page.fill("#card-element input[placeholder=number]", "5555555555554444")
    page.fill("#card-element input[placeholder=exp_month]", "1")
    page.fill("#card-element input[placeholder=exp_year]", "2035")
    page.fill("#card-element input[placeholder=cvc]", "123")
    page.get_by_role("button", name="Save new card").click()
    expect(page.locator("#card-notice")).to_contain_text("your card ending 4444")
    page.fill("#id_amount", "25")
    page.get_by_role("button", name="Change my gift").click()
    expect(page.locator("main")).to_contain_text("From now on you will give £25.00 a month")
    recurring.refresh_from_db()
    assert (recurring.card_last4, recurring.amount_pence) == ("4444", 2500)


@BROWSER_DB
def test_the_phone_number_is_asked_for_when_calls_or_texts_are_ticked(new_page, stripe_webhooks_to_live_server):
    from supporters.models import Supporter

    live_server = stripe_webhooks_to_live_server
    page = new_page(390, 844)
    page.goto(live_server.url + "/donate/")
    expect(page.locator("#id_phone")).to_be_hidden()
    fill_in(page, email="tel@example.org")
    page.check("#id_consent_sms")
    expect(page.locator("#id_phone")).to_be_visible()
    page.click("#pay-button")
    expect(page.locator("#error-phone")).to_contain_text("Enter your phone number")
    page.locator("#phone-field").scroll_into_view_if_needed()
    shot(page, "donate-phone-needed")
    page.fill("#id_phone", "07911 123456")
    page.click("#pay-button")
    page.wait_for_url("**/donate/thank-you/**")
    supporter = Supporter.objects.get()
    assert str(supporter.phone) == "+447911123456" and supporter.consent_sms


@BROWSER_DB
def test_the_local_stripes_card_box_takes_a_four_digit_year(page, stripe_webhooks_to_live_server, stripe_client):
    """make run's card box (the test launcher's): a year typed key by key as YYYY is
    taken as it is, and the box says what it wants."""
    live_server = stripe_webhooks_to_live_server
    page.goto(live_server.url + "/donate/")
    fill_in(page, email="yyyy@example.org")
    expect(page.locator("#card-element")).to_contain_text("YY or YYYY")
    expect(page.locator("#card-element input[placeholder=postal_code]")).to_be_hidden()  # as Stripe's own box
    year = page.locator("#card-element input[placeholder=exp_year]")
    year.fill("")
    year.press_sequentially("2034")
    expect(year).to_have_value("2034")
    shot(page, "donate-four-digit-year")
    page.click("#pay-button")
    page.wait_for_url("**/donate/thank-you/**")
    intent = stripe_client.v1.payment_intents.retrieve(Donation.objects.get().stripe_payment_intent_id)
    method = stripe_client.v1.payment_methods.retrieve(intent.payment_method)
    assert (method.card.exp_month, method.card.exp_year) == (12, 2034)


@BROWSER_DB
def test_an_error_from_stripe_js_is_said_in_plain_words(new_page, stripe_webhooks_to_live_server):
    live_server = stripe_webhooks_to_live_server
    page = new_page(390, 844)
    page.goto(live_server.url + "/donate/")
    fill_in(page, email="typo@example.org")
    page.fill("#card-element input[placeholder=exp_month]", "13")  # refused by the card API, not a card error
    page.click("#pay-button")
    errors = page.locator("#card-errors")
    expect(errors).to_contain_text("We could not check your card details")
    expect(errors).not_to_contain_text("Bad request")
    errors.scroll_into_view_if_needed()
    shot(page, "donate-card-error-phone")
    assert not Donation.objects.exists()


@BROWSER_DB
@pytest.mark.parametrize("width", [390, 1280])
def test_the_donor_is_thanked_by_name_while_their_gift_waits_to_be_recorded(new_page, stripe_webhooks_to_live_server,
                                                                           settings, width):
    from django.core.management import call_command

    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}  # the worker is busy
    live_server = stripe_webhooks_to_live_server
    page = new_page(width, 900)
    page.goto(live_server.url + "/donate/")
    fill_in(page, email="maya@example.org")
    page.click("#pay-button")
    page.wait_for_url("**/donate/thank-you/**")
    expect(page.locator("h1")).to_contain_text("Thank you, Maya")
    expect(page.locator("main")).to_contain_text("Your receipt is on its way to maya@example.org")
    shot(page, f"donate-thank-you-before-record-{width}")
    assert Donation.objects.get().awaiting_record
    call_command("record_online_gifts", stdout=open("/dev/null", "w"))
    page.reload()
    expect(page.locator("h1")).to_contain_text("Thank you, Maya")
    assert Donation.objects.get().supporter.email == "maya@example.org"
