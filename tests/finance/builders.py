"""Builders for finance's tests: Stripe-shaped payouts and balance transactions,
card gifts, and a Lloyds statement export."""

import datetime

from donations.models import Donation

D = datetime.date
ARRIVAL = D(2026, 11, 10)  # a Tuesday


def ts(day: datetime.date) -> int:
    return int(datetime.datetime.combine(day, datetime.time(12), tzinfo=datetime.UTC).timestamp())


def card_gift(supporter, pence, charge, *, on=D(2026, 11, 2), campaign=None) -> Donation:
    moment = datetime.datetime.combine(on, datetime.time(12), tzinfo=datetime.UTC)
    return Donation.objects.create(supporter=supporter, amount_pence=pence, status=Donation.Status.SUCCEEDED,
                                   channel=Donation.Channel.WEB, stripe_charge_id=charge,
                                   stripe_payment_intent_id=f"pi_{charge}", created_at=moment, paid_at=moment,
                                   campaign=campaign)


def bt(id, category, amount, fee=0, source="", type=None, on=D(2026, 11, 3)) -> dict:
    """A balance transaction in Stripe's shape."""
    return {"id": id, "object": "balance_transaction", "amount": amount, "fee": fee, "net": amount - fee,
            "currency": "gbp", "created": ts(on), "available_on": ts(on + datetime.timedelta(days=2)),
            "reporting_category": category, "type": type or category, "source": source, "status": "available",
            "description": f"{category} {id}"}


def payout_data(id, amount, status="paid", arrival=ARRIVAL) -> dict:
    return {"id": id, "object": "payout", "amount": amount, "currency": "gbp", "arrival_date": ts(arrival),
            "created": ts(arrival - datetime.timedelta(days=2)), "automatic": True, "status": status,
            "statement_descriptor": "BRIGHTWELL", "failure_code": None, "failure_message": None}



LLOYDS_HEADER = "Transaction Date,Transaction Type,Sort Code,Account Number,Transaction Description,Debit Amount,Credit Amount,Balance\n"


def lloyds(*rows) -> bytes:
    """Rows oldest first as (date, description, out, in); written newest first, with balances, as Lloyds does."""
    balance, lines = 100_000, []
    for day, description, out, in_ in rows:
        balance += round(in_ * 100) - round(out * 100)
        lines.append(f"{day:%d/%m/%Y},BGC,'30-94-12,12345678,{description},{out or ''},{in_ or ''},{balance / 100:.2f}")
    return (LLOYDS_HEADER + "\n".join(reversed(lines)) + "\n").encode()
