import pytest

from donations.models import Refund
from finance.models import BankAccount
from finance.services import payouts
from supporters.models import Supporter
from tests.finance.builders import bt, card_gift, payout_data


@pytest.fixture
def donor():
    return Supporter.objects.create(first_name="Ada", last_name="Lovelace", email="ada@example.org")


@pytest.fixture
def month_of_payout(donor):
    """Three gifts, a refund of one, a lost dispute on another, a Radar fee."""
    first = card_gift(donor, 5000, "ch_1")
    second = card_gift(donor, 2000, "ch_2")
    third = card_gift(donor, 1000, "ch_3")
    refund = Refund.objects.create(donation=first, stripe_refund_id="re_1", amount_pence=500)
    third.stripe_dispute_id = "dp_1"
    third.save()
    lines = [bt("txn_1", "charge", 5000, 95, "ch_1"), bt("txn_2", "charge", 2000, 50, "ch_2"),
             bt("txn_3", "charge", 1000, 35, "ch_3"), bt("txn_4", "refund", -500, 0, "re_1"),
             bt("txn_5", "dispute", -1000, 2000, "dp_1", type="adjustment"),
             bt("txn_6", "fee", -5, 0, "", type="stripe_fee"),
             bt("txn_po", "payout", -0, 0, "po_1", type="payout")]
    net = sum(line["net"] for line in lines)
    payout = payouts.payout_record(payout=payout_data("po_1", net))
    payouts.payout_lines_record(payout=payout, transactions=lines)
    return {"payout": payout, "gifts": (first, second, third), "refund": refund, "net": net}



@pytest.fixture
def account():
    return BankAccount.objects.create(name="Current account", code="090", sort_code="30-94-12",
                                      account_number="12345678")
