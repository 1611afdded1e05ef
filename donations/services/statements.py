"""Annual giving statements: every gift a supporter gave in a UK tax year
(6 April to 5 April), with the Gift Aid on each, as a print-ready page and an
email.

What counts is the money the charity kept: paid gifts, net of refunds. Gifts
refunded in full, failed, unpaid, under an open card dispute or lost in one are
left out, and so is money that was not the supporter's own gift (a company's, a
collection, tickets, raffles, purchases): a donor may use the statement for
their tax return. Whether a gift carries Gift Aid is the claim builder's own
verdict (donations.services.gift_aid_rules), never decided again here."""

import dataclasses
import datetime

from django.core import signing
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from config.money import format_pence
from donations.models import Donation, GiftAidClaim, GiftAidClaimedGift
from donations.selectors import STATEMENT_EMAIL_KEY, statement_gifts
from donations.services import gift_aid_rules
from donations.tax_years import TaxYear
from supporters.email_wording import gift_aid_sentence
from supporters.models import EmailMessage, Supporter
from supporters.services import email as email_services

EMAIL_KEY = STATEMENT_EMAIL_KEY
LINK_SALT = "donations.annual-statement"
# Long enough for a Self Assessment return (due 31 January, ten months after the year ends).
LINK_DAYS = 400
EMAIL_MAX_LINES = 60  # a long list stays on the statement itself

CLAIMED = "claimed"
EXPECTED = "expected"
NEEDS_DATA = "needs_data"
NONE = "none"

GIFT_AID_LABELS = {CLAIMED: "Claimed", EXPECTED: "To be claimed", NEEDS_DATA: "Held: details needed", NONE: "None"}


@dataclasses.dataclass(frozen=True)
class StatementLine:
    donation_id: int
    reference: str
    given_on: datetime.date
    purpose: str
    note: str  # "Monthly gift", "Sponsorship of …", the refund
    given_pence: int
    refunded_pence: int
    gift_aid_status: str
    gift_aid_pence: int
    gift_aid_reason: str = ""  # for staff: why there is none, or what is missing

    @property
    def amount_pence(self) -> int:
        return self.given_pence - self.refunded_pence

    @property
    def amount_display(self) -> str:
        return format_pence(self.amount_pence)

    @property
    def gift_aid_display(self) -> str:
        return format_pence(self.gift_aid_pence) if self.gift_aid_pence else "—"

    @property
    def gift_aid_label(self) -> str:
        return GIFT_AID_LABELS[self.gift_aid_status]


@dataclasses.dataclass(frozen=True)
class Statement:
    supporter: Supporter
    tax_year: TaxYear
    lines: tuple[StatementLine, ...]
    made_on: datetime.date

    # Every total is the sum of the lines, in pence: the page and the email add up.
    @property
    def total_pence(self) -> int:
        return sum(line.amount_pence for line in self.lines)

    @property
    def gift_aid_total_pence(self) -> int:
        return sum(line.gift_aid_pence for line in self.lines)

    @property
    def claimed_pence(self) -> int:
        return sum(line.gift_aid_pence for line in self.lines if line.gift_aid_status == CLAIMED)

    @property
    def expected_pence(self) -> int:
        return sum(line.gift_aid_pence for line in self.lines if line.gift_aid_status == EXPECTED)

    @property
    def with_gift_aid_pence(self) -> int:
        return self.total_pence + self.gift_aid_total_pence

    @property
    def total_display(self) -> str:
        return format_pence(self.total_pence)

    @property
    def gift_aid_total_display(self) -> str:
        return format_pence(self.gift_aid_total_pence)

    @property
    def claimed_display(self) -> str:
        return format_pence(self.claimed_pence)

    @property
    def expected_display(self) -> str:
        return format_pence(self.expected_pence)

    @property
    def with_gift_aid_display(self) -> str:
        return format_pence(self.with_gift_aid_pence)

    @property
    def needs_data(self) -> bool:
        return any(line.gift_aid_status == NEEDS_DATA for line in self.lines)


def _purpose(donation: Donation) -> tuple[str, str]:
    purpose = donation.campaign.name if donation.campaign else "Where it's needed most"
    if donation.fundraiser_page:
        note = f"Sponsoring “{donation.fundraiser_page.title}”"
    elif donation.recurring_gift_id:
        note = "Monthly gift"
    else:
        note = ""
    if donation.refunded_pence:
        refund = f"{format_pence(donation.amount_pence)} given, {format_pence(donation.refunded_pence)} refunded"
        note = f"{note}; {refund}" if note else refund
    return purpose, note


def annual_statement(*, supporter: Supporter, tax_year: TaxYear, today: datetime.date | None = None) -> Statement:
    """The supporter's statement for the tax year: a line per gift that counts,
    oldest first, each with the Gift Aid on it. Claimed: in a claim sent to HMRC
    (the tax claimed, less what a later refund took back). To be claimed: eligible
    and not yet sent (a draft claim is not sent). Held: eligible but for details
    missing from the declaration. Otherwise none."""
    today = today or timezone.localdate()
    gifts = list(statement_gifts(tax_year=tax_year).filter(supporter=supporter)
                 .select_related("campaign", "fundraiser_page").order_by("paid_at", "created_at", "pk"))
    if not gifts:
        return Statement(supporter=supporter, tax_year=tax_year, lines=(), made_on=today)
    ids = [gift.pk for gift in gifts]
    sent = {claimed.donation_id: claimed for claimed in GiftAidClaimedGift.objects.filter(
        donation_id__in=ids, active=True, claim__status__in=[GiftAidClaim.Status.SUBMITTED,
                                                             GiftAidClaim.Status.ACCEPTED])}
    verdicts = {facts.id: verdict for facts, verdict in gift_aid_rules.verdicts_for(
        Donation.objects.filter(pk__in=ids), today=today, unclaimed_only=True)}
    lines = []
    for gift in gifts:
        kept = gift.amount_pence - gift.refunded_pence
        verdict = verdicts.get(gift.pk)
        if gift.pk in sent:
            # A refund after the claim is repaid to HMRC (an adjustment): the tax left is on what was kept.
            status, tax, reason = CLAIMED, min(sent[gift.pk].tax_pence, gift_aid_rules.tax_on(kept)), ""
        elif verdict is not None and verdict.status == gift_aid_rules.ELIGIBLE:
            status, tax, reason = EXPECTED, gift_aid_rules.tax_on(kept), ""
        elif verdict is not None and verdict.status == gift_aid_rules.NEEDS_DATA:
            status, tax, reason = NEEDS_DATA, 0, verdict.reason
        else:
            status, tax, reason = NONE, 0, verdict.reason if verdict else "Not paid"
        purpose, note = _purpose(gift)
        lines.append(StatementLine(
            donation_id=gift.pk, reference=gift.reference, given_on=gift.given_on, purpose=purpose, note=note,
            given_pence=gift.amount_pence, refunded_pence=gift.refunded_pence, gift_aid_status=status,
            gift_aid_pence=tax, gift_aid_reason=reason))
    return Statement(supporter=supporter, tax_year=tax_year, lines=tuple(lines), made_on=today)


# --- the supporter's link -------------------------------------------------------

def statement_token(*, supporter: Supporter, tax_year: TaxYear) -> str:
    return signing.dumps({"s": supporter.pk, "y": tax_year.start_year}, salt=LINK_SALT, compress=True)


def statement_url(*, supporter: Supporter, tax_year: TaxYear) -> str:
    """The path of the supporter's own statement: signed, so it needs no login."""
    return reverse("annual_statement", args=[statement_token(supporter=supporter, tax_year=tax_year)])


def statement_from_token(token: str) -> tuple[Supporter, TaxYear] | None:
    """The supporter (not erased) and tax year a link names; None if it was
    tampered with, has expired, or names no one we still hold."""
    try:
        data = signing.loads(token, salt=LINK_SALT, max_age=datetime.timedelta(days=LINK_DAYS))
        supporter_id, start_year = int(data["s"]), int(data["y"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
    supporter = Supporter.objects.filter(pk=supporter_id, erased_at__isnull=True).first()
    return (supporter, TaxYear(start_year)) if supporter else None


# --- sending --------------------------------------------------------------------

def once_key(*, supporter: Supporter, tax_year: TaxYear) -> str:
    return f"{EMAIL_KEY}:{tax_year.start_year}:{supporter.pk}"


def annual_statement_send(*, supporter: Supporter, tax_year: TaxYear | int,
                          today: datetime.date | None = None) -> EmailMessage | None:
    """Email the supporter their statement for the tax year (transactional, in
    the wording staff keep under 'annual_statement'), with every gift listed and
    the signed link to the print-ready page. Nothing when they gave nothing that
    counts in the year (None). Idempotent: one message per supporter and tax year,
    however many times or from however many workers it is called; the message
    already recorded is returned (a failed or skipped one is tried again). Raises
    what the mail backend raises."""
    if isinstance(tax_year, int):
        tax_year = TaxYear(tax_year)
    statement = annual_statement(supporter=supporter, tax_year=tax_year, today=today)
    if not statement.lines:
        return None

    url = email_services.site_url() + statement_url(supporter=supporter, tax_year=tax_year)
    shown = statement.lines[:EMAIL_MAX_LINES]
    context = {"statement": statement, "lines": shown, "more": len(statement.lines) - len(shown)}
    details = [("Tax year", f"{tax_year.label} ({tax_year.period})"),
               ("Gifts", str(len(statement.lines))),
               ("Total given", statement.total_display)]
    if statement.gift_aid_total_pence:
        details.append(("Gift Aid", statement.gift_aid_total_display))
    return email_services.email_send_template(
        supporter=supporter, key=EMAIL_KEY, details=details,
        values={"tax_year": tax_year.label, "total": statement.total_display,
                "gift_aid_total": statement.gift_aid_total_display,
                "gift_aid_sentence": gift_aid_sentence(statement.gift_aid_total_display,
                                                       has_gift_aid=statement.gift_aid_total_pence > 0)},
        action=("See your statement", url),
        extra_html=render_to_string("donations/emails/annual_statement_gifts.html", context),
        extra_text=render_to_string("donations/emails/annual_statement_gifts.txt", context).strip(),
        once_key=once_key(supporter=supporter, tax_year=tax_year))

