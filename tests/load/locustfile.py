"""A TV-appeal night, for locust (run by `make loadtest`: tests/load/__main__.py).

Viewers read the campaign page about twenty times for each gift they make; some
give once through the real form (the browser's Stripe.js call to the local Stripe
first, then POST /donate/), some sign up to give monthly (the SetupIntent confirmed
as Stripe.js confirms it); a webhook sender re-delivers the night's payments as
Stripe does, each event more than once, older ones after newer ones, shuffled and
signed with the endpoint's secret; and a member of staff searches supporters all
the while, logged in. Each gift comes from its own visitor (address and email), as
on the night, so the real rate limits apply and none trips.

Read from the environment: LOAD_STRIPE_BASE, LOAD_WEBHOOK_SECRET, LOAD_PAGES (the
campaign pages' paths, comma-separated), LOAD_CAMPAIGN and LOAD_APPEAL (codes),
LOAD_STAFF_USER and LOAD_STAFF_PASSWORD."""

import copy
import json
import os
import random
import re
import uuid

from django_otp.oath import TOTP
from locust import HttpUser, between, constant, task
from locust.exception import StopUser

from tests.bench.giving import AMOUNTS, _event, _payment_intent, _sign
from tests.stripe_server import PUBLISHABLE_KEY, SECRET_KEY

STRIPE_BASE = os.environ.get("LOAD_STRIPE_BASE", "")
WEBHOOK_SECRET = os.environ.get("LOAD_WEBHOOK_SECRET", "")
PAGES = [page for page in os.environ.get("LOAD_PAGES", "/").split(",") if page]
CAMPAIGN = os.environ.get("LOAD_CAMPAIGN", "")
APPEAL = os.environ.get("LOAD_APPEAL", "")
SURNAMES = ["Smith", "Jones", "Taylor", "Brown", "Khan", "Patel", "Wilson", "Evans", "Walker", "Wright"]
MAX_GIFTS = int(os.environ.get("LOAD_MAX_GIFTS", 2000))
CARD = {"number": "4242424242424242", "exp_month": "12", "exp_year": "2034", "cvc": "123"}

def staff_login(client, username: str, password: str) -> None:
    """Log a member of staff in through the admin's own forms, as a browser does: the
    password, then the code their authenticator shows (LOAD_STAFF_TOTP_KEY, the key the
    runner gave their authenticator). The one place that knows how staff log in."""
    page = client.get("/admin/login/", name="staff: GET /admin/login/")
    with client.post("/admin/login/", data={"username": username, "password": password, "next": "/admin/",
                                            "csrfmiddlewaretoken": _csrf(page.text)},
                     headers={"Referer": client.base_url + "/admin/login/"}, name="staff: POST /admin/login/",
                     catch_response=True) as answer:
        if "/admin/login/" in answer.url:
            answer.failure(f"{username} was not logged in")
            return
        code_page = answer
    if "/admin/sign-in/code/" in code_page.url:
        key = bytes.fromhex(os.environ["LOAD_STAFF_TOTP_KEY"])
        with client.post(code_page.url, data={"otp_token": f"{TOTP(key).token():06d}",
                                              "csrfmiddlewaretoken": _csrf(code_page.text)},
                         headers={"Referer": code_page.url}, name="staff: POST /admin/sign-in/code/",
                         catch_response=True) as answer:
            if "/admin/sign-in/" in answer.url or "/admin/login/" in answer.url:
                answer.failure(f"{username}'s code was refused")


def _csrf(html: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def _visitor() -> dict:
    # Each gift is a new viewer: their own address, as the load balancer would pass it on.
    return {"X-Forwarded-For": f"10.{random.randint(0, 255)}.{random.randint(0, 255)}.{random.randint(1, 254)}"}


def _form(frequency: str) -> dict:
    n = uuid.uuid4().hex[:10]
    return {
        "frequency": frequency, "amount": str(random.choice(AMOUNTS) // 100), "title": "Ms", "first_name": "Zoë",
        "last_name": f"O'Brien-{n}", "email": f"viewer-{n}@load.example", "address_house": "12",
        "address_street": "High Street", "address_town": "Leeds", "postcode": "ls6 2aa", "country": "GB",
        "form_token": str(uuid.uuid4()), "campaign": CAMPAIGN, "appeal_code": APPEAL, "utm_source": "tv",
        "utm_medium": "", "utm_campaign": "", "website": "",
        **({"gift_aid": "on"} if random.random() < 0.5 else {}),
        **({"consent_email": "on"} if random.random() < 0.3 else {}),
    }


gifts_started = 0
first_gift_given = False


class Viewer(HttpUser):
    """Watches the appeal: mostly reads the campaign page; sometimes gives."""
    weight = 10
    wait_time = between(0.5, 1.5)

    def on_start(self):
        # The first viewer gives at once, so that even the shortest run has a gift to reconcile;
        # over a real night the tasks' weights set the mix.
        global first_gift_given
        if not first_gift_given:
            first_gift_given = True
            self.give_once()

    @task(60)
    def read_the_campaign_page(self):
        self.client.get(random.choice(PAGES), name="GET campaign page")

    def _start_giving(self) -> tuple[dict, str]:
        global gifts_started
        gifts_started += 1
        if gifts_started > MAX_GIFTS:  # bounded in number as well as time
            self.environment.runner.quit()
            raise StopUser()
        self.client.cookies.clear()
        headers = _visitor()
        self.client.get(random.choice(PAGES), name="GET campaign page", headers=headers)
        self.client.get(f"/donate/?campaign={CAMPAIGN}", name="GET /donate/", headers=headers)
        self.client.get("/donate/session/", name="GET /donate/session/", headers=headers)
        token = self.client.cookies.get("csrftoken", "")
        return {**headers, "X-CSRFToken": token, "X-Requested-With": "fetch"}, token

    @task(2)
    def give_once(self):
        headers, _ = self._start_giving()
        # Stripe.js makes the card into a PaymentMethod in the browser, with the publishable key.
        made = self.client.post(f"{STRIPE_BASE}/v1/payment_methods", name="local Stripe: POST /v1/payment_methods",
                                data={"key": PUBLISHABLE_KEY, "type": "card",
                                      **{f"card[{k}]": v for k, v in CARD.items()}})
        if not made.ok:
            return
        with self.client.post("/donate/", data={**_form("once"), "payment_method_id": made.json()["id"]},
                              headers=headers, name="POST /donate/", catch_response=True) as answer:
            body = answer.json() if answer.headers.get("Content-Type", "").startswith("application/json") else {}
            if answer.status_code != 200 or body.get("status") != "succeeded":
                answer.failure(f"{answer.status_code} {answer.text[:200]}")
                return
        self.client.get(body["redirect"], name="GET /donate/thank-you/<token>/")

    @task(1)
    def sign_up_monthly(self):
        headers, _ = self._start_giving()
        form = _form("monthly")
        with self.client.post("/donate/monthly/", data=form, headers=headers, name="POST /donate/monthly/",
                              catch_response=True) as answer:
            if answer.status_code != 200 or not answer.json().get("setup"):
                answer.failure(f"{answer.status_code} {answer.text[:200]}")
                return
            secret = answer.json()["client_secret"]
        setup_id = secret.split("_secret_")[0]
        # Stripe.js's confirmCardSetup, with the publishable key.
        self.client.post(f"{STRIPE_BASE}/v1/setup_intents/{setup_id}/confirm",
                         name="local Stripe: POST /v1/setup_intents/<id>/confirm",
                         data={"key": PUBLISHABLE_KEY, "client_secret": secret, "payment_method_data[type]": "card",
                               **{f"payment_method_data[card][{k}]": v for k, v in CARD.items()}})
        with self.client.post("/donate/monthly/confirm/", data={"form_token": form["form_token"]}, headers=headers,
                              name="POST /donate/monthly/confirm/", catch_response=True) as answer:
            if answer.status_code != 200 or "redirect" not in answer.json():
                answer.failure(f"{answer.status_code} {answer.text[:200]}")
                return
        self.client.get(answer.json()["redirect"], name="GET /donate/thank-you/monthly/<token>/")


class StripeWebhooks(HttpUser):
    """Stripe re-delivering the night's payments in bursts: every event two or three
    times with its own id (Stripe's retries), an older 'processing' event arriving
    after the 'succeeded' one, all shuffled; signed as Stripe signs them."""
    fixed_count = 1
    wait_time = constant(3)

    def on_start(self):
        self.sent = set()

    @task
    def burst(self):
        intents = self._new_intents()
        deliveries = []
        for intent in intents:
            processing = copy.deepcopy(intent)
            processing.update(status="processing", amount_received=0, latest_charge=None)
            for event in (_event(intent, "payment_intent.succeeded"), _event(processing, "payment_intent.processing")):
                payload = json.dumps(event).encode()
                deliveries += [payload] * random.choice((2, 3))
        random.shuffle(deliveries)
        for payload in deliveries:
            self.client.post("/stripe/webhook/", data=payload, name="POST /stripe/webhook/ (burst)", headers={
                "Content-Type": "application/json; charset=utf-8", "Stripe-Signature": _sign(payload, WEBHOOK_SECRET),
                "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)"})

    def _new_intents(self) -> list[dict]:
        # The night's newest payments at the local Stripe, each sent once as a burst
        # (our own setup: listed separately from the load).
        listed = self.client.get(f"{STRIPE_BASE}/v1/payment_intents", params={"limit": 100},
                                 headers={"Authorization": f"Bearer {SECRET_KEY}"},
                                 name="(setup) local Stripe: GET /v1/payment_intents")
        intents = []
        for answer in listed.json().get("data", []) if listed.ok else []:
            if answer["id"] in self.sent or answer["status"] != "succeeded":
                continue
            self.sent.add(answer["id"])
            # With its charge and balance transaction, as the event carries them.
            full = self.client.get(f"{STRIPE_BASE}/v1/payment_intents/{answer['id']}",
                                   params={"expand[]": "latest_charge.balance_transaction"},
                                   headers={"Authorization": f"Bearer {SECRET_KEY}"},
                                   name="(setup) local Stripe: GET /v1/payment_intents/<id>")
            if full.ok:
                intents.append(_payment_intent(full.json()))
        return intents


class Staff(HttpUser):
    """A fundraiser searching supporters during the appeal."""
    fixed_count = 1
    wait_time = between(1, 3)

    def on_start(self):
        staff_login(self.client, os.environ.get("LOAD_STAFF_USER", "fundraiser"),
                    os.environ.get("LOAD_STAFF_PASSWORD", "brightwell-demo"))

    @task
    def search_supporters(self):
        with self.client.get("/admin/supporter/", params={"q": random.choice(SURNAMES)},
                             name="staff: GET /admin/supporter/?q=", catch_response=True) as answer:
            if answer.status_code != 200 or "/admin/login/" in answer.url:
                answer.failure(f"{answer.status_code}: not the supporter list ({answer.url})")
