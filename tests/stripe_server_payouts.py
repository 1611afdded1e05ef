"""Balance transactions and automatic payouts for the local Stripe
(tests/stripe_server.py), in Stripe's current shapes, so that payouts can be
reconciled as with Stripe: `GET /v1/balance_transactions?payout=po_…` lists
every transaction a payout paid out, and the payout's own.

Beside localstripe's store, the transactions are indexed so that sweeping n of
them into payouts and listing them back costs O(n log n) in all, however many
payouts there are:
- a transaction not yet paid out waits in a heap per currency, by the time it
  becomes available; a payout pops what is available by its own time;
- a payout keeps its transactions newest first, with their positions, so that
  the page after `starting_after` is a slice.

Test-only, for the benchmark (tests/bench/finance.py): `POST /_test/bulk_charges`
makes a year of card charges in one request, as localstripe makes a
PaymentIntent's charge but without the PaymentIntent and its events.
"""

import heapq
import itertools
import json
import operator

from aiohttp import web
from localstripe import resources, webhooks
from localstripe.errors import UserError

# Stripe's UK dispute fee, taken with the disputed sum when a dispute opens.
# Stripe's UK dispute-fee FAQ, unlike its US one, does not say the fee comes back
# when the dispute is won, and UK sellers report that it does not: a won dispute
# gives back the disputed sum only.
UK_DISPUTE_FEE = 2000
RADAR_DESCRIPTION = "Radar for Fraud Teams"
PAYOUT_DESCRIPTION = "STRIPE PAYOUT"
ARRIVAL_DELAY = 2 * 24 * 3600  # as localstripe's own payouts
# Every payout goes to the one bank account, as a charity's Stripe account has.
BANK_ACCOUNT = "ba_" + resources.random_id(24)

_sequence = itertools.count()  # breaks ties between objects made in the same second
_transactions: list = []  # every balance transaction, in the order made
_by_source: dict[str, list] = {}
_unpaid: dict[str, list] = {}  # currency -> heap of (available_on, sequence, transaction)
_payouts: list = []  # automatic ones and those made through POST /v1/payouts
_paid_out: dict[str, tuple[list, dict]] = {}  # payout id -> its transactions newest first, and their positions
_listings: dict[tuple, tuple[list, dict]] = {}  # filtered lists, kept until a transaction is added


def clear():
    """Forget everything (POST /_config/reset), as the store is emptied."""
    for state in (_transactions, _by_source, _unpaid, _payouts, _paid_out, _listings):
        state.clear()


def _newest_first(obj):
    return (-obj.created, -obj._sequence)


def _positions(items) -> dict:
    return {item.id: position for position, item in enumerate(items)}


def _register(txn):
    txn._sequence = next(_sequence)
    _transactions.append(txn)
    if txn.source:
        _by_source.setdefault(txn.source, []).append(txn)
    _listings.clear()


def _to_pay_out(txn):
    heapq.heappush(_unpaid.setdefault(txn.currency, []), (txn.available_on, txn._sequence, txn))
    return txn


def _stripe_fee(amount: int, currency: str, description: str) -> dict:
    return {"amount": amount, "application": None, "currency": currency, "description": description,
            "type": "stripe_fee"}


def _balance_transaction(*, amount, currency, kind, category, source=None, description=None, fee_details=(),
                         created=None):
    """A balance transaction that localstripe cannot make (its constructor takes
    charges and refunds only)."""
    txn = resources.BalanceTransaction.__new__(resources.BalanceTransaction)
    resources.StripeObject.__init__(txn)
    if created is not None:
        txn.created = created
    txn.amount = amount
    txn.available_on = txn.created
    txn.balance_type = "payments"
    txn.currency = currency
    txn.description = description
    txn.exchange_rate = None
    txn.fee_details = list(fee_details)
    txn.fee = sum(detail["amount"] for detail in txn.fee_details)
    txn.reporting_category = category
    txn.source = source
    txn.status = "available"
    txn.type = kind
    _register(txn)
    return txn


def dispute_withdrawal(dispute, created=None):
    """Stripe takes the disputed sum and its dispute fee, in one transaction, when a dispute opens."""
    return _to_pay_out(_balance_transaction(
        amount=-dispute.amount, currency=dispute.currency, kind="adjustment", category="dispute",
        source=dispute.id, description=f"Chargeback withdrawal for {dispute.charge}",
        fee_details=[_stripe_fee(UK_DISPUTE_FEE, dispute.currency, "Dispute fee")], created=created))


def dispute_reversal(dispute, created=None):
    """A won dispute gives the sum back (not the fee: see UK_DISPUTE_FEE)."""
    return _to_pay_out(_balance_transaction(
        amount=dispute.amount, currency=dispute.currency, kind="adjustment", category="dispute_reversal",
        source=dispute.id, description=f"Chargeback reversal for {dispute.charge}", created=created))


class AutomaticPayout(resources.Payout):
    """A payout Stripe made on its schedule of what was available, with the
    fields of Stripe's Payout object. (Methods must start with an underscore:
    localstripe exports every other attribute.)"""

    def __init__(self, amount, currency, created=None, arrival_date=None, statement_descriptor=None):
        resources.StripeObject.__init__(self)
        if created is not None:
            self.created = created
        self.amount = amount
        self.application_fee = None
        self.application_fee_amount = None
        self.arrival_date = arrival_date if arrival_date is not None else self.created + ARRIVAL_DELAY
        self.automatic = True
        self.balance_transaction = None
        self.currency = currency
        self.description = PAYOUT_DESCRIPTION
        self.destination = BANK_ACCOUNT
        self.failure_balance_transaction = None
        self.failure_code = None
        self.failure_message = None
        self.metadata = {}
        self.method = "standard"
        self.original_payout = None
        self.payout_method = None
        self.reconciliation_status = "completed"
        self.reversed_by = None
        self.source_type = "card"
        self.statement_descriptor = statement_descriptor
        self.status = "pending"
        self.trace_id = {"status": "pending", "value": None}
        self.type = "bank_account"
        self._sequence = next(_sequence)
        _payouts.append(self)


# The statuses a test may move a payout to, from those it may be in. A paid
# payout can still fail: Stripe says so when the bank returns it.
_NEXT_STATUSES = {"in_transit": {"pending"}, "paid": {"pending", "in_transit"},
                  "failed": {"pending", "in_transit", "paid"}}


def _settle(payout, status, *, failure_code=None, failure_message=None, when=None, announce_update=False):
    payout.status = status
    if status in ("paid", "failed"):
        # Stripe knows whether the bank gives a trace id only once the payout
        # has settled; inventing one would be worse than "unsupported".
        payout.trace_id = {"status": "unsupported", "value": None}
    if status == "failed":
        payout.failure_code = failure_code or "could_not_process"
        payout.failure_message = failure_message or "The bank could not process this payout."
        # The sum comes back to the balance, and goes out in the next payout.
        returned = _to_pay_out(_balance_transaction(
            amount=payout.amount, currency=payout.currency, kind="payout_failure", category="payout_reversal",
            source=payout.id, created=when))
        payout.failure_balance_transaction = returned.id
    if announce_update or status == "in_transit":
        webhooks.schedule_webhook(resources.Event("payout.updated", payout))
    if status in ("paid", "failed"):
        webhooks.schedule_webhook(resources.Event(f"payout.{status}", payout))


def int_param(data, name, default=None):
    value = data.get(name)
    if value in (None, ""):
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise UserError(400, f"Invalid integer: {name}={value}")


def _currency(data) -> str:
    currency = data.get("currency") or "gbp"
    if len(currency) != 3 or not currency.isalpha() or not currency.islower():
        raise UserError(400, f"Invalid currency: {currency}")
    return currency


def _json(obj):
    return web.json_response(obj._export())


async def create_payout(request):
    """POST /_test/payouts: Stripe's automatic payout, now (or at `created`), of
    every transaction in the currency (gbp unless given) available by then and
    not yet paid out. `status` paid (the default), failed, in_transit or pending;
    `arrival_date`, `statement_descriptor`, `failure_code`, `failure_message`."""
    data = await request.post()
    currency = _currency(data)
    status = data.get("status") or "paid"
    if status not in ("paid", "failed", "in_transit", "pending"):
        raise UserError(400, f"Invalid status: {status}")
    created = int_param(data, "created")
    cutoff = created if created is not None else int(resources.time.time())
    waiting = _unpaid.get(currency, [])
    swept = []
    while waiting and waiting[0][0] <= cutoff:
        swept.append(heapq.heappop(waiting)[2])
    amount = sum(txn.net for txn in swept)
    if amount <= 0:
        for txn in swept:
            _to_pay_out(txn)
        raise UserError(400, f"Nothing to pay out: the {currency} balance available is {amount}")

    payout = AutomaticPayout(amount, currency, created, int_param(data, "arrival_date"),
                             data.get("statement_descriptor") or None)
    own = _balance_transaction(amount=-amount, currency=currency, kind="payout", category="payout",
                               source=payout.id, description=PAYOUT_DESCRIPTION, created=payout.created)
    payout.balance_transaction = own.id
    # Stripe lists the payout's own transaction among those paid out in it.
    items = sorted(swept + [own], key=_newest_first)
    _paid_out[payout.id] = (items, _positions(items))

    webhooks.schedule_webhook(resources.Event("payout.created", payout))
    if status != "pending":
        _settle(payout, status, failure_code=data.get("failure_code"),
                failure_message=data.get("failure_message"), when=payout.created)
    return _json(payout)


async def change_payout(request):
    """POST /_test/payouts/{id}: an automatic payout goes in_transit, is paid or
    fails (`failure_code`, `failure_message`; the sum returns to the balance at
    `created`, or now), with `payout.updated` and `payout.paid` or `payout.failed`."""
    payout = resources.Payout._api_retrieve(request.match_info["id"])
    data = await request.post()
    status = data.get("status")
    if not payout.automatic:
        raise UserError(400, "Only automatic payouts change status here")
    if payout.status not in _NEXT_STATUSES.get(status, ()):
        raise UserError(400, f"A {payout.status} payout cannot become {status}")
    _settle(payout, status, failure_code=data.get("failure_code"), failure_message=data.get("failure_message"),
            when=int_param(data, "created"), announce_update=True)
    return _json(payout)


async def add_radar_fee(request):
    """POST /_test/radar_fees: Stripe's fee for Radar for Fraud Teams, `amount`
    pence taken from the balance (no charge of ours is its source)."""
    data = await request.post()
    amount = int_param(data, "amount", 0)
    if amount <= 0:
        raise UserError(400, "A Radar fee needs a positive amount")
    currency = _currency(data)
    return _json(_to_pay_out(_balance_transaction(
        amount=-amount, currency=currency, kind="stripe_fee", category="fee",
        description=data.get("description") or RADAR_DESCRIPTION, created=int_param(data, "created"))))


async def add_adjustment(request):
    """POST /_test/adjustments: Stripe corrects the balance by `amount` pence
    (either sign), saying why in `description`."""
    data = await request.post()
    amount = int_param(data, "amount", 0)
    if amount == 0 or not data.get("description"):
        raise UserError(400, "An adjustment needs a non-zero amount and a description")
    return _json(_to_pay_out(_balance_transaction(
        amount=amount, currency=_currency(data), kind="adjustment", category="other_adjustment",
        description=data["description"], created=int_param(data, "created"))))


class _Stopped:
    """localstripe's clock (it reads only time.time()) stopped at one moment."""

    def __init__(self, moment: int):
        self.moment = float(moment)

    def time(self) -> float:
        return self.moment


BULK_CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}


async def bulk_charges(request):
    """POST /_test/bulk_charges, test-only (the benchmark's year of gifts): a
    JSON list of {"amount", "created"} (pence, a Unix time; "currency" gbp
    unless given). Each becomes a card charge that succeeded at `created`, with
    its charge balance transaction and UK card fee, by localstripe's own charge
    path (so waiting to be paid out from then), but with no PaymentIntent and no
    events: about a hundred times faster than paying through a PaymentIntent.
    Answers [{"id", "balance_transaction", "amount", "fee", "created"}], in the
    order given. The whole list or nothing (400 naming the first bad item)."""
    try:
        items = json.loads(await request.read())
    except ValueError:
        raise UserError(400, "The body must be a JSON list of {amount, created}")
    if not isinstance(items, list):
        raise UserError(400, "The body must be a JSON list of {amount, created}")
    for position, item in enumerate(items):
        if not (isinstance(item, dict) and isinstance(item.get("amount"), int) and item["amount"] > 0
                and isinstance(item.get("created"), int)):
            raise UserError(400, f"Item {position}: needs a positive integer amount and an integer created")
        _currency(item)
    card = resources.PaymentMethod(type="card", card=dict(BULK_CARD))
    made = []
    clock = resources.time
    try:
        for item in items:
            resources.time = _Stopped(item["created"])
            charge = resources.Charge(amount=item["amount"], currency=_currency(item), source=card.id)
            charge._initialize_charge()  # succeeded, with its balance transaction (fee, paid out later)
            txn = resources.BalanceTransaction._api_retrieve(charge.balance_transaction)
            made.append({"id": charge.id, "balance_transaction": txn.id, "amount": charge.amount, "fee": txn.fee,
                         "created": charge.created})
    finally:
        resources.time = clock
    return web.json_response(made)


_COMPARISONS = {"gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le}


def _bounds(name, condition) -> tuple:
    """Stripe's range filter (`created[gte]=…`, or `created=…` for one second)
    as ((comparison, bound), …)."""
    if condition is None:
        return ()
    if not isinstance(condition, dict):
        condition = {"eq": condition}
    if not condition or not set(condition) <= set(_COMPARISONS) | {"eq"}:
        raise UserError(400, f"Invalid {name}")
    bounds = tuple(sorted((op, int_param(condition, op)) for op in condition))
    if any(bound is None for _, bound in bounds):
        raise UserError(400, f"Invalid {name}")
    return bounds


def _within(value, bounds) -> bool:
    return all((value == bound) if op == "eq" else _COMPARISONS[op](value, bound) for op, bound in bounds)


class Page(resources.List):
    """One page of a list, already cut."""

    def __init__(self, url, items, more):
        super().__init__(url, limit=max(len(items), 1))
        self._list = items
        self._starting_pos = 0
        self._more = more

    @property
    def has_more(self):
        return self._more


def _page(url, items, positions, limit, starting_after, ending_before):
    """Stripe's cursor paging over a list already newest first."""
    limit = int_param({"limit": limit}, "limit", 10)
    if not 1 <= limit <= 100:
        raise UserError(400, "limit must be between 1 and 100")
    for cursor in (starting_after, ending_before):
        if cursor is not None and cursor not in positions:
            raise UserError(400, f"{cursor} is not in this list")
    if starting_after is not None:
        start = positions[starting_after] + 1
        return Page(url, items[start:start + limit], len(items) > start + limit)
    if ending_before is not None:
        stop = positions[ending_before]
        return Page(url, items[max(stop - limit, 0):stop], stop > limit)
    return Page(url, items[:limit], len(items) > limit)


def _refuse(unexpected):
    if unexpected:
        raise UserError(400, "Unexpected " + ", ".join(unexpected))


def list_balance_transactions(cls, url, limit=None, starting_after=None, ending_before=None, **filters):
    """GET /v1/balance_transactions, newest first, by `payout`, `type`,
    `currency`, `source` and `created`."""
    payout_id = filters.pop("payout", None)
    kind = filters.pop("type", None)
    currency = filters.pop("currency", None)
    source = filters.pop("source", None)
    bounds = _bounds("created", filters.pop("created", None))
    _refuse(filters)
    if payout_id is not None and not resources.Payout._api_retrieve(payout_id).automatic:
        # Stripe cannot tell what a manual payout paid out.
        raise UserError(400, "Balance transaction history can only be filtered on automatic payouts")
    if payout_id is not None and not (kind or currency or source or bounds):
        items, positions = _paid_out[payout_id]
    else:
        key = (payout_id, kind, currency, source, bounds)
        if key not in _listings:
            if payout_id is not None:
                candidates = _paid_out[payout_id][0]
            else:
                candidates = sorted(_by_source.get(source, ()) if source else _transactions, key=_newest_first)
            chosen = [txn for txn in candidates
                      if (kind is None or txn.type == kind) and (currency is None or txn.currency == currency)
                      and (source is None or txn.source == source) and _within(txn.created, bounds)]
            _listings[key] = (chosen, _positions(chosen))
        items, positions = _listings[key]
    return _page(url, items, positions, limit, starting_after, ending_before)


def list_payouts(cls, url, limit=None, starting_after=None, ending_before=None, **filters):
    """GET /v1/payouts, newest first, by `created`, `arrival_date` and `status`."""
    created = _bounds("created", filters.pop("created", None))
    arrival = _bounds("arrival_date", filters.pop("arrival_date", None))
    status = filters.pop("status", None)
    _refuse(filters)
    items = sorted((payout for payout in _payouts
                    if _within(payout.created, created) and _within(payout.arrival_date, arrival)
                    and (status is None or payout.status == status)), key=_newest_first)
    return _page(url, items, _positions(items), limit, starting_after, ending_before)


def patch():
    """Index localstripe's own balance transactions (charges, refunds) and
    payouts, and answer their lists from the indexes."""
    make_transaction = resources.BalanceTransaction.__init__

    def transaction_init(self, *args, **kwargs):
        make_transaction(self, *args, **kwargs)
        self.balance_type = "payments"
        if self.exchange_rate == 1.0:
            self.exchange_rate = None  # Stripe gives a rate only where it converted
        _register(self)
        _to_pay_out(self)

    resources.BalanceTransaction.__init__ = transaction_init
    resources.BalanceTransaction._api_list_all = classmethod(list_balance_transactions)

    make_payout = resources.Payout.__init__

    def payout_init(self, *args, **kwargs):
        make_payout(self, *args, **kwargs)
        self._sequence = next(_sequence)
        _payouts.append(self)

    resources.Payout.__init__ = payout_init
    resources.Payout._api_list_all = classmethod(list_payouts)


def add_routes(app):
    app.router.add_post("/_test/payouts", create_payout)
    app.router.add_post("/_test/payouts/{id}", change_payout)
    app.router.add_post("/_test/radar_fees", add_radar_fee)
    app.router.add_post("/_test/adjustments", add_adjustment)
    app.router.add_post("/_test/bulk_charges", bulk_charges)
