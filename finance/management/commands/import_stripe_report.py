"""import_stripe_report FILE: Stripe's itemised payout reconciliation report
(payout_reconciliation.itemized.5, as CSV), imported whole or not at all."""

import os

from django.core.management.base import BaseCommand, CommandError

from config.errors import ApplicationError
from finance.services import stripe_report


class Command(BaseCommand):
    help = ("Import Stripe's itemised payout reconciliation report (CSV): its payouts and their lines, matched to "
            "gifts. The whole file or nothing; a re-import changes nothing. Prints a one-line summary; exits 1, "
            "naming each problem's line and column, for a file it cannot import.")

    def add_arguments(self, parser):
        parser.add_argument("file", help="The report's CSV file, as Stripe's dashboard downloads it.")

    def handle(self, *args, file, **options):
        try:
            size = os.path.getsize(file)
        except OSError as error:
            raise CommandError(f"Cannot read {file}: {error.strerror}.") from None
        try:
            stripe_report.check_size(size)  # before reading a byte of it
            with open(file, "rb") as handle:
                data = handle.read()
            summary = stripe_report.stripe_report_import(data=data, filename=os.path.basename(file), by=None)
        except stripe_report.StripeReportError as error:
            if error.problem_count > 1:
                for problem in error.problems:
                    self.stderr.write(str(problem))
                hidden = error.problem_count - len(error.problems)
                if hidden:
                    self.stderr.write(f"… and {hidden} more.")
            raise CommandError(f"{os.path.basename(file)} was not imported, and nothing of it was saved. "
                               f"{error.message}") from None
        except ApplicationError as error:
            raise CommandError(f"{os.path.basename(file)} was not imported, and nothing of it was saved. "
                               f"{error.message}") from None
        self.stdout.write(str(summary))
