"""Gifts for the dashboard's tests, recorded through the services: card gifts
from Stripe's PaymentIntents, a monthly charge, refunds, disputes won, lost and
open, cheque, JustGiving and a bucket, across midnight in GMT and BST and the
5/6 April boundary."""

import datetime
import uuid

import pytest
import time_machine

from campaigns.models import Appeal, Campaign
from donations import services
from donations.models import Donation, RecurringGift
from tests.supporters.factories import SupporterFactory

UTC = datetime.UTC
D = datetime.date


def at(*args) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=UTC)


def card_gift(supporter, pence, moment, *, campaign=None, appeal=None, fee=0, declared=False, recurring=None):
    """A card gift as the form leaves it (our row, then Stripe's PaymentIntent
    succeeding at `moment`), through the service the webhook calls."""
    gift = Donation.objects.create(
        supporter=supporter, amount_pence=pence, campaign=campaign, appeal=appeal, gift_aid_declared=declared,
        channel=Donation.Channel.MONTHLY if recurring else Donation.Channel.WEB, recurring_gift=recurring,
        created_at=moment)
    ref = uuid.uuid4().hex[:12]
    with time_machine.travel(moment, tick=False):
        return services.donation_apply_payment_intent(payment_intent={
            "id": f"pi_{ref}", "status": "succeeded", "metadata": {"donation_uid": str(gift.uid)},
            "latest_charge": {"id": f"ch_{ref}", "balance_transaction": {"id": f"txn_{ref}", "fee": fee,
                                                                         "net": pence - fee}}})


def refund(gift, pence):
    """A refund as Stripe's charge.refunded leaves it: its record, then the charge's refunded total."""
    services.refund_record(donation=gift, refund={"id": f"re_{uuid.uuid4().hex[:12]}", "amount": pence,
                                                  "status": "succeeded"})
    return services.donation_apply_refund_total(charge_id=gift.stripe_charge_id,
                                                payment_intent_id=gift.stripe_payment_intent_id,
                                                refunded_pence=gift.refunded_pence + pence)


def dispute(gift, status):
    return services.donation_apply_dispute(charge_id=gift.stripe_charge_id,
                                           payment_intent_id=gift.stripe_payment_intent_id, dispute_status=status,
                                           amount_pence=gift.amount_pence - gift.refunded_pence,
                                           closed=status in ("won", "lost"), dispute_id=f"dp_{gift.pk}")


def offline(supporter, pence, day, **kwargs):
    with time_machine.travel(at(2026, 4, 10, 12), tick=False):
        return services.donation_record_offline(supporter=supporter, amount_pence=pence, received_on=day,
                                                channel=kwargs.pop("channel", Donation.Channel.OFFLINE), **kwargs)


@pytest.fixture
def year_of_gifts():
    """Four donors over three tax years, and every kind of gift and change."""
    christmas = Campaign.objects.create(name="Home for Christmas", code="xmas", target_pence=1_000_000,
                                        budget_pence=50_000, starts_on=D(2025, 1, 1))
    spring = Campaign.objects.create(name="Spring", code="spring", target_pence=500_000, starts_on=D(2025, 1, 1))
    email = Appeal.objects.create(campaign=christmas, code="XMAS-EMAIL", name="Christmas email")
    ann, bob, cat, dev = (SupporterFactory() for _ in range(4))
    monthly = RecurringGift.objects.create(supporter=cat, amount_pence=1_000, day_of_month=1,
                                           status=RecurringGift.Status.ACTIVE, started_on=D(2026, 3, 1))
    gifts = {
        # Tax year 2024–25: Dev.
        "dev_2024": card_gift(dev, 2_000, at(2024, 12, 1, 12), campaign=christmas),
        # Tax year 2025–26: Ann and Bob (Bob lapses).
        "ann_oct": card_gift(ann, 5_000, at(2025, 10, 25, 23, 30), campaign=christmas, appeal=email, fee=95,
                             declared=True),  # 00:30 BST on 26 October, the night the clocks go back
        "bob_gmt": card_gift(bob, 2_500, at(2026, 3, 28, 23, 30), campaign=spring, fee=60),  # 23:30 GMT, 28 March
        "ann_bst": card_gift(ann, 1_001, at(2026, 3, 29, 23, 30), declared=True),  # 00:30 BST on 30 March
        "bob_5_april": card_gift(bob, 3_000, at(2026, 4, 5, 22, 30), campaign=christmas),  # 23:30 BST, 5 April
        # Tax year 2026–27: Ann retained, Cat new (monthly), Dev back after a gap.
        "ann_6_april": card_gift(ann, 2_000, at(2026, 4, 5, 23, 30), campaign=christmas, declared=True),  # 00:30 BST, 6 April
        "cat_monthly": card_gift(cat, 1_000, at(2026, 4, 6, 9), recurring=monthly, fee=40, declared=True),
        "dev_2026": card_gift(dev, 10_000, at(2026, 4, 7, 10), campaign=spring, fee=170),
        "refunded": card_gift(cat, 2_500, at(2026, 4, 7, 11), campaign=spring),
        "partly": card_gift(ann, 4_000, at(2026, 4, 8, 12), campaign=christmas, appeal=email, declared=True),
        "won": card_gift(dev, 3_000, at(2026, 4, 8, 13)),
        "lost": card_gift(bob, 6_000, at(2026, 4, 9, 13), campaign=christmas),
        "open": card_gift(cat, 700, at(2026, 4, 9, 14)),
        "cheque": offline(ann, 25_000, D(2026, 4, 9), campaign=christmas, gift_aid_declared=True),
        "justgiving": offline(dev, 1_500, D(2026, 4, 9), gift_aid_claimed_by="JustGiving"),
        "bucket": offline(None, 4_321, D(2026, 4, 9), small_donation=True, description="Street collection, York"),
    }
    refund(gifts["refunded"], 2_500)
    refund(gifts["partly"], 1_500)
    dispute(gifts["won"], "needs_response")
    dispute(gifts["won"], "won")
    dispute(refund(gifts["lost"], 1_000), "needs_response")
    dispute(Donation.objects.get(pk=gifts["lost"].pk), "lost")
    dispute(gifts["open"], "needs_response")
    Donation.objects.create(supporter=bob, amount_pence=9_999, status=Donation.Status.FAILED, created_at=at(2026, 4, 9))
    return {name: Donation.objects.get(pk=gift.pk) for name, gift in gifts.items()}
