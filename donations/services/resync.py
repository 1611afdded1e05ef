"""The daily re-sync: every gift paid through Stripe on a day, brought up to
date from Stripe itself, the safety net for a webhook outage."""

import datetime

from django.utils import timezone

from donations import stripe_gateway
from donations.models import Donation
from donations.services import monthly
from donations.services.gifts import donation_apply_payment_intent
from donations.services.refunds import donation_sync_refunds


def donations_resync_day(*, day) -> dict:
    """Bring every gift paid through Stripe on `day` (local time) up to date from
    Stripe itself: the safety net for a webhook outage. Idempotent; changes
    only what differs. Returns counts."""
    zone = timezone.get_current_timezone()
    start = int(datetime.datetime.combine(day, datetime.time.min, tzinfo=zone).timestamp())
    end = int(datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time.min, tzinfo=zone).timestamp())
    counts = {"seen": 0, "ours": 0, "updated": 0}
    after = ""
    while True:
        page = stripe_gateway.payment_intents_list(created_gte=start, created_lt=end, starting_after=after)
        for listed in page["data"]:
            counts["seen"] += 1
            before = Donation.objects.filter(stripe_payment_intent_id=listed["id"]).values_list(
                "status", "fee_pence", "refunded_pence").first()
            if before is None and not (listed.get("metadata") or {}).get("donation_uid"):
                continue  # not one of our gifts
            intent = stripe_gateway.payment_intent_retrieve(listed["id"])
            donation = donation_apply_payment_intent(payment_intent=intent)
            if donation is None:
                continue
            counts["ours"] += 1
            charge = intent.get("latest_charge")
            if isinstance(charge, dict) and charge.get("amount_refunded"):
                donation = donation_sync_refunds(charge_id=charge["id"], payment_intent_id=intent["id"])
            if donation.recurring_gift_id:
                monthly.monthly_charge_apply_donation(donation=donation)
            after_state = (donation.status, donation.fee_pence, donation.refunded_pence)
            counts["updated"] += after_state != before
        if not page.get("has_more") or not page["data"]:
            return counts
        after = page["data"][-1]["id"]
