"""Public pages that are not Wagtail pages: supporters' fundraising pages and
the form to start one. They sit here, on the top floor, because they present
campaigns and the donation form together."""

from django.conf import settings
from django.http import Http404
from django.shortcuts import get_object_or_404, render

from campaigns import selectors as campaign_selectors
from campaigns import services as campaign_services
from campaigns.models import Campaign
from cms.forms import FundraiserSignupForm
from config.errors import ApplicationError
from donations.form_context import donate_context


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
            page = campaign_services.fundraiser_sign_up(
                campaign=campaign, email=data["email"], first_name=data["first_name"], last_name=data["last_name"],
                title=data["title"], story=data["story"], target_pence=data["target"], photo_file=data["photo"],
                # exactly what the box said, when it was ticked
                consent_email_wording=str(form.fields["consent_email"].label) if data["consent_email"] else "")
        except ApplicationError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            return render(request, "cms/fundraiser_submitted.html", {"campaign": campaign, "fundraiser": page,
                                                                     "site_url": settings.WAGTAILADMIN_BASE_URL})
    return render(request, "cms/fundraiser_start.html", {"campaign": campaign, "form": form})
