"""One-off gifts through the donation form's endpoint and the real Stripe library
against localstripe: amounts, declines, 3-D Secure, double submission, abuse."""

import datetime
import uuid

import pytest
import time_machine
import requests
from django.core import mail

from supporters.models import ConsentEvent, GiftAidDeclaration, Supporter
from donations import services
from donations.models import Donation

pytestmark = pytest.mark.django_db


def form_data(**overrides):
    data = {
        "frequency": "once", "amount": "25", "title": "Ms", "first_name": "Zoë", "last_name": "O'Brien",
        "email": "zoe@example.org", "address_house": "12", "address_street": "High Street", "address_town": "Leeds",
        "postcode": "ls6 2aa", "country": "GB", "form_token": str(uuid.uuid4()), "campaign": "", "appeal_code": "",
        "utm_source": "", "utm_medium": "", "utm_campaign": "", "website": "",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture
def give(client, card, django_capture_on_commit_callbacks):
    def post(number="4242424242424242", **overrides):
        data = form_data(payment_method_id=card(number) if number else "", **overrides)
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post("/donate/", data)
        return response, data
    return post


class TestOneOffGift:
    def test_a_gift_is_taken_and_recorded(self, give, local_stripe):
        response, data = give(gift_aid="on", consent_email="on", consent_post="", utm_source="facebook",
                              appeal_code="XMAS26")
        assert response.status_code == 200, response.content
        body = response.json()
        donation = Donation.objects.get()
        assert body["redirect"] == f"/donate/thank-you/{donation.form_token}/"
        assert donation.status == Donation.Status.SUCCEEDED
        assert donation.amount_pence == 2500 and donation.currency == "gbp"
        assert donation.stripe_payment_intent_id.startswith("pi_") and donation.stripe_charge_id.startswith("ch_")
        assert (donation.appeal_code, donation.utm_source, donation.channel) == ("XMAS26", "facebook", "web")
        supporter = donation.supporter
        assert (supporter.first_name, supporter.last_name, supporter.postcode) == ("Zoë", "O'Brien", "LS6 2AA")
        assert supporter.consent_email is True and supporter.consent_post is False
        consent = ConsentEvent.objects.get(supporter=supporter)
        assert consent.wording == services.FORM_CONSENT_WORDING["email"] and consent.method == "web_form"
        declaration = GiftAidDeclaration.objects.get(supporter=supporter)
        assert declaration.method == "online" and "UK taxpayer" in declaration.wording
        assert (declaration.address_house, declaration.postcode) == ("12", "LS6 2AA")
        assert donation.gift_aid_declared
        assert supporter.interactions.filter(kind="donation", source_ref=f"donation:{donation.pk}").count() == 1
        # The receipt, through the project's mail backend.
        assert len(mail.outbox) == 1
        receipt = mail.outbox[0]
        assert receipt.to == ["zoe@example.org"] and "£25.00" in receipt.subject
        assert donation.reference in receipt.body
        html, mimetype = receipt.alternatives[0]
        assert mimetype == "text/html" and "Brightwell Children" in html and "£25.00" in html
        # Stripe holds our id in its metadata.
        intent = requests.get(f"{local_stripe}/v1/payment_intents/{donation.stripe_payment_intent_id}",
                              auth=("sk_test_localstripe", "")).json()
        assert intent["metadata"]["donation_uid"] == str(donation.uid)

    def test_the_thank_you_page(self, client, give):
        response, data = give()
        page = client.get(response.json()["redirect"]).content.decode()
        assert "Thank you, Zoë" in page and "£25.00" in page

    def test_the_same_email_gives_twice_as_one_supporter(self, give):
        give(email="Sam@Example.org")
        give(email="sam@example.org")
        assert Supporter.objects.count() == 1
        assert Donation.objects.filter(status="succeeded").count() == 2

    def test_fee_cover_is_added_so_the_whole_gift_arrives(self, give, local_stripe):
        give(amount="25", cover_fee="on")
        donation = Donation.objects.get()
        assert donation.fee_cover_pence == services.fee_cover_pence(2500) == 59
        services.donation_refresh_from_stripe(payment_intent_id=donation.stripe_payment_intent_id)
        donation.refresh_from_db()
        assert donation.amount_pence == 2559
        assert donation.net_pence >= 2500 and donation.fee_pence + donation.net_pence == donation.amount_pence

    def test_pressing_pay_twice_makes_one_gift(self, client, card, give):
        response, data = give()
        again = client.post("/donate/", data)
        assert again.json()["redirect"] == response.json()["redirect"]
        assert Donation.objects.count() == 1

    def test_a_declined_card_is_explained_and_recorded_as_failed(self, give):
        response, data = give(number="4000000000000341")
        assert response.status_code == 402
        body = response.json()
        assert "declined" in body["error"] and "not been charged" in body["error"]
        assert body["new_form_token"] and body["new_form_token"] != data["form_token"]
        donation = Donation.objects.get()
        assert donation.status == Donation.Status.FAILED and donation.paid_at is None
        assert not mail.outbox

    def test_three_d_secure_then_confirmation(self, client, give, local_stripe):
        response, data = give(number="4000002760003184")
        body = response.json()
        assert body["status"] == "requires_action" and body["client_secret"]
        donation = Donation.objects.get()
        assert donation.status == Donation.Status.REQUIRES_ACTION
        # What Stripe.js does when the donor completes the bank's check.
        intent_id = body["client_secret"].split("_secret_")[0]
        requests.post(f"{local_stripe}/v1/payment_intents/{intent_id}/_authenticate?success=true",
                      json={"key": "pk_test_localstripe", "client_secret": body["client_secret"]}).raise_for_status()
        confirmed = client.post("/donate/confirm/", {"form_token": data["form_token"]}).json()
        assert confirmed["redirect"].endswith(f"/{data['form_token']}/")
        donation.refresh_from_db()
        assert donation.status == Donation.Status.SUCCEEDED
        assert donation.fee_pence == 58 and donation.net_pence == 2442

    def test_failed_three_d_secure(self, client, give, local_stripe):
        response, data = give(number="4000002760003184")
        secret = response.json()["client_secret"]
        requests.post(f"{local_stripe}/v1/payment_intents/{secret.split('_secret_')[0]}/_authenticate?success=false",
                      json={"key": "pk_test_localstripe", "client_secret": secret}).raise_for_status()
        confirmed = client.post("/donate/confirm/", {"form_token": data["form_token"]})
        assert confirmed.status_code == 402 and "not been charged" in confirmed.json()["error"]
        assert Donation.objects.get().status == Donation.Status.FAILED


class TestBadInput:
    @pytest.mark.parametrize("amount, message", [
        ("0", "above zero"),
        ("-5", "above zero"),
        ("ten pounds", "amount in pounds"),
        ("0.50", "smallest gift"),
        ("25.555", "two decimal places"),
        ("10000.01", "please call us"),
        ("", "Enter an amount"),
        ("NaN", "amount in pounds"),
        ("1e400", "please call us"),
        ("9" * 19, "please call us"),
        ("1e-400", "two decimal places"),
        ("-1e400", "above zero"),
        ("Infinity", "amount in pounds"),
    ])
    def test_bad_amounts_are_refused_and_nothing_is_saved(self, give, amount, message):
        response, _ = give(amount=amount)
        assert response.status_code == 400
        assert message in response.json()["fields"]["amount"]
        assert not Donation.objects.exists() and not Supporter.objects.exists()

    @pytest.mark.parametrize("amount", ["1e400", "1E+400", "12e30"])
    def test_a_monthly_gift_of_an_absurd_amount_is_refused_and_nothing_is_saved(self, client, amount):
        from donations.models import RecurringGift

        response = client.post("/donate/monthly/", form_data(frequency="monthly", amount=amount))
        assert response.status_code == 400
        assert "please call us" in response.json()["fields"]["amount"]
        assert not RecurringGift.objects.exists() and not Supporter.objects.exists()

    def test_the_maximum_is_a_setting(self, give, settings):
        settings.DONATION_MAXIMUM_PENCE = 50_000
        response, _ = give(amount="600")
        assert response.status_code == 400 and "£500.00" in response.json()["fields"]["amount"]

    def test_invalid_email(self, give):
        response, _ = give(email="zoe@")
        assert response.status_code == 400 and "email" in response.json()["fields"]
        assert not Donation.objects.exists()

    def test_gift_aid_needs_a_home_address(self, give):
        response, _ = give(gift_aid="on", address_house="", postcode="")
        fields = response.json()["fields"]
        assert "house name or number" in fields["address_house"] and "postcode" in fields["postcode"]
        assert not Donation.objects.exists()

    def test_a_uk_street_needs_its_postcode_before_the_card_is_charged(self, give):
        # Found by the fuzz tests: the supporter's record requires it, and it is recorded after the payment.
        response, _ = give(postcode="")
        assert response.status_code == 400
        assert response.json()["fields"]["postcode"] == "A UK address needs its postcode."
        assert not Donation.objects.exists()

    def test_bad_postcode(self, give):
        response, _ = give(postcode="LS6")
        assert "not a valid UK postcode" in response.json()["fields"]["postcode"]


class TestPhoneNumber:
    """Calls and texts need a number: asked for when either box is ticked, a UK
    or international number, kept on the supporter."""

    def test_ticking_calls_or_texts_asks_for_the_number(self, give):
        for box in ("consent_phone", "consent_sms"):
            response, _ = give(**{box: "on"})
            assert response.status_code == 400
            assert "Enter your phone number" in response.json()["fields"]["phone"]
        assert not Donation.objects.exists() and not Supporter.objects.exists()

    @pytest.mark.parametrize("typed, stored", [("07911 123456", "+447911123456"), ("+44 7911 123456", "+447911123456"),
                                               ("+353 85 123 4567", "+353851234567")])
    def test_a_uk_or_international_number_is_kept_on_the_supporter(self, give, typed, stored):
        response, _ = give(consent_sms="on", phone=typed)
        assert response.status_code == 200, response.content
        supporter = Supporter.objects.get()
        assert str(supporter.phone) == stored and supporter.consent_sms and not supporter.consent_phone

    @pytest.mark.parametrize("typed, message", [("12345", "Enter a UK phone number"),
                                                ("020 7946 0000", "Texts need a mobile number")])
    def test_a_number_that_will_not_do_is_explained(self, give, typed, message):
        response, _ = give(consent_sms="on", phone=typed)
        assert response.status_code == 400 and message in response.json()["fields"]["phone"]
        assert not Supporter.objects.exists()

    def test_a_landline_is_fine_for_calls(self, give):
        assert give(consent_phone="on", phone="020 7946 0000")[0].status_code == 200
        assert str(Supporter.objects.get().phone) == "+442079460000"

    def test_a_returning_donor_gains_a_number_but_never_loses_one(self, give):
        give(email="sam@example.org")
        give(email="sam@example.org", consent_phone="on", phone="07911 123456")
        supporter = Supporter.objects.get()
        assert str(supporter.phone) == "+447911123456"
        # Anyone can type anyone's email: a different number is noted for staff, not written over.
        give(email="sam@example.org", consent_phone="on", phone="07400 123456")
        supporter.refresh_from_db()
        assert str(supporter.phone) == "+447911123456"
        assert supporter.interactions.filter(summary__contains="different phone number on the donation form: +447400123456").exists()


class TestAbuse:
    def test_the_honeypot_takes_nothing(self, give):
        response, _ = give(website="http://spam.example")
        assert response.status_code == 400
        assert not Donation.objects.exists()

    def test_too_many_attempts_from_one_address_are_paused(self, give, settings):
        settings.DONATION_RATE_LIMIT_PER_IP = "3/h"
        statuses = [give(email=f"p{i}@example.org")[0].status_code for i in range(5)]
        assert statuses[:3] == [200, 200, 200]
        assert statuses[3:] == [429, 429]
        assert Donation.objects.count() == 3

    def test_behind_a_balancer_that_appends_to_x_forwarded_for_each_visitor_is_counted_alone(
            self, client, card, settings, django_capture_on_commit_callbacks):
        settings.RATELIMIT_IP_META_KEY = "HTTP_X_FORWARDED_FOR"
        settings.DONATION_RATE_LIMIT_PER_IP = "2/h"

        def give_from(chain: str, i: int) -> int:
            data = form_data(payment_method_id=card("4242424242424242"), email=f"v{i}@example.org")
            with django_capture_on_commit_callbacks(execute=True):
                return client.post("/donate/", data, HTTP_X_FORWARDED_FOR=chain).status_code

        # What the visitor claims comes first and changes each time; the balancer's word comes last.
        assert [give_from(f"203.0.113.{i}, 198.51.100.7", i) for i in range(3)] == [200, 200, 429]
        assert give_from("203.0.113.9, 198.51.100.8", 9) == 200  # another visitor

    def test_too_many_attempts_for_one_email_are_paused(self, give, settings):
        settings.DONATION_RATE_LIMIT_PER_EMAIL = "2/h"
        responses = [give(email="card.tester@example.org")[0] for _ in range(3)]
        assert [r.status_code for r in responses] == [200, 200, 429]
        assert "call us" in responses[2].json()["error"]


def test_coming_back_to_the_form_after_giving_says_so(client, give):
    assert client.get("/donate/session/").json()["recent_gift"] is None
    give()
    assert client.get("/donate/session/").json()["recent_gift"] == "£25.00"


def test_the_recent_gift_is_forgotten_after_fifteen_minutes_and_cannot_be_forged(client, give):
    give()
    assert client.get("/donate/session/").json()["recent_gift"] == "£25.00"
    with time_machine.travel(datetime.timedelta(minutes=16)):
        assert client.get("/donate/session/").json()["recent_gift"] is None
    client.cookies["recent_gift"] = "£1,000,000.00"  # unsigned: ignored
    assert client.get("/donate/session/").json()["recent_gift"] is None


def test_each_visitor_gets_their_own_token_and_csrf_cookie(client):
    first, second = client.get("/donate/session/"), client.get("/donate/session/")
    assert first.json()["form_token"] != second.json()["form_token"]
    assert "csrftoken" in first.cookies
    assert "no-cache" in first["Cache-Control"]
