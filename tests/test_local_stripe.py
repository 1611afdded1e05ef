"""The local Stripe keeps tests apart: a webhook registered for one test posts
nothing once that test has removed it, so no event reaches a server (or a
database) that belongs to the next test."""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from tests.conftest import WEBHOOK_SECRET
from tests.stripe_server import SECRET_KEY


@pytest.fixture
def webhook_sink():
    """A tiny HTTP server that records the event types posted to it; stopped at the end."""
    received = []

    class Sink(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.headers.get("Stripe-Signature", ""), body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", received
    server.shutdown()
    server.server_close()
    thread.join()


def _pay(stripe_client, card):
    return stripe_client.v1.payment_intents.create(params={
        "amount": 1000, "currency": "gbp", "payment_method": card(), "confirm": True,
    })


def _wait_for(condition, seconds=5.0):
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    return condition()


def test_a_removed_webhook_receives_nothing_more(local_stripe, stripe_client, card, webhook_sink):
    url, received = webhook_sink
    registration = f"{local_stripe}/_config/webhooks/sink"
    requests.post(registration, data={"url": url, "secret": WEBHOOK_SECRET}, timeout=10).raise_for_status()
    _pay(stripe_client, card)
    assert _wait_for(lambda: received), "the registered webhook was never posted to"
    assert all(signature.startswith("t=") and ",v1=" in signature for signature, _ in received)

    # A payment's events leave about a second later: removing the webhook now
    # means they go nowhere, and the removal returns once nothing is in flight.
    _pay(stripe_client, card)
    requests.delete(registration, timeout=60).raise_for_status()
    seen = len(received)
    time.sleep(1.5)
    assert len(received) == seen


def test_a_reset_ends_every_registration_and_empties_the_store(local_stripe, stripe_client, card, webhook_sink):
    url, received = webhook_sink
    requests.post(f"{local_stripe}/_config/webhooks/sink", data={"url": url, "secret": WEBHOOK_SECRET},
                  timeout=10).raise_for_status()
    intent = _pay(stripe_client, card)
    requests.post(f"{local_stripe}/_config/reset", timeout=60).raise_for_status()
    time.sleep(1.5)
    assert received == []
    response = requests.get(f"{local_stripe}/v1/payment_intents/{intent.id}",
                            auth=(SECRET_KEY, ""), timeout=10)
    assert response.status_code == 404

def test_events_made_before_a_reset_never_reach_the_next_tests_webhook(local_stripe, stripe_client, card,
                                                                       webhook_sink):
    url, received = webhook_sink
    _pay(stripe_client, card)   # its events wait a second before they are sent
    requests.post(f"{local_stripe}/_config/reset", timeout=60).raise_for_status()
    requests.post(f"{local_stripe}/_config/webhooks/sink", data={"url": url, "secret": WEBHOOK_SECRET},
                  timeout=10).raise_for_status()
    time.sleep(1.5)
    assert received == []
