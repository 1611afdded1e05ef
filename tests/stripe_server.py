"""A local Stripe for the tests and the demo site: localstripe (PyPI), with the
gaps that matter to us filled in Stripe's current shapes.

    python -m tests.stripe_server --port 8420 [--webhook-url URL --webhook-secret whsec_...] [--env-file PATH]
                                  [--site-url URL]

What this adds to localstripe (PyPI), whose gaps are filled in Stripe's current shapes:
- no pickle file: state lives in memory only, so runs are fast and never share state;
- Idempotency-Key honoured on POSTs, replaying the first response as Stripe does;
- the publishable key may create PaymentMethods, as with real Stripe.js;
- PaymentIntent.create accepts description, receipt_email, statement_descriptor_suffix,
  setup_future_usage and return_url;
- card fees on charge balance transactions (1.5% + 20p, UK standard pricing), so fee and net are real;
- PaymentIntents listed by `created` (gte/lt), newest first, as Stripe lists them;
- SetupIntents attach their card to the customer and send `setup_intent.succeeded`;
- charges carry their card's `billing_details` (name, email), as Stripe copies them;
- refunds accept a `reason`, and send `charge.refunded` events, and test-only routes that open and close a
  dispute (`charge.dispute.created` and `.funds_withdrawn`; `.closed`, and `.funds_reinstated` when won),
  with its balance transactions (see below); a dispute is retrieved by id (GET /v1/disputes/<id>);
- balance transactions in Stripe's current shape (`reporting_category`, `balance_type`, no exchange rate
  where nothing was converted): a dispute takes the sum and the £20.00 UK dispute fee when it opens
  (`adjustment`, `dispute`); a won one gives the sum back (`dispute_reversal`; the UK fee is not returned);
  test-only routes add a Radar fee (`POST /_test/radar_fees`: `stripe_fee`, `fee`) and an adjustment
  (`POST /_test/adjustments`: `other_adjustment`);
- automatic payouts in GBP (or any currency): `POST /_test/payouts` pays out everything available and not
  yet paid out, with its own `payout` transaction, and sends `payout.created` then `payout.paid` (or
  `payout.failed`, whose sum comes back as a `payout_failure` transaction in the next payout);
  `POST /_test/payouts/<id>` moves one to in_transit, paid or failed later (`payout.updated` too);
- for the benchmark only, `POST /_test/bulk_charges`: a JSON list of {amount, created} made into card charges
  that succeeded then, each with its charge balance transaction and UK fee, in one request (no
  PaymentIntents, no events), so that a year of gifts takes seconds;
- `GET /v1/payouts` (by `created`, `arrival_date`, `status`) and `GET /v1/balance_transactions` (by
  `payout`, `type`, `currency`, `source`, `created`), newest first, paged by `starting_after` /
  `ending_before` as Stripe pages, from indexes (tests/stripe_server_payouts.py) that keep a year of
  payouts fast;
- a test clock: `POST /_config/clock` with `now` (a Unix time) stamps every object made after it with that
  time, until it is posted without `now` (the test-only routes above also take `created`). Webhooks are
  signed with the real time of sending, as Stripe signs them, so they pass the library's tolerance
  whatever the clock says;
- an extended fake Stripe.js at /js.stripe.com/v3/extended.js with createPaymentMethod
  and handleNextAction, whose card box takes the expiry year as YY or YYYY (and says so);
- test-only routes so that each test owns what it starts: `DELETE /_config/webhooks/<id>`
  removes a registration, and `POST /_config/reset` removes them all, empties the store
  (with the payouts and their indexes) and sets the clock back to the real time;
  both answer only once every delivery already under way has finished, and a reset drops
  the events still waiting to be sent, so no event reaches a test server after the test
  that caused it has ended.
Production code never knows it is talking to this.
"""

import argparse
import asyncio
import hashlib
import hmac
import json
import logging
import socket
import time
from pathlib import Path

import aiohttp
from aiohttp import web
from localstripe import resources, server, webhooks

from tests import stripe_server_payouts as payouts

PUBLISHABLE_KEY = "pk_test_localstripe"
SECRET_KEY = "sk_test_localstripe"


def uk_card_fee(amount: int) -> int:
    # Integer arithmetic, rounded half up, as Stripe rounds fees to the penny.
    return (amount * 15 + 500) // 1000 + 20


def _patch_store():
    resources.Store.dump_to_disk = lambda self: None
    resources.Store.try_load_from_disk = lambda self: None


class Clock:
    """The `time` module as localstripe's objects see it: the real time, or the
    one a test has set, so that a test can make a month of data in a second."""

    def __init__(self):
        self.now = None

    def time(self) -> float:
        return time.time() if self.now is None else float(self.now)


clock = Clock()


def _patch_clock():
    resources.time = clock  # localstripe reads only time.time()


async def set_clock(request):
    data = await request.post()
    try:
        clock.now = int(data["now"]) if data.get("now") else None
    except ValueError:
        return web.json_response({"error": {"message": "now must be a Unix time"}}, status=400)
    return web.json_response({"now": int(clock.time())})


def _patch_fees():
    original = resources.BalanceTransaction.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        if self.type == "charge" and self.amount > 0:
            self.fee = uk_card_fee(self.amount)
            self.fee_details = [{
                "amount": self.fee, "application": None, "currency": self.currency,
                "description": "Stripe processing fees", "type": "stripe_fee",
            }]

    resources.BalanceTransaction.__init__ = init


_PAYMENT_INTENT_EXTRAS = {"description", "receipt_email", "statement_descriptor_suffix", "setup_future_usage", "return_url"}


def _patch_payment_intents():
    original = resources.PaymentIntent.__init__

    def init(self, **kwargs):
        extras = {key: kwargs.pop(key) for key in list(kwargs) if key in _PAYMENT_INTENT_EXTRAS}
        original(self, **kwargs)
        extras.pop("return_url", None)
        for key, value in extras.items():
            setattr(self, key, value)

    resources.PaymentIntent.__init__ = init


def _patch_publishable_key_routes():
    # Stripe.js creates PaymentMethods with the publishable key (sent as `key`).
    original = server.get_api_key

    def get_api_key(request):
        if request.method == "POST" and request.path == "/v1/payment_methods" and "Authorization" not in request.headers:
            return PUBLISHABLE_KEY
        return original(request)

    server.get_api_key = get_api_key


def _patch_refund_events():
    original = resources.Refund.__init__

    def init(self, *args, **kwargs):
        reason = kwargs.pop("reason", None)  # Stripe accepts a reason; localstripe does not
        original(self, *args, **kwargs)
        self.reason = reason
        charge = resources.Charge._api_retrieve(self.charge)
        webhooks.schedule_webhook(resources.Event("charge.refunded", charge))

    resources.Refund.__init__ = init


def _patch_charge_billing_details():
    # Stripe copies the card's billing details (name, email) onto its charge.
    original = resources.Charge.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        method = None
        if getattr(self, "payment_method", None):
            method = resources.store.get("payment_method:" + self.payment_method)
        details = getattr(method, "billing_details", None) or {}
        self.billing_details = {"address": None, "email": details.get("email"), "name": details.get("name"),
                                "phone": None}

    resources.Charge.__init__ = init


def _patch_setup_intents():
    # Stripe attaches the card to the SetupIntent's customer and says so in an event.
    original = resources.SetupIntent._attach_pm

    def attach(self, pm):
        original(self, pm)
        if self.customer:
            pm.customer = self.customer
        if self.status == "succeeded":
            webhooks.schedule_webhook(resources.Event("setup_intent.succeeded", self))

    resources.SetupIntent._attach_pm = attach


def _patch_payment_intent_list():
    # Stripe lists PaymentIntents by creation time (our daily re-sync asks for one day).
    base_list = resources.StripeObject._api_list_all.__func__

    def list_all(cls, url, limit=None, starting_after=None, created=None, **kwargs):
        result = base_list(cls, url, limit=None, starting_after=None, **kwargs)
        items = sorted(result._list, key=lambda pi: (pi.created, pi.id), reverse=True)
        if created:
            tests = {"gt": int.__gt__, "gte": int.__ge__, "lt": int.__lt__, "lte": int.__le__}
            for op, bound in created.items():
                items = [pi for pi in items if tests[op](pi.created, int(bound))]
        page = resources.List(url, limit=limit, starting_after=starting_after)
        page._list = items
        return page

    resources.PaymentIntent._api_list_all = classmethod(list_all)


# Deliveries past their one-second wait, posting to the webhooks registered then.
_deliveries: set[asyncio.Future] = set()
# Counts the resets: an event made before one is dropped after its wait, or it
# would go to whatever webhook the next test has registered meanwhile.
_resets = 0


async def _deliver(event):
    """localstripe's delivery, except that the registrations are read once, after
    its one-second wait: a webhook removed meanwhile is never posted to."""
    payload = json.dumps(event._export(), indent=2, sort_keys=True).encode()
    made_after = _resets
    await asyncio.sleep(1)
    if made_after != _resets:
        return
    targets = [webhook for webhook in webhooks._webhooks.values()
               if webhook.events is None or event.type in webhook.events]
    if targets:
        posting = asyncio.ensure_future(_post(targets, event, payload))
        _deliveries.add(posting)
        posting.add_done_callback(_deliveries.discard)


async def _post(targets, event, payload):
    for webhook in targets:
        # Signed at the time of sending, as Stripe signs, not the event's (the
        # test clock may have made it months ago).
        sent = int(time.time())
        signature = hmac.new(webhook.secret.encode(), b"%d.%s" % (sent, payload), hashlib.sha256).hexdigest()
        headers = {"Content-Type": "application/json; charset=utf-8",
                   "Stripe-Signature": f"t={sent},v1={signature}"}
        try:
            async with aiohttp.ClientSession() as session, session.post(webhook.url, data=payload, headers=headers):
                pass
        except aiohttp.ClientError:
            logging.getLogger(__name__).info("webhook %s to %s failed", event.type, webhook.url)


def _schedule_delivery(event):
    asyncio.ensure_future(_deliver(event))


def _patch_webhook_deliveries():
    webhooks.schedule_webhook = _schedule_delivery
    resources.schedule_webhook = _schedule_delivery


async def _deliveries_finished():
    if _deliveries:
        await asyncio.wait(set(_deliveries), timeout=30)


async def remove_webhook(request):
    webhooks._webhooks.pop(request.match_info["id"], None)
    await _deliveries_finished()
    return web.Response()


async def reset(request):
    """Between tests: no registrations, no deliveries under way or to come, an empty store."""
    global _resets
    _resets += 1
    webhooks._webhooks.clear()
    await _deliveries_finished()
    resources.store.clear()
    payouts.clear()
    clock.now = None
    _idempotent_responses.clear()
    return web.Response()


# The demo data's monthly givers carry made-up Stripe ids (load_demo_data); this
# local Stripe keeps nothing between runs, so it makes each such customer, and a
# working Visa test card, the first time a charge asks for it.
_DEMO_IDS = {"customer": "cus_demo", "payment_method": "pm_demo"}


def _demo_object(cls, id: str):
    if cls.object == "customer":
        obj = resources.Customer(name="Demo supporter")
    else:
        obj = resources.PaymentMethod(type="card", card={"number": "4242424242424242", "exp_month": 12,
                                                          "exp_year": 2034, "cvc": "123"})
    del resources.store[f"{cls.object}:{obj.id}"]
    obj.id = id
    resources.store[f"{cls.object}:{id}"] = obj


def _patch_demo_ids():
    for cls in (resources.Customer, resources.PaymentMethod):
        original = cls._api_retrieve.__func__

        def retrieve(cls, id, _original=original):
            prefix = _DEMO_IDS[cls.object]
            if isinstance(id, str) and id.startswith(prefix) and f"{cls.object}:{id}" not in resources.store:
                _demo_object(cls, id)
            return _original(cls, id)

        cls._api_retrieve = classmethod(retrieve)


class Dispute(resources.StripeObject):
    """Enough of Stripe's Dispute (shape from fixtures3.json) for our webhooks."""

    object = "dispute"
    _id_prefix = "dp_"

    def __init__(self, charge, amount, reason="fraudulent"):
        super().__init__()
        self.charge = charge.id
        self.payment_intent = charge.payment_intent
        self.amount = amount
        self.currency = charge.currency
        self.reason = reason
        self.status = "needs_response"
        self.balance_transactions = []
        self.metadata = {}


async def open_dispute(request):
    """The card's bank disputes the whole charge; Stripe takes the sum and its fee
    from the balance at once (at `created`, if given)."""
    charge = resources.Charge._api_retrieve(request.match_info["id"])
    created = payouts.int_param(await request.post(), "created")
    dispute = Dispute(charge, charge.amount)
    if created is not None:
        dispute.created = created
    dispute.balance_transactions.append(payouts.dispute_withdrawal(dispute, created))
    webhooks.schedule_webhook(resources.Event("charge.dispute.created", dispute))
    webhooks.schedule_webhook(resources.Event("charge.dispute.funds_withdrawn", dispute))
    return web.json_response(dispute._export())


async def close_dispute(request):
    """Closed with `status` (lost unless given); won, the sum comes back."""
    dispute = resources.store["dispute:" + request.match_info["id"]]
    data = await request.post()
    dispute.status = data.get("status", "lost")
    if dispute.status == "won":
        dispute.balance_transactions.append(payouts.dispute_reversal(dispute, payouts.int_param(data, "created")))
    webhooks.schedule_webhook(resources.Event("charge.dispute.closed", dispute))
    if dispute.status == "won":
        webhooks.schedule_webhook(resources.Event("charge.dispute.funds_reinstated", dispute))
    return web.json_response(dispute._export())


async def retrieve_dispute(request):
    """GET /v1/disputes/{id}, as Stripe answers it (404 in Stripe's error shape)."""
    dispute = resources.store.get("dispute:" + request.match_info["id"])
    if dispute is None:
        return web.json_response({"error": {"type": "invalid_request_error", "code": "resource_missing",
                                            "message": f"No such dispute: '{request.match_info['id']}'"}},
                                 status=404)
    return web.json_response(dispute._export())


_idempotent_responses: dict[tuple[str, str], tuple[int, bytes]] = {}


@web.middleware
async def stripe_manners(request, handler):
    """Outermost middleware, so that errors are replayed too, as Stripe does."""
    key = request.headers.get("Idempotency-Key")
    if request.method != "POST" or not key:
        return await handler(request)
    cache_key = (request.path, key)
    if cache_key in _idempotent_responses:
        status, body = _idempotent_responses[cache_key]
        return web.Response(status=status, body=body, content_type="application/json",
                            headers={"Idempotent-Replayed": "true"})
    response = await handler(request)
    if response.status < 500:
        _idempotent_responses[cache_key] = (response.status, response.body)
    return response


_EXTENDED_JS = """
(function () {
  const base = document.currentScript.src.match(/https?:\\/\\/[^\\/]*/)[0];

  // localstripe's card box puts "20" before whatever year is typed (so "2034" was
  // sent as 202034 and answered "Bad request"), and moved on to the CVC as soon
  // as "20" was typed. Here the box takes YY or YYYY, says so, labels its fields
  // and hides the postcode when the page asks (as Stripe's own box does).
  const mountCard = Element.prototype.mount;
  Element.prototype.mount = function (domElement) {
    mountCard.call(this, domElement);
    const inputs = this._inputs;
    if (!inputs) return;
    this._domChildren[0].textContent = 'Local test Stripe (expiry MM / YY or YYYY): ';
    const labels = {number: 'Card number', exp_month: 'Expiry month, MM', exp_year: 'Expiry year, YY or YYYY',
                    cvc: 'Security code', postal_code: 'Postcode'};
    Object.keys(labels).forEach((field) => inputs[field].setAttribute('aria-label', labels[field]));
    inputs.exp_year.setAttribute('size', 4);
    if ((this._options || {}).hidePostalCode) inputs.postal_code.hidden = true;
    const element = this;
    Object.keys(inputs).forEach((field) => {
      const changed = inputs[field].oninput;
      inputs[field].oninput = (event) => {
        changed(event);
        const year = inputs.exp_year.value.trim();
        element.value.card.exp_year = year.length === 4 ? year : '20' + year;
        if (event.target === inputs.exp_year && year.startsWith('20') && year.length < 4) inputs.exp_year.focus();
      };
    });
  };

  const makeStripe = Stripe;
  Stripe = (apiKey, options) => {
    const stripe = makeStripe(apiKey, options);
    const elements = stripe.elements;
    stripe.elements = (...args) => {
      const made = elements(...args);
      const create = made.create;
      made.create = function (type, elementOptions) {
        const element = create.call(this, type, elementOptions);
        element._options = elementOptions || {};
        return element;
      };
      return made;
    };
    stripe.createPaymentMethod = async (params) => {
      const element = params.card || params.elements;
      const card = element.value && element.value.card;
      if (!card || !card.number) {
        return {error: {type: 'validation_error', message: 'Your card number is incomplete.'}};
      }
      const body = new URLSearchParams({key: apiKey, type: 'card'});
      Object.keys(card).forEach(k => body.append('card[' + k + ']', card[k]));
      const details = params.billing_details || {};
      if (details.name) body.append('billing_details[name]', details.name);
      if (details.email) body.append('billing_details[email]', details.email);
      const response = await fetch(base + '/v1/payment_methods', {method: 'POST', body});
      const result = await response.json().catch(() => ({}));
      return result.error ? {error: result.error} : {paymentMethod: result};
    };
    stripe.handleNextAction = async ({clientSecret}) => stripe.confirmCardPayment(clientSecret);
    return stripe;
  };
})();
"""


async def extended_js(request):
    original = (Path(resources.__file__).parent / "localstripe-v3.js").read_text()
    return web.Response(text=original + _EXTENDED_JS, content_type="application/javascript")


def build_app() -> web.Application:
    _patch_store()
    _patch_clock()
    _patch_webhook_deliveries()
    _patch_fees()
    _patch_payment_intents()
    _patch_refund_events()
    _patch_publishable_key_routes()
    _patch_setup_intents()
    _patch_charge_billing_details()
    _patch_payment_intent_list()
    _patch_demo_ids()
    payouts.patch()
    app = server.app
    app.middlewares.insert(0, stripe_manners)
    app.router.add_get("/js.stripe.com/v3/extended.js", extended_js)
    app.router.add_post("/_test/charges/{id}/dispute", open_dispute)
    app.router.add_post("/_test/disputes/{id}/close", close_dispute)
    app.router.add_get("/v1/disputes/{id}", retrieve_dispute)
    payouts.add_routes(app)
    app.router.add_post("/_config/clock", set_clock)
    app.router.add_delete("/_config/webhooks/{id}", remove_webhook)
    app.router.add_post("/_config/reset", reset)
    return app


def site_settings(port: int, webhook_secret: str, site_url: str = "") -> str:
    """The variables that point the site at this local Stripe (and, given, the
    site's own address for links in emails), as an env file."""
    base = f"http://127.0.0.1:{port}"
    return (
        "# Written by tests/stripe_server.py for as long as it runs (make run), so that manage.py\n"
        "# commands in another shell reach the same local Stripe. Removed when it stops.\n"
        f"STRIPE_SECRET_KEY={SECRET_KEY}\nSTRIPE_PUBLISHABLE_KEY={PUBLISHABLE_KEY}\n"
        f"STRIPE_WEBHOOK_SECRET={webhook_secret}\nSTRIPE_API_BASE={base}\n"
        f"STRIPE_JS_URL={base}/js.stripe.com/v3/extended.js\n"
        + (f"WAGTAILADMIN_BASE_URL={site_url}\n" if site_url else "")
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8420)
    parser.add_argument("--webhook-url", default="")
    parser.add_argument("--webhook-secret", default="")
    parser.add_argument("--env-file", default="", help="While running, write the site's Stripe variables for this "
                        "local Stripe to this file (read by config.settings.local); removed on exit.")
    parser.add_argument("--site-url", default="", help="The site's own address, written to the env file too, "
                        "so that links in emails sent from another shell point at it.")
    args = parser.parse_args()
    app = build_app()
    if args.webhook_url:
        webhooks.register_webhook("brightwell", args.webhook_url, args.webhook_secret, None)
    logging.basicConfig(level=logging.WARNING)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    env_file = Path(args.env_file) if args.env_file else None
    if env_file:
        env_file.write_text(site_settings(args.port, args.webhook_secret, args.site_url))
    print(f"local Stripe listening on http://127.0.0.1:{args.port}", flush=True)
    try:
        web.run_app(app, sock=sock, print=None, access_log=None)  # until SIGINT or SIGTERM
    finally:
        if env_file:
            env_file.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
