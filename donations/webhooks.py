"""Stripe webhooks: verify, store once, apply, and remember any failure.

Stripe delivers events in any order, more than once, for up to three days.
Each event is stored once (unique by its id) and applied through services that
lock the gift's row and only move it forward, so the final state is the same
whatever the order and however many deliveries arrive."""

import logging

from django.db import IntegrityError, transaction
from django.utils import timezone

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


def stripe_event_receive(*, event) -> StripeEvent:
    """Store a verified event once and apply it, unless it was applied before.
    Returns the stored event; its status says what happened.

    Storing, applying and marking it done are one transaction (one commit per
    event). If applying fails, that transaction is rolled back and the event is
    stored on its own with its error (for finance staff to see and retry), and
    the error is re-raised so that the webhook answers 500 and Stripe delivers
    again."""
    try:
        with transaction.atomic():
            stored = _stored(event)
            if stored.status in (StripeEvent.Status.PROCESSED, StripeEvent.Status.IGNORED):
                return stored
            return _apply(stored, event)
    except Exception as error:
        _record_failure(event, error)
        raise


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


def _stored(event) -> StripeEvent:
    """The stored row for this event, made if new, locked either way (two
    deliveries at once wait for each other rather than both applying it)."""
    stored = StripeEvent.objects.select_for_update().filter(stripe_id=event["id"]).first()
    if stored is not None:
        return stored
    try:
        with transaction.atomic():
            return StripeEvent.objects.create(stripe_id=event["id"], type=event["type"],
                                              livemode=bool(event.get("livemode")), payload=event)
    except IntegrityError:  # the other delivery made it first
        return StripeEvent.objects.select_for_update().get(stripe_id=event["id"])


class MalformedEvent(ValueError):
    """A signed event whose object lacks what its type must carry (or carries it
    in the wrong shape): delivering it again cannot help, so the webhook answers
    400 rather than 500; it is kept as failed, with the reason, for Finance."""


def _apply(stored: StripeEvent, event) -> StripeEvent:
    handler = HANDLERS.get(stored.type)
    try:
        ours = handler(event) if handler else False
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise MalformedEvent(f"The event's object is not a {stored.type} we can read "
                             f"({type(error).__name__}: {error}).") from error
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
                                                    attempts=stored.attempts + 1)
