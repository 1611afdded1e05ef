"""`make bench`, finance: a large charity's year. 100,000 card gifts paid out
by Stripe in 365 daily payouts, and a 5,000-line Lloyds statement showing them;
the payouts synced from the local Stripe, the statement imported and the year
reconciled, with the seconds and rows per second of each step (goal: the whole
year reconciles in under 10 s on PostgreSQL).

Called by tests/bench/__main__.py once Django is set up on the migrated
PostgreSQL database, or alone (a fresh database, migrated):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_finance python -m tests.bench.finance

Seeding (not timed against the goal). The local Stripe (tests/bench/local_stripe.py)
makes the year's charges through its test-only bulk route, each at its moment
and with its UK card fee; then, day by day on its test clock, the refunds,
disputes (some won, some lost), Radar fees and an adjustment, and each day's
automatic payout of everything then available, arriving two days later (the
next working day from a weekend). Our side is loaded as the webhooks would
have left it, in bulk (COPY): supporters, the gifts with their Stripe charge
ids (nine in ten with Stripe's fee already read from the charge, as the
webhook does when the charge comes expanded), the refunds and disputes. Seeded
on purpose, and expected as exceptions: charges taken on Stripe's dashboard
(no gift of ours), refunds whose webhook never came, gifts whose charge is in
no payout; two disputes whose webhook never came (the sync asks Stripe and
records them); Stripe-like credits one digit off a payout (decoys that must not
match). The statement has every payout's credit on its arrival day, the
decoys, and the charity's other money in and out.

Timed, each with its queries: (1) `payouts_sync` over HTTP from the local
Stripe, split into Stripe's answers (the requests and the stripe library
reading them), matching lines to gifts (with the fees written to gifts),
refreshing the lines' statistics and the rest (recording payouts and lines);
(2) `bank_statement_import` of the file; (3) `reconcile()`, and once more (it
finds nothing new). "The whole year reconciles" is (2) + (3) + the matching
inside (1): everything but fetching from Stripe and storing what it said.
Then the results are checked against what was seeded.

BENCH_FINANCE_GIFTS sizes it (100,000); BENCH_FINANCE_PROFILE=1 prints
cProfile's top functions for each timed step (slowing them)."""

import contextlib
import datetime
import os
import random
import signal
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import requests
from django.db import connection
from django.db.models import F, Q
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.bench import servers
from tests.bench.profiling import profiled
from tests.stripe_server import SECRET_KEY

GIFTS = 100_000
DAYS = 365
STATEMENT_LINES = 5_000
GOAL_SECONDS = 10
SEED = 2026
SUPPORTERS_PER_GIFT = 0.2
BULK_CHUNK = 10_000  # charges per request: aiohttp takes bodies up to 1 MB
REFUND_SHARE = 0.008
DISPUTE_SHARE = 0.0006
FEE_UNKNOWN_EVERY = 10  # every tenth gift's fee is not yet known: the sync writes it
DASHBOARD_CHARGES = 5  # charges with no gift of ours
UNRECORDED_REFUNDS = 3  # refunds whose webhook never came
UNKNOWN_DISPUTES = 2  # disputes whose webhook never came (the sync fetches them)
GIFTS_NOT_PAID_OUT = 4  # our gifts whose charge Stripe never paid out
DECOYS = 10
OTHER_CREDITS = 400
DESCRIPTOR = "BRIGHTWELL"
ACCOUNT = {"code": "091", "name": "Lloyds current account (benchmark)", "sort_code": "30-94-99",
           "account_number": "87654321"}
DAY = 86_400


def _ts(day: datetime.date, seconds: int = 0) -> int:
    return int(datetime.datetime.combine(day, datetime.time(), tzinfo=datetime.UTC).timestamp()) + seconds


def _utc(timestamp: int) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(timestamp, tz=datetime.UTC)


class _Stripe:
    """The local Stripe's API and test-only routes, through one kept-alive session."""

    def __init__(self, base: str):
        self.base = base
        self.session = requests.Session()
        self.session.auth = (SECRET_KEY, "")
        self.requests = 0

    def post(self, path: str, **kwargs) -> dict | list:
        self.requests += 1
        response = self.session.post(self.base + path, timeout=120, **kwargs)
        if response.status_code != 200:
            raise RuntimeError(f"local Stripe {path}: {response.status_code} {response.text[:500]}")
        return response.json()

    def clock(self, now: int | None) -> None:
        self.post("/_config/clock", data={"now": now} if now is not None else {})


# --- seeding --------------------------------------------------------------------------

class _Year:
    """What was made, to load our side and to check the results against."""

    def __init__(self, first: datetime.date):
        self.first = first
        self.charges: list[dict] = []  # {id, balance_transaction, amount, fee, created}, oldest first
        self.refunds: dict[int, list[dict]] = defaultdict(list)  # charge index -> refunds
        self.disputes: dict[int, dict] = {}  # charge index -> {id, status}
        self.payouts: list[dict] = []  # {id, amount, arrival (date)}
        self.dashboard: set[int] = set()  # charge indexes with no gift of ours
        self.unrecorded_refunds: set[str] = set()
        self.unknown_disputes: set[str] = set()


def _working_day_from(day: datetime.date) -> datetime.date:
    from finance import working_days

    while not working_days.is_working_day(day):
        day += datetime.timedelta(days=1)
    return day


def _amount(rng: random.Random) -> int:
    # £2 to £200, a third £20 or less, most in whole pounds (as tests/bench/gift_aid.py draws them).
    raw = 200 + int(19800 * rng.random() ** 2)
    return max(200, round(raw / 100) * 100) if rng.random() < 0.6 else raw


def _seed_stripe(stripe: _Stripe, rng: random.Random, *, gifts: int, first: datetime.date) -> _Year:
    year = _Year(first)
    moments = sorted(_ts(first + datetime.timedelta(days=rng.randrange(DAYS)), rng.randint(7 * 3600, 20 * 3600))
                     for _ in range(gifts))
    wanted = [{"amount": _amount(rng), "created": moment} for moment in moments]
    for start in range(0, len(wanted), BULK_CHUNK):
        year.charges += stripe.post("/_test/bulk_charges", json=wanted[start:start + BULK_CHUNK])

    # What happens to some gifts later, by the day it happens: refunds and disputes (apart), Radar's fee
    # on the first of each month, one adjustment.
    by_day: dict[int, list[tuple]] = defaultdict(list)
    chosen = rng.sample(range(len(year.charges)), int(len(year.charges) * (REFUND_SHARE + DISPUTE_SHARE)) + 2)
    disputed = chosen[:max(UNKNOWN_DISPUTES + 3, int(len(year.charges) * DISPUTE_SHARE))]
    for index in chosen[len(disputed):]:
        day = (year.charges[index]["created"] - _ts(first)) // DAY + rng.randint(1, 6)
        amount = year.charges[index]["amount"]
        by_day[day].append(("refund", index, amount if rng.random() < 0.5 else rng.randint(1, amount - 1)))
    for number, index in enumerate(disputed):
        day = (year.charges[index]["created"] - _ts(first)) // DAY + rng.randint(3, 20)
        by_day[day].append(("dispute", index, None))
        if number % 3 < 2:  # two in three closed three weeks later: won, lost, won, lost...
            by_day[day + 21].append(("close", index, "won" if number % 2 == 0 else "lost"))
    for k in range(1, DAYS):
        if (first + datetime.timedelta(days=k)).day == 1:  # Radar for Fraud Teams: 2p per charge screened
            start, end = _ts(first) + (k - 31) * DAY, _ts(first) + k * DAY
            by_day[k].append(("radar", None, 2 * sum(1 for charge in year.charges if start <= charge["created"] < end)))
    by_day[DAYS // 2].append(("adjustment", None, -1234))

    for k in range(DAYS):
        day = first + datetime.timedelta(days=k)
        moment = _ts(day, 21 * 3600)
        for kind, index, value in by_day.get(k, ()):
            moment += 60
            charge = year.charges[index]["id"] if index is not None else None
            if kind == "refund":
                stripe.clock(moment)
                refund = stripe.post("/v1/refunds", data={"charge": charge, "amount": value})
                year.refunds[index].append({"id": refund["id"], "amount": value, "created": moment})
            elif kind == "dispute":
                dispute = stripe.post(f"/_test/charges/{charge}/dispute", data={"created": moment})
                year.disputes[index] = {"id": dispute["id"], "status": "needs_response"}
            elif kind == "close":
                stripe.post(f"/_test/disputes/{year.disputes[index]['id']}/close",
                            data={"status": value, "created": moment})
                year.disputes[index]["status"] = value
            elif kind == "radar" and value:
                stripe.post("/_test/radar_fees", data={"amount": value, "created": moment})
            elif kind == "adjustment":
                stripe.post("/_test/adjustments", data={"amount": value, "created": moment,
                                                        "description": "Correction of an earlier fee"})
        arrival = _working_day_from(day + datetime.timedelta(days=2))
        payout = stripe.post("/_test/payouts", data={"created": _ts(day, 23 * 3600 + 1800),
                                                     "arrival_date": _ts(arrival),
                                                     "statement_descriptor": DESCRIPTOR})
        year.payouts.append({"id": payout["id"], "amount": payout["amount"], "arrival": arrival})
    stripe.clock(None)

    # The exceptions seeded: a few of the charges are not ours, a few refunds and disputes never reached us.
    plain = [i for i in range(len(year.charges)) if i not in year.refunds and i not in year.disputes]
    year.dashboard = set(rng.sample(plain, DASHBOARD_CHARGES))
    refunded = sorted(year.refunds)
    year.unrecorded_refunds = {year.refunds[i][0]["id"]
                               for i in rng.sample(refunded, min(UNRECORDED_REFUNDS, len(refunded)))}
    year.unknown_disputes = {year.disputes[i]["id"] for i in sorted(year.disputes)[:UNKNOWN_DISPUTES]}
    return year


def _copy(model, objects) -> None:
    """Model instances written with PostgreSQL's COPY: every column Django would
    write (defaults and auto_now applied as save() would), none of save()'s work."""
    fields = [f for f in model._meta.concrete_fields if not f.primary_key and not getattr(f, "generated", False)]
    table = connection.ops.quote_name(model._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for obj in objects:
            copy.write_row([f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields])


def _seed_ours(rng: random.Random, year: _Year) -> dict:
    """Supporters, gifts, refunds and disputes as the webhooks recorded them; returns the
    gifts' ids by charge id, and the ids of the gifts seeded as never paid out."""
    from donations.models import Donation, Refund
    from supporters.models import Supporter

    count = max(10, int(len(year.charges) * SUPPORTERS_PER_GIFT))
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) FROM supporters_supporter")
        (before,) = cursor.fetchone()
    _copy(Supporter, (Supporter(first_name=f"Giver{n}", last_name="Bench", email=f"fin.bench.{n}@example.org",
                                created_at=_utc(_ts(year.first)))
                      for n in range(count)))
    supporters = list(Supporter.objects.filter(pk__gt=before).values_list("pk", flat=True))

    def gift(index: int, charge: dict) -> Donation:
        at = _utc(charge["created"])
        refunded = sum(refund["amount"] for refund in year.refunds.get(index, ()))
        status = Donation.Status.SUCCEEDED
        if refunded:
            status = Donation.Status.REFUNDED if refunded == charge["amount"] else Donation.Status.PARTLY_REFUNDED
        dispute = year.disputes.get(index)
        dispute_status, dispute_id = "", None
        if dispute and dispute["id"] not in year.unknown_disputes:
            dispute_status, dispute_id = dispute["status"], dispute["id"]
            if dispute["status"] == "needs_response":
                status = Donation.Status.DISPUTED
            elif dispute["status"] == "lost":
                status, refunded = Donation.Status.REFUNDED, charge["amount"]
        fee_known = index % FEE_UNKNOWN_EVERY != 0
        return Donation(
            supporter_id=rng.choice(supporters), amount_pence=charge["amount"], currency="gbp", status=status,
            refunded_pence=refunded, dispute_status=dispute_status, stripe_dispute_id=dispute_id,
            failure_reason="Card dispute lost" if dispute_status == "lost" else "",
            channel=Donation.Channel.WEB, gift_aid_declared=rng.random() < 0.6,
            stripe_charge_id=charge["id"], stripe_payment_intent_id="pi_" + charge["id"][3:],
            stripe_balance_transaction_id=charge["balance_transaction"] if fee_known else None,
            fee_pence=charge["fee"] if fee_known else None,
            net_pence=charge["amount"] - charge["fee"] if fee_known else None,
            created_at=at - datetime.timedelta(seconds=40), paid_at=at, receipt_sent_at=at)

    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) FROM donations_donation")
        (before,) = cursor.fetchone()
    gifts = [gift(index, charge) for index, charge in enumerate(year.charges) if index not in year.dashboard]
    for n in range(GIFTS_NOT_PAID_OUT):  # Stripe took them, but no payout ever held them
        at = _utc(_ts(year.first + datetime.timedelta(days=40 + 60 * n), 12 * 3600))
        gifts.append(Donation(supporter_id=rng.choice(supporters), amount_pence=2500, status=Donation.Status.SUCCEEDED,
                              channel=Donation.Channel.WEB, stripe_charge_id=f"ch_bench_not_paid_out_{n}",
                              created_at=at, paid_at=at))
    _copy(Donation, gifts)
    ours = dict(Donation.objects.filter(pk__gt=before).values_list("stripe_charge_id", "pk"))

    refunds = [Refund(donation_id=ours[year.charges[index]["id"]], stripe_refund_id=refund["id"],
                      amount_pence=refund["amount"], status="succeeded", reason="Asked for it back",
                      created_at=_utc(refund["created"]))
               for index, made in year.refunds.items() for refund in made
               if refund["id"] not in year.unrecorded_refunds]
    Refund.objects.bulk_create(refunds, batch_size=2000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE supporters_supporter, donations_donation, donations_refund")
    not_paid_out = {ours[f"ch_bench_not_paid_out_{n}"] for n in range(GIFTS_NOT_PAID_OUT)}
    return {"by_charge": ours, "not_paid_out": not_paid_out, "first_pk": min(ours.values()),
            "supporters": len(supporters), "gifts": len(gifts), "refunds": len(refunds)}


def _statement(rng: random.Random, year: _Year, *, lines: int) -> tuple[bytes, dict]:
    """The account's Lloyds export for the year, newest first with running balances:
    each payout's credit on its arrival day, decoys, and the charity's other money."""
    first, last = year.first, max(payout["arrival"] for payout in year.payouts)
    span = (last - first).days + 1
    rows = []  # (date, type, description, pence: + in, - out, kind)
    for payout in year.payouts:
        rows.append((payout["arrival"], "BGC", f"STRIPE PAYMENTS UK {DESCRIPTOR}", payout["amount"], "payout"))
    payout_amounts = {payout["amount"] for payout in year.payouts}
    decoys = []
    for payout in rng.sample(year.payouts, DECOYS):
        tens = payout["amount"] // 10 % 10
        # The tens of pence one off (down if that digit is 9, or if another payout has the amount up).
        amount = payout["amount"] + (10 if tens < 9 and payout["amount"] + 10 not in payout_amounts else -10)
        day = _working_day_from(payout["arrival"] + datetime.timedelta(days=rng.choice((0, 1))))
        rows.append((day, "BGC", f"STRIPE PAYMENTS UK {DESCRIPTOR}", amount, "decoy"))
        decoys.append((day, amount))
    credits = (("FPI", "JUSTGIVING PAYOUT", 50_000, 900_000), ("BGC", "CAF BANK DONATIONS", 20_000, 300_000),
               ("CR", "INTEREST (GROSS)", 500, 9_000), ("BGC", "HMRC GIFT AID REPAYMENT", 100_000, 2_500_000),
               ("DEP", "CHEQUES PAID IN", 1_000, 150_000), ("SO", "STANDING ORDER DONATION", 500, 5_000))
    debits = (("FPO", "SALARIES", 100_000, 1_500_000), ("DD", "BRITISH GAS BUSINESS", 5_000, 60_000),
              ("DD", "HMRC PAYE", 50_000, 800_000), ("DEB", "CARD PAYMENT OFFICE SUPPLIES", 300, 40_000),
              ("FPO", "SUPPLIER PAYMENT", 2_000, 400_000), ("DD", "RENT", 150_000, 350_000),
              ("CHQ", "CHEQUE", 1_000, 90_000), ("DD", "BT BUSINESS", 2_000, 20_000),
              ("BP", "GRANT TO PARTNER", 100_000, 2_000_000), ("DEB", "CARD PAYMENT TRAVEL", 500, 30_000))
    others = lines - len(rows)
    for n in range(others):
        kind, description, low, high = rng.choice(credits) if n < OTHER_CREDITS else rng.choice(debits)
        amount = rng.randint(low, high)
        while n < OTHER_CREDITS and amount in payout_amounts:
            amount += 1  # another credit of exactly a payout's amount would be a genuine ambiguity
        day = first + datetime.timedelta(days=rng.randrange(span))
        rows.append((day, kind, f"{description} {n:05d}", amount if n < OTHER_CREDITS else -amount,
                     "credit" if n < OTHER_CREDITS else "debit"))
    rows.sort(key=lambda row: row[0])  # oldest first; a day's lines in the order made (a stable sort)
    balance, text = 25_000_000, []
    for day, kind, description, pence, _what in rows:
        balance += pence
        paid_out, paid_in = (f"{-pence / 100:.2f}", "") if pence < 0 else ("", f"{pence / 100:.2f}")
        text.append(f"{day:%d/%m/%Y},{kind},'{ACCOUNT['sort_code']},{ACCOUNT['account_number']},{description},"
                    f"{paid_out},{paid_in},{balance / 100:.2f}")
    header = ("Transaction Date,Transaction Type,Sort Code,Account Number,Transaction Description,Debit Amount,"
              "Credit Amount,Balance\n")
    data = (header + "\n".join(reversed(text)) + "\n").encode()
    counts = defaultdict(int)
    for row in rows:
        counts[row[4]] += 1
    return data, {"counts": dict(counts), "decoys": decoys, "first": first, "last": last}


# --- timing ----------------------------------------------------------------------------

@contextlib.contextmanager
def _sync_phases(figures: dict):
    """Time the sync's parts by wrapping, for the one call, the functions it calls
    through their modules (the services themselves are untouched): Stripe's
    answers (each page as it is read), matching lines to gifts (with the fees
    written to gifts, timed on their own too) and refreshing the statistics."""
    from donations import stripe_gateway
    from donations.services import gifts
    from finance.services import payouts

    originals = []
    depth = defaultdict(int)  # a call inside another of the same label is counted once

    def wrap(module, name, label):
        original = getattr(module, name, None)
        if original is None:
            return
        originals.append((module, name, original))

        def timed(*args, **kwargs):
            depth[label] += 1
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                depth[label] -= 1
                if not depth[label]:
                    figures[label] += time.perf_counter() - started
        setattr(module, name, timed)

    def wrap_pages(module, name, label):
        original = getattr(module, name)
        originals.append((module, name, original))

        def timed(*args, **kwargs):
            items = original(*args, **kwargs)
            while True:
                started = time.perf_counter()
                try:
                    item = next(items)
                except StopIteration:
                    return
                finally:
                    figures[label] += time.perf_counter() - started
                yield item
        setattr(module, name, timed)

    wrap_pages(stripe_gateway, "payouts_since", "stripe")
    wrap_pages(stripe_gateway, "balance_transactions_for_payout", "stripe")
    wrap(stripe_gateway, "dispute_retrieve", "stripe")
    wrap(stripe_gateway, "charge_retrieve", "stripe")
    # Matching: finding each line's gift (`_link`, also for new lines before they are written),
    # linking lines held before (`payout_lines_match`) and writing the gifts' fees (`_record_fees`).
    for name in ("payout_lines_match", "_link", "_record_fees"):
        wrap(payouts, name, "matching")
    wrap(gifts, "donations_record_stripe_fees", "fees")
    wrap(payouts, "_analyze", "analyze")
    try:
        yield
    finally:
        for module, name, original in reversed(originals):
            setattr(module, name, original)


def _profiled(label: str):
    """With BENCH_FINANCE_PROFILE=1, cProfile's top functions for the step."""
    return profiled(label, switch="BENCH_FINANCE_PROFILE")


def _timed(label: str):
    @contextlib.contextmanager
    def timer(result: dict):
        with CaptureQueriesContext(connection) as queries, _profiled(label):
            started = time.perf_counter()
            yield
            result["seconds"] = time.perf_counter() - started
        result["queries"] = len(queries)
    return timer


# --- checks ----------------------------------------------------------------------------

def _check(year: _Year, ours: dict, statement: dict, account, result) -> list[str]:
    from donations.models import Donation
    from finance.models import BankLine, Payout, PayoutLine
    from finance.selectors import payouts_not_adding_up, stripe_gifts_not_paid_out

    problems = []
    ids = [payout["id"] for payout in year.payouts]
    payouts = Payout.objects.filter(stripe_payout_id__in=ids).select_related("bank_line")
    if payouts.count() != len(ids):
        problems.append(f"{payouts.count()} of {len(ids)} payouts recorded")
    wrong = payouts_not_adding_up(payouts)
    if wrong:
        problems.append(f"{len(wrong)} payouts do not add up to the penny")
    expected = {payout["id"]: (payout["arrival"], payout["amount"]) for payout in year.payouts}
    unmatched = [p for p in payouts if p.bank_line is None or p.bank_line.account_id != account.pk
                 or (p.bank_line.date, p.bank_line.paid_in_pence) != expected[p.stripe_payout_id]
                 or not p.bank_line.description.startswith("STRIPE PAYMENTS UK")]
    if unmatched:
        problems.append(f"{len(unmatched)} payouts not matched to their own credit")
    lines = PayoutLine.objects.filter(payout__stripe_payout_id__in=ids)
    transactions = len(year.charges) + sum(len(made) for made in year.refunds.values())
    if lines.filter(reporting_category="charge").count() != len(year.charges):
        problems.append(f"{lines.filter(reporting_category='charge').count()} charge lines for "
                        f"{len(year.charges)} charges")
    if lines.filter(reporting_category="refund").count() != transactions - len(year.charges):
        problems.append("refund lines missing")
    # Every charge line is linked to the gift with its charge id, which has the charge's fee and net.
    wrong_gift = (lines.filter(reporting_category="charge", donation__isnull=False)
                  .exclude(donation__stripe_charge_id=F("source_id")).count())
    wrong_fee = (lines.filter(reporting_category="charge", donation__isnull=False)
                 .exclude(Q(donation__fee_pence=F("fee_pence")) & Q(donation__net_pence=F("net_pence"))
                          & Q(donation__stripe_balance_transaction_id=F("stripe_balance_transaction_id"))).count())
    if wrong_gift or wrong_fee:
        problems.append(f"{wrong_gift} charge lines linked to another gift, {wrong_fee} gifts with another fee")
    without_gift = set(lines.filter(donation__isnull=True, reporting_category__in=(
        "charge", "refund", "refund_failure", "dispute", "dispute_reversal")).values_list("source_id", flat=True))
    seeded = {year.charges[i]["id"] for i in year.dashboard} | year.unrecorded_refunds
    if without_gift != seeded:
        problems.append(f"lines without a gift: {len(without_gift)}, seeded {len(seeded)}")
    learnt = Donation.objects.filter(stripe_dispute_id__in=year.unknown_disputes).count()
    if learnt != len(year.unknown_disputes):
        problems.append(f"{learnt} of {len(year.unknown_disputes)} disputes read from Stripe recorded")
    decoys = BankLine.objects.filter(account=account, paid_in_pence__in=[amount for _, amount in statement["decoys"]],
                                     description__startswith="STRIPE PAYMENTS UK")
    if decoys.count() != DECOYS or decoys.exclude(status=BankLine.Status.UNMATCHED).exists():
        problems.append(f"decoys: {decoys.exclude(status=BankLine.Status.UNMATCHED).count()} of "
                        f"{decoys.count()} matched")
    # The exceptions' lists hold the first 500 of each kind, in the whole database (the demo data's too, in
    # `make bench`): here, all of the benchmark's, found as the lists find them.
    found = result.exceptions
    not_paid_out = set(stripe_gifts_not_paid_out().filter(pk__gte=ours["first_pk"]).values_list("pk", flat=True))
    mine = {
        "gifts in no payout": (not_paid_out, ours["not_paid_out"]),
        "unmatched credits": (BankLine.objects.filter(account=account, status=BankLine.Status.UNMATCHED,
                                                      paid_in_pence__gt=0).count(),
                              statement["counts"].get("credit", 0) + DECOYS),
        "payouts not in the bank": (len([p for p in found.payouts_not_in_bank if p.stripe_payout_id in expected]), 0),
        "payouts not adding up": (len([p for p, _ in found.payouts_not_adding_up if p.stripe_payout_id in expected]),
                                  0),
        "matches to choose": (len([p for p in result.to_choose if p.payout and p.payout.stripe_payout_id in expected]),
                              0),
    }
    for name, (got, wanted) in mine.items():
        if got != wanted:
            count = len if isinstance(got, set) else int
            problems.append(f"{name}: {count(got)}, seeded {count(wanted)}")
    return problems


# --- the run -------------------------------------------------------------------------

def _rate(rows: int, seconds: float) -> str:
    return f"{rows / seconds:,.0f} rows/s" if seconds else "-"


def run(url: str, gifts: int = GIFTS) -> None:
    from finance import bank_statements
    from finance.models import BankAccount, BankLine, PayoutLine
    from finance.services import bank, payouts, reconcile

    rng = random.Random(SEED)
    today = timezone.localdate()
    # The year ends ten days ago: its last payout has arrived, every gift is more than a week old.
    first = today - datetime.timedelta(days=DAYS + 10)
    workdir = Path(tempfile.mkdtemp(prefix="brightwell-bench-finance-"))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with servers.local_stripe(workdir) as base, override_settings(STRIPE_SECRET_KEY=SECRET_KEY,
                                                                  STRIPE_API_BASE=base):
        stripe = _Stripe(base)
        started = time.perf_counter()
        year = _seed_stripe(stripe, rng, gifts=gifts, first=first)
        stripe_seconds = time.perf_counter() - started
        started = time.perf_counter()
        ours = _seed_ours(rng, year)
        ours_seconds = time.perf_counter() - started
        data, statement = _statement(rng, year, lines=STATEMENT_LINES)
        print(f"finance data: {len(year.charges):,} charges, {sum(map(len, year.refunds.values())):,} refunds, "
              f"{len(year.disputes)} disputes and {len(year.payouts)} daily payouts "
              f"({first:%d %b %Y} to {first + datetime.timedelta(days=DAYS - 1):%d %b %Y}) made in the local Stripe "
              f"in {stripe_seconds:.1f} s ({stripe.requests:,} requests; charges by its test-only bulk route); "
              f"{ours['supporters']:,} supporters, {ours['gifts']:,} gifts and {ours['refunds']:,} refunds loaded "
              f"(COPY) in {ours_seconds:.1f} s; a {STATEMENT_LINES:,}-line Lloyds statement "
              f"({len(data) / 1e3:,.0f} kB: " + ", ".join(f"{n:,} {kind}s" for kind, n in
                                                           sorted(statement["counts"].items())) + ")")

        account, _ = BankAccount.objects.get_or_create(code=ACCOUNT["code"], defaults={
            key: value for key, value in ACCOUNT.items() if key != "code"})

        sync, phases = {}, defaultdict(float)
        with _sync_phases(phases), _timed("payouts_sync")(sync):
            counts = payouts.payouts_sync(since=first - datetime.timedelta(days=1))
        lines = PayoutLine.objects.filter(payout__stripe_payout_id__in=[p["id"] for p in year.payouts]).count()
        rest = sync["seconds"] - phases["stripe"] - phases["matching"] - phases["analyze"]
        print(f"finance sync: {counts['payouts']:,} payouts with {counts['lines']:,} lines synced from the local "
              f"Stripe in {sync['seconds']:.1f} s ({_rate(counts['lines'], sync['seconds'])}; "
              f"{sync['queries']:,} queries): "
              f"Stripe's answers over HTTP {phases['stripe']:.1f} s, matching lines to gifts "
              f"{phases['matching']:.2f} s ({_rate(lines, phases['matching'])}; of which writing "
              f"fees to gifts {phases['fees']:.2f} s), recording payouts and lines {rest:.1f} s, "
              f"refreshing the lines' statistics {phases['analyze']:.2f} s")

        imported = {}
        with _timed("bank_statement_import")(imported):
            record = bank.bank_statement_import(account=account, data=data, filename="lloyds-year.csv")
        print(f"finance import: {record.lines_added:,} statement lines imported in {imported['seconds']:.2f} s "
              f"({_rate(record.lines_added, imported['seconds'])}; {imported['queries']} queries; reading the file "
              f"alone {_read_seconds(bank_statements, data):.2f} s)")

        reconciled = {}
        with _timed("reconcile")(reconciled):
            result = reconcile.reconcile()
        rows = lines + record.lines_added
        print(f"finance reconcile: {result.bank_matches_now} bank credits matched, {result.lines_matched_now} "
              f"Stripe lines matched now, {result.exceptions.count} exceptions, in {reconciled['seconds']:.2f} s "
              f"({_rate(rows, reconciled['seconds'])} over {lines:,} Stripe lines and {record.lines_added:,} "
              f"bank lines; {reconciled['queries']} queries)")
        again = {}
        with _timed("reconcile again")(again):
            second = reconcile.reconcile()
        print(f"finance reconcile again (nothing new): {second.bank_matches_now} matched, in "
              f"{again['seconds']:.2f} s ({again['queries']} queries)")

        whole = imported["seconds"] + reconciled["seconds"] + phases["matching"]
        verdict = "OK" if whole < GOAL_SECONDS else "SLOWER THAN GOAL"
        print(f"finance: the whole year reconciles in {whole:.1f} s (goal < {GOAL_SECONDS} s: {verdict}): "
              f"the statement imported {imported['seconds']:.2f} s + reconcile {reconciled['seconds']:.2f} s + "
              f"the sync's matching of {lines:,} lines to gifts {phases['matching']:.2f} s; fetching and storing "
              f"Stripe's payouts (the rest of the sync, {sync['seconds'] - phases['matching']:.1f} s) not counted")

        problems = _check(year, ours, statement, account, result)
        unmatched = BankLine.objects.filter(account=account, status=BankLine.Status.UNMATCHED,
                                            paid_in_pence__gt=0).count()
        print(f"finance checks (every payout recorded, adding up to the penny and matched to its own credit; every "
              f"charge line on its gift with its fee; decoys unmatched; exceptions as seeded: "
              f"{DASHBOARD_CHARGES + UNRECORDED_REFUNDS} lines without a gift, {GIFTS_NOT_PAID_OUT} gifts in no "
              f"payout, {unmatched:,} unmatched credits): "
              + ("OK" if not problems else "FAILED: " + "; ".join(problems)))


def _read_seconds(bank_statements, data: bytes) -> float:
    started = time.perf_counter()
    bank_statements.read_bank_statement(data)
    return time.perf_counter() - started


def main() -> int:
    """The finance section alone, on a fresh database (as `make bench` makes it)."""
    from tests.bench.__main__ import django_on, postgres_url

    url = postgres_url("The finance benchmark")
    if url is None:
        return 2
    django_on(url, fresh=True)
    run(url, gifts=int(os.environ.get("BENCH_FINANCE_GIFTS", GIFTS)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
