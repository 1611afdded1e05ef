"""A gift's worth to its campaign's totals, moved in the gift's own transaction, and rebuilt from the gifts."""

from collections import defaultdict

import dataclasses

from campaigns import services as campaign_services
from campaigns.models import Appeal, Campaign, FundraiserPage, TotalShard
from donations.models import Donation
from donations.services.rollups import NO_WORTH, RollupWorth, income_rollups_move, rollup_worth


@dataclasses.dataclass(frozen=True)
class Worth:
    """What a gift adds to its campaign's totals (raised, Gift Aid expected,
    gifts) and to the daily income rollups."""
    totals: tuple[int, int, int] = (0, 0, 0)
    rollups: RollupWorth = NO_WORTH


NOTHING = Worth()  # a gift not yet recorded


def _totals_worth(donation: Donation) -> tuple[int, int, int]:
    kept = donation.kept_pence
    return kept, donation.gift_aid_expected_pence, 1 if kept > 0 else 0


def _worth(donation: Donation) -> Worth:
    return Worth(totals=_totals_worth(donation), rollups=rollup_worth(donation))


def _move_totals(donation: Donation, before: Worth) -> None:
    """Carry a change in a gift's worth to the campaign totals and the income
    rollups, in this transaction."""
    after = _worth(donation)
    if after.totals != before.totals:
        campaign_services.campaign_totals_apply(
            campaign_id=donation.campaign_id, appeal_id=donation.appeal_id, supporter_id=donation.supporter_id,
            raised_pence=after.totals[0] - before.totals[0], gift_aid_pence=after.totals[1] - before.totals[1],
            gifts=after.totals[2] - before.totals[2], fundraiser_page_id=donation.fundraiser_page_id,
        )
    income_rollups_move(donation=donation, before=before.rollups, after=after.rollups)


def campaign_totals_rebuild() -> int:
    """Recompute every campaign's and appeal's totals from the gifts themselves
    (after a bulk load, or to prove and repair). Returns how many were rebuilt."""
    sums = defaultdict(lambda: [0, 0, 0, set()])
    gifts = Donation.objects.filter(status__in=Donation.INCOME_STATUSES).exclude(campaign=None, appeal=None)
    for donation in gifts.only("amount_pence", "refunded_pence", "status", "gift_aid_declared", "campaign_id",
                               "appeal_id", "supporter_id", "fundraiser_page_id").iterator(chunk_size=5000):
        kept, gift_aid, counted = _totals_worth(donation)
        for key in (TotalShard.key_for("campaign", donation.campaign_id) if donation.campaign_id else None,
                    TotalShard.key_for("appeal", donation.appeal_id) if donation.appeal_id else None,
                    TotalShard.key_for("fundraiser", donation.fundraiser_page_id) if donation.fundraiser_page_id
                    else None):
            if key:
                row = sums[key]
                row[0] += kept
                row[1] += gift_aid
                row[2] += counted
                if counted and key.startswith("campaign:") and donation.supporter_id:  # a collection has no donor
                    row[3].add(donation.supporter_id)
    keys = [TotalShard.key_for("campaign", pk) for pk in Campaign.objects.values_list("pk", flat=True)]
    keys += [TotalShard.key_for("appeal", pk) for pk in Appeal.objects.values_list("pk", flat=True)]
    keys += [TotalShard.key_for("fundraiser", pk) for pk in FundraiserPage.objects.values_list("pk", flat=True)]
    for key in keys:
        raised, gift_aid, counted, donors = sums[key]
        is_campaign = key.startswith("campaign:")
        campaign_services.campaign_totals_replace(
            key=key, raised_pence=raised, gift_aid_pence=gift_aid, gifts=counted,
            donor_ids=donors if is_campaign else None,
            campaign_id=int(key.split(":")[1]) if is_campaign else None,
        )
    return len(keys)
