"""What the donation form needs to render, wherever it is embedded: the
/donate/ page, a campaign page, a supporter's fundraising page. Not a view, so
that pages and services can use it without importing views."""

from django.conf import settings

from config.money import format_pence
from donations import services
from donations.forms import PRESET_AMOUNTS_PENCE, DonationForm
from supporters import services as supporter_services
from supporters.models import Channel


def _attribution(request) -> dict:
    """Where the visitor came from, as the link said (campaign, appeal, UTM)."""
    get = request.GET
    return {
        "campaign": get.get("campaign", "")[:40], "appeal_code": (get.get("appeal") or get.get("appeal_code", ""))[:40],
        "utm_source": get.get("utm_source", "")[:100], "utm_medium": get.get("utm_medium", "")[:100],
        "utm_campaign": get.get("utm_campaign", "")[:100],
    }


def donate_context(request, *, form=None, campaign=None, presets=None, fundraiser_page=None):
    """What the donation form needs; campaign pages embed the same form, with
    their own one-off amounts if they set them."""
    amounts = {**PRESET_AMOUNTS_PENCE, **({"once": presets} if presets else {})}
    suggested = amounts["once"][min(1, len(amounts["once"]) - 1)]  # the second amount is the usual nudge
    pounds, pence = divmod(suggested, 100)
    initial = {"frequency": "once", "amount": f"{pounds}.{pence:02d}" if pence else str(pounds),
               **_attribution(request)}
    if campaign is not None:
        initial["campaign"] = campaign.code
    if fundraiser_page is not None:
        initial["fundraiser"] = fundraiser_page.slug
    return {
        "form": form or DonationForm(initial=initial),
        "presets": {freq: [(p, format_pence(p, drop_zero_pence=True)) for p in values]
                    for freq, values in amounts.items()},
        "stripe_publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
        "stripe_js_url": settings.STRIPE_JS_URL,
        "consent_wording": [(c, services.FORM_CONSENT_WORDING[c]) for c in Channel.values],
        "gift_aid_wording": supporter_services.gift_aid_wording(),
        "fee_basis_points": settings.STRIPE_FEE_BASIS_POINTS,
        "fee_fixed_pence": settings.STRIPE_FEE_FIXED_PENCE,
    }


