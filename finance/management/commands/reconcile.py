import datetime

from django.core.management.base import BaseCommand, CommandError

from config.money import format_pence
from finance.models import Payout
from finance.services.reconcile import reconcile


def _month(text: str) -> datetime.date:
    try:
        return datetime.datetime.strptime(text, "%Y-%m").date()
    except ValueError:
        raise CommandError(f"--month must be YYYY-MM, not “{text}”.") from None


class Command(BaseCommand):
    help = ("Match Stripe's lines to gifts and bank credits to payouts and batches (only exact, certain matches), "
            "then print what is matched, what is left, and each payout's unexplained difference.")

    def add_arguments(self, parser):
        parser.add_argument("--month", type=_month, help="Only this month's exceptions (YYYY-MM).")

    def handle(self, *args, month=None, **options):
        result = reconcile(month=month)
        found = result.exceptions
        matched = Payout.objects.filter(bank_line__isnull=False).count()
        self.stdout.write(
            f"{'All months' if month is None else f'{month:%B %Y}'}: {result.lines_matched_now} Stripe lines and "
            f"{result.bank_matches_now} bank credits matched now ({matched} payouts matched in all); "
            f"{found.count} exceptions: {len(found.lines_without_gift)} Stripe lines with no gift, "
            f"{len(found.gifts_not_paid_out)} gifts in no payout after 7 days, "
            f"{len(found.after_gift_aid_claim)} refunds or disputes after a Gift Aid claim, "
            f"{len(found.unmatched_credits)} unmatched bank credits, {len(found.payouts_not_in_bank)} payouts not in "
            f"the bank, {len(result.to_choose)} matches to choose.")
        for payout, difference in found.payouts_not_adding_up:
            self.stdout.write(f"  {payout.stripe_payout_id} ({payout.arrival_date:%d/%m/%Y}, {payout.amount_display}): "
                              f"{format_pence(difference)} unexplained")
