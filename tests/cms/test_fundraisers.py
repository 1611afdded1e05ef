"""Peer-to-peer fundraising: a supporter signs up, staff approve the page, gifts
on it count to the page and the campaign, and the campaign shows a leaderboard."""

import uuid

import pytest
from django.test import Client

from campaigns.models import Campaign, FundraiserPage
from campaigns.selectors import campaign_totals, fundraiser_totals
from cms.models import CampaignPage, HomePage
from donations.models import Donation

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _stripe(stripe_settings):
    return stripe_settings


@pytest.fixture
def marathon():
    campaign = Campaign.objects.create(name="Marathon 2027", code="marathon-2027", kind="peer_to_peer",
                                       status="live", target_pence=1_000_000)
    HomePage.objects.get().add_child(instance=CampaignPage(title="Run for families", slug="run", campaign=campaign,
                                                           intro="Run the marathon."))
    return campaign


def sign_up(client, campaign, name="Sam", title="Sam runs for families"):
    response = client.post(f"/fundraise/start/{campaign.code}/", {
        "first_name": name, "last_name": "Okafor", "email": f"{name.lower()}@example.org", "title": title,
        "story": "I'm running 26.2 miles so that children can grow up at home.", "target": "500",
        "consent_email": "on"})
    assert response.status_code == 200, response.content
    return FundraiserPage.objects.get(title=title)


def sponsor(client, card, page, amount="40"):
    return client.post("/donate/", {
        "frequency": "once", "amount": amount, "first_name": "Gran", "last_name": "Okafor",
        "email": f"gran{uuid.uuid4().hex[:5]}@example.org", "country": "GB", "form_token": str(uuid.uuid4()),
        "payment_method_id": card(), "fundraiser": page.slug, "campaign": "", "website": ""})


def test_a_page_is_public_only_once_staff_approve_it(client, marathon, fundraiser_client):
    page = sign_up(Client(), marathon)
    assert page.status == "pending" and page.supporter.consent_email
    assert "how my fundraising helps" in page.supporter.consent_events.get().wording
    assert client.get(f"/fundraise/{page.slug}/").status_code == 404
    queue = fundraiser_client.get("/admin/fundraiser_page/", {"status": "pending"}).content.decode()
    assert "Sam runs for families" in queue
    fundraiser_client.post(f"/admin/fundraiser_page/{page.pk}/review/", {"status": "approved"})
    public = client.get(f"/fundraise/{page.slug}/").content.decode()
    assert "Sam runs for families" in public and "Sponsor Sam" in public
    assert "Give monthly" not in public  # sponsorship is a one-off gift
    fundraiser_client.post(f"/admin/fundraiser_page/{page.pk}/review/", {"status": "hidden"})
    assert client.get(f"/fundraise/{page.slug}/").status_code == 404


def test_gifts_count_to_the_page_and_the_campaign_and_are_sponsorship(client, marathon, card):
    first = sign_up(Client(), marathon)
    second = sign_up(Client(), marathon, name="Ada", title="Ada's 26 miles")
    FundraiserPage.objects.update(status="approved")
    assert sponsor(Client(), card, first, "40").status_code == 200
    assert sponsor(Client(), card, second, "25").status_code == 200
    assert sponsor(Client(), card, second, "30").status_code == 200
    gift = Donation.objects.filter(fundraiser_page=first).get()
    assert gift.campaign == marathon and gift.is_sponsorship
    assert fundraiser_totals(page=first)["raised_pence"] == 4000
    assert fundraiser_totals(page=second)["raised_pence"] == 5500
    assert campaign_totals(campaign=marathon)["raised_pence"] == 9500
    page = client.get("/run/").content.decode()
    assert "Top fundraisers" in page
    assert page.index("Ada&#x27;s 26 miles") < page.index("Sam runs for families")  # most raised first
    assert "£55" in page and "Start your own fundraising page" in page


def test_a_campaign_that_is_not_peer_to_peer_takes_no_pages(client):
    Campaign.objects.create(name="Winter", code="winter", kind="appeal", status="live")
    assert client.get("/fundraise/start/winter/").status_code == 404


def test_the_target_must_be_sensible(client, marathon):
    response = client.post(f"/fundraise/start/{marathon.code}/", {
        "first_name": "Sam", "last_name": "O", "email": "s@example.org", "title": "T", "story": "S", "target": "0"})
    assert "above zero" in response.content.decode()
    assert not FundraiserPage.objects.exists()
