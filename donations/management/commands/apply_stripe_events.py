import datetime

from django.core.management.base import BaseCommand
from django.utils import timezone

from donations.webhooks import stripe_events_apply


class Command(BaseCommand):
    help = ("Apply the Stripe events the webhook stored and no task has applied yet, and try again those that "
            "failed in the last three days, as Stripe would have redelivered them (run every ten minutes: a "
            "safety net for the task worker). Safe to run often and on several machines at once.")

    def add_arguments(self, parser):
        parser.add_argument("--retry-days", type=int, default=3,
                            help="retry failed events received within this many days (0: none)")

    def handle(self, *args, **options):
        days = options["retry_days"]
        since = timezone.now() - datetime.timedelta(days=days) if days else None
        counts = stripe_events_apply(retry_failed_since=since)
        self.stdout.write("Stripe events: " + (", ".join(f"{n:,} {status}" for status, n in sorted(counts.items()))
                                               or "none waiting"))
        if counts.get("failed"):
            self.stderr.write("Some events failed again: see Money → Stripe events for their errors.")
