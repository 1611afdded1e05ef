"""Every call to Stripe goes through here, with one client built from settings.

Objects come back as plain dicts (Stripe's JSON), the same shape a webhook
event carries, so services handle both alike.

The client retries network errors and 429s with backoff (Stripe's own
`max_network_retries`), and every creating call carries an idempotency key
derived from our own row, so a retry can never make a second payment."""

import functools
import json
import urllib.parse
import urllib.request
from collections.abc import Iterator

import stripe
import urllib3
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class _HTTPClient(stripe.HTTPClient):
    """Stripe's calls over urllib3's connection pool directly: the pool the
    library's default client (requests) uses, without requests' own layer,
    which was a seventh of a gift's CPU. Everything else is the library's:
    its request building, retries with back-off, and typed errors. Network
    failures are raised as the library raises them (APIConnectionError,
    retried unless the certificate is wrong)."""

    name = "urllib3"

    def __init__(self, *, proxy: str | None, timeout: tuple[float, float]):
        super().__init__(proxy=proxy)
        options = {"timeout": urllib3.Timeout(connect=timeout[0], read=timeout[1]), "retries": False,
                   "cert_reqs": "CERT_REQUIRED", "ca_certs": stripe.ca_bundle_path}
        # One pool, safe across the threads of a gthread worker.
        self._pool = urllib3.ProxyManager(proxy, **options) if proxy else urllib3.PoolManager(**options)

    def request(self, method, url, headers, post_data=None):
        try:
            response = self._pool.request(method.upper(), url, headers=dict(headers or {}), body=post_data,
                                          redirect=False)
        except urllib3.exceptions.SSLError as error:
            raise stripe.APIConnectionError(
                f"Could not verify Stripe's SSL certificate (network error: {error})", should_retry=False) from error
        except urllib3.exceptions.HTTPError as error:  # a timeout, a refused or dropped connection
            raise stripe.APIConnectionError(
                f"Unexpected error communicating with Stripe (network error: {type(error).__name__}: {error})",
                should_retry=True) from error
        return response.data, response.status, response.headers

    def close(self):
        self._pool.clear()


@functools.cache
def _client_for(api_key: str, api_base: str, retries: int, timeout: float) -> stripe.StripeClient:
    host = urllib.parse.urlsplit(api_base or "https://api.stripe.com").hostname or ""
    proxy = None if urllib.request.proxy_bypass(host) else urllib.request.getproxies().get("https")
    # The library waits 80 s for an answer by default: far past gunicorn's 30 s,
    # so a stalled Stripe would kill the worker mid-gift. With our timeout,
    # (retries + 1) x timeout plus the library's back-off fits a web request.
    options = {"max_network_retries": retries,
               "http_client": _HTTPClient(proxy=proxy, timeout=(min(timeout, 5.0), timeout))}
    if api_base:
        options["base_addresses"] = {"api": api_base}
    return stripe.StripeClient(api_key, **options)


def check_configured() -> None:
    """Raise ImproperlyConfigured if no call to Stripe can work, so that a
    command stops before it writes anything."""
    if not settings.STRIPE_SECRET_KEY:
        raise ImproperlyConfigured("STRIPE_SECRET_KEY is not set.")


def client() -> stripe.StripeClient:
    if not settings.STRIPE_SECRET_KEY:
        raise stripe.AuthenticationError("STRIPE_SECRET_KEY is not set.")
    return _client_for(settings.STRIPE_SECRET_KEY, settings.STRIPE_API_BASE, settings.STRIPE_MAX_NETWORK_RETRIES,
                       settings.STRIPE_TIMEOUT_SECONDS)


def payment_intent_create_and_confirm(
    *,
    amount_pence: int,
    currency: str,
    payment_method_id: str,
    idempotency_key: str,
    metadata: dict,
    description: str,
    receipt_email: str = "",
    customer_id: str = "",
    off_session: bool = False,
) -> dict:
    """Create and confirm a card PaymentIntent in one request (server-side
    confirmation). Raises stripe.CardError for a declined card."""
    params = {
        "amount": amount_pence,
        "currency": currency,
        "payment_method": payment_method_id,
        "payment_method_types": ["card"],
        "confirm": True,
        "metadata": metadata,
        "description": description,
    }
    if receipt_email:
        params["receipt_email"] = receipt_email
    if customer_id:
        params["customer"] = customer_id
    if off_session:
        params["off_session"] = True
    # The same request as v1.payment_intents.create, through the library's raw_request: Stripe's
    # JSON as a dict at once, without building Stripe objects to turn back into dicts (a gift's hot
    # path: a fifth of the library's time). Errors are raised as the typed ones (CardError…) all the same.
    return client().raw_request("post", "/v1/payment_intents", **params, idempotency_key=idempotency_key).data


def payment_intent_retrieve(payment_intent_id: str) -> dict:
    """The PaymentIntent as Stripe holds it now, with its charge and balance
    transaction expanded (for the fee and net)."""
    return client().v1.payment_intents.retrieve(
        payment_intent_id, params={"expand": ["latest_charge.balance_transaction"]}
    ).to_dict()


def payment_intents_list(*, created_gte: int, created_lt: int, starting_after: str = "") -> dict:
    params = {"limit": 100, "created": {"gte": created_gte, "lt": created_lt}}
    if starting_after:
        params["starting_after"] = starting_after
    return client().v1.payment_intents.list(params=params).to_dict()


def refund_create(*, payment_intent_id: str, amount_pence: int, reason: str, idempotency_key: str, metadata: dict):
    params = {"payment_intent": payment_intent_id, "amount": amount_pence, "metadata": metadata}
    if reason in ("duplicate", "fraudulent", "requested_by_customer"):
        params["reason"] = reason
    return client().v1.refunds.create(params=params, options={"idempotency_key": idempotency_key}).to_dict()


def customer_create(*, email: str, name: str, idempotency_key: str, metadata: dict) -> dict:
    return client().v1.customers.create(
        params={"email": email, "name": name, "metadata": metadata}, options={"idempotency_key": idempotency_key}
    ).to_dict()


def setup_intent_create(*, customer_id: str, idempotency_key: str, metadata: dict) -> dict:
    return client().v1.setup_intents.create(
        params={"customer": customer_id, "payment_method_types": ["card"], "usage": "off_session", "metadata": metadata},
        options={"idempotency_key": idempotency_key},
    ).to_dict()


def setup_intent_retrieve(setup_intent_id: str) -> dict:
    return client().v1.setup_intents.retrieve(setup_intent_id, params={"expand": ["payment_method"]}).to_dict()


def payment_method_retrieve(payment_method_id: str) -> dict:
    return client().v1.payment_methods.retrieve(payment_method_id).to_dict()


def _not_json(constant: str):
    raise ValueError(f"{constant} is not JSON")


def event_construct(*, payload: bytes, signature_header: str) -> dict:
    """Verify the Stripe-Signature header exactly as Stripe specifies (the
    library's own check, with its 5-minute tolerance) and parse the event as
    plain JSON. Raises stripe.SignatureVerificationError, or ValueError (with a
    message) when the body is not JSON or not an event: an id, a type and an object."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("The body is not a Stripe event: it is not UTF-8 text.") from None
    stripe.WebhookSignature.verify_header(text, signature_header, settings.STRIPE_WEBHOOK_SECRET,
                                          stripe.Webhook.DEFAULT_TOLERANCE)
    try:
        # Strict JSON: Python would read NaN and Infinity, which Stripe never sends and
        # PostgreSQL cannot store (found by the fuzz tests).
        event = json.loads(text, parse_constant=_not_json)
    except ValueError:
        raise ValueError("The body is not a Stripe event: it is not JSON.") from None
    if not (isinstance(event, dict) and event.get("id") and isinstance(event["id"], str)
            and event.get("type") and isinstance(event["type"], str)
            and isinstance(event.get("data"), dict) and isinstance(event["data"].get("object"), dict)):
        raise ValueError("The body is not a Stripe event: it needs an id, a type and data.object.")
    return event


def payment_method_detach(payment_method_id: str) -> dict:
    """Remove a saved card from its customer, so it can never be charged again."""
    return client().v1.payment_methods.detach(payment_method_id).to_dict()


def refunds_for_charge(charge_id: str) -> list[dict]:
    """Every refund of a charge, made here or in Stripe's dashboard."""
    refunds, after = [], ""
    while True:
        params = {"charge": charge_id, "limit": 100}
        if after:
            params["starting_after"] = after
        page = client().v1.refunds.list(params=params).to_dict()
        refunds += page["data"]
        if not page.get("has_more") or not page["data"]:
            return refunds
        after = page["data"][-1]["id"]


# --- payouts (for finance) -------------------------------------------------------------

_PAGE = 100  # Stripe's largest page


def payouts_since(created_gte: int) -> Iterator[dict]:
    """Every payout created at or after the Unix time, newest first, page by page."""
    params = {"limit": _PAGE, "created": {"gte": created_gte}}
    while True:
        page = client().v1.payouts.list(params=params).to_dict()
        yield from page["data"]
        if not page.get("has_more") or not page["data"]:
            return
        params["starting_after"] = page["data"][-1]["id"]


def payout_retrieve(payout_id: str) -> dict:
    return client().v1.payouts.retrieve(payout_id).to_dict()


def balance_transactions_for_payout(payout_id: str) -> Iterator[dict]:
    """The balance transactions an automatic payout paid out (Stripe lists them
    by `payout`), page by page."""
    params = {"limit": _PAGE, "payout": payout_id}
    while True:
        page = client().v1.balance_transactions.list(params=params).to_dict()
        yield from page["data"]
        if not page.get("has_more") or not page["data"]:
            return
        params["starting_after"] = page["data"][-1]["id"]


def dispute_retrieve(dispute_id: str) -> dict:
    return client().v1.disputes.retrieve(dispute_id).to_dict()


def charge_retrieve(charge_id: str) -> dict:
    return client().v1.charges.retrieve(charge_id).to_dict()
