"""The local Stripe keeps tests apart: a webhook registered for one test posts
nothing once that test has removed it, so no event reaches a server (or a
database) that belongs to the next test. And it pays out as Stripe does:
automatic payouts, and the balance transactions each one paid out."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
import stripe

from tests.conftest import WEBHOOK_SECRET
from tests.helpers import local_stripe_route
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


# Payouts: what finance reconciles. Every figure below is worked out by hand from
# UK card pricing (1.5% + 20p, rounded half up), the £20.00 dispute fee, and
# the sums each test moves.

DAY = 24 * 3600
JAN_1 = 1767225600  # 2026-01-01 00:00 UTC


def _set_clock(local_stripe, now=None):
    requests.post(f"{local_stripe}/_config/clock", data={"now": now} if now else {}, timeout=10).raise_for_status()


def _give(stripe_client, card, amount):
    """A card gift of `amount` pence: its PaymentIntent and charge id."""
    intent = stripe_client.v1.payment_intents.create(params={
        "amount": amount, "currency": "gbp", "payment_method": card(), "confirm": True,
    })
    charge = intent.latest_charge
    return intent, charge if isinstance(charge, str) else charge.id


def _paid_out(stripe_client, payout_id, **params):
    listing = stripe_client.v1.balance_transactions.list(params={"payout": payout_id, "limit": 100, **params})
    return list(listing.auto_paging_iter())


def test_a_payout_sweeps_charges_a_refund_a_dispute_a_radar_fee_and_an_adjustment(local_stripe, stripe_client, card):
    first, first_charge = _give(stripe_client, card, 1000)      # fee 35, net 965
    second, second_charge = _give(stripe_client, card, 2500)    # fee 58, net 2442
    _, third_charge = _give(stripe_client, card, 750)           # fee 31, net 719
    refund = stripe_client.v1.refunds.create(params={"payment_intent": second.id, "amount": 500})
    dispute = local_stripe_route(local_stripe, f"/_test/charges/{third_charge}/dispute")   # -750 and the £20 fee
    radar = local_stripe_route(local_stripe, "/_test/radar_fees", amount=200)
    adjustment = local_stripe_route(local_stripe, "/_test/adjustments", amount=-150, description="Correction")

    payout = local_stripe_route(local_stripe, "/_test/payouts")
    assert payout["amount"] == 965 + 2442 + 719 - 500 - 2750 - 200 - 150 == 526
    assert (payout["currency"], payout["automatic"], payout["status"], payout["method"], payout["type"]) == (
        "gbp", True, "paid", "standard", "bank_account")

    swept = _paid_out(stripe_client, payout["id"])
    by_category = {}
    for txn in swept:
        by_category.setdefault(txn.reporting_category, []).append(txn)
    assert {category: len(txns) for category, txns in by_category.items()} == {
        "payout": 1, "charge": 3, "refund": 1, "dispute": 1, "fee": 1, "other_adjustment": 1}
    # The payout's own transaction comes first (newest) and takes out what the rest put in.
    assert swept[0].id == payout["balance_transaction"]
    assert (swept[0].type, swept[0].amount, swept[0].net, swept[0].source) == ("payout", -526, -526, payout["id"])
    assert sum(txn.net for txn in swept) == 0

    charges = {txn.source: (txn.amount, txn.fee, txn.net) for txn in by_category["charge"]}
    assert charges == {first_charge: (1000, 35, 965), second_charge: (2500, 58, 2442), third_charge: (750, 31, 719)}
    assert all(txn.fee_details[0].type == "stripe_fee" for txn in by_category["charge"])
    [refunded] = by_category["refund"]
    assert (refunded.source, refunded.type, refunded.amount, refunded.fee, refunded.net) == (
        refund.id, "refund", -500, 0, -500)
    [withdrawn] = by_category["dispute"]
    assert (withdrawn.source, withdrawn.type, withdrawn.amount, withdrawn.fee, withdrawn.net) == (
        dispute["id"], "adjustment", -750, 2000, -2750)
    assert [(fee.amount, fee.description) for fee in withdrawn.fee_details] == [(2000, "Dispute fee")]
    assert [txn["id"] for txn in dispute["balance_transactions"]] == [withdrawn.id]
    [fee] = by_category["fee"]
    assert (fee.id, fee.type, fee.source, fee.amount, fee.net, fee.description) == (
        radar["id"], "stripe_fee", None, -200, -200, "Radar for Fraud Teams")
    [other] = by_category["other_adjustment"]
    assert (other.id, other.type, other.net, other.description) == (
        adjustment["id"], "adjustment", -150, "Correction")

    # Each can be fetched alone, and the payout with its transaction expanded.
    assert stripe_client.v1.balance_transactions.retrieve(withdrawn.id).net == -2750
    fetched = stripe_client.v1.payouts.retrieve(payout["id"], params={"expand": ["balance_transaction"]})
    assert fetched.balance_transaction.amount == -526
    # Everything is paid out: a second payout has nothing to take.
    response = requests.post(f"{local_stripe}/_test/payouts", auth=(SECRET_KEY, ""), timeout=10)
    assert response.status_code == 400 and "Nothing to pay out" in response.text


def test_a_won_dispute_gives_the_sum_back_in_the_next_payout_but_not_the_fee(local_stripe, stripe_client, card):
    _give(stripe_client, card, 5000)                            # net 4905
    _, disputed_charge = _give(stripe_client, card, 1000)       # net 965
    dispute = local_stripe_route(local_stripe, f"/_test/charges/{disputed_charge}/dispute")
    assert local_stripe_route(local_stripe, "/_test/payouts")["amount"] == 4905 + 965 - 3000

    closed = local_stripe_route(local_stripe, f"/_test/disputes/{dispute['id']}/close", status="won")
    assert [txn["reporting_category"] for txn in closed["balance_transactions"]] == ["dispute", "dispute_reversal"]
    payout = local_stripe_route(local_stripe, "/_test/payouts")
    assert payout["amount"] == 1000
    reversal = _paid_out(stripe_client, payout["id"], type="adjustment")
    assert [(txn.reporting_category, txn.source, txn.amount, txn.fee) for txn in reversal] == [
        ("dispute_reversal", dispute["id"], 1000, 0)]


def test_a_payouts_transactions_are_paged_newest_first(local_stripe, stripe_client, card):
    charges = []
    for minute in range(25):
        _set_clock(local_stripe, JAN_1 + 60 * minute)
        charges.append(_give(stripe_client, card, 100 + minute)[1])
    _set_clock(local_stripe, JAN_1 + DAY)
    first = local_stripe_route(local_stripe, "/_test/payouts")
    _give(stripe_client, card, 999)
    second = local_stripe_route(local_stripe, "/_test/payouts", created=JAN_1 + 2 * DAY)

    pages, cursor = [], None
    while True:
        params = {"payout": first["id"], "limit": 10, **({"starting_after": cursor} if cursor else {})}
        page = stripe_client.v1.balance_transactions.list(params=params)
        pages.append([txn.source for txn in page.data])
        if not page.has_more:
            break
        cursor = page.data[-1].id
    assert [len(page) for page in pages] == [10, 10, 6]
    assert sum(pages, []) == [first["id"]] + charges[::-1]   # the payout, then the newest charge first

    every = _paid_out(stripe_client, first["id"])
    assert [txn.created for txn in every] == [JAN_1 + DAY] + [JAN_1 + 60 * m for m in reversed(range(25))]
    assert len(_paid_out(stripe_client, first["id"], type="charge")) == 25
    assert [txn.amount for txn in _paid_out(stripe_client, second["id"], type="charge")] == [999]
    # Back from the end, as the library pages with ending_before.
    back = stripe_client.v1.balance_transactions.list(params={"payout": first["id"], "limit": 5,
                                                             "ending_before": every[12].id})
    assert [txn.id for txn in back.data] == [txn.id for txn in every[7:12]] and back.has_more


def test_payouts_are_listed_newest_first_by_their_creation(local_stripe, stripe_client, card):
    made = []
    for day in range(3):
        _set_clock(local_stripe, JAN_1 + day * DAY)
        _give(stripe_client, card, 1000)
        made.append(local_stripe_route(local_stripe, "/_test/payouts", created=JAN_1 + day * DAY + 3600,
                                arrival_date=JAN_1 + (day + 1) * DAY)["id"])

    since_day_2 = stripe_client.v1.payouts.list(params={"created": {"gte": JAN_1 + DAY}})
    assert [payout.id for payout in since_day_2.data] == [made[2], made[1]]
    one_by_one = stripe_client.v1.payouts.list(params={"limit": 1})
    assert one_by_one.has_more and [payout.id for payout in one_by_one.auto_paging_iter()] == made[::-1]
    arriving = stripe_client.v1.payouts.list(params={"arrival_date": {"lt": JAN_1 + 2 * DAY}})
    assert [payout.id for payout in arriving.data] == [made[0]]
    assert stripe_client.v1.payouts.list(params={"status": "failed"}).data == []
    assert all(payout.amount == 965 and payout.currency == "gbp" for payout in since_day_2.data)


def _events(received):
    return [(json.loads(body)["type"], signature, body) for signature, body in received]


def test_a_paid_payout_is_announced_signed_even_when_made_in_the_past(local_stripe, stripe_client, card,
                                                                        webhook_sink):
    url, received = webhook_sink
    requests.post(f"{local_stripe}/_config/webhooks/sink", data={"url": url, "secret": WEBHOOK_SECRET,
                                                                "events[]": ["payout.created", "payout.paid"]},
                  timeout=10).raise_for_status()
    _set_clock(local_stripe, JAN_1)
    _give(stripe_client, card, 1000)
    payout = local_stripe_route(local_stripe, "/_test/payouts")

    assert _wait_for(lambda: len(received) == 2), received
    events = {kind: stripe.Webhook.construct_event(body, signature, WEBHOOK_SECRET)
              for kind, signature, body in _events(received)}
    assert set(events) == {"payout.created", "payout.paid"}
    assert events["payout.created"].data.object.status == "pending"
    paid = events["payout.paid"]
    assert (paid.created, paid.data.object.id, paid.data.object.status, paid.data.object.amount) == (
        JAN_1, payout["id"], "paid", 965)


def test_a_failed_payout_returns_its_sum_to_the_next_one(local_stripe, stripe_client, card, webhook_sink):
    url, received = webhook_sink
    requests.post(f"{local_stripe}/_config/webhooks/sink", data={"url": url, "secret": WEBHOOK_SECRET,
                                                                "events[]": ["payout.failed", "payout.updated"]},
                  timeout=10).raise_for_status()
    _give(stripe_client, card, 1000)
    failed = local_stripe_route(local_stripe, "/_test/payouts", status="failed", failure_code="account_closed",
                         failure_message="The bank account has been closed.")
    assert (failed["status"], failed["failure_code"], failed["amount"]) == ("failed", "account_closed", 965)
    returned = stripe_client.v1.balance_transactions.retrieve(failed["failure_balance_transaction"])
    assert (returned.type, returned.reporting_category, returned.amount, returned.source) == (
        "payout_failure", "payout_reversal", 965, failed["id"])

    # A payout that was paid can still fail when the bank sends it back.
    _give(stripe_client, card, 2000)                             # net 1950
    later = local_stripe_route(local_stripe, "/_test/payouts")
    assert later["amount"] == 965 + 1950
    assert returned.id in {txn.id for txn in _paid_out(stripe_client, later["id"])}
    bounced = local_stripe_route(local_stripe, f"/_test/payouts/{later['id']}", status="failed")
    assert (bounced["status"], bounced["failure_code"]) == ("failed", "could_not_process")
    assert stripe_client.v1.payouts.list(params={"status": "failed"}).data[0].id == later["id"]

    assert _wait_for(lambda: len(received) == 3), received
    kinds = sorted((kind, json.loads(body)["data"]["object"]["id"]) for kind, _, body in _events(received))
    assert kinds == sorted([("payout.failed", failed["id"]), ("payout.updated", later["id"]),
                            ("payout.failed", later["id"])])
    response = requests.post(f"{local_stripe}/_test/payouts/{later['id']}", data={"status": "paid"},
                             auth=(SECRET_KEY, ""), timeout=10)
    assert response.status_code == 400


def test_a_reset_forgets_payouts_balance_transactions_and_the_clock(local_stripe, stripe_client, card):
    _set_clock(local_stripe, JAN_1)
    _give(stripe_client, card, 1000)
    local_stripe_route(local_stripe, "/_test/payouts")
    _give(stripe_client, card, 5000)                             # left unpaid
    requests.post(f"{local_stripe}/_config/reset", timeout=60).raise_for_status()

    assert stripe_client.v1.payouts.list().data == []
    assert stripe_client.v1.balance_transactions.list().data == []
    _give(stripe_client, card, 2000)
    payout = local_stripe_route(local_stripe, "/_test/payouts")
    assert payout["amount"] == 1950                              # nothing from before the reset
    assert abs(payout["created"] - time.time()) < 60             # the real time again


def test_bulk_charges_are_card_charges_paid_out_from_when_they_were_made(local_stripe, stripe_client):
    # The benchmark's test-only route: a year of gifts in one request.
    bad = requests.post(f"{local_stripe}/_test/bulk_charges", json=[{"amount": 1000, "created": JAN_1},
                                                                     {"amount": 0, "created": JAN_1}],
                        auth=(SECRET_KEY, ""), timeout=10)
    assert bad.status_code == 400 and "Item 1" in bad.text
    response = requests.post(f"{local_stripe}/_test/bulk_charges", json=[
        {"amount": 1000, "created": JAN_1}, {"amount": 2500, "created": JAN_1 + 60},
        {"amount": 750, "created": JAN_1 + DAY}], auth=(SECRET_KEY, ""), timeout=10)
    assert response.status_code == 200, response.text
    made = response.json()
    assert [(c["amount"], c["fee"], c["created"]) for c in made] == [
        (1000, 35, JAN_1), (2500, 58, JAN_1 + 60), (750, 31, JAN_1 + DAY)]

    charge = stripe_client.v1.charges.retrieve(made[1]["id"])
    assert (charge.status, charge.paid, charge.amount, charge.created, charge.balance_transaction) == (
        "succeeded", True, 2500, JAN_1 + 60, made[1]["balance_transaction"])
    # The first day's payout takes the first day's charges only (the bad request made none).
    payout = local_stripe_route(local_stripe, "/_test/payouts", created=JAN_1 + 3600)
    assert payout["amount"] == 965 + 2442
    swept = _paid_out(stripe_client, payout["id"], type="charge")
    assert [(txn.source, txn.amount, txn.fee, txn.net, txn.reporting_category, txn.fee_details[0].type)
            for txn in swept] == [(made[1]["id"], 2500, 58, 2442, "charge", "stripe_fee"),
                                  (made[0]["id"], 1000, 35, 965, "charge", "stripe_fee")]
    # A bulk charge is refunded like any other.
    _set_clock(local_stripe, JAN_1 + DAY + 60)
    refund = stripe_client.v1.refunds.create(params={"charge": made[2]["id"], "amount": 250})
    assert local_stripe_route(local_stripe, "/_test/payouts", created=JAN_1 + 2 * DAY)["amount"] == 719 - 250
    assert refund.charge == made[2]["id"]
