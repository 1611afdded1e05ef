"""Prove that Stripe and our records agree on every payment since a moment: each
PaymentIntent Stripe holds is exactly one gift here (none lost, none doubled) and
each gift's status and amount are Stripe's; every gift Stripe answered for is
recorded, and each campaign's total is what its gifts add up to. Read-only; exits non-zero on any mismatch.

    manage.py reconcile_stripe_gifts [--since 2026-12-05T21:00]   (default: the last 24 hours)
"""

import collections
import datetime

from django.core.management.base import BaseCommand, CommandError
from django.db.models import F, Sum
from django.utils import timezone

from campaigns.models import Campaign
from campaigns.selectors import campaign_totals

from donations import stripe_gateway
from donations.models import Donation, MonthlyCharge
from donations.services.gifts import _INTENT_STATUS

_PAID = {Donation.Status.SUCCEEDED, Donation.Status.PARTLY_REFUNDED, Donation.Status.REFUNDED,
         Donation.Status.DISPUTED}


def _stripe_intents(since: datetime.datetime) -> list[dict]:
    intents, after = [], ""
    end = int(timezone.now().timestamp()) + 3600
    while True:
        page = stripe_gateway.payment_intents_list(created_gte=int(since.timestamp()), created_lt=end,
                                                   starting_after=after)
        intents += page["data"]
        if not page.get("has_more") or not page["data"]:
            return intents
        after = page["data"][-1]["id"]


def reconcile(since: datetime.datetime) -> dict:
    """Counts, and a list of problems (each a line a person can act on)."""
    intents = _stripe_intents(since)
    ids = [intent["id"] for intent in intents]
    gifts = {d.stripe_payment_intent_id: d for d in Donation.objects.filter(stripe_payment_intent_id__in=ids)}
    charges = set(MonthlyCharge.objects.filter(stripe_payment_intent_id__in=ids)
                  .values_list("stripe_payment_intent_id", flat=True))
    problems = []
    # Two payments taken for one gift: two PaymentIntents carrying one gift's uid.
    per_gift = collections.Counter((intent.get("metadata") or {}).get("donation_uid") for intent in intents)
    doubled = {uid: n for uid, n in per_gift.items() if uid and n > 1}
    problems += [f"doubled: {n} PaymentIntents at Stripe for gift {uid}" for uid, n in doubled.items()]
    lost = mismatched = matched = 0
    for intent in intents:
        gift = gifts.get(intent["id"])
        expected = _INTENT_STATUS.get(intent["status"])
        if gift is None:
            if expected == Donation.Status.FAILED and intent["id"] in charges:
                matched += 1  # a monthly charge that failed: recorded on the charge, no gift made
                continue
            lost += 1
            problems.append(f"lost: {intent['id']} ({intent['status']}, {intent['amount']}p) has no gift here")
            continue
        ok_status = gift.status in _PAID if expected == Donation.Status.SUCCEEDED else gift.status == expected
        if not ok_status or gift.amount_pence != intent["amount"]:
            mismatched += 1
            problems.append(f"mismatch: gift {gift.pk} is {gift.status}, {gift.amount_pence}p; Stripe's "
                            f"{intent['id']} is {intent['status']}, {intent['amount']}p")
        else:
            matched += 1
    # Gifts we took since then that Stripe does not hold (or never answered for).
    ours = Donation.objects.filter(created_at__gte=since, channel__in=[Donation.Channel.WEB, Donation.Channel.MONTHLY])
    unknown = ours.exclude(stripe_payment_intent_id__in=ids).exclude(stripe_payment_intent_id=None)
    unanswered = ours.filter(stripe_payment_intent_id=None).exclude(status=Donation.Status.FAILED)
    problems += [f"unknown to Stripe: gift {pk} names {pi}"
                 for pk, pi in unknown.values_list("pk", "stripe_payment_intent_id")]
    problems += [f"no PaymentIntent: gift {pk} is {status}" for pk, status in unanswered.values_list("pk", "status")]
    # Every gift Stripe answered for is recorded (donor, totals), once the task worker has run.
    unrecorded = ours.filter(form_details__isnull=False).exclude(status=Donation.Status.CREATED)
    problems += [f"not recorded: gift {pk} ({status}) still waits for its donor and totals"
                 for pk, status in unrecorded.values_list("pk", "status")]
    # And each campaign's total, kept as gifts came, is what its gifts add up to.
    for campaign in Campaign.objects.filter(pk__in=ours.exclude(campaign=None).values("campaign")):
        kept = (Donation.objects.filter(campaign=campaign, status__in=Donation.INCOME_STATUSES,
                                        form_details__isnull=True)
                .aggregate(kept=Sum(F("amount_pence") - F("refunded_pence")))["kept"] or 0)
        shown = campaign_totals(campaign=campaign)["raised_pence"]
        if shown != kept:
            problems.append(f"total: campaign {campaign.code} shows {shown}p raised; its gifts add up to {kept}p")
    statuses = collections.Counter(intent["status"] for intent in intents)
    return {
        "intents": len(intents), "statuses": dict(statuses), "gifts": ours.count(), "matched": matched, "lost": lost,
        "doubled": len(doubled), "mismatched": mismatched, "unknown": unknown.count(),
        "unanswered": unanswered.count(), "unrecorded": unrecorded.count(), "problems": problems,
    }


class Command(BaseCommand):
    help = ("Check that every PaymentIntent at Stripe since --since is exactly one gift here, in Stripe's state, "
            "and every online gift since then is at Stripe. Read-only; exits 1 on any mismatch.")

    def add_arguments(self, parser):
        parser.add_argument("--since", help="ISO date and time (local time if no offset). Default: 24 hours ago.")

    def handle(self, *args, since=None, **options):
        stripe_gateway.check_configured()
        start = datetime.datetime.fromisoformat(since) if since else timezone.now() - datetime.timedelta(days=1)
        if timezone.is_naive(start):
            start = timezone.make_aware(start)
        result = reconcile(start)
        self.stdout.write(
            f"Since {start:%Y-%m-%d %H:%M:%S %Z}: {result['intents']:,} PaymentIntents at Stripe "
            f"({', '.join(f'{n:,} {s}' for s, n in sorted(result['statuses'].items())) or 'none'}); "
            f"{result['gifts']:,} online gifts here.\n"
            f"  matched {result['matched']:,}; lost {result['lost']}; doubled {result['doubled']}; "
            f"state or amount differs {result['mismatched']}; unknown to Stripe {result['unknown']}; "
            f"no PaymentIntent {result['unanswered']}; not recorded {result['unrecorded']}")
        for problem in result["problems"][:50]:
            self.stdout.write(f"  {problem}")
        if result["problems"]:
            raise CommandError(f"{len(result['problems'])} problem(s): Stripe and our gifts do not agree.")
        self.stdout.write("Stripe and our gifts agree: none lost, none doubled.")
