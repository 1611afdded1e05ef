import datetime

import stripe
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from donations import stripe_gateway
from finance.services import payouts


def _date(text: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"--since must be a date as YYYY-MM-DD, not “{text}”.") from None


class Command(BaseCommand):
    help = ("Fetch Stripe's payouts made since a day, and each paid one's balance transactions, and match them "
            "to our gifts. Safe to run any number of times (a webhook outage loses nothing).")

    def add_arguments(self, parser):
        parser.add_argument("--since", required=True, type=_date, help="The first day (YYYY-MM-DD).")

    def handle(self, *args, since, **options):
        try:
            stripe_gateway.check_configured()
            counts = payouts.payouts_sync(since=since)
        except ImproperlyConfigured as error:
            raise CommandError(str(error)) from error
        except stripe.StripeError as error:
            raise CommandError(f"Stripe did not answer: {error.user_message or error}") from error
        self.stdout.write(f"Since {since:%d %b %Y}: {counts['payouts']} payouts, {counts['lines']} balance "
                          f"transactions recorded.")
