"""Journals for the accounts package, built from what the database holds and
nothing else: one per Stripe payout, one per paying-in batch, one per Gift Aid
repayment from HMRC (and per direct repayment to HMRC). A month's journals are
each of those dated in the month, one journal per bank credit, so that every
journal's bank line is one line of the bank statement.

Amounts are signed pence as Xero signs them: a debit positive, a credit
negative. Every journal sums to zero; one that does not is a bug and raises
JournalDoesNotBalance. What Finance must put right first (a payout whose lines
are not all fetched, a batch still open) is an ApplicationError.

Where each figure goes (the codes are Finance's, in finance.models.ChartOfAccounts):
- a payout: Dr bank the payout; Cr income each gift's gross, by the campaign's
  income code (finance.models.CampaignLedgerCode, else its fund's default code,
  flagged), tracked by campaign; Dr Stripe fees every fee (card, dispute, Radar);
  Dr refunds and disputes what they took back, Cr what came back (a failed
  refund, a dispute won); adjustments to the adjustments code. A charge with no
  gift of ours goes to the default income code (flagged); one Finance marked as
  not a gift, to other income.
- a batch: Dr bank the batch's total; Cr income its gifts, by campaign.
- Gift Aid: Dr bank / Cr Gift Aid income what HMRC repaid; the reverse for tax
  the charity repaid to HMRC directly."""

import dataclasses
import datetime
from collections import defaultdict

from django.db.models import BooleanField, Count, ExpressionWrapper, Q, Sum

from campaigns.models import Campaign
from config.errors import ApplicationError
from config.money import format_pence
from donations.models import Donation, GiftAidClaim, GiftAidDirectRepayment
from finance.models import CampaignLedgerCode, ChartOfAccounts, PayingInBatch, Payout, PayoutLine

# What each line of a journal is, in the order a journal lists them.
BANK, INCOME, OTHER_INCOME, GIFT_AID, FEES, REFUNDS, DISPUTES, ADJUSTMENTS = (
    "bank", "income", "other_income", "gift_aid", "fees", "refunds", "disputes", "adjustments")
KIND_LABELS = {BANK: "Bank", INCOME: "Donations income", OTHER_INCOME: "Other income", GIFT_AID: "Gift Aid income",
               FEES: "Stripe fees", REFUNDS: "Refunds", DISPUTES: "Disputes", ADJUSTMENTS: "Stripe adjustments"}
_ORDER = list(KIND_LABELS)

# Stripe's reporting categories on a payout, each with where its amount goes and
# how a journal line names it. Anything else Stripe adds goes to adjustments, flagged.
_CATEGORIES = {
    "refund": (REFUNDS, "Refunds"),
    "refund_failure": (REFUNDS, "Refunds that failed (money back)"),
    "dispute": (DISPUTES, "Disputed gifts (funds withdrawn)"),
    "dispute_reversal": (DISPUTES, "Disputes won (funds returned)"),
    "fee": (FEES, "Stripe fees"),
    "other_adjustment": (ADJUSTMENTS, "Stripe adjustments"),
}
TRACKING_OPTION_MAX = 100  # Xero's longest tracking option name


class JournalDoesNotBalance(Exception):
    """A journal whose lines do not sum to zero: a bug here, never Finance's to fix."""


@dataclasses.dataclass(frozen=True)
class JournalLine:
    """One line: the account code, what it is, signed pence (debit positive,
    credit negative) and the campaign it is tracked to ("" for none). `flagged`
    says it went to a default code because nothing better was known."""

    account_code: str
    description: str
    amount_pence: int
    tracking: str = ""
    kind: str = ""
    flagged: bool = False

    @property
    def debit_pence(self) -> int:
        return max(self.amount_pence, 0)

    @property
    def credit_pence(self) -> int:
        return max(-self.amount_pence, 0)

    @property
    def account_label(self) -> str:
        return KIND_LABELS.get(self.kind, "")


@dataclasses.dataclass
class Journal:
    """A journal: its narration (unique per date, as Xero groups lines by
    narration and date), date, reference (the payout's id, the batch's number,
    the claim's reference), lines, and what Finance should check (`flags`)."""

    narration: str
    date: datetime.date
    reference: str
    lines: list[JournalLine]
    flags: list[str] = dataclasses.field(default_factory=list)

    @property
    def debits_pence(self) -> int:
        return sum(line.debit_pence for line in self.lines)

    @property
    def credits_pence(self) -> int:
        return sum(line.credit_pence for line in self.lines)

    @property
    def income_pence(self) -> int:
        """The gifts behind the journal: what it credits to income (a refund is not income)."""
        return -sum(line.amount_pence for line in self.lines if line.kind in (INCOME, OTHER_INCOME))

    def check_balances(self) -> "Journal":
        total = sum(line.amount_pence for line in self.lines)
        if total:
            raise JournalDoesNotBalance(f"Journal {self.reference} of {self.date:%d/%m/%Y} is out by {total} pence.")
        return self


class _Lines:
    """Lines added one by one and summed by (kind, code, description, tracking)."""

    def __init__(self):
        self.sums: dict[tuple, list] = {}

    def add(self, kind: str, code: str, label: str, amount_pence: int, *, tracking: str = "", count: int = 1,
            flagged: bool = False) -> None:
        entry = self.sums.setdefault((kind, code, label, tracking), [0, 0, False])
        entry[0] += amount_pence
        entry[1] += count
        entry[2] = entry[2] or flagged

    def lines(self, *, counted=(INCOME, OTHER_INCOME, REFUNDS, DISPUTES, ADJUSTMENTS)) -> list[JournalLine]:
        lines = []
        for (kind, code, label, tracking), (amount, count, flagged) in self.sums.items():
            if not amount:
                continue
            description = f"{label} ({count})" if kind in counted and count else label
            lines.append(JournalLine(code, description, amount, tracking, kind, flagged))
        # Within a kind: credits first, then by campaign (untracked last), then as named.
        return sorted(lines, key=lambda line: (_ORDER.index(line.kind), line.amount_pence > 0, not line.tracking,
                                               line.tracking, line.description))


# --- income codes -----------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class IncomeAccount:
    """Where a campaign's gifts are credited, and whether that is a fallback."""

    code: str
    fund: str
    own_code: bool


def income_account(campaign: Campaign | None, chart: ChartOfAccounts,
                   ledger_code: CampaignLedgerCode | None = None) -> IncomeAccount:
    """The campaign's own income code, or its fund's default (a campaign without
    a code of its own, which journals flag). A gift to no campaign is
    unrestricted income by rule, not a fallback."""
    fund = ledger_code.fund if ledger_code else CampaignLedgerCode.Fund.UNRESTRICTED
    if ledger_code and ledger_code.income_code:
        return IncomeAccount(ledger_code.income_code, fund, True)
    default = chart.restricted_income_code if fund == CampaignLedgerCode.Fund.RESTRICTED else chart.income_code
    return IncomeAccount(default, fund, campaign is None)


def _tracking(campaign: Campaign | None) -> str:
    return campaign.name[:TRACKING_OPTION_MAX].strip() if campaign else ""


class _Campaigns:
    """The campaigns (and their codes) a journal's gifts are for, read once."""

    def __init__(self, campaign_ids, chart: ChartOfAccounts):
        ids = {pk for pk in campaign_ids if pk}
        self.chart = chart
        self.campaigns = Campaign.objects.in_bulk(ids)
        self.codes = {code.campaign_id: code for code in CampaignLedgerCode.objects.filter(campaign_id__in=ids)}
        self.defaulted: dict[int, int] = defaultdict(int)

    def credit(self, lines: _Lines, campaign_id: int | None, gross_pence: int, count: int) -> None:
        campaign = self.campaigns.get(campaign_id)
        account = income_account(campaign, self.chart, self.codes.get(campaign_id))
        label = f"Gifts to {campaign.name}" if campaign else "Gifts to no particular campaign"
        lines.add(INCOME, account.code, label, -gross_pence, tracking=_tracking(campaign), count=count,
                  flagged=not account.own_code)
        if not account.own_code:
            self.defaulted[campaign_id] += gross_pence

    def flags(self) -> list[str]:
        flags = []
        for campaign_id, pence in sorted(self.defaulted.items(), key=lambda item: self.campaigns[item[0]].name):
            campaign = self.campaigns[campaign_id]
            account = income_account(campaign, self.chart, self.codes.get(campaign_id))
            flags.append(f"“{campaign.name}” has no income code of its own: its gifts ({format_pence(pence)}) are "
                         f"posted to the {account.fund} default, {account.code}.")
        return flags


def _bank_code(bank_line, chart: ChartOfAccounts) -> str:
    """The account the money arrived in, once matched to its statement line."""
    return bank_line.account.code if bank_line is not None else chart.bank_code


# --- a Stripe payout ------------------------------------------------------------------

def _payout(payout_id: int | str) -> Payout:
    lookup = Q(stripe_payout_id=payout_id) if isinstance(payout_id, str) and not payout_id.isdigit() \
        else Q(pk=int(payout_id))
    payout = Payout.objects.select_related("bank_line__account").filter(lookup).first()
    if payout is None:
        raise ApplicationError(f"There is no Stripe payout {payout_id}.", field="payout")
    return payout


def _payout_problem(payout: Payout, net_pence: int | None) -> str:
    """Why a payout cannot be journaled yet ("" when it can)."""
    if payout.status != Payout.Status.PAID:
        return f"Stripe payout {payout.stripe_payout_id} is {payout.get_status_display().lower()}, not paid."
    if payout.lines_fetched_at is None:
        return (f"Stripe payout {payout.stripe_payout_id}'s transactions have not been fetched from Stripe yet: "
                f"sync the payouts first.")
    if net_pence != payout.amount_pence:
        return (f"Stripe payout {payout.stripe_payout_id}'s transactions come to {format_pence(net_pence or 0)}, "
                f"not the {payout.amount_display} paid out: sync it again before its journal.")
    return ""


def journal_for_payout(*, payout: Payout | int | str, chart: ChartOfAccounts | None = None) -> Journal:
    """The journal of one paid Stripe payout (by row, pk or Stripe id): balances
    to the penny, its income lines are the gross of the gifts it paid out.
    ApplicationError when the payout is not paid or its lines do not add up."""
    chart = chart or ChartOfAccounts.load()
    if not isinstance(payout, Payout):
        payout = _payout(payout)
    rows = list(PayoutLine.objects.filter(payout=payout).order_by()
                .values("reporting_category", "donation__campaign_id", "resolution",
                        has_gift=ExpressionWrapper(Q(donation__isnull=False), output_field=BooleanField()))
                .annotate(amount=Sum("amount_pence"), fee=Sum("fee_pence"), net=Sum("net_pence"), count=Count("id")))
    problem = _payout_problem(payout, sum(row["net"] for row in rows))
    if problem:
        raise ApplicationError(problem, field="payout")

    lines, flags = _Lines(), []
    reference = payout.stripe_payout_id
    lines.add(BANK, _bank_code(payout.bank_line, chart), f"Stripe payout {reference}", payout.amount_pence)
    campaigns = _Campaigns([row["donation__campaign_id"] for row in rows], chart)
    strays, unknown = [0, 0], defaultdict(int)
    for row in rows:
        category, amount, campaign_id = row["reporting_category"], row["amount"], row["donation__campaign_id"]
        lines.add(FEES, chart.stripe_fees_code, "Stripe fees", row["fee"], count=0)
        if category == "charge":
            if row["has_gift"]:
                campaigns.credit(lines, campaign_id, amount, row["count"])
            elif row["resolution"] == PayoutLine.Resolution.NOT_A_GIFT:
                lines.add(OTHER_INCOME, chart.other_income_code, "Stripe charges that are not gifts", -amount,
                          count=row["count"])
            else:
                lines.add(INCOME, chart.income_code, "Stripe charges with no gift of ours", -amount,
                          count=row["count"], flagged=True)
                strays[0] += row["count"]
                strays[1] += amount
        elif category in _CATEGORIES:
            kind, label = _CATEGORIES[category]
            code = {REFUNDS: chart.refunds_code, DISPUTES: chart.disputes_code, FEES: chart.stripe_fees_code,
                    ADJUSTMENTS: chart.adjustments_code}[kind]
            campaign = campaigns.campaigns.get(campaign_id) if kind in (REFUNDS, DISPUTES) else None
            lines.add(kind, code, label, -amount, tracking=_tracking(campaign),
                      count=0 if kind == FEES else row["count"])
        else:
            lines.add(ADJUSTMENTS, chart.adjustments_code, f"Stripe {category.replace('_', ' ')}", -amount,
                      count=row["count"], flagged=True)
            unknown[category] += amount
    if strays[0]:
        flags.append(f"{strays[0]} Stripe charge{'s' if strays[0] != 1 else ''} ({format_pence(strays[1])}) "
                     f"{'have' if strays[0] != 1 else 'has'} no gift of ours: posted to the default income code, "
                     f"{chart.income_code}.")
    flags += campaigns.flags()
    flags += [f"Stripe's “{category}” lines ({format_pence(-pence)}) are posted to adjustments, "
              f"{chart.adjustments_code}." for category, pence in sorted(unknown.items())]
    date = payout.bank_line.date if payout.bank_line_id else payout.arrival_date
    return Journal(narration=f"Stripe payout {reference}", date=date, reference=reference,
                   lines=lines.lines(), flags=flags).check_balances()


# --- a paying-in batch ---------------------------------------------------------------

def journal_for_batch(*, batch: PayingInBatch | int, chart: ChartOfAccounts | None = None) -> Journal:
    """The journal of a closed paying-in batch (by row or number): Dr bank its
    total, Cr income its gifts by campaign. ApplicationError while it is open or
    when its gifts no longer add up to its total."""
    chart = chart or ChartOfAccounts.load()
    if not isinstance(batch, PayingInBatch):
        found = PayingInBatch.objects.select_related("bank_line__account").filter(number=batch).first()
        if found is None:
            raise ApplicationError(f"There is no paying-in batch {batch}.", field="batch")
        batch = found
    if batch.status != PayingInBatch.Status.CLOSED:
        raise ApplicationError(f"Batch {batch.number} is still open: close it (its gifts must add up to its total) "
                               f"before its journal.", field="batch")
    rows = list(Donation.objects.filter(paying_in_batch__batch=batch).order_by().values("campaign_id")
                .annotate(amount=Sum("amount_pence"), count=Count("id")))
    gifts = sum(row["amount"] for row in rows)
    if gifts != batch.expected_total_pence:
        raise ApplicationError(f"Batch {batch.number}'s gifts come to {format_pence(gifts)}, not its total of "
                               f"{format_pence(batch.expected_total_pence)}.", field="batch")
    lines = _Lines()
    method = batch.get_method_display()
    reference = f"BATCH-{batch.number}"
    slip = f", ref. {batch.reference}" if batch.reference else ""
    lines.add(BANK, _bank_code(batch.bank_line, chart), f"Paying-in batch {batch.number}: {method}{slip}",
              batch.expected_total_pence)
    campaigns = _Campaigns([row["campaign_id"] for row in rows], chart)
    for row in rows:
        campaigns.credit(lines, row["campaign_id"], row["amount"], row["count"])
    date = batch.bank_line.date if batch.bank_line_id else batch.banking_date
    return Journal(narration=f"Paying-in batch {batch.number} ({method.lower()})", date=date, reference=reference,
                   lines=lines.lines(), flags=campaigns.flags()).check_balances()


# --- Gift Aid ------------------------------------------------------------------------

def journal_for_gift_aid_repayment(*, claim: GiftAidClaim, chart: ChartOfAccounts | None = None) -> Journal:
    """HMRC's repayment of a claim, on the day it arrived: Dr bank / Cr Gift Aid income."""
    chart = chart or ChartOfAccounts.load()
    if claim.repayment_pence is None or claim.repayment_received_on is None:
        raise ApplicationError(f"No repayment is recorded for Gift Aid claim {claim.reference}.")
    bank_reference = f" ({claim.repayment_reference})" if claim.repayment_reference else ""
    lines = [JournalLine(chart.bank_code, f"HMRC Gift Aid repayment, claim {claim.reference}{bank_reference}",
                         claim.repayment_pence, kind=BANK),
             JournalLine(chart.gift_aid_income_code, f"Gift Aid on claim {claim.reference}", -claim.repayment_pence,
                         kind=GIFT_AID)]
    return Journal(narration=f"Gift Aid repayment, claim {claim.reference}", date=claim.repayment_received_on,
                   reference=claim.reference, lines=lines).check_balances()


def journal_for_gift_aid_direct_repayment(*, repayment: GiftAidDirectRepayment,
                                          chart: ChartOfAccounts | None = None) -> Journal:
    """Tax over-claimed that the charity repaid to HMRC: Dr Gift Aid income / Cr bank."""
    chart = chart or ChartOfAccounts.load()
    reference = f"GA-REPAID-{repayment.pk}"
    lines = [JournalLine(chart.gift_aid_income_code, f"Gift Aid over-claimed, repaid to HMRC ({repayment.reference})",
                         repayment.amount_pence, kind=GIFT_AID),
             JournalLine(chart.bank_code, f"Repaid to HMRC: {repayment.reference}", -repayment.amount_pence, kind=BANK)]
    return Journal(narration=f"Gift Aid repaid to HMRC, {reference} ({repayment.reference})", date=repayment.repaid_on,
                   reference=reference, lines=lines).check_balances()


# --- a month -------------------------------------------------------------------------

def month_bounds(month: datetime.date) -> tuple[datetime.date, datetime.date]:
    """The month's first day and the next month's."""
    first = month.replace(day=1)
    return first, (first + datetime.timedelta(days=32)).replace(day=1)


def _in_month(first: datetime.date, after: datetime.date, date_field: str) -> Q:
    """Banked in the month: the bank line's date once matched, else the day expected."""
    return (Q(bank_line__date__gte=first, bank_line__date__lt=after)
            | Q(bank_line__isnull=True, **{f"{date_field}__gte": first, f"{date_field}__lt": after}))


@dataclasses.dataclass
class MonthJournals:
    """A month's journals, oldest first, and what Finance should know of what is left out."""

    month: datetime.date
    journals: list[Journal]
    left_out: list[str]

    @property
    def flags(self) -> list[str]:
        return self.left_out + [flag for journal in self.journals for flag in journal.flags]


def journals_for_month(*, month: datetime.date, chart: ChartOfAccounts | None = None) -> MonthJournals:
    """Every journal of the month: each paid payout and each closed batch banked
    in it (one journal each, so each bank credit is one journal to reconcile),
    each Gift Aid repayment received and each direct repayment to HMRC made.
    Payouts not yet paid and batches still open are left out and named.
    ApplicationError, naming them, when a paid payout's lines do not add up:
    a month's journals are all there or not given."""
    chart = chart or ChartOfAccounts.load()
    first, after = month_bounds(month)
    journals, left_out, problems = [], [], []
    payouts = (Payout.objects.filter(_in_month(first, after, "arrival_date"))
               .exclude(status__in=(Payout.Status.FAILED, Payout.Status.CANCELED))
               .select_related("bank_line__account").order_by("arrival_date", "pk"))
    for payout in payouts:
        if payout.status != Payout.Status.PAID:
            left_out.append(f"Stripe payout {payout.stripe_payout_id} ({payout.amount_display}, due "
                            f"{payout.arrival_date:%d/%m/%Y}) is not paid yet: it is not in these journals.")
            continue
        try:
            journals.append(journal_for_payout(payout=payout, chart=chart))
        except ApplicationError as error:
            problems.append(error.message)
    if problems:
        raise ApplicationError(" ".join(problems), field="month")
    batches = (PayingInBatch.objects.filter(_in_month(first, after, "banking_date"))
               .select_related("bank_line__account").order_by("banking_date", "number"))
    for batch in batches:
        if batch.status != PayingInBatch.Status.CLOSED:
            left_out.append(f"Batch {batch.number} ({format_pence(batch.expected_total_pence)}) is still open: "
                            f"it is not in these journals.")
            continue
        journals.append(journal_for_batch(batch=batch, chart=chart))
    claims = GiftAidClaim.objects.filter(repayment_received_on__gte=first, repayment_received_on__lt=after,
                                         repayment_pence__gt=0).order_by("repayment_received_on", "pk")
    journals += [journal_for_gift_aid_repayment(claim=claim, chart=chart) for claim in claims]
    repayments = GiftAidDirectRepayment.objects.filter(repaid_on__gte=first, repaid_on__lt=after).order_by(
        "repaid_on", "pk")
    journals += [journal_for_gift_aid_direct_repayment(repayment=repayment, chart=chart) for repayment in repayments]
    journals.sort(key=lambda journal: journal.date)
    return MonthJournals(month=first, journals=journals, left_out=left_out)
