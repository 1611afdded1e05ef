"""Gift Aid's rules: which gifts can carry it, and how much (the claims that
ask HMRC for it are built in gift_aid_claims).

HMRC's rules, as applied here, are in docs/gift-aid.md. Eligibility is
one pure function, `gift_aid_verdict`, over plain facts about a gift and its
donor's declarations, so that the staff screens, the claim builder (a million
gifts at a time) and the submit check all decide alike.
"""

import datetime
import functools
from collections import defaultdict
from collections.abc import Iterator
from typing import NamedTuple

from django.conf import settings
from django.db.models import Exists, OuterRef, Value
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from config.db import stream_rows
from config.money import format_pence
from donations import hmrc
from donations.tax_years import tax_year_start
from donations.models import (
    Donation,
    GiftAidClaimedGift,
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
CLAIMABLE_STATUSES = (Donation.Status.SUCCEEDED.value, Donation.Status.PARTLY_REFUNDED.value)
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
clean_name = functools.lru_cache(maxsize=1 << 16)(hmrc.hmrc_name)
clean_title = functools.lru_cache(maxsize=1 << 10)(hmrc.hmrc_title)
clean_house = functools.lru_cache(maxsize=1 << 16)(hmrc.hmrc_house)
clean_postcode = functools.lru_cache(maxsize=1 << 16)(hmrc.hmrc_postcode)

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
    if not clean_name(last_name) or not clean_name(first_name)[:1]:
        return "has no first name (or initial) and last name"
    if not house.strip():
        return "has no house name or number"
    if country == "GB":
        if not postcode.strip():
            return "has no postcode"
        if not hmrc.is_valid_uk_postcode(clean_postcode(postcode)):
            return f"has a postcode that is not a valid UK postcode ({postcode})"
    return ""


def _declarations_by_supporter(supporter_ids, *, identities: dict | None = None) -> dict[int, list[DeclarationFacts]]:
    """Each supporter's declarations, latest first (a later one, or a completed copy, wins).
    With `identities`, also fills it with each declaration's name and address, by id
    (its row of _DECLARATION_FIELDS + _IDENTITY_FIELDS, as _donor_identity reads it)."""
    by_supporter: dict[int, list[DeclarationFacts]] = defaultdict(list)
    fields = _DECLARATION_FIELDS + (_IDENTITY_FIELDS if identities is not None else ())
    rows = (GiftAidDeclaration.objects.filter(supporter_id__in=supporter_ids)
            .order_by("supporter_id", "-declared_on", "-id").values_list(*fields))
    for row in stream_rows(rows):
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
    if gift.status not in CLAIMABLE_STATUSES:
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
    """values_list(*_GIFT_FIELDS) rows of donations annotated by with_given_on;
    no campaign means the charity pays the event's costs."""
    return donations.annotate(
        charity_pays_event_costs=Coalesce("campaign__charity_pays_event_costs", Value(True)),
    ).values_list(*_GIFT_FIELDS)


def with_given_on(donations):
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
    rows = (with_given_on(Donation.objects.filter(supporter_id__in=supporters, benefit_pence__gt=0,
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
    donations = with_given_on(donations.filter(paid_at__isnull=False))
    claimed = {} if unclaimed_only else dict(
        GiftAidClaimedGift.objects.filter(active=True, donation__in=donations.values("id"))
        .values_list("donation_id", "claim_id"))
    declarations = _declarations_by_supporter(donations.values("supporter_id"), identities=identities)
    benefits = _donor_benefits(donations)
    none: list[DeclarationFacts] = []
    gift_facts = GiftFacts._make
    for row in stream_rows(_gift_rows(donations)):
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


def claimable_gifts(donations):
    """Gifts that could be claimed: paid, in pounds, not yet in a live claim,
    not claimed by a platform, from a donor with a declaration."""
    return donations.filter(
        status__in=CLAIMABLE_STATUSES, paid_at__isnull=False, gift_aid_claimed_by="",
        supporter_id__in=GiftAidDeclaration.objects.values("supporter_id"),
    ).exclude(Exists(GiftAidClaimedGift.objects.filter(donation_id=OuterRef("pk"), active=True)))


# --- small donations (GASDS) --------------------------------------------------------

SMALL_DONATIONS_YEARLY_LIMIT_PENCE = 800_000  # HMRC: at most £8,000 of small donations a tax year
SMALL_DONATIONS_MATCHING_MULTIPLE = 10        # ... and at most 10 × the Gift Aid gifts claimed for that year
SMALL_DONATIONS_CLAIM_YEARS = 2               # claimed within two years of the end of its tax year


