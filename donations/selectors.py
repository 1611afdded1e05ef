"""The donations app's reads, for screens, statements and other apps: a
supporter's giving, the gifts a statement counts, Gift Aid's follow-ups and a
claim's parts as HMRC takes them. Writes are in donations.services."""

import datetime

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Exists, F, Max, Min, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from config.db import stream_rows
from config.formats import day_start
from donations import hmrc
from donations.models import Donation, GiftAidClaim, GiftKind, RecurringGift
from donations.services import gift_aid_rules
from donations.services.gift_aid_rules import (
    ELIGIBLE,
    NEEDS_DATA,
    claim_deadline,
    claimable_gifts,
    verdicts_for,
)
from donations.tax_years import TaxYear

# The once-key prefix of annual statement emails (donations.services.statements).
STATEMENT_EMAIL_KEY = "annual_statement"
from supporters.models import EmailMessage, GiftAidDeclaration, Supporter

# --- a supporter's giving ---------------------------------------------------------

def supporter_giving(supporter: Supporter) -> dict:
    """What the supporter has given (paid gifts, less refunds), their monthly
    gifts and their latest ten gifts, for their record."""
    gifts = Donation.objects.filter(supporter=supporter)
    income = gifts.filter(status__in=Donation.INCOME_STATUSES)
    figures = income.aggregate(count=Count("pk"), given=Sum("amount_pence"), refunded=Sum("refunded_pence"),
                               last=Max("paid_at"))
    return {
        "figures": figures,
        "kept_pence": (figures["given"] or 0) - (figures["refunded"] or 0),
        "monthly": RecurringGift.objects.filter(supporter=supporter).order_by("-created_at"),
        "latest": gifts.select_related("campaign").order_by("-created_at")[:10],
        "more": max(0, gifts.count() - 10),
    }


# --- statements -------------------------------------------------------------------

def statement_gifts(*, tax_year: TaxYear) -> QuerySet[Donation]:
    """The gifts that count on statements for the tax year, received (given_on,
    local time) from 6 April to 5 April inclusive; for every supporter."""
    start, end = day_start(tax_year.first_day), day_start(tax_year.last_day + datetime.timedelta(days=1))
    received = Q(paid_at__gte=start, paid_at__lt=end) | Q(paid_at__isnull=True, created_at__gte=start,
                                                          created_at__lt=end)
    # A lost dispute is left out whole: the donor took the money back through their bank.
    return (Donation.objects.filter(received, currency="gbp", gift_kind=GiftKind.OWN_GIFT,
                                    status__in=[Donation.Status.SUCCEEDED, Donation.Status.PARTLY_REFUNDED])
            .exclude(dispute_status="lost"))


def statement_supporters(*, tax_year: TaxYear) -> QuerySet[Supporter]:
    """Supporters who gave in the tax year and can be emailed their statement
    (an address, not erased), in reference order."""
    gave = statement_gifts(tax_year=tax_year).filter(supporter_id=OuterRef("pk"))
    return Supporter.objects.filter(Exists(gave), erased_at__isnull=True).exclude(email="").order_by("pk")


def statement_tax_years(*, supporter: Supporter, today: datetime.date | None = None) -> list[TaxYear]:
    """The tax years to offer for a supporter's statement, latest first: each year
    they gave in, and always the current and the last complete one."""
    today = today or timezone.localdate()
    current = TaxYear.containing(today)
    years = {current, TaxYear(current.start_year - 1)}
    paid = Donation.objects.filter(supporter=supporter, status__in=[Donation.Status.SUCCEEDED,
                                                                    Donation.Status.PARTLY_REFUNDED])
    for paid_at, created_at in paid.values_list("paid_at", "created_at"):
        years.add(TaxYear.containing(timezone.localdate(paid_at or created_at)))
    return sorted((year for year in years if year <= current), reverse=True)


def statement_supporters_to_send(*, tax_year: TaxYear) -> QuerySet[Supporter]:
    """statement_supporters() less those already sent (or being sent) the
    statement: what a rerun still has to do."""
    done = EmailMessage.objects.filter(
        supporter_id=OuterRef("pk"), once_key__startswith=f"{STATEMENT_EMAIL_KEY}:{tax_year.start_year}:"
    ).exclude(status__in=[EmailMessage.Status.FAILED, EmailMessage.Status.SKIPPED])
    return statement_supporters(tax_year=tax_year).exclude(Exists(done))


# --- Gift Aid -----------------------------------------------------------------------

def gift_aid_follow_ups(*, today: datetime.date | None = None, limit: int = 500) -> dict[str, list]:
    """For finance: gifts held for missing declaration details, and eligible
    gifts whose four-year claim deadline is near (GIFT_AID_DEADLINE_WARNING_DAYS)."""
    today = today or timezone.localdate()
    warn_until = today + datetime.timedelta(days=settings.GIFT_AID_DEADLINE_WARNING_DAYS)
    needs_data, nearing = [], []
    for gift, verdict in verdicts_for(claimable_gifts(Donation.objects.all()), today=today, unclaimed_only=True):
        if verdict.status == NEEDS_DATA and len(needs_data) < limit:
            needs_data.append((gift, verdict))
        elif verdict.status == ELIGIBLE and claim_deadline(gift.given_on) <= warn_until and len(nearing) < limit:
            nearing.append((gift, verdict, claim_deadline(gift.given_on)))
    return {"needs_data": needs_data, "nearing_deadline": nearing}


def claim_small_donations_by_year(claim: GiftAidClaim) -> list[tuple[int, int]]:
    """The claim's small donations as HMRC's GASDS part takes them: (tax year, by
    the year it ends; amount in pence), earliest year first."""
    return list(claim.small_donations.order_by("tax_year_end").values("tax_year_end")
                .annotate(total=Sum("amount_pence")).values_list("tax_year_end", "total"))


# --- the files ----------------------------------------------------------------------

# In ScheduleRow's field order.
_SCHEDULE_FIELDS = ("title", "first_name", "last_name", "house", "postcode", "overseas", "aggregated", "sponsored",
                    "date", "amount_pence")


def _schedule_rows(rows) -> list[hmrc.ScheduleRow]:
    return [hmrc.ScheduleRow(*values) for values in stream_rows(rows.order_by("number").values_list(*_SCHEDULE_FIELDS),
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



GIFT_AID_POSITION_KEY = "gift-aid-position"
GIFT_AID_POSITION_REFRESHING_KEY = "gift-aid-position:refreshing"


def gift_aid_claims_position() -> dict:
    """Gift Aid claimed (claims sent to HMRC, less adjustments), repaid, and awaiting repayment."""
    sent = GiftAidClaim.objects.exclude(status__in=(GiftAidClaim.Status.DRAFT, GiftAidClaim.Status.REJECTED))
    claims = sent.aggregate(tax=Sum("tax_pence"), small=Sum("small_donations_tax_pence"),
                            adjusted=Sum("adjustment_pence"), repaid=Sum("repayment_pence"))
    return {"claimed_pence": (claims["tax"] or 0) + (claims["small"] or 0) - (claims["adjusted"] or 0),
            "repaid_pence": claims["repaid"] or 0,
            "awaiting_pence": sum(claim.repayment_due_pence for claim in sent.filter(repayment_pence__isnull=True))}


def gift_aid_unclaimed_position(*, today: datetime.date | None = None) -> dict:
    """What HMRC's rules make of the gifts not yet in a claim: claimable now,
    and held for missing declaration details; and the potential: what gifts
    from UK donors with no declaration would bring, and how many donors to ask.
    It reads every unclaimed gift, so the dashboard shows it as worked out by
    the task donations.tasks.refresh_gift_aid_position (kept in the cache)."""
    today = today or timezone.localdate()
    claimable = held = 0
    for gift, verdict in gift_aid_rules.verdicts_for(gift_aid_rules.claimable_gifts(Donation.objects.all()),
                                                     today=today, unclaimed_only=True):
        if verdict.status == gift_aid_rules.ELIGIBLE:
            claimable += gift_aid_rules.tax_on(gift.kept_pence)
        elif verdict.status == gift_aid_rules.NEEDS_DATA:
            held += gift_aid_rules.tax_on(gift.kept_pence)
    potential = gift_aid_potential_gifts(today=today).aggregate(
        kept=Sum(F("amount_pence") - F("refunded_pence")), donors=Count("supporter_id", distinct=True))
    return {"claimable_pence": claimable, "held_pence": held,
            "potential_pence": gift_aid_rules.tax_on(potential["kept"] or 0),
            "potential_donors": potential["donors"], "worked_out_at": timezone.now()}


def gift_aid_unclaimed_position_kept() -> dict | None:
    """The last position the task worked out, if any."""
    return cache.get(GIFT_AID_POSITION_KEY)


def gift_aid_potential_gifts(*, today: datetime.date | None = None) -> QuerySet[Donation]:
    """Gifts a Gift Aid declaration could still bring in: an individual's own
    gift, kept, within HMRC's four years, from a donor in the UK who has never
    made a declaration, and not taken by a platform that claims for itself."""
    today = today or timezone.localdate()
    since = day_start(TaxYear(TaxYear.containing(today).start_year - 4).first_day)
    return Donation.objects.filter(
        status__in=Donation.INCOME_STATUSES, amount_pence__gt=F("refunded_pence"), paid_at__gte=since,
        gift_kind=GiftKind.OWN_GIFT, gift_aid_claimed_by="", supporter__country="GB",
    ).exclude(supporter_id__in=GiftAidDeclaration.objects.values("supporter_id")).exclude(supporter=None)


def gift_aid_potential_donors(*, today: datetime.date | None = None) -> QuerySet:
    """Whom to ask for a Gift Aid declaration: each UK donor with no declaration,
    with their gifts that one would cover and what those brought, largest first."""
    return (gift_aid_potential_gifts(today=today).values("supporter_id")
            .annotate(gifts=Count("pk"), kept_pence=Sum(F("amount_pence") - F("refunded_pence")),
                      last_gift_at=Max("paid_at"))
            .order_by("-kept_pence", "supporter_id"))
