"""What the campaigns app does when a supporter is erased (registered with
supporters.personal_data from CampaignsConfig.ready)."""

from wagtail.models import ModelLogEntry

from campaigns.models import FundraiserPage

ERASED_TITLE = "A fundraising page (its owner's details were erased)"


def erase(supporter) -> None:
    """The supporter's fundraising pages stay (their gifts count to them) but
    hidden, with no title, story, photo or address that names them; the photo
    itself is deleted."""
    for page in FundraiserPage.objects.select_for_update().filter(supporter=supporter):
        photo = page.photo
        ModelLogEntry.objects.for_instance(page).update(label=ERASED_TITLE, data={})
        page.title, page.story, page.slug, page.photo = ERASED_TITLE, "", f"erased-{page.pk}", None
        page.status = FundraiserPage.Status.HIDDEN
        page.save(update_fields=["title", "story", "slug", "photo", "status"])
        if photo is not None:
            photo.delete()
