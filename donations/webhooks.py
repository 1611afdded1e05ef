"""Stripe webhooks: verify, store once, answer, then apply in batches, and
remember any failure.

Stripe delivers events in any order, more than once, for up to three days, and
asks for a 2xx before any slow work. Each event is stored once (unique by its
id) as it arrives; the task worker applies the stored events in batches, through
services that lock the gift's row and only move it forward, so the final state
is the same whatever the order and however many deliveries arrive. A gift given
on our form does not wait for its webhook: the form records Stripe's answer."""

import logging

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from config.db import apply_in_locked_batches, insert_unless_present
from config.tasks import enqueue_once, run_started
from donations import services, stripe_gateway, tasks
from donations.models import Donation, StripeEvent
from donations.services import monthly

logger = logging.getLogger(__name__)


def _payment_intent_event(event) -> bool:
    intent = event["data"]["object"]
    donation = services.donation_apply_payment_intent(payment_intent=intent)
    if donation is None:
        return False
    if donation.status in Donation.INCOME_STATUSES and donation.fee_pence is None:
        # The fee and net live on the balance transaction, which the event does not
        # carry: the task queue fetches it, so the webhook answers at once.
        intent_id = intent["id"]
        transaction.on_commit(lambda: tasks.fetch_fee.enqueue(payment_intent_id=intent_id))
    if donation.recurring_gift_id:
        monthly.monthly_charge_apply_donation(donation=donation)
    return True


def _setup_intent_succeeded(event) -> bool:
    setup = stripe_gateway.setup_intent_retrieve(event["data"]["object"]["id"])
    return monthly.recurring_gift_apply_setup(setup_intent=setup) is not None


def _payment_method_event(event) -> bool:
    method = event["data"]["object"]
    detached = event["type"] == "payment_method.detached"
    return monthly.recurring_gift_card_changed(payment_method_id=method["id"], detached=detached, method=method) > 0


def _charge_event(event) -> bool:
    charge = event["data"]["object"]
    if not charge.get("payment_intent"):
        return False
    return services.donation_refresh_from_stripe(payment_intent_id=charge["payment_intent"]) is not None


def _charge_refunded(event) -> bool:
    charge = event["data"]["object"]
    if not Donation.objects.filter(stripe_charge_id=charge["id"]).exists() and not (
            charge.get("payment_intent") and
            Donation.objects.filter(stripe_payment_intent_id=charge["payment_intent"]).exists()):
        return False  # not one of our gifts: no need to ask Stripe
    # Fetch the refunds themselves (ids, dates): the charge alone gives only a total.
    return services.donation_sync_refunds(charge_id=charge["id"],
                                          payment_intent_id=charge.get("payment_intent")) is not None


def _dispute_event(event) -> bool:
    dispute = event["data"]["object"]
    return services.donation_apply_dispute(
        charge_id=dispute["charge"], payment_intent_id=dispute.get("payment_intent"), dispute_id=dispute["id"],
        dispute_status=dispute["status"], amount_pence=int(dispute["amount"]),
        closed=event["type"] == "charge.dispute.closed",
    ) is not None


HANDLERS = {
    "payment_intent.succeeded": _payment_intent_event,
    "payment_intent.payment_failed": _payment_intent_event,
    "payment_intent.requires_action": _payment_intent_event,
    "payment_intent.processing": _payment_intent_event,
    "payment_intent.canceled": _payment_intent_event,
    "charge.succeeded": _charge_event,
    "charge.updated": _charge_event,
    "charge.refunded": _charge_refunded,
    "charge.dispute.created": _dispute_event,
    "charge.dispute.updated": _dispute_event,
    "charge.dispute.closed": _dispute_event,
    "setup_intent.succeeded": _setup_intent_succeeded,
    "payment_method.detached": _payment_method_event,
    "payment_method.updated": _payment_method_event,
    "payment_method.automatically_updated": _payment_method_event,
}


def register_event_handler(event_type: str, handler) -> None:
    """For an app above donations (finance's payouts): Stripe sends every event to
    one endpoint, stored and applied here under the same rules. `handler(event)`
    returns whether the event was ours."""
    HANDLERS[event_type] = handler


def stripe_event_store(*, event) -> bool:
    """Store a verified event once, to be applied by the task worker
    (stripe_events_apply), so that Stripe has its answer before any slower work
    of ours: a new event is one statement. Returns whether it was new; a repeat
    delivery of a stored event changes nothing."""
    stored = StripeEvent(stripe_id=event["id"], type=event["type"], livemode=bool(event.get("livemode")),
                         payload=event)
    if not insert_unless_present(stored, unique=["stripe_id"]):
        return False
    # Queued in the same transaction as the event (the task queue is in the database), so
    # neither is kept without the other.
    _apply_soon()
    return True


_APPLY_QUEUED = "stripe-events:apply-queued"


def _apply_soon() -> None:
    # One queued run applies every event stored until it finishes, so a burst of
    # events queues one task, not one each.
    enqueue_once(tasks.apply_stripe_events, key=_APPLY_QUEUED)


def stripe_events_apply(*, batch_size: int = 100, retry_failed_since=None) -> dict[str, int]:
    """Apply the stored events not applied yet, a batch at a time: each batch in
    one transaction, each event in a savepoint of its own, so an event that fails
    is kept with its error (for finance staff to see and retry) and the rest of
    its batch is applied. Workers running at once take different batches (SKIP
    LOCKED); each event is taken at most once per run. `retry_failed_since`: a
    time; failed events received since then are tried again too (Stripe itself
    would redeliver them for three days). Returns counts by outcome."""
    run_started(_APPLY_QUEUED)
    wanted = Q(status=StripeEvent.Status.RECEIVED)
    if retry_failed_since is not None:
        wanted |= Q(status=StripeEvent.Status.FAILED, received_at__gte=retry_failed_since)
    return apply_in_locked_batches(
        StripeEvent.objects.filter(wanted), batch_size=batch_size,
        apply=lambda stored: StripeEvent.Status(_apply(stored, stored.payload).status).value,
        failed=lambda stored, error: _record_failure(stored.payload, error))


def stripe_event_process(*, stored_event_id: int, event=None) -> StripeEvent:
    """Apply a stored event (again), e.g. a failed one that staff retry. Safe to
    call any number of times."""
    stored = StripeEvent.objects.get(pk=stored_event_id)
    event = event if event is not None else stored.payload
    try:
        with transaction.atomic():
            return _apply(StripeEvent.objects.select_for_update().get(pk=stored.pk), event)
    except Exception as error:
        _record_failure(event, error)
        raise


def _apply(stored: StripeEvent, event) -> StripeEvent:
    handler = HANDLERS.get(stored.type)
    ours = handler(event) if handler else False
    stored.attempts += 1
    stored.status = StripeEvent.Status.PROCESSED if ours else StripeEvent.Status.IGNORED
    stored.error = ""
    stored.processed_at = timezone.now()
    stored.save(update_fields=["status", "error", "attempts", "processed_at"])
    return stored


def _record_failure(event, error: Exception) -> None:
    logger.error("Stripe event %s (%s) failed", event.get("id"), event.get("type"), exc_info=error)
    message = f"{type(error).__name__}: {error}"[:5000]
    stored, _ = StripeEvent.objects.get_or_create(
        stripe_id=event["id"], defaults={"type": event["type"], "livemode": bool(event.get("livemode")),
                                         "payload": event})
    StripeEvent.objects.filter(pk=stored.pk).update(status=StripeEvent.Status.FAILED, error=message,
                                                    attempts=F("attempts") + 1)
