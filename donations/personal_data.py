"""What the donations app adds to a supporter's subject-access export and erasure."""

import logging

import stripe
from django.db import transaction
from django.db.models import Q

from config.money import format_pence
from donations import stripe_gateway
from donations.services import monthly
from donations.models import Donation, RecurringGift, StripeEvent

logger = logging.getLogger(__name__)


def gifts_section(supporter) -> list[dict]:
    return [
        {"reference": d.reference, "amount": format_pence(d.amount_pence, d.currency), "status": d.get_status_display(),
         "date": (d.paid_at or d.created_at).isoformat(), "campaign": str(d.campaign or ""),
         "gift_aid_declared": d.gift_aid_declared,
         "refunded": format_pence(d.refunded_pence, d.currency) if d.refunded_pence else ""}
        for d in Donation.objects.filter(supporter=supporter).select_related("campaign").order_by("created_at")
    ]


def monthly_gifts_section(supporter) -> list[dict]:
    return [
        {"amount": r.amount_display, "status": r.get_status_display(), "day_of_month": r.day_of_month,
         "card": f"{r.card_brand} ending {r.card_last4}" if r.card_last4 else "", "started": r.started_on.isoformat()}
        for r in RecurringGift.objects.filter(supporter=supporter)
    ]


def erase(supporter) -> None:
    """Stop any monthly gift and delete the supporter's customer record at Stripe
    (it holds their name and email); the gifts themselves stay for the accounts,
    and the Stripe events about them stay without the name, email, phone or address."""
    for recurring in RecurringGift.objects.filter(supporter=supporter).exclude(status=RecurringGift.Status.CANCELLED):
        monthly.recurring_gift_cancel(recurring_gift=recurring, reason="Supporter's personal data erased")
    customers = set(RecurringGift.objects.filter(supporter=supporter).exclude(stripe_customer_id="")
                    .values_list("stripe_customer_id", flat=True))
    customers |= set(Donation.objects.filter(supporter=supporter).exclude(stripe_customer_id="")
                     .values_list("stripe_customer_id", flat=True))
    RecurringGift.objects.filter(supporter=supporter).update(card_brand="", card_last4="", card_exp_month=None,
                                                             card_exp_year=None)
    _redact_stripe_events(supporter, customers)
    for customer_id in customers:
        transaction.on_commit(lambda customer_id=customer_id: _delete_customer(customer_id))


# Where Stripe's objects carry a person: PaymentIntent.receipt_email, a charge's
# billing_details, a customer's name, email, phone, address and shipping.
_PERSONAL_KEYS = frozenset({"email", "receipt_email", "name", "phone", "address", "billing_details", "shipping",
                            "customer_email", "customer_name", "customer_phone", "customer_address",
                            "customer_shipping", "customer_details"})


def _redacted(value):
    if isinstance(value, dict):
        return {key: None if key in _PERSONAL_KEYS else _redacted(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_redacted(item) for item in value]
    return value


def _redact_stripe_events(supporter, customers: set[str]) -> None:
    """The stored webhook events about the supporter's payments, cards, set-ups
    and customers keep what the accounts need (ids, amounts, status) and lose
    what names the person."""
    gifts = Donation.objects.filter(supporter=supporter)
    recurring = RecurringGift.objects.filter(supporter=supporter)
    intents = {i for i in gifts.values_list("stripe_payment_intent_id", flat=True) if i}
    objects = (intents | customers
               | {i for i in gifts.values_list("stripe_charge_id", flat=True) if i}
               | {i for i in gifts.values_list("stripe_payment_method_id", flat=True) if i}
               | {i for i in recurring.values_list("stripe_payment_method_id", flat=True) if i}
               | {i for i in recurring.values_list("stripe_setup_intent_id", flat=True) if i})
    if not objects:
        return
    about = (Q(payload__data__object__id__in=list(objects))
             | Q(payload__data__object__payment_intent__in=list(intents or {""}))
             | Q(payload__data__object__customer__in=list(customers or {""})))
    for event in StripeEvent.objects.select_for_update().filter(about):
        event.payload = _redacted(event.payload)
        event.save(update_fields=["payload"])


def _delete_customer(customer_id: str) -> None:
    try:
        stripe_gateway.client().v1.customers.delete(customer_id)
    except stripe.StripeError:
        logger.warning("Could not delete Stripe customer %s after an erasure; delete it in Stripe's dashboard",
                       customer_id, exc_info=True)
