"""Campaign totals, kept in step with gifts by the donations app, which calls
these inside the transaction that changes a gift."""

import random

from django.db import IntegrityError, transaction
from django.db.models import F

from campaigns.models import CampaignSupporter, TotalShard


def _add(key: str, *, raised_pence: int, gift_aid_pence: int, gifts: int, donors: int) -> None:
    shard = random.randrange(TotalShard.SHARDS)
    changes = dict(raised_pence=F("raised_pence") + raised_pence, gift_aid_pence=F("gift_aid_pence") + gift_aid_pence,
                   gifts=F("gifts") + gifts, donors=F("donors") + donors)
    if TotalShard.objects.filter(key=key, shard=shard).update(**changes):
        return
    try:
        with transaction.atomic():
            TotalShard.objects.create(key=key, shard=shard, raised_pence=raised_pence,
                                      gift_aid_pence=gift_aid_pence, gifts=gifts, donors=donors)
    except IntegrityError:  # another transaction made the row first
        TotalShard.objects.filter(key=key, shard=shard).update(**changes)


def campaign_totals_apply(*, campaign_id: int | None, appeal_id: int | None, supporter_id: int,
                          raised_pence: int, gift_aid_pence: int, gifts: int) -> None:
    """Add a change in a gift's worth to its campaign's and appeal's totals.
    Amounts may be negative (a refund, a lost dispute). Call inside the
    transaction that changes the gift, so the totals can never drift from it."""
    if not (raised_pence or gift_aid_pence or gifts):
        return
    if campaign_id:
        donors = 0
        if gifts > 0:
            _, created = CampaignSupporter.objects.get_or_create(campaign_id=campaign_id, supporter_id=supporter_id)
            donors = int(created)
        _add(f"campaign:{campaign_id}", raised_pence=raised_pence, gift_aid_pence=gift_aid_pence, gifts=gifts,
             donors=donors)
    if appeal_id:
        _add(f"appeal:{appeal_id}", raised_pence=raised_pence, gift_aid_pence=gift_aid_pence, gifts=gifts, donors=0)


@transaction.atomic
def campaign_totals_replace(*, key: str, raised_pence: int, gift_aid_pence: int, gifts: int,
                            donor_ids: set[int] | None = None, campaign_id: int | None = None) -> None:
    """Set a campaign's or appeal's totals outright (after a bulk load, or to
    repair): used by donations.services.campaign_totals_rebuild."""
    TotalShard.objects.filter(key=key).delete()
    if campaign_id is not None and donor_ids is not None:
        CampaignSupporter.objects.filter(campaign_id=campaign_id).delete()
        CampaignSupporter.objects.bulk_create(
            [CampaignSupporter(campaign_id=campaign_id, supporter_id=s) for s in donor_ids], batch_size=5000)
    TotalShard.objects.create(key=key, shard=0, raised_pence=raised_pence, gift_aid_pence=gift_aid_pence,
                              gifts=gifts, donors=len(donor_ids or ()))
