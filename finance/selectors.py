"""Finance's reads: a payout's figures by category and what does not add up,
the bank credits a payout or batch could match, and the exceptions Finance
works through. Gifts are read through donations.selectors and models, never
written here."""

import dataclasses
import datetime
from collections import defaultdict

from django.db.models import Case, Count, Exists, OuterRef, Q, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from donations.models import Donation, GiftAidAdjustment, GiftAidClaim, GiftAidClaimedGift
from donations.services import gift_aid_rules
from finance import working_days
from finance.models import BankLine, PayingInBatch, PayingInBatchGift, Payout, PayoutLine
from finance.services.payouts import GIFT_CATEGORIES

# The order and names of Stripe's reporting categories on a payout's page.
CATEGORY_LABELS = {
    "charge": "Gifts (charges)",
    "refund": "Refunds",
    "refund_failure": "Refunds that failed",
    "dispute": "Disputes",
    "dispute_reversal": "Disputes won",
    "fee": "Stripe fees (Radar and others)",
    "other_adjustment": "Adjustments",
}
UNPAID_AFTER_DAYS = 7  # a card gift is normally paid out within a week
MATCH_WINDOW_WORKING_DAYS = 3


@dataclasses.dataclass
class CategoryFigures:
    category: str
    label: str
    count: int = 0
    amount_pence: int = 0
    fee_pence: int = 0
    net_pence: int = 0


@dataclasses.dataclass
class PayoutFigures:
    """A payout's lines summed by reporting category; `difference_pence` is what
    the lines do not explain (zero when they add up to the payout to the penny)."""

    payout: Payout
    categories: list[CategoryFigures]
    gross_pence: int
    fees_pence: int
    net_pence: int
    difference_pence: int
    unmatched_lines: list[PayoutLine]

    @property
    def adds_up(self) -> bool:
        return self.difference_pence == 0


def lines_without_gift():
    """Payout lines about a gift (a charge, refund or dispute) with no gift of
    ours linked and no explanation from Finance."""
    return PayoutLine.objects.filter(donation__isnull=True, reporting_category__in=GIFT_CATEGORIES, resolution="")


def payout_figures(payout: Payout) -> PayoutFigures:
    rows = (PayoutLine.objects.filter(payout=payout).order_by().values("reporting_category")
            .annotate(amount=Sum("amount_pence"), fee=Sum("fee_pence"), net=Sum("net_pence"),
                      count=Count("id")))
    by_category = {}
    for row in rows:
        category = row["reporting_category"]
        by_category[category] = CategoryFigures(category, CATEGORY_LABELS.get(category, category.replace("_", " ")),
                                                row["count"], row["amount"] or 0, row["fee"] or 0, row["net"] or 0)
    ordered = [by_category.pop(name) for name in list(CATEGORY_LABELS) if name in by_category]
    categories = ordered + sorted(by_category.values(), key=lambda figures: figures.category)
    net = sum(figures.net_pence for figures in categories)
    unmatched = list(lines_without_gift().filter(payout=payout))
    return PayoutFigures(
        payout=payout, categories=categories,
        gross_pence=sum(f.amount_pence for f in categories if f.category == "charge"),
        fees_pence=sum(f.fee_pence for f in categories) - sum(f.amount_pence for f in categories if f.category == "fee"),
        net_pence=net, difference_pence=payout.amount_pence - net if payout.lines_fetched_at else 0,
        unmatched_lines=unmatched)


def payouts_not_adding_up(payouts=None) -> list[tuple[Payout, int]]:
    """Payouts with their lines whose nets do not sum to the payout: (payout, difference)."""
    payouts = payouts if payouts is not None else Payout.objects.filter(status=Payout.Status.PAID,
                                                                         lines_fetched_at__isnull=False)
    sums = dict(PayoutLine.objects.filter(payout__in=payouts).order_by().values("payout_id")
                .annotate(net=Sum("net_pence")).values_list("payout_id", "net"))
    return [(payout, payout.amount_pence - (sums.get(payout.pk) or 0)) for payout in payouts
            if payout.amount_pence != (sums.get(payout.pk) or 0)]


# --- the bank ----------------------------------------------------------------------

def unmatched_credits_by_amount() -> dict[int, list[BankLine]]:
    """Every unmatched bank credit, by its amount (for matching many at once)."""
    by_amount = defaultdict(list)
    for line in BankLine.objects.filter(status=BankLine.Status.UNMATCHED, paid_in_pence__gt=0).order_by("date", "pk"):
        by_amount[line.paid_in_pence].append(line)
    return by_amount


def credit_candidates(*, amount_pence: int, expected_on: datetime.date, reference: str = "",
                      credits_by_amount: dict[int, list[BankLine]]) -> list[BankLine]:
    """Of the unmatched credits (unmatched_credits_by_amount), those of exactly the
    amount within three working days of the day expected; those naming the
    reference if any does, nearest the day first."""
    start = working_days.add(expected_on, -MATCH_WINDOW_WORKING_DAYS)
    end = working_days.add(expected_on, MATCH_WINDOW_WORKING_DAYS)
    credits = [line for line in credits_by_amount.get(amount_pence, ()) if start <= line.date <= end]
    reference = reference.strip().lower()
    named = [line for line in credits if reference and reference in line.description.lower()]
    if named:
        credits = named
    return sorted(credits, key=lambda line: (abs((line.date - expected_on).days), line.pk))


def payouts_awaiting_bank():
    return Payout.objects.filter(status=Payout.Status.PAID, bank_line__isnull=True).order_by("arrival_date", "pk")


def batches_awaiting_bank():
    return PayingInBatch.objects.filter(status=PayingInBatch.Status.CLOSED, bank_line__isnull=True).order_by(
        "banking_date", "number")


# --- paying-in batches -------------------------------------------------------------

@dataclasses.dataclass
class BatchFigures:
    """What a batch holds so far against what its slip says: it adds up when
    both the count and the total are exactly as expected."""

    batch: PayingInBatch
    count: int
    total_pence: int

    @property
    def count_to_go(self) -> int:
        return self.batch.expected_count - self.count

    @property
    def pence_to_go(self) -> int:
        return self.batch.expected_total_pence - self.total_pence

    @property
    def count_over(self) -> int:
        return max(0, -self.count_to_go)

    @property
    def adds_up(self) -> bool:
        return self.count_to_go == 0 and self.pence_to_go == 0


def batch_figures(batch: PayingInBatch) -> BatchFigures:
    sums = PayingInBatchGift.objects.filter(batch=batch).aggregate(count=Count("id"), total=Sum("donation__amount_pence"))
    return BatchFigures(batch, sums["count"] or 0, sums["total"] or 0)


def batches_listed():
    """Every batch, open ones first, each with its gifts' count and total so far."""
    return (PayingInBatch.objects.annotate(
        gift_count=Count("gifts"), gifts_pence=Coalesce(Sum("gifts__donation__amount_pence"), 0),
        is_open=Case(When(status=PayingInBatch.Status.OPEN, then=Value(0)), default=Value(1)))
        .select_related("entered_by", "bank_line").order_by("is_open", "-number"))


def batch_gifts(batch: PayingInBatch):
    """The batch's gifts, the last keyed first, with what the table shows of each."""
    return (PayingInBatchGift.objects.filter(batch=batch)
            .select_related("donation__supporter", "donation__campaign", "donation__appeal").order_by("-position"))


def batch_gift_aid_warnings(batch: PayingInBatch) -> dict[int, str]:
    """For the batch's gifts marked for Gift Aid that a claim could not include
    as things stand (no declaration on the donor's record covers them, or it
    lacks a detail HMRC needs): the reason, by donation id."""
    declared = Donation.objects.filter(paying_in_batch__batch=batch, gift_aid_declared=True)
    return {gift.id: verdict.reason for gift, verdict in gift_aid_rules.verdicts_for(declared)
            if verdict.status in (gift_aid_rules.NOT_ELIGIBLE, gift_aid_rules.NEEDS_DATA)}


def credits_for_offline_gifts(*, limit: int = 20) -> list[BankLine]:
    """Recent bank credits nothing explains yet, from which offline gifts can be recorded."""
    return list(BankLine.objects.filter(status=BankLine.Status.UNMATCHED, paid_in_pence__gt=0)
                .select_related("account").order_by("-date", "-id")[:limit])


# --- exceptions ----------------------------------------------------------------------

@dataclasses.dataclass
class Exceptions:
    lines_without_gift: list[PayoutLine]
    gifts_not_paid_out: list[Donation]
    after_gift_aid_claim: list[dict]
    payouts_not_adding_up: list[tuple[Payout, int]]
    unmatched_credits: list[BankLine]
    payouts_not_in_bank: list[Payout]

    @property
    def count(self) -> int:
        return (len(self.lines_without_gift) + len(self.gifts_not_paid_out) + len(self.after_gift_aid_claim)
                + len(self.payouts_not_adding_up) + len(self.unmatched_credits) + len(self.payouts_not_in_bank))


def stripe_gifts_not_paid_out(*, today: datetime.date | None = None):
    """Card gifts that succeeded more than seven days ago and are in no payout."""
    today = today or timezone.localdate()
    cutoff = timezone.make_aware(datetime.datetime.combine(today - datetime.timedelta(days=UNPAID_AFTER_DAYS),
                                                           datetime.time()))
    in_payout = PayoutLine.objects.filter(donation_id=OuterRef("pk"), reporting_category="charge")
    return (Donation.objects.filter(stripe_charge_id__isnull=False, paid_at__lt=cutoff,
                                    status__in=Donation.INCOME_STATUSES + (Donation.Status.REFUNDED,))
            .exclude(Exists(in_payout)).select_related("supporter").order_by("paid_at"))


def refunds_after_gift_aid_claim(*, lines=None) -> list[dict]:
    """Refund and dispute lines (of `lines`, by default all) whose gift is in a
    Gift Aid claim already sent to HMRC, each with the adjustment that repays the
    tax (None while outstanding)."""
    sent = GiftAidClaimedGift.objects.filter(
        active=True, claim__status__in=[GiftAidClaim.Status.SUBMITTED, GiftAidClaim.Status.ACCEPTED])
    lines = ((lines if lines is not None else PayoutLine.objects.all())
             .filter(reporting_category__in=("refund", "dispute"), donation__isnull=False,
                     donation_id__in=sent.values("donation_id"))
             .select_related("donation", "payout").order_by("stripe_created_at"))
    claimed = {row.donation_id: row for row in sent.filter(donation_id__in=[line.donation_id for line in lines])
               .select_related("claim")}
    adjustments = defaultdict(list)
    for adjustment in GiftAidAdjustment.objects.filter(claimed_gift__in=claimed.values()).select_related("claim"):
        adjustments[adjustment.claimed_gift_id].append(adjustment)
    return [{"line": line, "claimed": claimed[line.donation_id],
             "adjustments": adjustments.get(claimed[line.donation_id].pk, [])} for line in lines]


def finance_exceptions(*, today: datetime.date | None = None, month: datetime.date | None = None) -> Exceptions:
    """Everything that does not reconcile, in one place (optionally one month's)."""
    today = today or timezone.localdate()
    lines = lines_without_gift()
    credits = BankLine.objects.filter(status=BankLine.Status.UNMATCHED, paid_in_pence__gt=0)
    payouts = payouts_awaiting_bank().filter(arrival_date__lt=working_days.add(today, -MATCH_WINDOW_WORKING_DAYS))
    gifts = stripe_gifts_not_paid_out(today=today)
    paid = Payout.objects.filter(status=Payout.Status.PAID, lines_fetched_at__isnull=False)
    refunds = PayoutLine.objects.all()
    if month is not None:
        end = (month + datetime.timedelta(days=32)).replace(day=1)
        lines = lines.filter(payout__arrival_date__gte=month, payout__arrival_date__lt=end)
        credits = credits.filter(date__gte=month, date__lt=end)
        payouts = payouts.filter(arrival_date__gte=month, arrival_date__lt=end)
        gifts = gifts.filter(Q(paid_at__date__gte=month) & Q(paid_at__date__lt=end))
        paid = paid.filter(arrival_date__gte=month, arrival_date__lt=end)
        refunds = refunds.filter(payout__arrival_date__gte=month, payout__arrival_date__lt=end)
    return Exceptions(
        lines_without_gift=list(lines.select_related("payout")[:500]),
        gifts_not_paid_out=list(gifts[:500]),
        after_gift_aid_claim=refunds_after_gift_aid_claim(lines=refunds),
        payouts_not_adding_up=payouts_not_adding_up(paid),
        unmatched_credits=list(credits.select_related("account")[:500]),
        payouts_not_in_bank=list(payouts),
    )
