"""Stripe payouts: recorded once each (by webhook, by sync or from Stripe's
report, in any order), with their balance transactions, each matched to the
gift, refund or dispute it is about.

A payout's lines are fetched whole, after Stripe has paid it: the webhook
records the payout and queues the fetch; `sync_stripe_payouts` does both for
every payout since a date. Recording is idempotent: each payout and each
balance transaction is unique by its Stripe id, so a repeat updates the row."""

import datetime
import logging
from collections.abc import Iterable

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from config.db import bulk_set
from config.errors import ApplicationError
from donations import stripe_gateway
from donations.models import Donation, Refund
from donations.services import refunds as donation_refunds
from donations.services import gifts as donation_gifts
from finance.models import Payout, PayoutLine

logger = logging.getLogger(__name__)

# A payout moves forward only (pending → in transit → paid; a paid one may still
# fail): an older event arriving late never takes it back.
_STATUS_RANK = {Payout.Status.PENDING: 0, Payout.Status.IN_TRANSIT: 1, Payout.Status.PAID: 2,
                Payout.Status.FAILED: 3, Payout.Status.CANCELED: 3}

# Reporting categories whose lines are about a gift (and so an exception without one).
GIFT_CATEGORIES = ("charge", "refund", "refund_failure", "dispute", "dispute_reversal")


def _aware(timestamp: int | None) -> datetime.datetime | None:
    return datetime.datetime.fromtimestamp(int(timestamp), tz=datetime.UTC) if timestamp else None


def _date(timestamp: int | None) -> datetime.date | None:
    # Stripe's dates (arrival, available on) are midnight UTC of the day meant.
    return _aware(timestamp).date() if timestamp else None


def payout_record(*, payout: dict, source: str = Payout.Source.STRIPE) -> Payout:
    """Create or update our row for a Stripe payout (a dict in Stripe's shape).
    Safe in any order and from two workers at once (unique by Stripe's id)."""
    fields = {
        "amount_pence": int(payout["amount"]),
        "currency": payout.get("currency") or "gbp",
        "arrival_date": _date(payout.get("arrival_date")) or timezone.localdate(),
        "stripe_created_at": _aware(payout.get("created")),
        "automatic": bool(payout.get("automatic", True)),
        "statement_descriptor": payout.get("statement_descriptor") or "",
        "failure_code": payout.get("failure_code") or "",
        "failure_message": (payout.get("failure_message") or "")[:255],
    }
    status = payout.get("status") or Payout.Status.PENDING
    with transaction.atomic():
        existing = Payout.objects.select_for_update().filter(stripe_payout_id=payout["id"]).first()
        if existing is None:
            try:
                with transaction.atomic():
                    return Payout.objects.create(stripe_payout_id=payout["id"], status=status, source=source, **fields)
            except IntegrityError:  # another worker recorded it first
                existing = Payout.objects.select_for_update().get(stripe_payout_id=payout["id"])
        for name, value in fields.items():
            setattr(existing, name, value)
        if _STATUS_RANK.get(status, 0) >= _STATUS_RANK.get(existing.status, 0):
            existing.status = status
        existing.save()
        return existing


def _line_fields(transaction_: dict) -> dict:
    source = transaction_.get("source")
    source_id = source.get("id", "") if isinstance(source, dict) else (source or "")
    charge_id = source_id if source_id.startswith(("ch_", "py_")) else ""
    if isinstance(source, dict) and not charge_id:
        charge_id = source.get("charge") or ""
        charge_id = charge_id.get("id", "") if isinstance(charge_id, dict) else charge_id
    return {
        "type": transaction_.get("type") or "",
        "reporting_category": transaction_.get("reporting_category") or transaction_.get("type") or "",
        "amount_pence": int(transaction_["amount"]),
        "fee_pence": int(transaction_.get("fee") or 0),
        "net_pence": int(transaction_["net"]),
        "currency": transaction_.get("currency") or "gbp",
        "stripe_created_at": _aware(transaction_.get("created")) or timezone.now(),
        "available_on": _date(transaction_.get("available_on")),
        "description": (transaction_.get("description") or "")[:500],
        "source_id": source_id,
        "charge_id": charge_id,
    }


def payout_lines_record(*, payout: Payout, transactions: Iterable[dict]) -> list[PayoutLine]:
    """Record the payout's balance transactions (Stripe's shape), leaving out the
    payout's own (it is the payout), then match each to its gift, refund or
    dispute. A repeat updates the same rows."""
    lines = []
    for transaction_ in transactions:
        fields = _line_fields(transaction_)
        if fields["reporting_category"] == "payout" or fields["type"] == "payout":
            continue
        lines.append(PayoutLine(payout=payout, stripe_balance_transaction_id=transaction_["id"], **fields))
    with transaction.atomic():
        ids = [line.stripe_balance_transaction_id for line in lines]
        held = set()
        for start in range(0, len(ids), 2000):
            held |= set(PayoutLine.objects.filter(stripe_balance_transaction_id__in=ids[start:start + 2000])
                        .values_list("stripe_balance_transaction_id", flat=True))
        # A new line is written with its gift already found: writing it and then
        # linking it would write every row (and its dozen index entries) twice.
        new = [line for line in lines
               if line.stripe_balance_transaction_id not in held and line.reporting_category in GIFT_CATEGORIES]
        linked = _link(new)
        PayoutLine.objects.bulk_create(
            lines, batch_size=2000, update_conflicts=True, unique_fields=["stripe_balance_transaction_id"],
            update_fields=["payout", *_UPDATABLE])
        payout.lines_fetched_at = timezone.now()
        Payout.objects.filter(pk=payout.pk).update(lines_fetched_at=payout.lines_fetched_at)
        _record_fees(linked)
        # Lines of the payout held before (a repeat) keep their links; those still
        # without one are matched now (the new ones were looked for just above).
        payout_lines_match(lines=PayoutLine.objects.filter(
            payout=payout, donation__isnull=True, reporting_category__in=GIFT_CATEGORIES).exclude(
            stripe_balance_transaction_id__in=[line.stripe_balance_transaction_id for line in new
                                               if line.donation_id is None]))
    return lines


_UPDATABLE = ["type", "reporting_category", "amount_pence", "fee_pence", "net_pence", "currency",
              "stripe_created_at", "available_on", "description", "source_id", "charge_id"]


def payout_lines_match(*, lines) -> int:
    """Link each line not yet linked to its gift (a charge, by charge or payment
    intent id), refund (by refund id) or dispute (by dispute id, the gift's), and
    give each gift its fee and net from its charge's line (through donations'
    service). Returns how many lines were newly linked."""
    lines = [line for line in lines if line.donation_id is None and line.reporting_category in GIFT_CATEGORIES]
    linked = _link(lines)
    bulk_set(PayoutLine, [(line.pk, line.donation_id, line.refund_id) for line in linked], ["donation", "refund"])
    _record_fees(linked)
    return len(linked)


def _link(lines: list[PayoutLine]) -> list[PayoutLine]:
    """Set each line's gift and refund (on the instances; nothing is saved) where
    one is found; returns those linked."""
    if not lines:
        return []
    sources = {line.source_id for line in lines} | {line.charge_id for line in lines if line.charge_id}
    intents = {line.payment_intent_id for line in lines if line.payment_intent_id}
    by_charge = dict(Donation.objects.filter(stripe_charge_id__in=sources).values_list("stripe_charge_id", "pk"))
    by_intent = dict(Donation.objects.filter(stripe_payment_intent_id__in=intents)
                     .values_list("stripe_payment_intent_id", "pk")) if intents else {}
    by_dispute = dict(Donation.objects.filter(stripe_dispute_id__in=sources).values_list("stripe_dispute_id", "pk"))
    refunds = {refund_id: (pk, donation_id) for refund_id, pk, donation_id in
               Refund.objects.filter(stripe_refund_id__in=sources).values_list("stripe_refund_id", "pk", "donation_id")}
    linked = []
    for line in lines:
        if line.source_id in refunds:
            line.refund_id, line.donation_id = refunds[line.source_id]
        elif line.source_id in by_dispute:
            line.donation_id = by_dispute[line.source_id]
        else:
            line.donation_id = (by_charge.get(line.source_id) or by_charge.get(line.charge_id)
                                or by_intent.get(line.payment_intent_id))
        if line.donation_id is not None:
            linked.append(line)
    return linked


def _record_fees(linked: list[PayoutLine]) -> None:
    """Each gift's fee and net from its charge's line, through donations' service."""
    fees = [(line.donation_id, line.stripe_balance_transaction_id, line.fee_pence, line.net_pence)
            for line in linked if line.reporting_category == "charge"]
    if fees:
        donation_gifts.donations_record_stripe_fees(fees=fees)


@transaction.atomic
def payout_line_explain(*, line: PayoutLine, note: str, by=None) -> PayoutLine:
    """Finance's word that a line with no gift of ours is not a gift (a test
    payment, a Radar fee, money moved on Stripe's dashboard): it leaves the
    exceptions, with the note kept. Raises ApplicationError for a line already
    linked to a gift or explained, or without a note."""
    note = " ".join((note or "").split())
    if not note:
        raise ApplicationError("Say what the line is, if not a gift (e.g. “Test payment by staff”).", field="note")
    line = PayoutLine.objects.select_for_update().get(pk=line.pk)
    if line.donation_id is not None:
        raise ApplicationError(f"The line {line.stripe_balance_transaction_id} is already matched to a gift.")
    if line.resolution:
        raise ApplicationError(f"The line {line.stripe_balance_transaction_id} is already resolved: "
                               f"{line.get_resolution_display().lower()}.")
    line.resolution, line.resolution_note, line.resolved_by = PayoutLine.Resolution.NOT_A_GIFT, note[:255], by
    line.save(update_fields=["resolution", "resolution_note", "resolved_by"])
    return line


def payout_fetch_lines(*, payout_id: str) -> Payout:
    """Fetch a payout and every balance transaction it paid out from Stripe, and
    record them (idempotent). A payout not yet paid has no lines to fetch."""
    payout = payout_record(payout=stripe_gateway.payout_retrieve(payout_id))
    if _fetch_lines(payout):
        payout.refresh_from_db()
    return payout


def _fetch_lines(payout: Payout) -> list[PayoutLine]:
    """A paid automatic payout's balance transactions from Stripe, recorded and
    matched (disputes and charges we never heard of asked about); none for
    another payout (nothing paid out yet, or a manual payout Stripe cannot list)."""
    if payout.status != Payout.Status.PAID or not payout.automatic:
        return []
    lines = payout_lines_record(
        payout=payout, transactions=stripe_gateway.balance_transactions_for_payout(payout.stripe_payout_id))
    _apply_unknown_disputes(payout)
    _describe_unknown_charges(payout)
    return lines


def _apply_unknown_disputes(payout: Payout) -> None:
    """A dispute whose webhook never came: ask Stripe which charge it is on,
    record it on the gift (donations' service), and link the lines."""
    unknown = list(PayoutLine.objects.filter(payout=payout, donation__isnull=True,
                                             reporting_category__in=("dispute", "dispute_reversal"))
                   .values_list("source_id", flat=True).distinct())
    for dispute_id in unknown:
        try:
            dispute = stripe_gateway.dispute_retrieve(dispute_id)
        except Exception:  # noqa: BLE001 -- the line stays on the exceptions list, which says so
            logger.warning("Could not read dispute %s from Stripe", dispute_id, exc_info=True)
            continue
        charge = dispute.get("charge")
        donation_refunds.donation_apply_dispute(
            charge_id=charge.get("id") if isinstance(charge, dict) else charge,
            payment_intent_id=dispute.get("payment_intent"), dispute_id=dispute_id,
            dispute_status=dispute.get("status") or "needs_response", amount_pence=int(dispute["amount"]),
            closed=dispute.get("status") in ("won", "lost"))
    if unknown:
        payout_lines_match(lines=PayoutLine.objects.filter(payout=payout))


def _describe_unknown_charges(payout: Payout) -> None:
    """A charge with no gift of ours (taken on Stripe's dashboard): who paid, from
    the charge's billing details, so Finance can record the gift from the line."""
    for line in PayoutLine.objects.filter(payout=payout, donation__isnull=True, reporting_category="charge",
                                          customer_email="").exclude(source_id=""):
        try:
            charge = stripe_gateway.charge_retrieve(line.source_id)
        except Exception:  # noqa: BLE001 -- the line stays an exception either way; Finance can still explain it
            logger.warning("Could not read charge %s from Stripe", line.source_id, exc_info=True)
            continue
        billing = charge.get("billing_details") or {}
        line.customer_email = (billing.get("email") or charge.get("receipt_email") or "")[:254]
        line.customer_name = (billing.get("name") or "")[:255]
        intent = charge.get("payment_intent")
        line.payment_intent_id = line.payment_intent_id or (intent.get("id") if isinstance(intent, dict) else intent
                                                            or "")
        line.save(update_fields=["customer_email", "customer_name", "payment_intent_id"])


def payouts_sync(*, since: datetime.date) -> dict[str, int]:
    """Every payout created on or after `since`, with its lines (paid ones).
    Returns counts for the command's summary."""
    start = int(datetime.datetime.combine(since, datetime.time(), tzinfo=datetime.UTC).timestamp())
    counts = {"payouts": 0, "lines": 0}
    for payout_data in stripe_gateway.payouts_since(start):
        counts["payouts"] += 1
        counts["lines"] += len(_fetch_lines(payout_record(payout=payout_data)))
    if counts["lines"] >= ANALYZE_AFTER_LINES:
        _analyze(PayoutLine)
    return counts


# A sync that records this many lines (a first sync of a year's payouts) refreshes
# the database's statistics of the lines table at once. Until autovacuum comes
# round, PostgreSQL plans from the statistics of the table as it was before (no
# charge lines at all, at the first sync), and the exceptions' search for gifts
# in no payout becomes a nested loop over every pair of gift and line: minutes
# at 100,000 gifts, instead of a fraction of a second.
ANALYZE_AFTER_LINES = 10_000


def _analyze(model) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


# --- webhooks ------------------------------------------------------------------------

def payout_event_apply(event) -> bool:
    """payout.created / updated / paid / failed / canceled: record the payout; once
    it is paid, fetch its lines in the background (a payout may hold thousands)."""
    payout = payout_record(payout=event["data"]["object"])
    if payout.status == Payout.Status.PAID and payout.automatic and payout.lines_fetched_at is None:
        from finance.tasks import fetch_payout_lines  # tasks import these services

        transaction.on_commit(lambda: fetch_payout_lines.enqueue(payout.stripe_payout_id))
    return True


PAYOUT_EVENTS = ("payout.created", "payout.updated", "payout.paid", "payout.failed", "payout.canceled")
