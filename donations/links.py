"""Links that we email to supporters and that need no password: made and read
here, so that services (which send the emails) never import views (which
answer them)."""

from django.core import signing
from django.urls import reverse

from donations.models import RecurringGift

# The link in the supporter's emails that lets them manage a monthly gift.
MANAGE_SALT = "donations.monthly-gift.manage"
MANAGE_LINK_DAYS = 60

LinkExpired = signing.SignatureExpired
LinkInvalid = signing.BadSignature


def monthly_manage_url(recurring: RecurringGift) -> str:
    """The path of the page where the supporter manages this monthly gift."""
    token = signing.dumps(str(recurring.uid), salt=MANAGE_SALT, compress=True)
    return reverse("monthly_manage", args=[token])


def monthly_manage_uid(token: str) -> str:
    """The monthly gift's uid that a manage link names. Raises LinkExpired after
    MANAGE_LINK_DAYS, LinkInvalid for anything not signed by us."""
    return signing.loads(token, salt=MANAGE_SALT, max_age=MANAGE_LINK_DAYS * 86400)
