"""Gift Aid claims: built from the eligible gifts (gift_aid_rules decides which),
submitted to HMRC, and settled (the outcome, the repayment, adjustments for
gifts no longer claimable, and direct repayments to HMRC).

A claim is built in one transaction, whole or not at all, a million gifts at a
time: see gift_aid_claim_build."""

import contextlib
import dataclasses
import datetime
import gc
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q, Sum
from django.utils import timezone

from config.errors import ApplicationError
from config.money import format_pence
from donations.models import (
    Donation,
    GiftAidAdjustment,
    GiftAidClaim,
    GiftAidClaimedGift,
    GiftAidClaimRow,
    GiftAidDirectRepayment,
    GiftAidSmallDonation,
)
from donations.services.gift_aid_rules import (
    AGGREGATED_ROW_MAX_PENCE,
    CLAIMABLE_STATUSES,
    ELIGIBLE,
    NEEDS_DATA,
    SMALL_DONATIONS_CLAIM_YEARS,
    SMALL_DONATIONS_MATCHING_MULTIPLE,
    SMALL_DONATIONS_YEARLY_LIMIT_PENCE,
    accounting_period_end,
    claimable_gifts,
    clean_house,
    clean_name,
    clean_postcode,
    clean_title,
    declaration_facts,
    tax_on,
    verdicts_for,
    with_given_on,
)
from donations.tax_years import tax_year_end_year
from supporters.models import GiftAidDeclaration


def _gift_aid_claimed_in_tax_year(year_end: int, extra: dict[int, int]) -> int:
    """Gift Aid gifts claimed (in claims not rejected) that were received in the tax
    year ending 5 April `year_end`, with `extra` (this claim's, by tax year)."""
    start = timezone.make_aware(datetime.datetime(year_end - 1, 4, 6))
    end = timezone.make_aware(datetime.datetime(year_end, 4, 6))
    claimed = (GiftAidClaimedGift.objects.filter(active=True, donation__paid_at__gte=start, donation__paid_at__lt=end)
               .aggregate(total=Sum("amount_pence"))["total"] or 0)
    return claimed + extra.get(year_end, 0)


def _small_donations_for(claim: GiftAidClaim, *, paid_before: datetime.datetime, gift_aid_by_year: dict[int, int],
                         today: datetime.date) -> list[GiftAidSmallDonation]:
    """The small donations this claim can take under GASDS: marked as such, paid,
    not claimed before, not covered by a Gift Aid declaration (those are Gift
    Aid's), within two years of their tax year's end; whole gifts in the order
    received while each tax year's room lasts, the room being the lower of
    £8,000 and ten times the Gift Aid gifts claimed for that year, less what
    earlier claims took. Never more: what does not fit waits for a later claim
    of the same year (as more Gift Aid for it is claimed)."""
    candidates = (Donation.objects.filter(small_donation=True, status__in=CLAIMABLE_STATUSES, paid_at__lt=paid_before,
                                          gift_aid_claimed_by="")
                  .exclude(Exists(GiftAidSmallDonation.objects.filter(donation_id=OuterRef("pk"), active=True)))
                  .exclude(Exists(GiftAidClaimedGift.objects.filter(donation_id=OuterRef("pk"), active=True))))
    covered = {gift.id for gift, verdict in verdicts_for(candidates.filter(supporter__isnull=False), today=today,
                                                         unclaimed_only=True)
               if verdict.status in (ELIGIBLE, NEEDS_DATA)}
    rows = (with_given_on(candidates).order_by("paid_at", "id")
            .values_list("id", "given_on", "amount_pence", "refunded_pence"))
    room: dict[int, int] = {}
    taken = []
    for donation_id, given_on, amount, refunded in rows:
        year = tax_year_end_year(given_on)
        kept = amount - refunded
        if donation_id in covered or kept <= 0 or today > datetime.date(year + SMALL_DONATIONS_CLAIM_YEARS, 4, 5):
            continue
        if year not in room:
            already = (GiftAidSmallDonation.objects.filter(active=True, tax_year_end=year)
                       .aggregate(total=Sum("amount_pence"))["total"] or 0)
            cap = min(SMALL_DONATIONS_YEARLY_LIMIT_PENCE,
                      SMALL_DONATIONS_MATCHING_MULTIPLE * _gift_aid_claimed_in_tax_year(year, gift_aid_by_year))
            room[year] = max(cap - already, 0)
        if kept <= room[year]:
            room[year] -= kept
            taken.append(GiftAidSmallDonation(claim=claim, donation_id=donation_id, tax_year_end=year,
                                              amount_pence=kept))
    return taken


# --- claims ----------------------------------------------------------------------

@dataclasses.dataclass(slots=True)
class _Row:
    key: tuple
    declaration_id: int | None
    sponsored: bool
    gift_count: int = 0
    amount_pence: int = 0
    last_on: datetime.date | None = None
    first_on: datetime.date | None = None
    id: int | None = None  # the database's, once written

    def add(self, given_on: datetime.date, kept_pence: int) -> None:
        self.gift_count += 1
        self.amount_pence += kept_pence
        if self.last_on is None or given_on > self.last_on:
            self.last_on = given_on
        if self.first_on is None or given_on < self.first_on:
            self.first_on = given_on


class _Claimable(NamedTuple):
    """What a claim keeps of an eligible gift (rather than all its facts: a million of those add up)."""
    id: int
    given_on: datetime.date
    kept_pence: int
    sponsored: bool
    declaration_id: int


def _rows_for(eligible: list[_Claimable]) -> tuple[list[_Row], list[_Row], list[_Row]]:
    """Group eligible gifts into schedule rows: one row per donor (as declared),
    accounting period and sponsored-or-not; gifts of the aggregation threshold or
    less go on aggregated rows of at most £1,000, one accounting period each.
    Returns the donor rows, the aggregated rows, and each gift's row (in the order
    of `eligible`)."""
    threshold = settings.GIFT_AID_AGGREGATE_MAX_PENCE
    periods: dict[datetime.date, datetime.date] = {}  # a year of gifts has at most 366 days

    def period_of(day: datetime.date) -> datetime.date:
        period = periods.get(day)
        if period is None:
            period = periods[day] = accounting_period_end(day)
        return period

    donor_rows: dict[tuple, _Row] = {}
    row_of: list[_Row | None] = [None] * len(eligible)
    small: list[tuple[datetime.date, int, int]] = []  # (day, gift id, index in eligible)
    for index, (gift_id, given_on, kept, sponsored, declaration_id) in enumerate(eligible):
        if threshold and kept <= threshold and not sponsored:
            small.append((given_on, gift_id, index))
            continue
        key = (declaration_id, period_of(given_on), sponsored)
        row = donor_rows.get(key)
        if row is None:
            row = donor_rows[key] = _Row(key=key, declaration_id=declaration_id, sponsored=sponsored)
        row.add(given_on, kept)
        row_of[index] = row
    aggregated: list[_Row] = []
    small.sort()
    current = None
    for given_on, _gift_id, index in small:
        kept = eligible[index].kept_pence
        period = period_of(given_on)
        if current is None or current.key[0] != period or current.amount_pence + kept > AGGREGATED_ROW_MAX_PENCE:
            current = _Row(key=(period, len(aggregated)), declaration_id=None, sponsored=False)
            aggregated.append(current)
        current.add(given_on, kept)
        row_of[index] = current
    return list(donor_rows.values()), aggregated, row_of


def _aggregate_description(row: _Row) -> str:
    count = row.gift_count
    return f"{count} small gift{'s' if count != 1 else ''} {row.first_on:%d/%m/%y}-{row.last_on:%d/%m/%y}"[:35]


# A schedule row's donor: title, first name, last name, house, postcode, overseas.
_NO_DONOR = ("", "", "", "", "", False)  # on aggregated rows


def _donor_identity(identities: dict[int, tuple], declaration_id: int) -> tuple:
    """The declaration's donor as a schedule row shows them (see _NO_DONOR)."""
    (_id, _supporter, _declared, _scope, _cancelled, _method, _sent, first_name, last_name, house, postcode, country,
     title, street, town) = identities[declaration_id]
    overseas = str(country) != "GB"
    if overseas:
        house = clean_house(", ".join(part for part in (house, street, town, postcode, str(country)) if part))
    else:
        house = clean_house(house)
    return (clean_title(title), clean_name(first_name), clean_name(last_name), house,
            "" if overseas else clean_postcode(postcode), overseas)


def _schedule(donor_rows: list[_Row], aggregated_rows: list[_Row], identities: dict[int, tuple]) -> list[tuple]:
    """The rows in schedule order, each with its donor: donor rows by name, then
    declaration, date and sponsored-or-not; then the aggregated rows."""
    donors: dict[int, tuple] = {}  # a donor's rows (one per period, sponsored or not) show the same identity
    schedule = []
    for row in donor_rows:
        who = donors.get(row.declaration_id)
        if who is None:
            who = donors[row.declaration_id] = _donor_identity(identities, row.declaration_id)
        schedule.append((row, who))
    schedule.sort(key=lambda pair: (pair[1][2].lower(), pair[1][1].lower(),
                                    pair[0].declaration_id, pair[0].last_on, pair[0].sponsored))
    schedule += [(row, _NO_DONOR) for row in aggregated_rows]
    return schedule


def _insert(model, fields: list[str], rows: Iterable[tuple]) -> None:
    """Write many rows at once: PostgreSQL's COPY, else executemany. The claim
    builder writes up to a million claimed gifts; model instances would take minutes."""
    table = connection.ops.quote_name(model._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(model._meta.get_field(f).column) for f in fields)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            placeholders = ", ".join(["%s"] * len(fields))
            cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({placeholders})", list(rows))


def _new_ids(model, count: int) -> range:
    """`count` primary keys for new rows of `model`, taken before they are written.
    Only for the claim builder's rows, written nowhere else, and under the claims
    lock: so no one takes from the table's sequence (PostgreSQL) between the two
    calls that move it on; and SQLite lets one transaction write at a time."""
    if not count:
        return range(0)
    table, pk = model._meta.db_table, model._meta.pk.column
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT setval(pg_get_serial_sequence(%s, %s), nextval(pg_get_serial_sequence(%s, %s)) "
                           "+ %s - 1)", [connection.ops.quote_name(table), pk] * 2 + [count])
            (last,) = cursor.fetchone()
            return range(last - count + 1, last + 1)
        cursor.execute(f"SELECT max(id) FROM (SELECT max({connection.ops.quote_name(pk)}) AS id "
                       f"FROM {connection.ops.quote_name(table)} UNION ALL "
                       "SELECT seq FROM sqlite_sequence WHERE name = %s)", [table])
        largest = cursor.fetchone()[0] or 0
        return range(largest + 1, largest + 1 + count)


@contextlib.contextmanager
def _cyclic_gc_paused():
    """A claim holds up to a million small objects until it is written. Reference
    counting frees them; the cyclic collector would only walk them all again and
    again (some 5 s of a million-gift build). Paused for the call, never left paused."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _lock_claims() -> None:
    """One claim is built (or changes state) at a time, so two finance staff
    building at once cannot both take a gift; the unique constraint on claimed
    gifts is the backstop. SQLite already serialises writers."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {GiftAidClaim._meta.db_table} IN SHARE ROW EXCLUSIVE MODE")


def _check_period(period_start: datetime.date, period_end: datetime.date, today: datetime.date) -> None:
    if period_end < period_start:
        raise ApplicationError("The period must end on or after the day it starts.", field="period_end")
    if period_end >= today:
        raise ApplicationError("A claim can only cover days that are over: choose an end date before today.",
                               field="period_end")
    overlapping = (GiftAidClaim.objects.exclude(status=GiftAidClaim.Status.REJECTED)
                   .filter(period_start__lte=period_end, period_end__gte=period_start).first())
    if overlapping:
        raise ApplicationError(
            f"Gifts from {overlapping.period_start:%d %B %Y} to {overlapping.period_end:%d %B %Y} are already in "
            f"claim {overlapping.reference} ({overlapping.get_status_display().lower()}). Choose a period after it.",
            field="period_start")


def _no_longer_claimable(claimed: GiftAidClaimedGift) -> tuple[int, str]:
    """What of a claimed gift HMRC would still allow today, and why it is less
    than was claimed: a refund (or a lost dispute), or a declaration that is now
    void or was cancelled from a date on or before the gift."""
    donation, declaration = claimed.donation, claimed.declaration
    facts = declaration_facts(declaration)
    if facts.void:
        return 0, (f"declaration {declaration.reference} cancelled within "
                   f"{GiftAidDeclaration.ORAL_COOLING_OFF_DAYS} days of its confirmation: void")
    if facts.cancelled_on and facts.cancelled_on <= timezone.localdate(donation.paid_at):
        return 0, f"declaration {declaration.reference} cancelled from {facts.cancelled_on:%d/%m/%Y}, before the gift"
    kept_now = min(claimed.amount_pence, donation.kept_pence)
    return kept_now, f"refunded to {format_pence(kept_now)}"


def gift_aid_adjustments_outstanding() -> list[GiftAidAdjustment]:
    """Tax over-claimed on gifts in submitted or accepted claims and not yet
    repaid to HMRC: the tax claimed, less the tax on what HMRC would allow today
    (after refunds, lost disputes, void or cancelled declarations), less what
    earlier adjustments (in claims not rejected, or repaid directly) already
    repaid. Unsaved, belonging to no claim yet: the claim builder or a direct
    repayment takes them."""
    sent = GiftAidClaimedGift.objects.filter(
        Q(donation__refunded_pence__gt=0) | Q(declaration__cancelled_on__isnull=False),
        active=True, claim__status__in=[GiftAidClaim.Status.SUBMITTED, GiftAidClaim.Status.ACCEPTED],
    ).select_related("donation", "claim", "declaration").order_by("claim_id", "donation_id")
    adjustments = []
    for claimed in sent:
        allowed, why = _no_longer_claimable(claimed)
        repaid = (claimed.adjustments.filter(Q(claim__isnull=True) | ~Q(claim__status=GiftAidClaim.Status.REJECTED))
                  .aggregate(total=Sum("tax_pence"))["total"] or 0)
        over = claimed.tax_pence - tax_on(allowed) - repaid
        if over > 0:
            adjustments.append(GiftAidAdjustment(
                claimed_gift=claimed, tax_pence=over,
                reason=(f"Gift {claimed.donation.reference} ({format_pence(claimed.amount_pence)}, claim "
                        f"{claimed.claim.reference}): {why}")[:255]))
    return adjustments


@transaction.atomic
@_cyclic_gc_paused()
def gift_aid_claim_build(*, period_start: datetime.date, period_end: datetime.date, include_earlier: bool = True,
                         by=None, today: datetime.date | None = None) -> GiftAidClaim:
    """Build a draft claim of every eligible gift received in the period and not
    yet claimed (with `include_earlier`, also earlier gifts still within the
    four-year limit: late declarations, completed details), plus adjustments for
    gifts refunded or no longer covered since an earlier claim. Serialised with other claim changes;
    raises ApplicationError, saving nothing, for a bad or already claimed period
    or when there is nothing to claim."""
    today = today or timezone.localdate()
    _lock_claims()
    _check_period(period_start, period_end, today)
    local_start = timezone.make_aware(datetime.datetime.combine(period_start, datetime.time()))
    local_end = timezone.make_aware(datetime.datetime.combine(period_end + datetime.timedelta(days=1), datetime.time()))
    candidates = claimable_gifts(Donation.objects.filter(paid_at__lt=local_end)).order_by()
    if not include_earlier:
        candidates = candidates.filter(paid_at__gte=local_start)
    identities: dict[int, tuple] = {}  # the donors' names and addresses, read with their declarations
    eligible = [_Claimable(gift.id, gift.given_on, gift.amount_pence - gift.refunded_pence, gift.is_sponsorship,
                           verdict.declaration_id)
                for gift, verdict in verdicts_for(candidates, today=today, unclaimed_only=True, identities=identities)
                if verdict.status == ELIGIBLE]
    eligible.sort()  # by donation: see where the claimed gifts are written
    claim = GiftAidClaim(period_start=period_start, period_end=period_end, built_by=by)
    claim.save()
    adjustments = gift_aid_adjustments_outstanding()
    for adjustment in adjustments:
        adjustment.claim = claim
    if not eligible:
        owed = sum(a.tax_pence for a in adjustments)
        raise ApplicationError(
            f"No gifts from {period_start:%d %B %Y} to {period_end:%d %B %Y} can be claimed: none is eligible "
            "that is not already claimed. Gifts held for missing details are listed under Gift Aid follow-ups."
            + (f" HMRC cannot take a claim of adjustments alone: repay the {format_pence(owed)} over-claimed "
               "directly (Gift Aid claims → Owed to HMRC)." if owed else ""))

    gift_aid_by_year: dict[int, int] = defaultdict(int)
    for gift in eligible:
        gift_aid_by_year[tax_year_end_year(gift.given_on)] += gift.kept_pence
    small_donations = _small_donations_for(claim, paid_before=local_end, gift_aid_by_year=gift_aid_by_year,
                                           today=today)

    donor_rows, aggregated_rows, row_of = _rows_for(eligible)
    rows = donor_rows + aggregated_rows
    for row, row_id in zip(rows, _new_ids(GiftAidClaimRow, len(rows)), strict=True):
        row.id = row_id
    claim_id = claim.pk
    # The rows have their ids before they are written, so the claimed gifts, the
    # longest write and mostly a wait on the database, go first while a thread sorts
    # the schedule. They go in donation order: the database then finds each gift's
    # donation (the foreign key) and fills the indexes on it page after page, rather
    # than all over the table; in schedule order that took twice as long.
    with ThreadPoolExecutor(max_workers=1) as pool:
        scheduling = pool.submit(_schedule, donor_rows, aggregated_rows, identities)
        _insert(GiftAidClaimedGift, ["claim", "row", "donation", "declaration", "amount_pence", "tax_pence",
                                     "active"], (
            (claim_id, row.id, gift.id, gift.declaration_id, gift.kept_pence, tax_on(gift.kept_pence), True)
            for gift, row in zip(eligible, row_of)))
        schedule = scheduling.result()
    _insert(GiftAidClaimRow, ["id", "claim", "number", "title", "first_name", "last_name", "house", "postcode",
                              "overseas", "aggregated", "sponsored", "date", "first_gift_on", "amount_pence"], (
        (row.id, claim_id, number, *who, "" if row.declaration_id else _aggregate_description(row), row.sponsored,
         row.last_on, row.first_on, row.amount_pence)
        for number, (row, who) in enumerate(schedule, start=1)))
    GiftAidAdjustment.objects.bulk_create(adjustments)
    GiftAidSmallDonation.objects.bulk_create(small_donations)

    claim.gift_count = len(eligible)
    claim.row_count = len(schedule)
    claim.gifts_pence = sum(row.amount_pence for row, _who in schedule)
    claim.tax_pence = tax_on(claim.gifts_pence)
    claim.adjustment_pence = sum(a.tax_pence for a in adjustments)
    claim.earliest_gift_on = min(gift.given_on for gift in eligible)
    claim.small_donations_pence = sum(small.amount_pence for small in small_donations)
    claim.small_donations_tax_pence = tax_on(claim.small_donations_pence)
    claim.save()
    if claim.adjustment_pence > claim.tax_pence:
        raise ApplicationError(
            f"The adjustment for gifts refunded or no longer covered since their claim "
            f"({format_pence(claim.adjustment_pence)}) is more than this claim's tax ({format_pence(claim.tax_pence)}): "
            "claim a longer period, or repay HMRC directly (Gift Aid claims → Owed to HMRC).")
    return claim


@transaction.atomic
def gift_aid_direct_repayment_record(*, repaid_on: datetime.date, amount_pence: int, reference: str,
                                     by=None, today: datetime.date | None = None) -> GiftAidDirectRepayment:
    """Record that finance repaid HMRC directly the tax over-claimed that no
    claim carries (see gift_aid_adjustments_outstanding): every outstanding
    adjustment is settled by this repayment, so none returns on a later build.
    The amount must be what is owed, to the penny. Serialised with claim
    changes. Raises ApplicationError, saving nothing, when nothing is owed, or
    for a wrong amount, a future date or no reference."""
    today = today or timezone.localdate()
    _lock_claims()
    owed = gift_aid_adjustments_outstanding()
    total = sum(adjustment.tax_pence for adjustment in owed)
    if not owed:
        raise ApplicationError("Nothing is owed to HMRC: every gift refunded or no longer covered since its claim "
                               "has been adjusted already.")
    if amount_pence != total:
        raise ApplicationError(f"{format_pence(total)} is owed to HMRC for {len(owed)} gift"
                               f"{'s' if len(owed) != 1 else ''}: record a repayment of exactly that.", field="amount")
    if repaid_on > today:
        raise ApplicationError("Record a repayment once it has been made: the date is in the future.",
                               field="repaid_on")
    reference = reference.strip()
    if not reference:
        raise ApplicationError("Give the payment's reference, so HMRC can match it.", field="reference")
    repayment = GiftAidDirectRepayment.objects.create(repaid_on=repaid_on, amount_pence=total, reference=reference,
                                                      recorded_by=by)
    for adjustment in owed:
        adjustment.direct_repayment = repayment
    GiftAidAdjustment.objects.bulk_create(owed)
    return repayment


def _locked(claim: GiftAidClaim) -> GiftAidClaim:
    _lock_claims()
    return GiftAidClaim.objects.select_for_update().get(pk=claim.pk)


def _refuse_if_submitted(claim: GiftAidClaim) -> None:
    if claim.is_locked:
        raise ApplicationError(
            f"Claim {claim.reference} was submitted on {claim.submitted_at:%d %B %Y}; it can no longer be changed.")


@transaction.atomic
def gift_aid_claim_discard(*, claim: GiftAidClaim) -> None:
    """Throw away a draft: its gifts are free for the next claim."""
    claim = _locked(claim)
    _refuse_if_submitted(claim)
    claim.delete()


def _changed_since_build(claim: GiftAidClaim) -> list[str]:
    """Gifts in a draft that are no longer right as claimed: refunded, disputed,
    or their declaration now cancelled as never made."""
    changed = []
    in_claim = claim.gifts.select_related("donation", "declaration")
    for claimed in in_claim.filter(Q(donation__refunded_pence__gt=0) | ~Q(donation__status__in=CLAIMABLE_STATUSES)
                                   | Q(declaration__cancelled_on__isnull=False)):
        donation = claimed.donation
        if donation.status not in CLAIMABLE_STATUSES or donation.kept_pence < claimed.amount_pence:
            changed.append(f"{donation.reference} ({donation.get_status_display().lower()})")
            continue
        allowed, why = _no_longer_claimable(claimed)
        if allowed < claimed.amount_pence:
            changed.append(f"{donation.reference} ({why})")
    return changed


@transaction.atomic
def gift_aid_claim_submit(*, claim: GiftAidClaim, by=None, hmrc_reference: str = "") -> GiftAidClaim:
    """Lock the claim as sent to HMRC. Refuses a claim already submitted, and a
    draft whose gifts changed since it was built (rebuild it)."""
    claim = _locked(claim)
    _refuse_if_submitted(claim)
    changed = _changed_since_build(claim)
    if changed:
        listed = ", ".join(changed[:10]) + (f" and {len(changed) - 10} more" if len(changed) > 10 else "")
        raise ApplicationError(f"{len(changed)} gift{'s' if len(changed) != 1 else ''} changed since this draft was "
                               f"built: {listed}. Discard the draft and build it again.")
    claim.status = GiftAidClaim.Status.SUBMITTED
    claim.submitted_by = by
    claim.submitted_at = timezone.now()
    claim.hmrc_reference = hmrc_reference.strip()
    claim.save()
    return claim


@transaction.atomic
def gift_aid_claim_record_outcome(*, claim: GiftAidClaim, accepted: bool, reason: str = "", by=None,
                                  hmrc_reference: str = "") -> GiftAidClaim:
    """HMRC accepted or rejected a submitted claim. A rejected claim releases its
    gifts (they return to the pool for the next claim) and its adjustments."""
    claim = _locked(claim)
    if claim.status != GiftAidClaim.Status.SUBMITTED:
        raise ApplicationError(f"Claim {claim.reference} is {claim.get_status_display().lower()}: only a submitted "
                               "claim can be marked accepted or rejected.")
    if not accepted and not reason.strip():
        raise ApplicationError("Say why HMRC rejected the claim (their message).", field="reason")
    claim.status = GiftAidClaim.Status.ACCEPTED if accepted else GiftAidClaim.Status.REJECTED
    claim.rejection_reason = "" if accepted else reason.strip()
    claim.outcome_recorded_by = by
    claim.outcome_at = timezone.now()
    if hmrc_reference.strip():
        claim.hmrc_reference = hmrc_reference.strip()
    claim.save()
    if not accepted:
        claim.gifts.update(active=False)
        claim.small_donations.update(active=False)
    return claim


@transaction.atomic
def gift_aid_claim_record_repayment(*, claim: GiftAidClaim, amount_pence: int, received_on: datetime.date,
                                    reference: str = "", by=None) -> GiftAidClaim:
    """HMRC paid the claim. The difference from what was due is kept and shown,
    not hidden: finance follows it up with HMRC."""
    claim = _locked(claim)
    if claim.status not in (GiftAidClaim.Status.SUBMITTED, GiftAidClaim.Status.ACCEPTED):
        raise ApplicationError(f"Claim {claim.reference} is {claim.get_status_display().lower()}: a repayment can "
                               "only be recorded against a submitted or accepted claim.")
    if claim.repayment_pence is not None:
        raise ApplicationError(f"The repayment for claim {claim.reference} was already recorded "
                               f"({format_pence(claim.repayment_pence)} on {claim.repayment_received_on:%d %B %Y}).")
    if amount_pence <= 0:
        raise ApplicationError("Enter the amount HMRC paid.", field="amount")
    if claim.status == GiftAidClaim.Status.SUBMITTED:  # paying it is accepting it
        claim.status = GiftAidClaim.Status.ACCEPTED
        claim.outcome_at = timezone.now()
        claim.outcome_recorded_by = by
    claim.repayment_pence = amount_pence
    claim.repayment_received_on = received_on
    claim.repayment_reference = reference.strip()
    claim.save()
    return claim


