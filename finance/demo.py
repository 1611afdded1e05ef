"""Finance's part of the demo data: last month reconciled and closed, this
month open with the exceptions a finance officer meets. Everything goes
through finance's and donations' own services, with Stripe's objects in
Stripe's shapes, as the webhooks and the sync would bring them.

Last month: card gifts paid out weekly by Stripe (with a refund in part and one
in full, a dispute lost and one won, a Radar fee), a batch of cheques, the bank statement that shows them
all (and bank interest), every credit matched and the month closed.
This month: a payout holding a gift taken on Stripe's dashboard (no gift of
ours) and a dispute still open, a card gift not yet in any payout, a JustGiving credit with no report,
and a credit one digit away from a payout (a decoy that must not match)."""

import datetime
import random

from django.db import transaction
from django.utils import timezone

from campaigns.models import Campaign
from donations.models import Donation
from donations.services import donations_import
from donations.services import refunds as donation_refunds
from finance.models import BankAccount, Payout
from finance.services import bank, batches, months, payouts
from supporters.models import GiftAidDeclaration, Supporter

CARD_FEE = lambda pence: (pence * 15 + 500) // 1000 + 20  # noqa: E731 -- Stripe UK: 1.5% + 20p
AMOUNTS = (1000, 1500, 2000, 2500, 2500, 3000, 5000, 5000, 10000, 25000)


def _at(day: datetime.date, hour: int = 12) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour)))


def _ts(day: datetime.date, hour: int = 12) -> int:
    return int(_at(day, hour).timestamp())


class _Builder:
    def __init__(self, rng: random.Random, today: datetime.date):
        self.rng, self.today = rng, today
        live = Supporter.objects.filter(erased_at__isnull=True)
        self.supporters = list(live.exclude(email="").order_by("?")[:80]) or list(live[:80])
        self.campaigns = list(Campaign.objects.exclude(kind=Campaign.Kind.REGULAR_GIVING))
        self.declared = set(GiftAidDeclaration.objects.filter(supporter__in=self.supporters)
                            .values_list("supporter_id", flat=True))
        self.serial = 0
        self.credits: list[tuple[datetime.date, str, int]] = []  # (day, description, pence in; negative out)

    def _id(self, prefix: str) -> str:
        self.serial += 1
        return f"{prefix}_demo{self.serial:06d}"

    def card_gift(self, day: datetime.date) -> tuple[Donation, dict]:
        """A card gift as the donation form records it, and its charge's balance transaction."""
        amount = self.rng.choice(AMOUNTS)
        charge = self._id("ch")
        running = [c for c in self.campaigns if (c.starts_on is None or c.starts_on <= day)
                   and (c.ends_on is None or day <= c.ends_on)]
        # As the donation form records it, and on the giver's timeline (donations' import service).
        giver = self.rng.choice(self.supporters)
        [gift] = donations_import(donations=[Donation(
            supporter=giver, amount_pence=amount, status=Donation.Status.SUCCEEDED,
            # Those who have declared tick Gift Aid on the form again, as the rest of the demo's givers do.
            gift_aid_declared=giver.pk in self.declared,
            channel=Donation.Channel.WEB, campaign=self.rng.choice(running) if running else None,
            stripe_charge_id=charge, stripe_payment_intent_id=charge.replace("ch_", "pi_"), created_at=_at(day, 9),
            paid_at=_at(day, 9))])
        return gift, self.transaction("charge", amount, CARD_FEE(amount), charge, day, f"Gift {gift.reference}")

    def transaction(self, category: str, amount: int, fee: int, source: str, day: datetime.date,
                    description: str, type: str | None = None) -> dict:
        return {"id": self._id("txn"), "object": "balance_transaction", "amount": amount, "fee": fee,
                "net": amount - fee, "currency": "gbp", "created": _ts(day, 10),
                "available_on": _ts(day + datetime.timedelta(days=2)), "reporting_category": category,
                "type": type or category, "source": source, "status": "available", "description": description}

    def payout(self, arrival: datetime.date, lines: list[dict]) -> Payout:
        amount = sum(line["net"] for line in lines)
        data = {"id": self._id("po"), "object": "payout", "amount": amount, "currency": "gbp",
                "arrival_date": _ts(arrival, 0), "created": _ts(arrival - datetime.timedelta(days=2)),
                "automatic": True, "status": "paid", "statement_descriptor": "BRIGHTWELL DONATIONS"}
        payout = payouts.payout_record(payout=data)
        payouts.payout_lines_record(payout=payout, transactions=lines)
        self.credits.append((arrival, f"STRIPE PAYMENTS UK BRIGHTWELL DONATIONS {data['id']}", amount))
        return payout

    def week_of_gifts(self, start: datetime.date, days: int, count: int) -> tuple[list[Donation], list[dict]]:
        gifts, lines = [], []
        for _ in range(count):
            gift, line = self.card_gift(start + datetime.timedelta(days=self.rng.randrange(days)))
            gifts.append(gift)
            lines.append(line)
        return gifts, lines


def _statement(rows: list[tuple[datetime.date, str, int]], opening_pence: int) -> bytes:
    """The account's export as Lloyds writes it: newest first, with balances."""
    lines, balance = [], opening_pence
    for day, description, pence in sorted(rows, key=lambda row: row[0]):
        balance += pence
        paid_out, paid_in = (f"{-pence / 100:.2f}", "") if pence < 0 else ("", f"{pence / 100:.2f}")
        kind = "DEB" if pence < 0 else "BGC"
        lines.append(f"{day:%d/%m/%Y},{kind},'30-94-12,12345678,{description},{paid_out},{paid_in},{balance / 100:.2f}")
    header = ("Transaction Date,Transaction Type,Sort Code,Account Number,Transaction Description,Debit Amount,"
              "Credit Amount,Balance\n")
    return (header + "\n".join(reversed(lines)) + "\n").encode()


@transaction.atomic
def load_finance_demo(*, rng: random.Random, today: datetime.date | None = None) -> dict:
    """Returns what it made, for the command's summary. Does nothing (empty dict)
    when there are no supporters or payouts exist already."""
    today = today or timezone.localdate()
    if Payout.objects.exists() or not Supporter.objects.filter(erased_at__isnull=True).exists():
        return {}
    builder = _Builder(rng, today)
    this_month = today.replace(day=1)
    last_month = (this_month - datetime.timedelta(days=1)).replace(day=1)

    # Last month: a payout each Wednesday of the week before's gifts.
    wednesday = last_month + datetime.timedelta(days=(2 - last_month.weekday()) % 7 + 7)
    first_payout_lines = None
    while wednesday < this_month:
        gifts, lines = builder.week_of_gifts(wednesday - datetime.timedelta(days=9), 7, rng.randint(6, 10))
        if first_payout_lines is None:
            first_payout_lines = lines
            refunded = gifts[0]
            refund = {"id": builder._id("re"), "amount": refunded.amount_pence // 2, "status": "succeeded",
                      "charge": refunded.stripe_charge_id, "created": _ts(wednesday - datetime.timedelta(days=2))}
            donation_refunds.refund_record(donation=refunded, refund=refund, reason="Gave twice by mistake")
            donation_refunds.donation_apply_refund_total(charge_id=refunded.stripe_charge_id, payment_intent_id=None,
                                                         refunded_pence=refund["amount"])
            lines.append(builder.transaction("refund", -refund["amount"], 0, refund["id"],
                                             wednesday - datetime.timedelta(days=2), "Refund"))
            # And one given back whole (Stripe keeps its fee on the charge).
            returned = gifts[3]
            refund = {"id": builder._id("re"), "amount": returned.amount_pence, "status": "succeeded",
                      "charge": returned.stripe_charge_id, "created": _ts(wednesday - datetime.timedelta(days=2))}
            donation_refunds.refund_record(donation=returned, refund=refund,
                                           reason="Meant to give to another charity")
            donation_refunds.donation_apply_refund_total(charge_id=returned.stripe_charge_id, payment_intent_id=None,
                                                         refunded_pence=refund["amount"])
            lines.append(builder.transaction("refund", -refund["amount"], 0, refund["id"],
                                             wednesday - datetime.timedelta(days=2), "Refund"))
            lost, won = gifts[1], gifts[2]
            for gift, status in ((lost, "lost"), (won, "won")):
                dispute_id = builder._id("dp")
                donation_refunds.donation_apply_dispute(
                    charge_id=gift.stripe_charge_id, payment_intent_id=None, dispute_id=dispute_id,
                    dispute_status=status, amount_pence=gift.amount_pence, closed=True)
                day = wednesday - datetime.timedelta(days=3)
                lines.append(builder.transaction("dispute", -gift.amount_pence, 2000, dispute_id, day,
                                                 "Chargeback withdrawal for a disputed gift", type="adjustment"))
                if status == "won":
                    lines.append(builder.transaction("dispute_reversal", gift.amount_pence, 0, dispute_id,
                                                     day + datetime.timedelta(days=1),
                                                     "Chargeback reversal: the dispute was won", type="adjustment"))
            lines.append(builder.transaction("fee", -500, 0, "", wednesday - datetime.timedelta(days=4),
                                             "Radar for Fraud Teams", type="stripe_fee"))
        builder.payout(wednesday, lines)
        wednesday += datetime.timedelta(days=7)
    # A paying-in slip of cheques, keyed by Finance as a batch.
    banked = last_month + datetime.timedelta(days=19)
    amounts = [rng.choice((2000, 2500, 5000, 10000)) for _ in range(5)]
    batch = batches.batch_open(banking_date=banked, method="cheque", expected_count=len(amounts),
                               expected_total_pence=sum(amounts), reference="000041")
    for amount in amounts:
        batches.batch_gift_add(batch=batch, supporter=rng.choice(builder.supporters), amount_pence=amount,
                               received_on=banked)
    batches.batch_close(batch=batch)
    builder.credits.append((banked, "CHEQUES PAID IN 000041", sum(amounts)))
    builder.credits.append((last_month + datetime.timedelta(days=27), "INTEREST (GROSS)", 312))
    builder.credits.append((last_month + datetime.timedelta(days=1), "DD BRITISH GAS", -18_450))
    builder.credits.append((last_month + datetime.timedelta(days=14), "SALARIES NOVEMBER", -1_250_000))

    # This month: a payout with a gift taken on Stripe's dashboard, a gift still
    # waiting for its payout, a JustGiving credit, and a near-miss credit.
    # All of it dated in this month (so none of it falls in the closed one), even on its first days.
    in_this_month = max(today - datetime.timedelta(days=1), this_month)
    gifts, lines = builder.week_of_gifts(this_month, (in_this_month - this_month).days + 1, 5)
    # A cardholder's dispute, opened and not yet answered: the gift counts as disputed.
    disputed, dispute_id = max(gifts, key=lambda gift: gift.paid_at), builder._id("dp")
    donation_refunds.donation_apply_dispute(
        charge_id=disputed.stripe_charge_id, payment_intent_id=None, dispute_id=dispute_id,
        dispute_status="needs_response", amount_pence=disputed.amount_pence, closed=False)
    lines.append(builder.transaction("dispute", -disputed.amount_pence, 2000, dispute_id, in_this_month,
                                     "Chargeback withdrawal for a disputed gift", type="adjustment"))
    lines.append(builder.transaction("charge", 4000, CARD_FEE(4000), builder._id("ch"), in_this_month,
                                     "Payment taken on Stripe's dashboard (phone gift)"))
    recent = builder.payout(in_this_month, lines)
    # Who paid, as the sync reads it from the charge (the card's billing details).
    recent.lines.filter(donation__isnull=True, reporting_category="charge").update(
        customer_email="dorothy.hodgkin@example.org", customer_name="Dorothy Hodgkin")
    # In no payout yet: an exception once seven days old (kept in this month, so last month stays clean).
    builder.card_gift(max(today - datetime.timedelta(days=9), this_month))
    builder.credits.append((in_this_month, "JUSTGIVING PAYOUT REF JG77812", 48_650))
    # Its pence the other way round (£1,250.40 for £1,250.04): never a match.
    digits = str(recent.amount_pence)
    decoy = int(digits[:-2] + digits[-1] + digits[-2]) if digits[-1] != digits[-2] else recent.amount_pence + 9
    builder.credits.append((in_this_month, "FASTER PAYMENT A N OTHER", decoy))

    account, _ = BankAccount.objects.get_or_create(
        code="090", defaults={"name": "Lloyds current account", "sort_code": "30-94-12", "account_number": "12345678"})
    bank.bank_statement_import(account=account, data=_statement(builder.credits, 4_210_000),
                               filename="lloyds-statement.csv")
    # Finance confirmed last month's matches; this month's wait on the reconciliation screen.
    certain, _ = bank.bank_match_proposals()
    matched = bank.bank_matches_confirm(keys=[
        p.key for p in certain if (p.payout.arrival_date if p.payout else p.batch.banking_date) < this_month])
    for line in bank.unmatched_credits_between(last_month, this_month - datetime.timedelta(days=1)):
        if line.description.startswith("INTEREST"):
            bank.bank_line_mark_other_income(line=line, note="Bank interest")
    months.month_close(month=last_month, today=today)
    return {"payouts": Payout.objects.count(), "matched": matched}
