"""Reads for the screens cms presents: who a mailing reaches, and how far its sending has gone."""

import dataclasses
import datetime

from django.conf import settings
from django.db.models import Count, Exists, Max, Min, OuterRef, Q, QuerySet
from django.utils import timezone

from cms.models import Mailing, MailingRecipient
from config.formats import day_start
from donations.models import Donation, RecurringGift
from supporters.models import EmailSuppression, Supporter, SupporterTag

# A monthly giver still has a live commitment, even while a card is being replaced.
LIVE_MONTHLY = (RecurringGift.Status.ACTIVE, RecurringGift.Status.PAST_DUE, RecurringGift.Status.PAUSED)


def mailing_segment(*, mailing: Mailing) -> QuerySet:
    """Every supporter the mailing's conditions pick, consent aside (erased
    people, and those who have died, are never in it). Each condition is an EXISTS, so a supporter with
    many gifts or tags appears once, without DISTINCT."""
    segment = Supporter.objects.filter(erased_at__isnull=True, deceased_on__isnull=True)
    tag_ids = [tag.pk for tag in mailing.tags.all()] if mailing.pk else []
    if tag_ids:
        segment = segment.filter(Exists(SupporterTag.objects.filter(content_object=OuterRef("pk"), tag_id__in=tag_ids)))
    gifts = Donation.objects.filter(supporter=OuterRef("pk"), status__in=Donation.INCOME_STATUSES)
    if mailing.campaign_id:
        segment = segment.filter(Exists(gifts.filter(campaign_id=mailing.campaign_id)))
    if mailing.last_gift_from:
        segment = segment.filter(Exists(gifts.filter(paid_at__gte=day_start(mailing.last_gift_from))))
    if mailing.last_gift_to:
        segment = segment.filter(Exists(gifts), ~Exists(gifts.filter(
            paid_at__gte=day_start(mailing.last_gift_to + datetime.timedelta(days=1)))))
    if mailing.giving != Mailing.Giving.ANY:
        monthly = Exists(RecurringGift.objects.filter(supporter=OuterRef("pk"), status__in=LIVE_MONTHLY))
        segment = segment.filter(monthly if mailing.giving == Mailing.Giving.MONTHLY else ~monthly)
    return segment


# Who can be sent marketing email: current consent, an address, not suppressed
# (over the `suppressed` annotation that _with_suppressed adds). The count staff
# see and the send use this one rule.
REACHABLE = Q(consent_email=True) & ~Q(email="") & Q(suppressed=False)


def _with_suppressed(segment: QuerySet) -> QuerySet:
    return segment.annotate(suppressed=Exists(EmailSuppression.objects.filter(email=OuterRef("email"))))


def _reachable(segment: QuerySet) -> QuerySet:
    return _with_suppressed(segment).filter(REACHABLE)


def mailing_audience(*, mailing: Mailing) -> QuerySet:
    """Who would receive it now: the segment, less those without current email
    consent, without an address, or whose address is suppressed; and one
    record per address (two records of one person get one message)."""
    first_per_address = (_reachable(mailing_segment(mailing=mailing)).order_by().values("email")
                         .annotate(first=Min("id")).values("first"))
    return Supporter.objects.filter(id__in=first_per_address)


@dataclasses.dataclass(frozen=True)
class AudienceCount:
    in_segment: int
    no_consent: int
    unreachable: int  # no address, or the address is suppressed
    same_address: int  # a second record with an address already counted
    will_receive: int


def mailing_audience_count(*, mailing: Mailing) -> AudienceCount:
    """The figures staff see before sending, in one query."""
    figures = _with_suppressed(mailing_segment(mailing=mailing)).aggregate(
        in_segment=Count("pk"),
        no_consent=Count("pk", filter=Q(consent_email=False)),
        unreachable=Count("pk", filter=Q(consent_email=True) & ~REACHABLE),
        will_receive=Count("email", filter=REACHABLE, distinct=True),
    )
    same_address = figures["in_segment"] - figures["no_consent"] - figures["unreachable"] - figures["will_receive"]
    return AudienceCount(**figures, same_address=same_address)


def mailing_progress(*, mailing: Mailing) -> dict[str, int]:
    """How many recipients are in each state (every state listed, 0 if none)."""
    counts = dict(MailingRecipient.objects.filter(mailing=mailing).values_list("status").annotate(n=Count("pk")))
    return {status: counts.get(status, 0) for status in MailingRecipient.Status.values}


def mailing_last_activity(*, mailing: Mailing) -> datetime.datetime | None:
    """When a worker last touched one of the mailing's recipients (an index look-up)."""
    return MailingRecipient.objects.filter(mailing=mailing).aggregate(last=Max("updated_at"))["last"]


def mailing_stalled(*, mailing: Mailing, stale_after: datetime.timedelta | None = None) -> bool:
    """Still sending, but nothing has moved for `stale_after` (MAILING_STALE_MINUTES):
    its workers are taken for dead, and it may be resumed."""
    if mailing.status != Mailing.Status.SENDING:
        return False
    stale_after = stale_after if stale_after is not None else datetime.timedelta(
        minutes=settings.MAILING_STALE_MINUTES)
    last = mailing_last_activity(mailing=mailing)
    return last is None or last < timezone.now() - stale_after
