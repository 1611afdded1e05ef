"""Paying-in batches of offline gifts: cheques on one paying-in slip, a cash
count, a month's standing orders, a CAF or voucher payment, another platform's
payout. A batch is opened with what its slip (or the bank credit) says it holds,
its gifts are keyed in one by one, and it closes only when they add up to it
exactly, count and pence; a closed batch is then matched to one bank credit
(finance.services.bank), or was opened from one.

Each gift is recorded through donations' service (`donation_record_offline`),
and withdrawn through it (`donation_offline_withdraw`) if it was keyed in error,
in the same transaction as its place in the batch. Every change locks the batch
row, so two people keying into one batch at once keep its count right."""

import datetime

from django.db import IntegrityError, transaction
from django.db.models import F, Max
from django.utils import timezone

from campaigns.models import Appeal, Campaign
from config.errors import ApplicationError
from config.money import format_pence
from donations import services as donation_services
from donations.models import Donation
from finance import selectors
from finance.models import BankLine, PayingInBatch, PayingInBatchGift
from finance.services import months
from supporters.models import Supporter

# A slip may be dated a few weeks ahead (standing orders due on the 1st); never further.
FURTHEST_AHEAD_DAYS = 31


def _check_month_open(day: datetime.date) -> None:
    if months.month_is_closed(day):
        raise ApplicationError(f"The books for {day:%B %Y} are closed: reopen the month to change its batches.")


def _check_details(*, banking_date: datetime.date, method: str, expected_count: int,
                   expected_total_pence: int) -> None:
    if method not in PayingInBatch.Method.values:
        raise ApplicationError("Choose how the money came (cheques, cash, a bank transfer…).", field="method")
    if banking_date > timezone.localdate() + datetime.timedelta(days=FURTHEST_AHEAD_DAYS):
        raise ApplicationError(f"The banking date is more than {FURTHEST_AHEAD_DAYS} days ahead: enter the day "
                               f"it is paid in.", field="banking_date")
    if expected_count < 1:
        raise ApplicationError("A batch holds at least one gift.", field="expected_count")
    if expected_total_pence <= 0:
        raise ApplicationError("Enter the slip's total, above zero.", field="expected_total")
    _check_month_open(banking_date)


def _create(**fields) -> PayingInBatch:
    """The batch with the next number; two people opening batches at once each get their own."""
    for _attempt in range(5):
        number = (PayingInBatch.objects.aggregate(last=Max("number"))["last"] or 0) + 1
        try:
            with transaction.atomic():
                return PayingInBatch.objects.create(number=number, **fields)
        except IntegrityError:  # another batch took the number first
            continue
    raise ApplicationError("Several batches were opened at the same moment: try again.")


@transaction.atomic
def batch_open(*, banking_date: datetime.date, method: str, expected_count: int, expected_total_pence: int,
               reference: str = "", by=None) -> PayingInBatch:
    """Open a batch with the next number, for its gifts to be keyed in."""
    _check_details(banking_date=banking_date, method=method, expected_count=expected_count,
                   expected_total_pence=expected_total_pence)
    return _create(banking_date=banking_date, method=method, reference=" ".join(reference.split())[:120],
                   expected_count=expected_count, expected_total_pence=expected_total_pence, entered_by=by)


@transaction.atomic
def batch_from_bank_credit(*, line: BankLine, method: str, expected_count: int = 1, reference: str = "",
                           by=None) -> PayingInBatch:
    """Record offline gifts from an unmatched bank credit: a batch banked on the
    credit's date, of exactly its amount, tied to the credit from the start (so
    nothing else is matched to it). The credit leaves the exceptions list as
    "offline gifts recorded" while the batch is open, and is matched once the
    batch closes, as any batch is matched to its credit."""
    line = BankLine.objects.select_for_update().get(pk=line.pk)
    if line.paid_in_pence <= 0:
        raise ApplicationError("Money out of the bank is not a gift: only a credit can hold offline gifts.")
    if line.status != BankLine.Status.UNMATCHED:
        raise ApplicationError(f"The credit of {line.date:%d/%m/%Y} is already {line.get_status_display().lower()}.")
    _check_details(banking_date=line.date, method=method, expected_count=expected_count,
                   expected_total_pence=line.paid_in_pence)
    reference = " ".join((reference or line.description).split())[:120]
    batch = _create(banking_date=line.date, method=method, reference=reference, expected_count=expected_count,
                    expected_total_pence=line.paid_in_pence, entered_by=by, bank_line=line)
    line.status, line.note = BankLine.Status.OFFLINE_GIFTS, f"Paying-in batch {batch.number}"
    line.resolved_by, line.resolved_at = by, timezone.now()
    line.save(update_fields=["status", "note", "resolved_by", "resolved_at"])
    return batch


def _locked(batch: PayingInBatch) -> PayingInBatch:
    return PayingInBatch.objects.select_for_update(of=("self",)).select_related("bank_line").get(pk=batch.pk)


def _locked_open(batch: PayingInBatch) -> PayingInBatch:
    batch = _locked(batch)
    if batch.status != PayingInBatch.Status.OPEN:
        raise ApplicationError(f"Batch {batch.number} is closed: reopen it to change its gifts.")
    _check_month_open(batch.banking_date)
    return batch


@transaction.atomic
def batch_update(*, batch: PayingInBatch, banking_date: datetime.date, method: str, expected_count: int,
                 expected_total_pence: int, reference: str = "", by=None) -> PayingInBatch:
    """Correct an open batch's details (a slip's total mistyped). A batch opened
    from a bank credit keeps the credit's date and amount."""
    batch = _locked_open(batch)
    if batch.bank_line_id and (banking_date != batch.banking_date or expected_total_pence != batch.expected_total_pence):
        raise ApplicationError(f"Batch {batch.number} was opened from the bank credit of "
                               f"{batch.bank_line.date:%d/%m/%Y}: its date and total are the credit's.",
                               field="expected_total" if expected_total_pence != batch.expected_total_pence
                               else "banking_date")
    _check_details(banking_date=banking_date, method=method, expected_count=expected_count,
                   expected_total_pence=expected_total_pence)
    if method == PayingInBatch.Method.PLATFORM and batch.method != method and \
            batch.gifts.filter(donation__gift_aid_declared=True).exists():
        raise ApplicationError("Some gifts in the batch are marked for Gift Aid, which a platform claims itself: "
                               "remove them first.", field="method")
    batch.banking_date, batch.method, batch.expected_count = banking_date, method, expected_count
    batch.expected_total_pence, batch.reference = expected_total_pence, " ".join(reference.split())[:120]
    batch.save(update_fields=["banking_date", "method", "expected_count", "expected_total_pence", "reference"])
    return batch


@transaction.atomic
def batch_gift_add(*, batch: PayingInBatch, supporter: Supporter | None, amount_pence: int,
                   campaign: Campaign | None = None, appeal: Appeal | None = None, gift_aid_declared: bool = False,
                   received_on: datetime.date | None = None, note: str = "", by=None) -> PayingInBatchGift:
    """Record one gift of the batch (through donations' `donation_record_offline`:
    it counts in its campaign's totals and goes on the supporter's timeline at
    once) and give it the next place in the batch, in one transaction. Received
    on the banking date unless said otherwise (never a day still to come).
    Locks the batch. Raises ApplicationError, saving nothing, naming the field."""
    batch = _locked_open(batch)
    if supporter is None:
        raise ApplicationError("Give the supporter: their reference, or search by name, postcode or email.",
                               field="supporter")
    if supporter.is_erased:
        raise ApplicationError(f"Supporter {supporter.reference} has been erased: gifts cannot be recorded "
                               f"against them.", field="supporter")
    if appeal is not None and campaign is not None and appeal.campaign_id != campaign.pk:
        raise ApplicationError(f"Appeal {appeal.code} is part of {appeal.campaign}, not {campaign}.", field="appeal")
    if gift_aid_declared and batch.method == PayingInBatch.Method.PLATFORM:
        raise ApplicationError("The platform claims Gift Aid on the gifts it takes: leave Gift Aid unticked.",
                               field="gift_aid_declared")
    received_on = received_on or min(batch.banking_date, timezone.localdate())
    _check_month_open(received_on)
    donation = donation_services.donation_record_offline(
        supporter=supporter, amount_pence=amount_pence, received_on=received_on, channel=Donation.Channel.OFFLINE,
        campaign=campaign, appeal=appeal, gift_aid_declared=gift_aid_declared,
        # A platform claims Gift Aid on what it takes: never in a claim of ours, whatever the donor declared to us.
        gift_aid_claimed_by=(batch.reference or "Another platform") if batch.method == PayingInBatch.Method.PLATFORM
        else "",
        note=note or f"Paying-in batch {batch.number} ({batch.get_method_display()})", by=by)
    position = (batch.gifts.aggregate(last=Max("position"))["last"] or 0) + 1
    return PayingInBatchGift.objects.create(batch=batch, donation=donation, position=position)


@transaction.atomic
def batch_gift_remove(*, gift: PayingInBatchGift, reason: str = "keyed in error", by=None) -> Donation:
    """Take a gift keyed in error out of an open batch: the gift is withdrawn
    through donations' `donation_offline_withdraw` (it no longer counts, and is
    kept, marked withdrawn, for the audit trail) and the places after it move
    up. Locks the batch; refused once the batch is closed."""
    batch = _locked_open(gift.batch)
    gift = PayingInBatchGift.objects.select_related("donation").get(pk=gift.pk, batch=batch)
    donation = donation_services.donation_offline_withdraw(
        donation=gift.donation, reason=f"{reason} (paying-in batch {batch.number}, gift {gift.position})", by=by)
    gift.delete()
    batch.gifts.filter(position__gt=gift.position).update(position=F("position") - 1)
    return donation


def _difference(count: int, expected_count: int, total: int, expected_total: int) -> str:
    parts = []
    if count != expected_count:
        more = count > expected_count
        parts.append(f"{count} gift{'s' if count != 1 else ''}, {abs(count - expected_count)} "
                     f"{'more' if more else 'fewer'} than the {expected_count} expected")
    if total != expected_total:
        parts.append(f"{format_pence(total)}, {format_pence(abs(total - expected_total))} "
                     f"{'more' if total > expected_total else 'less'} than the {format_pence(expected_total)} expected")
    return " and ".join(parts)


@transaction.atomic
def batch_close(*, batch: PayingInBatch, by=None) -> PayingInBatch:
    """Close a batch whose gifts add up to it exactly, in number and to the
    penny; otherwise refuse, saying by how much they differ. A batch opened
    from a bank credit is then matched to it. Locks the batch."""
    batch = _locked_open(batch)
    figures = selectors.batch_figures(batch)
    if not figures.adds_up:
        raise ApplicationError(f"Batch {batch.number} does not add up yet: it holds "
                               f"{_difference(figures.count, batch.expected_count, figures.total_pence, batch.expected_total_pence)}.")
    now = timezone.now()
    batch.status, batch.closed_by, batch.closed_at = PayingInBatch.Status.CLOSED, by, now
    batch.save(update_fields=["status", "closed_by", "closed_at"])
    if batch.bank_line_id:
        line = BankLine.objects.select_for_update().get(pk=batch.bank_line_id)
        line.status, line.resolved_by, line.resolved_at = BankLine.Status.MATCHED, by, now
        line.save(update_fields=["status", "resolved_by", "resolved_at"])
    return batch


@transaction.atomic
def batch_reopen(*, batch: PayingInBatch, by=None) -> PayingInBatch:
    """Reopen a closed batch to correct it, as long as it is not matched to the
    bank (undo the match first: the credit would no longer be explained)."""
    batch = _locked(batch)
    if batch.status != PayingInBatch.Status.CLOSED:
        raise ApplicationError(f"Batch {batch.number} is already open.")
    if batch.bank_line_id:
        line = batch.bank_line
        raise ApplicationError(f"Batch {batch.number} is matched to the bank credit of {line.date:%d/%m/%Y} "
                               f"({format_pence(line.paid_in_pence)}): undo the match before reopening it.")
    _check_month_open(batch.banking_date)
    batch.status, batch.closed_by, batch.closed_at = PayingInBatch.Status.OPEN, None, None
    batch.save(update_fields=["status", "closed_by", "closed_at"])
    return batch


@transaction.atomic
def batch_discard(*, batch: PayingInBatch, by=None) -> None:
    """Delete an open batch that holds no gift (opened in error); a bank credit
    it was opened from goes back on the exceptions list."""
    batch = _locked_open(batch)
    if batch.gifts.exists():
        raise ApplicationError(f"Batch {batch.number} holds gifts: only an empty batch can be discarded.")
    if batch.bank_line_id:
        BankLine.objects.filter(pk=batch.bank_line_id).update(
            status=BankLine.Status.UNMATCHED, note="", resolved_by=by, resolved_at=timezone.now())
    batch.delete()
