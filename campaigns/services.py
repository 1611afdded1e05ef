"""Campaign totals, kept in step with gifts by the donations app, which calls
these inside the transaction that changes a gift."""

import datetime
import random

from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from wagtail.images.models import Image

from campaigns.models import Campaign, CampaignSupporter, FundraiserPage, TotalShard
from config.db import insert_unless_present
from config.errors import ApplicationError
from supporters import services as supporter_services
from supporters.models import ConsentMethod, EmailMessage
from supporters.services import email as email_services


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


def campaign_totals_apply(*, campaign_id: int | None, appeal_id: int | None, supporter_id: int | None,
                          raised_pence: int, gift_aid_pence: int, gifts: int,
                          fundraiser_page_id: int | None = None) -> None:
    """Add a change in a gift's worth to its campaign's and appeal's totals.
    Amounts may be negative (a refund, a lost dispute). Call inside the
    transaction that changes the gift, so the totals can never drift from it."""
    if not (raised_pence or gift_aid_pence or gifts):
        return
    if campaign_id:
        donors = 0
        if gifts > 0 and supporter_id:  # a collection (no supporter) adds no donor
            donors = int(insert_unless_present(CampaignSupporter(campaign_id=campaign_id, supporter_id=supporter_id),
                                               unique=["campaign", "supporter"]))
        _add(TotalShard.key_for("campaign", campaign_id), raised_pence=raised_pence, gift_aid_pence=gift_aid_pence, gifts=gifts,
             donors=donors)
    if appeal_id:
        _add(TotalShard.key_for("appeal", appeal_id), raised_pence=raised_pence, gift_aid_pence=gift_aid_pence, gifts=gifts, donors=0)
    if fundraiser_page_id:
        _add(TotalShard.key_for("fundraiser", fundraiser_page_id), raised_pence=raised_pence, gift_aid_pence=gift_aid_pence,
             gifts=gifts, donors=0)


def campaign_totals_add(*, key: str, raised_pence: int, gift_aid_pence: int, gifts: int, donors: int) -> None:
    """Add many gifts' worth to one total at once (an import, or its rollback:
    then negative), in the caller's transaction."""
    _add(key, raised_pence=raised_pence, gift_aid_pence=gift_aid_pence, gifts=gifts, donors=donors)


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


def fundraiser_page_create(*, campaign: Campaign, supporter, title: str, story: str, target_pence: int,
                           photo=None) -> FundraiserPage:
    """A supporter's page under a peer-to-peer campaign, waiting for staff to
    approve it. Raises ApplicationError for a campaign that takes no pages."""
    if campaign.kind != Campaign.Kind.PEER_TO_PEER or campaign.status != Campaign.Status.LIVE:
        raise ApplicationError("This campaign is not taking fundraising pages.")
    if target_pence < 100:
        raise ApplicationError("Set a target of at least £1.", field="target")
    base = slugify(f"{supporter.first_name} {supporter.last_name} {campaign.code}")[:60] or "fundraiser"
    slug, n = base, 1
    while FundraiserPage.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    page = FundraiserPage(campaign=campaign, supporter=supporter, slug=slug, title=title.strip(),
                          story=story.strip(), target_pence=target_pence, photo=photo)
    page.full_clean()
    page.save()
    return page


@transaction.atomic
def fundraiser_sign_up(*, campaign: Campaign, email: str, first_name: str, last_name: str, title: str, story: str,
                       target_pence: int, photo_file=None, consent_email_wording: str = "") -> FundraiserPage:
    """A supporter starts a fundraising page from the public form: found or
    created by email, their email consent recorded with the box's exact
    wording when they ticked it (`consent_email_wording`), the photo stored as
    a Wagtail image, and the page written waiting for approval, all in one
    transaction. Raises ApplicationError, saving nothing, as fundraiser_page_create does."""
    supporter, _ = supporter_services.supporter_find_or_create(
        email=email, first_name=first_name, last_name=last_name, source="peer_to_peer")
    if consent_email_wording:
        supporter_services.consent_record(
            supporter=supporter, channel="email", granted=True, method=ConsentMethod.WEB_FORM,
            wording=consent_email_wording, source_detail=f"fundraiser sign-up ({campaign.code})")
    photo = None
    if photo_file:
        photo = Image(title=f"Fundraiser photo: {title}", file=photo_file)
        photo.save()
    return fundraiser_page_create(campaign=campaign, supporter=supporter, title=title, story=story,
                                  target_pence=target_pence, photo=photo)


@transaction.atomic
def fundraiser_page_review(*, page: FundraiserPage, status: str, by=None) -> FundraiserPage:
    """Approve a page (it goes public) or hide it (it stops being public; gifts already made still count)."""
    if status not in (FundraiserPage.Status.APPROVED, FundraiserPage.Status.HIDDEN):
        raise ApplicationError("A page can be approved or hidden.")
    page = FundraiserPage.objects.select_for_update().get(pk=page.pk)
    newly_approved = status == FundraiserPage.Status.APPROVED and page.status != FundraiserPage.Status.APPROVED
    page.status = status
    page.reviewed_at = timezone.now()
    page.reviewed_by = by
    page.save()
    if newly_approved:
        page_id, approved_at = page.pk, page.reviewed_at.isoformat()
        transaction.on_commit(lambda: _enqueue_approved_email(page_id, approved_at))
    return page


def _enqueue_approved_email(page_id: int, approved_at: str) -> None:
    from campaigns.tasks import send_fundraiser_page_approved

    send_fundraiser_page_approved.enqueue(page_id=page_id, approved_at=approved_at)


def fundraiser_page_send_approved(*, page_id: int, approved_at: str) -> EmailMessage | None:
    """Email the fundraiser that their page is live, with its public link. Once
    per approval (`approved_at` is the review's time, and the message's
    once-key): a retried task sends nothing more. Nothing if the page has been
    reviewed again since (hidden, say). Returns the message recorded, or None."""
    page = FundraiserPage.objects.select_related("supporter", "campaign").get(pk=page_id)
    approved = datetime.datetime.fromisoformat(approved_at)
    if page.status != FundraiserPage.Status.APPROVED or page.reviewed_at != approved:
        return None
    url = email_services.site_url() + reverse("fundraiser_page", args=[page.slug])
    return email_services.email_send_template(
        supporter=page.supporter, key="fundraiser_page_approved",
        values={"page_title": page.title, "campaign": str(page.campaign)},
        details=[("Your page", page.title), ("For", str(page.campaign)), ("Address", url)],
        action=("See my page", url), once_key=f"fundraiser-page-approved:{page.pk}:{approved.timestamp():.6f}")
