import datetime

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from donations.services import monthly


class Command(BaseCommand):
    help = (
        "Charge the monthly gifts that are due (and retry failed ones that are due again). "
        "Safe to run as often as you like and from several machines at once: each month is charged once."
    )

    def add_arguments(self, parser):
        parser.add_argument("--date", help="Run as if today were this date (YYYY-MM-DD). Default: today.")
        parser.add_argument("--enqueue", action="store_true", help="Put the run on the task queue instead.")

    def handle(self, *args, date=None, enqueue=False, **options):
        if enqueue:
            from donations.tasks import charge_monthly_gifts

            result = charge_monthly_gifts.enqueue(date=date)
            self.stdout.write(f"Queued the monthly run as task {result.id}.")
            return
        today = datetime.date.fromisoformat(date) if date else None
        try:
            results = monthly.monthly_charges_run(today=today)
        except ImproperlyConfigured as error:
            raise CommandError(
                f"{error} Nothing was written or charged. Set the Stripe variables (see README.md); with "
                "`make run`'s local Stripe, run this while `make run` is running."
            ) from None
        self.stdout.write(
            f"Scheduled {results['scheduled']}, succeeded {results.get('succeeded', 0)}, "
            f"failed {results.get('failed', 0)}, skipped {results.get('skipped', 0)}, "
            f"interrupted {results.get('interrupted', 0)}, left to another worker {results.get('busy', 0)}."
        )
        if results.get("interrupted"):
            self.stderr.write(
                f"{results['interrupted']} charge(s) did not reach Stripe or had no answer; each says why in its "
                "“Last error” and is retried, with the same idempotency key, on the next run."
            )
