from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone


from donations import selectors, tax_years


class Command(BaseCommand):
    help = (
        "Email every supporter who gave in a tax year their giving statement for it (those with an email "
        "address, not erased), one task per supporter on the task queue. Safe to run again: each supporter "
        "gets one statement per tax year, and a rerun queues only those not yet sent."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tax-year", type=int, required=True,
                            help="The year the tax year starts: 2025 for 6 April 2025 to 5 April 2026.")

    def handle(self, *args, tax_year, **options):
        from donations.tasks import send_annual_statement

        year = tax_years.TaxYear(tax_year)
        if year.last_day >= timezone.localdate():
            raise CommandError(f"The {year.label} tax year is not over until {year.last_day:%-d %B %Y}: "
                               "send its statements after that.")
        already = selectors.statement_supporters(tax_year=year).count()
        queued = 0
        for supporter_id in selectors.statement_supporters_to_send(tax_year=year).values_list("pk", flat=True):
            send_annual_statement.enqueue(supporter_id=supporter_id, tax_year=year.start_year)
            queued += 1
        self.stdout.write(f"Tax year {year.label}: queued {queued} statement{'s' if queued != 1 else ''}; "
                          f"{already - queued} already sent.")
