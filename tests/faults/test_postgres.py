"""PostgreSQL restarted mid-burst, as the site under gunicorn sees it: a proxy
between the site and the (shared, never restarted) PostgreSQL server drops
every connection and refuses new ones, then comes back. Donors keep giving
throughout, each pressing Give again (the same form) when told to."""

import hashlib
import hmac
import json
import os
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests
from django.db import connection

from donations.models import Donation
from tests.bench import servers
from tests.faults.proxy import TcpProxy
from tests.stripe_server import PUBLISHABLE_KEY, SECRET_KEY

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]
WEBHOOK_SECRET = "whsec_faults_postgres"
DONORS = 4


@pytest.fixture
def database_proxy():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")
    settings = connection.settings_dict
    with TcpProxy((settings["HOST"] or "127.0.0.1", int(settings["PORT"] or 5432))) as proxy:
        yield proxy


@pytest.fixture
def site(database_proxy, stripe_settings, local_stripe, tmp_path):
    """The site under gunicorn (2 workers, kept connections with health checks)
    on the test database, through the proxy; yields its base URL."""
    db = connection.settings_dict
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test",
           "DATABASE_URL": f"postgres://{db['USER']}@{database_proxy.address}/{db['NAME']}",
           "CONN_MAX_AGE": "60", "STRIPE_SECRET_KEY": SECRET_KEY, "STRIPE_PUBLISHABLE_KEY": PUBLISHABLE_KEY,
           "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET, "STRIPE_API_BASE": local_stripe, "LOG_LEVEL": "ERROR",
           "DONATION_RATE_LIMIT_PER_IP": "100000/h", "DONATION_RATE_LIMIT_PER_EMAIL": "100000/h"}
    port = servers.free_port()
    log = tmp_path / "gunicorn.log"
    args = [sys.executable, "-m", "gunicorn", "config.wsgi", "--workers", "2", "--worker-class", "gthread",
            "--threads", "2", "--bind", f"127.0.0.1:{port}"]
    with servers.process(args, env=env, log=log) as process:
        servers.wait_until(lambda: servers.answers(port, "/donate/session/"), process, log, "gunicorn")
        yield f"http://127.0.0.1:{port}", log


class Donor(threading.Thread):
    """Gives again and again; told 'try again', presses Give again with the same form."""

    def __init__(self, base: str, stripe_base: str, stop: threading.Event):
        super().__init__(daemon=True)
        self.base, self.stripe_base, self.stop = base, stripe_base, stop
        self.tokens: list[str] = []  # every form this donor sent
        self.answers: list[tuple[int, dict, str]] = []  # (status, body, Retry-After)
        self.http = requests.Session()

    def run(self):
        try:
            self.give_until_stopped()
        except Exception as error:  # noqa: BLE001  (reported by the test)
            self.error = error

    error = None

    def give_until_stopped(self):
        while not self.stop.is_set():
            token, card = str(uuid.uuid4()), self.card()
            self.tokens.append(token)
            while True:
                status = self.give(token, card)
                if status != 503:
                    break
                time.sleep(0.2)

    def card(self) -> str:
        made = requests.post(f"{self.stripe_base}/v1/payment_methods", auth=(SECRET_KEY, ""), timeout=30, data={
            "type": "card", "card[number]": "4242424242424242", "card[exp_month]": "12", "card[exp_year]": "2034",
            "card[cvc]": "123"})
        made.raise_for_status()
        return made.json()["id"]

    def give(self, token: str, card: str) -> int:
        try:
            if "csrftoken" not in self.http.cookies:
                self.http.get(f"{self.base}/donate/session/", timeout=30)
            response = self.http.post(f"{self.base}/donate/", timeout=30, headers={
                "X-Requested-With": "fetch", "X-CSRFToken": self.http.cookies.get("csrftoken", "")}, data={
                "frequency": "once", "amount": "20", "first_name": "Ruth", "last_name": "Okafor",
                "email": f"ruth-{token[:8]}@example.org", "address_house": "4", "address_street": "Elm Row",
                "address_town": "Leeds", "postcode": "LS1 4AP", "country": "GB", "form_token": token,
                "website": "", "payment_method_id": card})
        except requests.ConnectionError:
            self.answers.append((0, {}, ""))
            return 503
        try:
            body = response.json()
        except ValueError:
            body = {"html": response.text[:200]}
        self.answers.append((response.status_code, body, response.headers.get("Retry-After", "")))
        return response.status_code


def signed_event(intent_id: str) -> tuple[str, str]:
    payload = json.dumps({"id": f"evt_{uuid.uuid4().hex[:16]}", "object": "event", "type": "payment_intent.succeeded",
                          "data": {"object": {"id": intent_id, "object": "payment_intent", "status": "succeeded",
                                              "metadata": {}}}})
    stamp = int(time.time())
    signature = hmac.new(WEBHOOK_SECRET.encode(), f"{stamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return payload, f"t={stamp},v1={signature}"


def wait_for(condition, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the drill did not move on in time"
        time.sleep(0.05)


def test_postgres_restarted_mid_burst_answers_503_then_takes_every_gift_once(
        site, database_proxy, local_stripe, drill):
    base, log = site
    stop = threading.Event()
    donors = [Donor(base, local_stripe, stop) for _ in range(DONORS)]
    for donor in donors:
        donor.start()

    def answered(status):
        return sum(1 for donor in donors for answer in donor.answers if answer[0] == status)

    try:
        wait_for(lambda: answered(200) >= 8)
        before = answered(200)
        database_proxy.cut()  # PostgreSQL goes away under the workers' kept connections
        cut_at = time.monotonic()
        wait_for(lambda: answered(503) >= 6 and time.monotonic() - cut_at >= 2)  # down for 2 s at least
        payload, signature = signed_event("pi_not_ours")
        webhook_down = requests.post(f"{base}/stripe/webhook/", data=payload, timeout=30,
                                     headers={"Stripe-Signature": signature, "Content-Type": "application/json"})
        page_down = requests.get(f"{base}/donate/", timeout=30)
        database_proxy.restore()
        down_for = time.monotonic() - cut_at
        during = answered(503)
        wait_for(lambda: answered(200) >= before + 8)
        webhook_up = requests.post(f"{base}/stripe/webhook/", data=payload, timeout=30,
                                   headers={"Stripe-Signature": signature, "Content-Type": "application/json"})
    finally:
        stop.set()
        for donor in donors:
            donor.join(timeout=60)

    assert [donor.error for donor in donors] == [None] * DONORS
    answers = [answer for donor in donors for answer in donor.answers]
    statuses = sorted({status for status, _, _ in answers})
    assert set(statuses) <= {200, 503}, [a for a in answers if a[0] not in (200, 503)][:3]
    refused = [answer for answer in answers if answer[0] == 503]
    assert all(retry_after == "30" and body.get("retry") and "try again" in body["error"]
               for _, body, retry_after in refused)
    assert webhook_down.status_code == 503 and webhook_down.headers["Retry-After"] == "30"
    assert page_down.status_code == 503 and "Please try again in a minute" in page_down.text
    assert "Traceback" not in page_down.text
    assert webhook_up.status_code == 200

    tokens = [token for donor in donors for token in donor.tokens]
    gifts = Donation.objects.filter(form_token__in=tokens)
    assert gifts.count() == len(tokens) == len(set(tokens))  # none lost, none doubled
    assert set(gifts.values_list("status", flat=True)) == {Donation.Status.SUCCEEDED}
    intents = requests.get(f"{local_stripe}/v1/payment_intents", params={"limit": 100}, auth=(SECRET_KEY, ""),
                           timeout=30).json()["data"]
    assert len(intents) == len(tokens)
    assert sorted(i["id"] for i in intents) == sorted(gifts.values_list("stripe_payment_intent_id", flat=True))
    traces = Path(log).read_text().count("Traceback")
    drill(f"PostgreSQL cut under gunicorn (2 workers x 2 threads, CONN_MAX_AGE=60, health checks) for "
          f"{down_for:.1f} s while {DONORS} donors gave: {during} answers were 503 with Retry-After: 30 and "
          f"'{refused[0][1]['error'][:40]}…' (JSON to the form; HTML page to a browser), 0 were 500.")
    drill(f"The webhook answered 503 while it was down (Stripe retries) and 200 after. Every donor pressed Give "
          f"again on a 503: {len(tokens)} forms, {gifts.count()} gifts (all succeeded), {len(intents)} payments "
          f"at Stripe: none lost, none doubled. The site's log holds {traces} tracebacks for operators.")
