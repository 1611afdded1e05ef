"""Public pages that are not Wagtail pages: supporters' fundraising pages and
the form to start one. They sit here, on the top floor, because they present
campaigns and the donation form together."""

from django.conf import settings
from django.db import transaction
from django.http import Http404
from django.shortcuts import get_object_or_404, render
from wagtail.images.models import Image

from campaigns import selectors as campaign_selectors
from campaigns import services as campaign_services
from campaigns.models import Campaign
from cms.forms import FundraiserSignupForm
from config.errors import ApplicationError
from donations.form_context import donate_context
from supporters import services as supporter_services
from supporters.models import ConsentMethod


def fundraiser_page(request, slug):
    page = campaign_selectors.fundraiser_page_public(slug=slug)
    if page is None:
        raise Http404
    context = {"fundraiser": page, "totals": campaign_selectors.fundraiser_totals(page=page),
               **donate_context(request, campaign=page.campaign, fundraiser_page=page)}
    return render(request, "cms/fundraiser_page.html", context)


def fundraiser_start(request, code):
    campaign = get_object_or_404(Campaign, code=code, kind=Campaign.Kind.PEER_TO_PEER, status=Campaign.Status.LIVE)
    form = FundraiserSignupForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                supporter, _ = supporter_services.supporter_find_or_create(
                    email=data["email"], first_name=data["first_name"], last_name=data["last_name"],
                    source="peer_to_peer")
                if data["consent_email"]:
                    supporter_services.consent_record(
                        supporter=supporter, channel="email", granted=True, method=ConsentMethod.WEB_FORM,
                        wording=str(form.fields["consent_email"].label),  # exactly what the box said
                        source_detail=f"fundraiser sign-up ({campaign.code})")
                photo = None
                if data["photo"]:
                    photo = Image(title=f"Fundraiser photo: {data['title']}", file=data["photo"])
                    photo.save()
                page = campaign_services.fundraiser_page_create(
                    campaign=campaign, supporter=supporter, title=data["title"], story=data["story"],
                    target_pence=data["target"], photo=photo)
        except ApplicationError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            return render(request, "cms/fundraiser_submitted.html", {"campaign": campaign, "fundraiser": page,
                                                                     "site_url": settings.WAGTAILADMIN_BASE_URL})
    return render(request, "cms/fundraiser_start.html", {"campaign": campaign, "form": form})
