"""A gift's worth to its campaign's totals, moved in the gift's own transaction, and rebuilt from the gifts."""

import dataclasses
from collections import defaultdict

from django.db.models import Case, Count, F, Q, Sum, Value, When

from campaigns import services as campaign_services
from campaigns.models import Appeal, Campaign, CampaignSupporter, FundraiserPage, TotalShard
from config.db import copy_rows
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
    rollups, in this transaction. A gift taken online and not yet recorded
    counts nowhere: online_gifts_record counts it as it then stands."""
    if donation.awaiting_record:
        return
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
    gifts = (Donation.objects.filter(status__in=Donation.INCOME_STATUSES, form_details__isnull=True)
             .exclude(campaign=None, appeal=None))
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


def campaign_totals_add_gifts(gifts: Q, *, sign: int = 1) -> None:
    """Add (sign 1) or take away (-1) the worth of many gifts (those matching
    `gifts`: an import's) to their campaigns', appeals' and fundraising pages'
    totals, a statement or two per campaign. Taking away also forgets a
    campaign's donor who has no other gift to it."""
    kept = Case(When(status__in=Donation.INCOME_STATUSES, then=F("amount_pence") - F("refunded_pence")),
                default=Value(0))
    worth = (Donation.objects.filter(gifts, status__in=Donation.INCOME_STATUSES).annotate(kept=kept)
             .annotate(aid=Case(When(gift_aid_declared=True, then=F("kept") / Value(4)), default=Value(0))))
    for level, column in (("campaign", "campaign_id"), ("appeal", "appeal_id"), ("fundraiser", "fundraiser_page_id")):
        for row in (worth.exclude(**{column: None}).values(column)
                    .annotate(raised=Sum("kept"), aid_sum=Sum("aid"), n=Count("pk", filter=Q(kept__gt=0))).order_by()):
            donors = 0
            if level == "campaign":
                donors = _campaign_donors_move(row[column], worth, sign=sign)
            campaign_services.campaign_totals_add(
                key=TotalShard.key_for(level, row[column]), raised_pence=sign * row["raised"],
                gift_aid_pence=sign * row["aid_sum"], gifts=sign * row["n"], donors=donors)


def _campaign_donors_move(campaign_id: int, worth, *, sign: int) -> int:
    """Count a campaign's new donors among the gifts (sign 1), or forget those
    whose only gifts to it these were (-1). Returns the change in its donors."""
    givers = set(worth.filter(campaign_id=campaign_id, supporter__isnull=False, kept__gt=0)
                 .values_list("supporter_id", flat=True).distinct())
    held = set(CampaignSupporter.objects.filter(campaign_id=campaign_id, supporter_id__in=worth.filter(
        campaign_id=campaign_id).values("supporter_id")).values_list("supporter_id", flat=True))
    if sign > 0:
        new = givers - held
        copy_rows(CampaignSupporter, ("campaign_id", "supporter_id"), [(campaign_id, supporter_id) for supporter_id in new])
        return len(new)
    still = set(Donation.objects.filter(
        campaign_id=campaign_id, status__in=Donation.INCOME_STATUSES,
        supporter_id__in=worth.filter(campaign_id=campaign_id).values("supporter_id"))
        .exclude(pk__in=worth.values("pk")).values_list("supporter_id", flat=True).distinct())
    gone = sorted((givers & held) - still)
    for start in range(0, len(gone), 5000):
        CampaignSupporter.objects.filter(campaign_id=campaign_id, supporter_id__in=gone[start:start + 5000]).delete()
    return -len(gone)
