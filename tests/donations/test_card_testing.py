"""A scripted card-testing attack on the donation form, as a fraudster runs one:
bots that fill every field (the honeypot too), then many £1 gifts from one
address with a new email each time and cards that are half declined, then the
same email from many addresses (a botnet), with its case and +tags varied.
Each defence stops its part, the refused attempts never reach Stripe (no
PaymentIntent is made in the local Stripe for them), and a real supporter from
another address still gives. The limits are the production defaults."""

import uuid

import pytest
from django.test import Client

from donations.models import Donation
from tests.donations.test_giving import form_data

pytestmark = pytest.mark.django_db

ATTACKER_IP = "198.51.100.7"
DECLINED, GOOD = "4000000000000341", "4242424242424242"  # declined when charged, as README says


@pytest.fixture
def payment_intents(stripe_client):
    """How many PaymentIntents the local Stripe holds: one per attempt that reached it."""
    def count() -> int:
        return len(stripe_client.v1.payment_intents.list(params={"limit": 100}).data)
    return count


@pytest.fixture
def attempt(card, django_capture_on_commit_callbacks):
    def post(client, *, number=GOOD, amount="1", **fields):
        data = form_data(amount=amount, payment_method_id=card(number), form_token=str(uuid.uuid4()), gift_aid="",
                         **fields)
        with django_capture_on_commit_callbacks(execute=True):
            return client.post("/donate/", data)
    return post


def test_a_card_testing_run_is_stopped_by_each_defence_and_a_real_supporter_still_gives(
        attempt, payment_intents, settings):
    assert (settings.DONATION_RATE_LIMIT_PER_IP, settings.DONATION_RATE_LIMIT_PER_EMAIL) == ("10/h", "5/h")
    attacker = Client(REMOTE_ADDR=ATTACKER_IP)

    # 1. A bot fills in every field it finds, the hidden one too: refused as a decline, nothing made anywhere.
    for n in range(5):
        response = attempt(attacker, email=f"bot{n}@mailinator.example", website="https://cheap-pills.example")
        assert response.status_code == 400 and "could not take this payment" in response.json()["error"]
    assert Donation.objects.count() == 0 and payment_intents() == 0

    # 2. £1 gifts from one address, a new email each time, cards alternately declined and good:
    #    the first ten reach Stripe, the rest are paused and never reach it.
    statuses = [attempt(attacker, email=f"tester{n}@mailinator.example", number=DECLINED if n % 2 else GOOD)
                .status_code for n in range(16)]
    assert statuses[:10] == [200, 402] * 5
    assert statuses[10:] == [429] * 6
    assert payment_intents() == 10 and Donation.objects.count() == 10

    # 3. One email from many addresses (a botnet), its case and +tags varied: five attempts, then paused.
    emails = ["carder@proton.example", "Carder@Proton.example", "carder+1@proton.example",
              "CARDER+x@proton.example", "carder@proton.example", "carder+2@proton.example",
              "Carder+3@PROTON.example", "carder@proton.example"]
    statuses = [attempt(Client(REMOTE_ADDR=f"203.0.113.{n + 1}"), email=email, number=DECLINED).status_code
                for n, email in enumerate(emails)]
    assert statuses == [402] * 5 + [429] * 3
    assert payment_intents() == 15 and Donation.objects.count() == 15
    refused = Client(REMOTE_ADDR="203.0.113.99").post("/donate/", form_data(email="carder+9@proton.example",
                                                                              payment_method_id="pm_card_visa"))
    assert refused.status_code == 429 and "call us" in refused.json()["error"]

    # 4. A real supporter, from their own address, gives as usual.
    response = attempt(Client(REMOTE_ADDR="192.0.2.44"), email="margaret.hale@example.org", amount="30")
    assert response.status_code == 200, response.content
    gift = Donation.objects.get(supporter__email="margaret.hale@example.org")
    assert gift.status == Donation.Status.SUCCEEDED and gift.amount_pence == 3000
    assert payment_intents() == 16

    # Every PaymentIntent is one of ours, and every refused attempt left none.
    assert Donation.objects.exclude(stripe_payment_intent_id="").count() == 16
    assert not Donation.objects.filter(supporter__email__icontains="bot").exists()
