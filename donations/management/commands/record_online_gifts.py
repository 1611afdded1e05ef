from django.core.management.base import BaseCommand

from donations.services import online_gifts_record


class Command(BaseCommand):
    help = ("Record the gifts taken online that no task has recorded yet (their donors, consent, Gift Aid "
            "declarations, campaigns, totals and receipts), including any the card processor never answered "
            "for after ten minutes (run every ten minutes: a safety net for the task worker). Safe to run often "
            "and on several machines at once.")

    def handle(self, *args, **options):
        counts = online_gifts_record()
        self.stdout.write("Online gifts: " + (", ".join(f"{n:,} {outcome}" for outcome, n in sorted(counts.items()))
                                              or "none waiting"))
        if counts.get("failed"):
            self.stderr.write("Some gifts could not be recorded: the log says why; they wait for the next run.")
