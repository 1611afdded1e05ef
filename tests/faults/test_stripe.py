"""Stripe slow or down, with the donation form in front of it: the real stripe
library over HTTP, through a proxy that holds back localstripe's answers or
refuses connections."""

import time
import uuid
from urllib.parse import urlsplit

import pytest
import requests

from donations.models import Donation
from supporters.models import Interaction
from donations.services.gifts import STRIPE_NO_ANSWER
from tests.faults.proxy import TcpProxy
from tests.stripe_server import SECRET_KEY

pytestmark = pytest.mark.django_db


def form_data(payment_method_id, **overrides):
    return {
        "frequency": "once", "amount": "25", "first_name": "Priya", "last_name": "Shah",
        "email": f"priya-{uuid.uuid4().hex[:8]}@example.org", "address_house": "3", "address_street": "Mill Lane",
        "address_town": "York", "postcode": "YO1 7HH", "country": "GB", "form_token": str(uuid.uuid4()),
        "website": "", "payment_method_id": payment_method_id, **overrides,
    }


@pytest.fixture
def stripe_proxy(stripe_settings, local_stripe):
    upstream = urlsplit(local_stripe)
    with TcpProxy((upstream.hostname, upstream.port)) as proxy:
        stripe_settings.STRIPE_API_BASE = f"http://{proxy.address}"
        stripe_settings.STRIPE_MAX_NETWORK_RETRIES = 1  # the site's default, so the drill shows its real waits
        yield proxy


@pytest.fixture
def give(client, django_capture_on_commit_callbacks):
    def post(data, after_commit=True):
        started = time.monotonic()
        with django_capture_on_commit_callbacks(execute=after_commit):
            response = client.post("/donate/", data, headers={"X-Requested-With": "fetch"})
        return response, time.monotonic() - started
    return post


def payment_intents_at_stripe(local_stripe) -> list[dict]:
    listing = requests.get(f"{local_stripe}/v1/payment_intents", params={"limit": 100}, auth=(SECRET_KEY, ""),
                           timeout=10)
    listing.raise_for_status()
    return listing.json()["data"]


def charges_for(local_stripe, intent_id) -> list[dict]:
    listing = requests.get(f"{local_stripe}/v1/charges", params={"limit": 100}, auth=(SECRET_KEY, ""), timeout=10)
    listing.raise_for_status()
    return [charge for charge in listing.json()["data"] if charge["payment_intent"] == intent_id]


def nothing_counted(donation: Donation) -> bool:
    """A gift that Stripe has not confirmed counts in no total, income or statement."""
    return (donation.status == Donation.Status.CREATED and donation.kept_pence == 0
            and not Donation.objects.filter(status__in=Donation.INCOME_STATUSES).exists()
            and not Interaction.objects.filter(kind=Interaction.Kind.DONATION).exists())


def test_stripe_slow_by_5_seconds_the_gift_is_still_taken_once(stripe_proxy, give, card, local_stripe, drill):
    data = form_data(card())
    stripe_proxy.delay = 5
    response, took = give(data, after_commit=False)  # the receipt and the fee's fetch: not timed here
    assert response.status_code == 200, response.content
    donation = Donation.objects.get()
    assert donation.status == Donation.Status.SUCCEEDED
    assert len(payment_intents_at_stripe(local_stripe)) == 1
    drill(f"Stripe 5 s slow (site's timeout 10 s): the form answered in {took:.1f} s with the thank-you page; "
          "1 gift, 1 payment at Stripe.")


def test_stripe_stalled_past_the_timeout_says_so_and_the_retry_charges_once(
        stripe_proxy, stripe_settings, give, card, local_stripe, drill):
    stripe_settings.STRIPE_TIMEOUT_SECONDS = 2  # Stripe 5 s slow is now past the site's patience
    data = form_data(card())
    stripe_proxy.delay = 5
    response, took = give(data)
    assert response.status_code == 402, response.content
    assert response.json()["error"] == STRIPE_NO_ANSWER and "new_form_token" not in response.json()
    donation = Donation.objects.get()
    assert nothing_counted(donation)
    # Stripe did take the payment: its answer was what came late.
    intents = payment_intents_at_stripe(local_stripe)
    assert [intent["status"] for intent in intents] == ["succeeded"]
    drill(f"Stripe 5 s slow (site's timeout 2 s, 1 retry): the form answered in {took:.1f} s with "
          f"'{STRIPE_NO_ANSWER[:45]}…' (402, JSON); our gift left 'created', counted nowhere; "
          "Stripe had taken the payment.")

    stripe_proxy.delay = 0
    response, took = give(data)  # the donor presses Give again: the same form, the same token
    assert response.status_code == 200, response.content
    donation.refresh_from_db()
    assert donation.status == Donation.Status.SUCCEEDED and Donation.objects.count() == 1
    intents = payment_intents_at_stripe(local_stripe)
    assert len(intents) == 1 and intents[0]["id"] == donation.stripe_payment_intent_id
    assert len(charges_for(local_stripe, donation.stripe_payment_intent_id)) == 1
    drill(f"Pressing Give again once Stripe answered: thank-you page in {took:.1f} s; 1 gift (succeeded), "
          "1 payment and 1 charge at Stripe: charged once.")


def test_stripe_down_says_so_and_the_retry_charges_once(stripe_proxy, give, card, local_stripe, drill):
    data = form_data(card())
    stripe_proxy.cut()
    response, took = give(data)
    assert response.status_code == 402, response.content
    assert response.json()["error"] == STRIPE_NO_ANSWER
    donation = Donation.objects.get()
    assert nothing_counted(donation)
    assert payment_intents_at_stripe(local_stripe) == []
    drill(f"Stripe down (connections refused): the form answered in {took:.1f} s with the same kind message; "
          "our gift left 'created', counted nowhere; nothing at Stripe.")

    stripe_proxy.restore()
    response, took = give(data)
    assert response.status_code == 200, response.content
    donation.refresh_from_db()
    assert donation.status == Donation.Status.SUCCEEDED and Donation.objects.count() == 1
    intents = payment_intents_at_stripe(local_stripe)
    assert len(intents) == 1 and len(charges_for(local_stripe, intents[0]["id"])) == 1
    drill(f"Stripe back, Give pressed again: thank-you page in {took:.1f} s; 1 gift, 1 payment, 1 charge.")
