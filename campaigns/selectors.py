"""Reads of campaign figures. Pages and lists call these; nothing sums gifts in a template."""

import datetime

from django.db.models import CharField, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Cast, Coalesce, Concat, Upper
from django.utils import timezone

from campaigns.models import Appeal, Campaign, FundraiserPage, TotalShard


def _totals(key: str) -> dict:
    sums = TotalShard.objects.filter(key=key).aggregate(
        raised_pence=Sum("raised_pence"), gift_aid_pence=Sum("gift_aid_pence"), gifts=Sum("gifts"),
        donors=Sum("donors"))
    return {name: value or 0 for name, value in sums.items()}


def campaign_total_subquery(figure: str):
    """A campaign's total of one figure (raised_pence, gift_aid_pence, gifts,
    donors), summed over its shards, as a subquery to annotate a list of campaigns with."""
    key = Concat(Value(TotalShard.key_for("campaign", "")), Cast(OuterRef("pk"), CharField()))
    shards = TotalShard.objects.filter(key=key)
    return Coalesce(Subquery(shards.values("key").annotate(total=Sum(figure)).values("total")[:1]), 0)


def campaign_totals(*, campaign: Campaign) -> dict:
    """Raised (gifts less refunds), Gift Aid expected (shown separately), gifts,
    donors, and progress towards the target, in pence."""
    totals = _totals(TotalShard.key_for("campaign", campaign.pk))
    target = campaign.target_pence
    totals["target_pence"] = target
    totals["percent"] = min(100, totals["raised_pence"] * 100 // target) if target else None
    totals["days_left"] = days_left(campaign)
    return totals


def appeal_totals(*, appeal: Appeal) -> dict:
    return _totals(TotalShard.key_for("appeal", appeal.pk))


def appeal_for_code(code: str) -> Appeal | None:
    return Appeal.objects.filter(code__iexact=code.strip()).select_related("campaign").first() if code else None


def appeals_for_codes(codes) -> dict[str, Appeal]:
    """appeal_for_code for many codes in one query: by each code as given, stripped and in capitals."""
    wanted = {code.strip().upper() for code in codes if code and code.strip()}
    if not wanted:
        return {}
    found = (Appeal.objects.annotate(code_upper=Upper("code")).filter(code_upper__in=wanted)
             .select_related("campaign").order_by("pk"))
    appeals = {}
    for appeal in found:
        appeals.setdefault(appeal.code_upper, appeal)
    return appeals


def days_left(campaign: Campaign, today: datetime.date | None = None) -> int | None:
    today = today or timezone.localdate()
    return max(0, (campaign.ends_on - today).days) if campaign.ends_on else None


def fundraiser_totals(*, page: FundraiserPage) -> dict:
    totals = _totals(TotalShard.key_for("fundraiser", page.pk))
    totals["target_pence"] = page.target_pence
    totals["percent"] = min(100, totals["raised_pence"] * 100 // page.target_pence) if page.target_pence else None
    totals["donors"] = totals["gifts"]
    totals["days_left"] = None
    return totals


def fundraiser_leaderboard(*, campaign: Campaign, limit: int = 10) -> list[tuple[FundraiserPage, int]]:
    """Live fundraiser pages of a campaign, most raised first."""
    pages = {TotalShard.key_for("fundraiser", p.pk): p for p in FundraiserPage.objects.filter(
        campaign=campaign, status=FundraiserPage.Status.APPROVED).select_related("supporter", "photo")}
    raised = dict(TotalShard.objects.filter(key__in=pages).values("key").annotate(total=Sum("raised_pence"))
                  .values_list("key", "total"))
    ranked = sorted(((page, raised.get(key, 0)) for key, page in pages.items()), key=lambda item: (-item[1], item[0].pk))
    return ranked[:limit]


def fundraiser_pages_public(*, slugs) -> list[FundraiserPage]:
    """fundraiser_page_public for many slugs in one query."""
    if not slugs:
        return []
    return list(FundraiserPage.objects.select_related("campaign", "supporter", "photo")
                .filter(slug__in=slugs, status=FundraiserPage.Status.APPROVED))


def fundraiser_page_public(*, slug: str) -> FundraiserPage | None:
    return (FundraiserPage.objects.select_related("campaign", "supporter", "photo")
            .filter(slug=slug, status=FundraiserPage.Status.APPROVED).first())
