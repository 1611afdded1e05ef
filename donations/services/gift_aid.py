"""Gift Aid: which gifts can carry it, and the claims that ask HMRC for it.

HMRC's rules, as applied here, are in docs/gift-aid.md. Eligibility is
one pure function, `gift_aid_verdict`, over plain facts about a gift and its
donor's declarations, so that the staff screens, the claim builder (a million
gifts at a time) and the submit check all decide alike.
"""

import contextlib
import dataclasses
import datetime
import functools
import gc
from collections import defaultdict
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Exists, F, Min, OuterRef, Q, Sum, Value
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from config.errors import ApplicationError
from config.money import format_pence
from donations import hmrc
from donations.models import (
    Donation,
    GiftAidAdjustment,
    GiftAidClaim,
    GiftAidClaimedGift,
    GiftAidClaimRow,
    GiftAidDirectRepayment,
    GiftAidSmallDonation,
    GiftKind,
    SponsorRelationship,
)
from supporters.models import GiftAidDeclaration

ELIGIBLE = "eligible"
NEEDS_DATA = "needs_data"
NOT_ELIGIBLE = "not_eligible"
CLAIMED = "claimed"

STATUS_LABELS = {
    ELIGIBLE: "Eligible",
    NEEDS_DATA: "Needs data",
    NOT_ELIGIBLE: "Not eligible",
    CLAIMED: "Claimed",
}

AGGREGATED_ROW_MAX_PENCE = 100_000  # HMRC: an aggregated line totals at most £1,000
CLAIM_WINDOW_YEARS = 4
# Plain strings: the verdict compares them a million times a claim.
_CLAIMABLE_STATUSES = (Donation.Status.SUCCEEDED.value, Donation.Status.PARTLY_REFUNDED.value)
_OWN_GIFT = GiftKind.OWN_GIFT.value
_THIS_GIFT = GiftAidDeclaration.Scope.THIS_GIFT.value


# The facts and verdicts are named tuples, not frozen dataclasses: as immutable, and
# some ten times quicker to make, which counts at a million gifts a claim.
class Verdict(NamedTuple):
    status: str
    reason: str = ""
    declaration_id: int | None = None

    @property
    def label(self) -> str:
        return STATUS_LABELS[self.status]


class DeclarationFacts(NamedTuple):
    id: int
    supporter_id: int
    declared_on: datetime.date
    scope: str
    covers_from: datetime.date
    cancelled_on: datetime.date | None
    void: bool
    missing: str  # what HMRC needs and the declaration lacks; "" when complete


class GiftFacts(NamedTuple):
    id: int
    supporter_id: int
    given_on: datetime.date
    amount_pence: int
    refunded_pence: int
    status: str
    currency: str = "gbp"
    gift_kind: str = _OWN_GIFT
    benefit_pence: int = 0
    is_sponsorship: bool = False
    sponsor_relationship: str = ""
    charity_pays_event_costs: bool = True
    claimed_by: str = ""
    declaration_id: int | None = None  # the declaration made with this gift

    @property
    def kept_pence(self) -> int:
        return self.amount_pence - self.refunded_pence


# --- dates --------------------------------------------------------------------

def _on_or_clamped(year: int, month: int, day: int) -> datetime.date:
    try:
        return datetime.date(year, month, day)
    except ValueError:  # 29 February in a common year
        return datetime.date(year, month, 28)


def accounting_period_end(day: datetime.date) -> datetime.date:
    """The last day of the charity's accounting period that contains `day`
    (GIFT_AID_ACCOUNTING_YEAR_END, month and day, e.g. 03-31)."""
    return _accounting_period_end(day, tuple(settings.GIFT_AID_ACCOUNTING_YEAR_END))


def claim_deadline(given_on: datetime.date) -> datetime.date:
    """HMRC: claim within four years of the end of the accounting period in which the gift was received."""
    return _claim_deadline(given_on, tuple(settings.GIFT_AID_ACCOUNTING_YEAR_END))


# Pure, and cached by day and year end: a claim's million gifts fall on a few hundred days.
@functools.lru_cache(maxsize=1 << 12)
def _accounting_period_end(day: datetime.date, year_end: tuple[int, int]) -> datetime.date:
    month, dom = year_end
    end = _on_or_clamped(day.year, month, dom)
    return end if day <= end else _on_or_clamped(day.year + 1, month, dom)


@functools.lru_cache(maxsize=1 << 12)
def _claim_deadline(given_on: datetime.date, year_end: tuple[int, int]) -> datetime.date:
    end = _accounting_period_end(given_on, year_end)
    return _on_or_clamped(end.year + CLAIM_WINDOW_YEARS, end.month, end.day)


def tax_year_start(day: datetime.date) -> datetime.date:
    start = datetime.date(day.year, 4, 6)
    return start if day >= start else datetime.date(day.year - 1, 4, 6)


def tax_on(pence: int) -> int:
    """25p per £1 (basic rate 20%, grossed up), rounded down: never over-claim."""
    return pence * 25 // 100


def benefit_limit_pence(amount_pence: int) -> int:
    """HMRC's limit on a benefit to a donor, for gifts from 6 April 2019."""
    if amount_pence <= 10_000:
        return amount_pence * 25 // 100
    return min(2_500 + (amount_pence - 10_000) * 5 // 100, 250_000)


DONOR_BENEFITS_PER_TAX_YEAR_PENCE = 250_000


# --- the facts ----------------------------------------------------------------

# HMRC's cleaning is pure and works letter by letter; a claim meets the same
# names, house numbers and postcodes thousands of times.
_hmrc_name = functools.lru_cache(maxsize=1 << 16)(hmrc.hmrc_name)
_hmrc_title = functools.lru_cache(maxsize=1 << 10)(hmrc.hmrc_title)
_hmrc_house = functools.lru_cache(maxsize=1 << 16)(hmrc.hmrc_house)
_hmrc_postcode = functools.lru_cache(maxsize=1 << 16)(hmrc.hmrc_postcode)

_DECLARATION_FIELDS = ("id", "supporter_id", "declared_on", "scope", "cancelled_on", "method",
                       "confirmation_sent_on", "first_name", "last_name", "address_house", "postcode", "country")
# The rest of what a claim's schedule row shows of the donor.
_IDENTITY_FIELDS = ("title", "address_street", "address_town")


def declaration_facts(declaration) -> DeclarationFacts:
    """What eligibility needs to know of a declaration (a model instance or a values() dict)."""
    get = declaration.get if isinstance(declaration, dict) else lambda name: getattr(declaration, name)
    return _declaration_facts(*(get(name) for name in _DECLARATION_FIELDS))


def _declaration_facts(declaration_id, supporter_id, declared_on, scope, cancelled_on, method, confirmation_sent_on,
                       first_name, last_name, address_house, postcode, country) -> DeclarationFacts:
    """declaration_facts() from the values of _DECLARATION_FIELDS, in that order."""
    if scope == GiftAidDeclaration.Scope.ALL_GIFTS:
        covers_from = _on_or_clamped(declared_on.year - CLAIM_WINDOW_YEARS, declared_on.month, declared_on.day)
    else:
        covers_from = declared_on
    void = False
    if method == GiftAidDeclaration.Method.ORAL and cancelled_on:
        start = confirmation_sent_on or declared_on
        void = (cancelled_on - start).days <= GiftAidDeclaration.ORAL_COOLING_OFF_DAYS
    return DeclarationFacts(
        id=declaration_id, supporter_id=supporter_id, declared_on=declared_on, scope=scope,
        covers_from=covers_from, cancelled_on=cancelled_on, void=void,
        missing=_missing_details(first_name=first_name, last_name=last_name,
                                 house=address_house, postcode=postcode, country=str(country)),
    )


def _missing_details(*, first_name: str, last_name: str, house: str, postcode: str, country: str) -> str:
    if not _hmrc_name(last_name) or not _hmrc_name(first_name)[:1]:
        return "has no first name (or initial) and last name"
    if not house.strip():
        return "has no house name or number"
    if country == "GB":
        if not postcode.strip():
            return "has no postcode"
        if not hmrc.is_valid_uk_postcode(_hmrc_postcode(postcode)):
            return f"has a postcode that is not a valid UK postcode ({postcode})"
    return ""


def _plain_rows(queryset, chunk_size: int = 20_000) -> Iterator[tuple]:
    """The rows of a values_list() queryset, streamed. On PostgreSQL they arrive in
    chunks while the query still runs (libpq's chunked mode: unlike a server-side
    cursor, what iterator() uses, this keeps parallel workers), without Django's
    per-row converters: for the plain columns, dates and booleans read here
    PostgreSQL already returns the Python values the converters would give.
    Elsewhere, iterator()."""
    if connection.vendor != "postgresql":
        yield from queryset.iterator(chunk_size=chunk_size)
        return
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        rows = cursor.cursor.stream(sql, params, size=chunk_size)
        try:
            for row in rows:
                yield row
        finally:
            for _row in rows:  # a caller that stops early: read to the end, as closing would cancel the query
                pass


def _declarations_by_supporter(supporter_ids, *, identities: dict | None = None) -> dict[int, list[DeclarationFacts]]:
    """Each supporter's declarations, latest first (a later one, or a completed copy, wins).
    With `identities`, also fills it with each declaration's name and address, by id
    (its row of _DECLARATION_FIELDS + _IDENTITY_FIELDS, as _donor_identity reads it)."""
    by_supporter: dict[int, list[DeclarationFacts]] = defaultdict(list)
    fields = _DECLARATION_FIELDS + (_IDENTITY_FIELDS if identities is not None else ())
    rows = (GiftAidDeclaration.objects.filter(supporter_id__in=supporter_ids)
            .order_by("supporter_id", "-declared_on", "-id").values_list(*fields))
    for row in _plain_rows(rows):
        facts = _declaration_facts(*row[:12])
        by_supporter[facts.supporter_id].append(facts)
        if identities is not None:
            identities[facts.id] = row
    return by_supporter


# --- the rule -------------------------------------------------------------------

def gift_aid_verdict(gift: GiftFacts, declarations: list[DeclarationFacts], *, today: datetime.date,
                     donor_benefits_pence: int = 0) -> Verdict:
    """Whether HMRC lets the charity claim Gift Aid on this gift, and why not.
    `declarations` are the donor's, latest first; `donor_benefits_pence` the
    benefits the donor had from the charity in the gift's tax year, from this
    gift and those given before it."""
    if gift.status not in _CLAIMABLE_STATUSES:
        reason = {
            Donation.Status.REFUNDED: "Refunded in full",
            Donation.Status.DISPUTED: "Disputed by the card holder: wait for the outcome",
        }.get(gift.status, "Not paid")
        return Verdict(NOT_ELIGIBLE, reason)
    if gift.claimed_by:
        return Verdict(NOT_ELIGIBLE, f"Gift Aid already claimed by {gift.claimed_by}")
    if gift.currency.lower() != "gbp":
        return Verdict(NOT_ELIGIBLE, "Not given in pounds sterling")
    if gift.gift_kind != _OWN_GIFT:
        return Verdict(NOT_ELIGIBLE, f"Not the donor's own gift: {GiftKind(gift.gift_kind).label.lower()}")
    if gift.is_sponsorship:
        if gift.sponsor_relationship == SponsorRelationship.PARTICIPANT:
            return Verdict(NOT_ELIGIBLE, "The event participant's own sponsorship")
        if gift.sponsor_relationship == SponsorRelationship.CONNECTED and gift.charity_pays_event_costs:
            return Verdict(NOT_ELIGIBLE, "Sponsorship from a close relative of the participant, "
                                         "where the charity pays the event's costs")
    if gift.benefit_pence:
        limit = benefit_limit_pence(gift.amount_pence)
        if gift.benefit_pence > limit:
            return Verdict(NOT_ELIGIBLE, f"The donor received a benefit of {format_pence(gift.benefit_pence)}, "
                                         f"over HMRC's limit of {format_pence(limit)} for this gift")
        if donor_benefits_pence > DONOR_BENEFITS_PER_TAX_YEAR_PENCE:
            return Verdict(NOT_ELIGIBLE, f"Benefits to this donor in the tax year total "
                                         f"{format_pence(donor_benefits_pence)}, over HMRC's limit of £2,500")
    # A gift of the last three calendar years is within its deadline: its accounting
    # period ends in its year or later, and the deadline is four years after that.
    if gift.given_on.year <= today.year - CLAIM_WINDOW_YEARS:
        deadline = claim_deadline(gift.given_on)
        if today > deadline:
            return Verdict(NOT_ELIGIBLE, f"Too old to claim: the deadline was {deadline:%d %B %Y}")
    # The latest declaration that covers the gift decides it: one cancelled before
    # the gift ends Gift Aid, whatever older declarations said. A void one counts
    # as never made.
    for declaration in declarations:
        if declaration.void:
            continue
        if declaration.scope == _THIS_GIFT:
            covers = declaration.id == gift.declaration_id
        else:
            covers = declaration.covers_from <= gift.given_on
        if not covers:
            continue
        if declaration.cancelled_on and declaration.cancelled_on <= gift.given_on:
            return Verdict(NOT_ELIGIBLE, f"The declaration was cancelled on {declaration.cancelled_on:%d %B %Y}")
        if declaration.missing:
            return Verdict(NEEDS_DATA, f"The declaration {declaration.missing}", declaration.id)
        return Verdict(ELIGIBLE, "", declaration.id)
    return Verdict(NOT_ELIGIBLE, "No Gift Aid declaration covers this gift")


# In GiftFacts' field order, so that a row of them is the facts themselves.
_GIFT_FIELDS = ("id", "supporter_id", "given_on", "amount_pence", "refunded_pence", "status", "currency",
                "gift_kind", "benefit_pence", "is_sponsorship", "sponsor_relationship",
                "charity_pays_event_costs", "gift_aid_claimed_by", "gift_aid_declaration_id")


def _gift_rows(donations):
    """values_list(*_GIFT_FIELDS) rows of donations annotated by _with_given_on;
    no campaign means the charity pays the event's costs."""
    return donations.annotate(
        charity_pays_event_costs=Coalesce("campaign__charity_pays_event_costs", Value(True)),
    ).values_list(*_GIFT_FIELDS)


def _with_given_on(donations):
    return donations.annotate(given_on=TruncDate("paid_at"))


def _donor_benefits(gift_ids_query) -> dict[int, int]:
    """HMRC's aggregate value test: for each gift with a benefit, the benefits its
    donor had in that tax year from that gift and the ones given before it (in
    the order given). So a gift's verdict depends only on what was known when it
    was given: a later gift that takes the donor over £2,500 fails, not the
    earlier ones. Only donors of gifts that had a benefit are read (rare)."""
    so_far: dict[tuple[int, datetime.date], int] = defaultdict(int)
    through: dict[int, int] = {}
    supporters = gift_ids_query.filter(benefit_pence__gt=0).values("supporter_id")
    rows = (_with_given_on(Donation.objects.filter(supporter_id__in=supporters, benefit_pence__gt=0,
                                                   status__in=Donation.INCOME_STATUSES))
            .order_by("paid_at", "id").values_list("id", "supporter_id", "given_on", "benefit_pence"))
    for gift_id, supporter_id, given_on, benefit in rows:
        key = (supporter_id, tax_year_start(given_on))
        so_far[key] += benefit
        through[gift_id] = so_far[key]
    return through


def verdicts_for(donations, *, today: datetime.date | None = None, unclaimed_only: bool = False,
                 identities: dict | None = None) -> Iterator[tuple[GiftFacts, Verdict]]:
    """Each donation of the queryset with its verdict, streamed (it may be a
    million). Claimed gifts are reported as such, unless the caller already
    left them out (`unclaimed_only`). With `identities`, also fills it with the
    name and address of every declaration looked at, by id (for _donor_identity)."""
    today = today or timezone.localdate()
    donations = _with_given_on(donations.filter(paid_at__isnull=False))
    claimed = {} if unclaimed_only else dict(
        GiftAidClaimedGift.objects.filter(active=True, donation__in=donations.values("id"))
        .values_list("donation_id", "claim_id"))
    declarations = _declarations_by_supporter(donations.values("supporter_id"), identities=identities)
    benefits = _donor_benefits(donations)
    none: list[DeclarationFacts] = []
    gift_facts = GiftFacts._make
    for row in _plain_rows(_gift_rows(donations)):
        gift = gift_facts(row)
        if claimed and gift.id in claimed:
            yield gift, Verdict(CLAIMED, f"In claim GA{claimed[gift.id]:05d}")
            continue
        benefit_total = benefits.get(gift.id, 0) if gift.benefit_pence else 0
        yield gift, gift_aid_verdict(gift, declarations.get(gift.supporter_id, none), today=today,
                                     donor_benefits_pence=benefit_total)


def gift_aid_verdict_for(donation: Donation, *, today: datetime.date | None = None) -> Verdict:
    """The verdict on one gift, for staff screens."""
    if not donation.paid_at:
        return Verdict(NOT_ELIGIBLE, "Not paid")
    for _gift, verdict in verdicts_for(Donation.objects.filter(pk=donation.pk), today=today):
        return verdict
    return Verdict(NOT_ELIGIBLE, "Not paid")


def _unclaimed(donations):
    """Gifts that could be claimed: paid, in pounds, not yet in a live claim,
    not claimed by a platform, from a donor with a declaration."""
    return donations.filter(
        status__in=_CLAIMABLE_STATUSES, paid_at__isnull=False, gift_aid_claimed_by="",
        supporter_id__in=GiftAidDeclaration.objects.values("supporter_id"),
    ).exclude(Exists(GiftAidClaimedGift.objects.filter(donation_id=OuterRef("pk"), active=True)))


def gift_aid_follow_ups(*, today: datetime.date | None = None, limit: int = 500) -> dict[str, list]:
    """For finance: gifts held for missing declaration details, and eligible
    gifts whose four-year claim deadline is near (GIFT_AID_DEADLINE_WARNING_DAYS)."""
    today = today or timezone.localdate()
    warn_until = today + datetime.timedelta(days=settings.GIFT_AID_DEADLINE_WARNING_DAYS)
    needs_data, nearing = [], []
    for gift, verdict in verdicts_for(_unclaimed(Donation.objects.all()), today=today, unclaimed_only=True):
        if verdict.status == NEEDS_DATA and len(needs_data) < limit:
            needs_data.append((gift, verdict))
        elif verdict.status == ELIGIBLE and claim_deadline(gift.given_on) <= warn_until and len(nearing) < limit:
            nearing.append((gift, verdict, claim_deadline(gift.given_on)))
    return {"needs_data": needs_data, "nearing_deadline": nearing}


# --- small donations (GASDS) --------------------------------------------------------

SMALL_DONATIONS_YEARLY_LIMIT_PENCE = 800_000  # HMRC: at most £8,000 of small donations a tax year
SMALL_DONATIONS_MATCHING_MULTIPLE = 10        # ... and at most 10 × the Gift Aid gifts claimed for that year
SMALL_DONATIONS_CLAIM_YEARS = 2               # claimed within two years of the end of its tax year


def tax_year_end_year(day: datetime.date) -> int:
    """The tax year a day falls in, named as HMRC's GASDS claim names it: by the year it ends (5 April)."""
    return tax_year_start(day).year + 1


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
    candidates = (Donation.objects.filter(small_donation=True, status__in=_CLAIMABLE_STATUSES, paid_at__lt=paid_before,
                                          gift_aid_claimed_by="")
                  .exclude(Exists(GiftAidSmallDonation.objects.filter(donation_id=OuterRef("pk"), active=True)))
                  .exclude(Exists(GiftAidClaimedGift.objects.filter(donation_id=OuterRef("pk"), active=True))))
    covered = {gift.id for gift, verdict in verdicts_for(candidates.filter(supporter__isnull=False), today=today,
                                                         unclaimed_only=True)
               if verdict.status in (ELIGIBLE, NEEDS_DATA)}
    rows = (_with_given_on(candidates).order_by("paid_at", "id")
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


def claim_small_donations_by_year(claim: GiftAidClaim) -> list[tuple[int, int]]:
    """The claim's small donations as HMRC's GASDS part takes them: (tax year, by
    the year it ends; amount in pence), earliest year first."""
    return list(claim.small_donations.order_by("tax_year_end").values("tax_year_end")
                .annotate(total=Sum("amount_pence")).values_list("tax_year_end", "total"))


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
        house = _hmrc_house(", ".join(part for part in (house, street, town, postcode, str(country)) if part))
    else:
        house = _hmrc_house(house)
    return (_hmrc_title(title), _hmrc_name(first_name), _hmrc_name(last_name), house,
            "" if overseas else _hmrc_postcode(postcode), overseas)


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
    candidates = _unclaimed(Donation.objects.filter(paid_at__lt=local_end)).order_by()
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
    for claimed in in_claim.filter(Q(donation__refunded_pence__gt=0) | ~Q(donation__status__in=_CLAIMABLE_STATUSES)
                                   | Q(declaration__cancelled_on__isnull=False)):
        donation = claimed.donation
        if donation.status not in _CLAIMABLE_STATUSES or donation.kept_pence < claimed.amount_pence:
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


# --- the files ----------------------------------------------------------------------

# In ScheduleRow's field order.
_SCHEDULE_FIELDS = ("title", "first_name", "last_name", "house", "postcode", "overseas", "aggregated", "sponsored",
                    "date", "amount_pence")


def _schedule_rows(rows) -> list[hmrc.ScheduleRow]:
    return [hmrc.ScheduleRow(*values) for values in _plain_rows(rows.order_by("number").values_list(*_SCHEDULE_FIELDS),
                                                                chunk_size=5000)]


# A row's date is its last gift's (as HMRC asks); a part's earliest gift date is
# the earliest gift in any of its rows. Rows of claims built before rows kept
# their first gift's date fall back on the row's date.
_FIRST_GIFT_ON = Coalesce("first_gift_on", "date")


def claim_part(claim: GiftAidClaim, number: int) -> dict | None:
    """Part `number` of the claim as HMRC takes it (at most 1,000 rows per
    schedule, each with its own earliest gift date; any adjustment on the first),
    reading only its own rows; None if the claim has no such part."""
    size = hmrc.MAX_ROWS_PER_SCHEDULE
    in_part = claim.rows.filter(number__gt=(number - 1) * size, number__lte=number * size)
    rows = _schedule_rows(in_part)
    if not rows:
        return None
    return {
        "number": number, "rows": rows,
        "earliest_gift_date": in_part.order_by().aggregate(earliest=Min(_FIRST_GIFT_ON))["earliest"],
        "adjustment_pence": claim.adjustment_pence if number == 1 else 0,
        "small_donations": claim_small_donations_by_year(claim) if number == 1 else [],
        "amount_pence": sum(r.amount_pence for r in rows),
    }


def claim_part_summaries(claim: GiftAidClaim) -> list[dict]:
    """Every part of the claim without its rows, from one query: each part's number,
    row_count, amount_pence, earliest_gift_date and adjustment_pence."""
    parts = (claim.rows.order_by().values(part=(F("number") - 1) / hmrc.MAX_ROWS_PER_SCHEDULE + 1)
             .annotate(row_count=Count("id"), amount_pence=Sum("amount_pence"),
                       earliest_gift_date=Min(_FIRST_GIFT_ON))
             .order_by("part"))
    return [{"number": part["part"], "row_count": part["row_count"], "amount_pence": part["amount_pence"],
             "earliest_gift_date": part["earliest_gift_date"],
             "adjustment_pence": claim.adjustment_pence if part["part"] == 1 else 0} for part in parts]


def claim_header(claim: GiftAidClaim, part: dict) -> hmrc.ClaimHeader:
    s = settings.GIFT_AID_HMRC
    other_info = ""
    if part["adjustment_pence"]:
        reasons = "; ".join(claim.adjustments.values_list("reason", flat=True)[:20])
        other_info = f"Adjustment of {hmrc.format_amount(part['adjustment_pence'])} for gifts refunded or no " \
                     f"longer covered by a declaration since earlier claims: {reasons}"[:250]
    return hmrc.ClaimHeader(
        charity_hmrc_reference=s["CHARITY_REFERENCE"], charity_name=settings.CHARITY_NAME,
        regulator=s["REGULATOR"], regulator_number=s["REGULATOR_NUMBER"], official_title=s["OFFICIAL_TITLE"],
        official_first_name=s["OFFICIAL_FIRST_NAME"], official_last_name=s["OFFICIAL_LAST_NAME"],
        official_postcode=s["OFFICIAL_POSTCODE"], official_phone=s["OFFICIAL_PHONE"], period_end=claim.period_end,
        earliest_gift_date=part["earliest_gift_date"], adjustment_pence=part["adjustment_pence"],
        small_donations=tuple(part["small_donations"]), connected_charities=s["GASDS_CONNECTED_CHARITIES"],
        other_info=other_info, sender_id=s["SENDER_ID"], sender_password=s["SENDER_PASSWORD"],
        vendor_id=s["VENDOR_ID"], product_name=s["PRODUCT_NAME"], product_version=s["PRODUCT_VERSION"],
        test=s["GATEWAY_TEST"],
    )
