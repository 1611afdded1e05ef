"""Refunds and disputes: what Stripe says was given back, and refunds finance makes."""

import datetime

import stripe
from django.db import transaction
from django.utils import timezone

from config.errors import ApplicationError
from config.money import format_pence
from donations import stripe_gateway
from donations.models import Donation, Refund
from donations.services import books
from donations.services.totals import _move_totals, _worth
from supporters import services as supporter_services
from supporters.models import Interaction


def _donation_for_charge(*, charge_id: str, payment_intent_id: str | None) -> Donation | None:
    queryset = Donation.objects.select_for_update()
    donation = queryset.filter(stripe_charge_id=charge_id).first()
    if donation is None and payment_intent_id:
        donation = queryset.filter(stripe_payment_intent_id=payment_intent_id).first()
    return donation


def _status_after_refunds(donation: Donation) -> str:
    if donation.refunded_pence >= donation.amount_pence:
        return Donation.Status.REFUNDED
    if donation.refunded_pence:
        return Donation.Status.PARTLY_REFUNDED
    return Donation.Status.SUCCEEDED


@transaction.atomic
def donation_apply_refund_total(*, charge_id: str, payment_intent_id: str | None, refunded_pence: int) -> Donation | None:
    """Record that `refunded_pence` of a gift has been refunded in all (Stripe's
    charge.amount_refunded). Totals only grow, so repeats and reordering are
    harmless; refunds made in Stripe's dashboard arrive this way too."""
    donation = _donation_for_charge(charge_id=charge_id, payment_intent_id=payment_intent_id)
    if donation is None:
        return None
    if refunded_pence <= donation.refunded_pence:
        return donation
    before = _worth(donation)
    donation.refunded_pence = min(refunded_pence, donation.amount_pence)
    if not donation.stripe_charge_id:
        donation.stripe_charge_id = charge_id
    if donation.status != Donation.Status.DISPUTED:
        donation.status = _status_after_refunds(donation)
    donation.save()
    _move_totals(donation, before)
    supporter_services.timeline_add(
        supporter=donation.supporter, kind=Interaction.Kind.DONATION,
        summary=f"Refunded {format_pence(donation.refunded_pence, donation.currency)} of a gift of {donation.amount_display}",
        source_ref=f"donation:{donation.pk}:refunded:{donation.refunded_pence}",
    )
    return donation


_DISPUTE_RANK = {"": 0, "warning_needs_response": 1, "needs_response": 1, "warning_under_review": 2,
                 "under_review": 2, "warning_closed": 3, "won": 3, "lost": 3}


@transaction.atomic
def donation_apply_dispute(*, charge_id: str, payment_intent_id: str | None, dispute_status: str,
                           amount_pence: int, closed: bool, dispute_id: str | None = None) -> Donation | None:
    """A card dispute opened or closed. While open the gift is 'disputed'; won,
    it returns to what its refunds make it; lost, the disputed sum is gone."""
    donation = _donation_for_charge(charge_id=charge_id, payment_intent_id=payment_intent_id)
    if donation is None:
        return None
    if _DISPUTE_RANK.get(dispute_status, 0) < _DISPUTE_RANK.get(donation.dispute_status, 0):
        return donation  # an older event than one already applied
    before = _worth(donation)
    donation.dispute_status = dispute_status
    if dispute_id:
        donation.stripe_dispute_id = dispute_id  # finance matches the dispute's balance transactions by it
    if dispute_status == "lost":
        # Stripe disputes only what was not refunded, so a lost dispute takes the
        # disputed sum on top of the refunds; worked out from the refund records,
        # not added to the running figure, so a replayed event changes nothing.
        refunds = sum(donation.refunds.filter(status__in=("succeeded", "pending")).values_list("amount_pence", flat=True))
        donation.refunded_pence = max(donation.refunded_pence, min(refunds + amount_pence, donation.amount_pence))
        donation.status = _status_after_refunds(donation)
        donation.failure_reason = "Card dispute lost"
    elif dispute_status in ("won", "warning_closed"):
        donation.status = _status_after_refunds(donation)
    else:
        donation.status = Donation.Status.DISPUTED
    donation.save()
    _move_totals(donation, before)
    return donation


def refund_record(*, donation: Donation, refund: dict, reason: str = "", by=None) -> Refund:
    """Keep one Refund row per Stripe refund (idempotent on its id)."""
    transaction_ = refund.get("balance_transaction")
    record, created = Refund.objects.get_or_create(
        stripe_refund_id=refund["id"],
        defaults={"donation": donation, "amount_pence": int(refund["amount"]), "status": refund.get("status") or "",
                  "reason": (reason or (refund.get("metadata") or {}).get("reason") or refund.get("reason") or "")[:255],
                  "made_by": by,
                  "stripe_balance_transaction_id": transaction_ if isinstance(transaction_, str) else
                  (transaction_ or {}).get("id"),
                  "created_at": datetime.datetime.fromtimestamp(refund["created"], tz=datetime.timezone.utc)
                  if refund.get("created") else timezone.now()},
    )
    if not created and record.status != refund.get("status"):
        record.status = refund.get("status") or record.status
        record.save(update_fields=["status"])
    return record


def donation_sync_refunds(*, charge_id: str, payment_intent_id: str | None) -> Donation | None:
    """Fetch a charge's refunds from Stripe, keep a record of each, and bring the
    gift's refunded total up to date. What a charge.refunded event triggers."""
    refunds = stripe_gateway.refunds_for_charge(charge_id)
    with transaction.atomic():
        donation = _donation_for_charge(charge_id=charge_id, payment_intent_id=payment_intent_id)
        if donation is None:
            return None
        for refund in refunds:
            refund_record(donation=donation, refund=refund)
        total = sum(int(r["amount"]) for r in refunds if r.get("status") in ("succeeded", "pending"))
        return donation_apply_refund_total(charge_id=charge_id, payment_intent_id=payment_intent_id,
                                           refunded_pence=total)


def donation_refund(*, donation: Donation, amount_pence: int, reason: str, by=None) -> Donation:
    """Refund all or part of a gift through Stripe (finance staff). The refund's
    idempotency key is the gift and its refunded total, so a double click or a
    retry refunds once. Raises ApplicationError for an amount the gift cannot
    give back."""
    donation = Donation.objects.get(pk=donation.pk)
    refundable = donation.amount_pence - donation.refunded_pence
    if donation.status not in (Donation.Status.SUCCEEDED, Donation.Status.PARTLY_REFUNDED):
        raise ApplicationError(f"A {donation.get_status_display().lower()} gift cannot be refunded.")
    if amount_pence <= 0 or amount_pence > refundable:
        raise ApplicationError(
            f"Refund between £0.01 and {format_pence(refundable, donation.currency)}.", field="amount"
        )
    if not (reason or "").strip():
        raise ApplicationError("Give the reason for the refund.", field="reason")
    books.refuse_if_month_closed(timezone.localdate(), what="a refund")
    try:
        refund = stripe_gateway.refund_create(
            payment_intent_id=donation.stripe_payment_intent_id, amount_pence=amount_pence,
            reason="requested_by_customer", metadata={"donation_id": str(donation.pk), "reason": reason[:400]},
            idempotency_key=f"refund-{donation.uid}-{donation.refunded_pence}-{amount_pence}",
        )
    except stripe.StripeError as error:
        raise ApplicationError(f"Stripe did not make the refund: {error.user_message or error}") from error
    with transaction.atomic():
        refund_record(donation=donation, refund=refund, reason=reason, by=by)
        donation = donation_apply_refund_total(
            charge_id=donation.stripe_charge_id or refund.get("charge") or "",
            payment_intent_id=donation.stripe_payment_intent_id,
            refunded_pence=donation.refunded_pence + amount_pence,
        )
    supporter_services.timeline_add(
        supporter=donation.supporter, kind=Interaction.Kind.DONATION,
        summary=f"Refund of {format_pence(amount_pence, donation.currency)} made by staff",
        detail=reason, source_ref=f"refund:{refund['id']}", by=by,
    )
    return donation
