import datetime

from django.core.management.base import BaseCommand
from django.utils import timezone

from donations import services


class Command(BaseCommand):
    help = ("Re-read a day's payments from Stripe and bring our gifts up to date (status, fee, refunds), "
            "so that a webhook outage loses nothing. Safe to run any number of times.")

    def add_arguments(self, parser):
        parser.add_argument("--date", help="The day to re-sync (YYYY-MM-DD). Default: yesterday.")

    def handle(self, *args, date=None, **options):
        day = datetime.date.fromisoformat(date) if date else timezone.localdate() - datetime.timedelta(days=1)
        counts = services.donations_resync_day(day=day)
        self.stdout.write(f"{day}: {counts['seen']} payments at Stripe, {counts['ours']} ours, "
                          f"{counts['updated']} brought up to date.")
