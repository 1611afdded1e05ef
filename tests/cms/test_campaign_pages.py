"""The public campaign pages: story, live total, progress and the form that
attributes gifts to the campaign."""

import datetime

import pytest
from django.utils import timezone

from campaigns.models import Campaign
from campaigns.services import campaign_totals_apply
from cms.models import CampaignPage, CharitySettings, HomePage, StoryIndexPage, StoryPage
from tests.supporters.factories import SupporterFactory
from tests.helpers import log_in_verified

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign_page():
    home = HomePage.objects.get()
    campaign = Campaign.objects.create(name="Winter 2026", code="winter-2026", target_pence=1_000_000,
                                       ends_on=timezone.localdate() + datetime.timedelta(days=12), status="live")
    page = home.add_child(instance=CampaignPage(
        title="Home for winter", slug="home-for-winter", campaign=campaign, intro="Bring children home.",
        search_description="Help children leave orphanages this winter.", preset_amounts="15, 30, 60",
        body=[("quote", {"quote": "He laughs at breakfast now.", "attribution": "Elena"}),
              ("impact", {"heading": "What your gift does", "items": [{"amount": "30", "pays_for": "a visit"}]})],
    ))
    return page


def test_the_page_shows_the_live_total_progress_and_days_left(client, campaign_page):
    donors = SupporterFactory.create_batch(3)
    for supporter, pence in zip(donors, (250_000, 12_345, 5_000)):
        campaign_totals_apply(campaign_id=campaign_page.campaign_id, appeal_id=None, supporter_id=supporter.pk,
                              raised_pence=pence, gift_aid_pence=pence // 4, gifts=1)
    page = client.get("/home-for-winter/").content.decode()
    assert "£2,673.45</strong> raised of £10,000 target" in page
    assert 'aria-valuenow="26"' in page
    assert "<strong>3</strong> supporters" in page and "+ £668.36 Gift Aid" in page  # 62,500 + 3,086 + 1,250 pence
    assert "<strong>12</strong> days left" in page
    assert "He laughs at breakfast now." in page and "pays for a visit" in page


def test_the_form_gives_to_this_campaign_with_its_amounts(client, campaign_page):
    page = client.get("/home-for-winter/").content.decode()
    assert 'name="campaign" value="winter-2026"' in page
    assert 'data-amount="1500"' in page and 'data-amount="6000"' in page and 'data-amount="10000"' not in page


def test_seo_and_sharing(client, campaign_page):
    page = client.get("/home-for-winter/").content.decode()
    assert '<meta name="description" content="Help children leave orphanages this winter.">' in page
    assert '<meta property="og:title" content="Home for winter">' in page
    assert '<link rel="canonical"' in page
    sitemap = client.get("/sitemap.xml").content.decode()
    assert "/home-for-winter/" in sitemap


def test_the_footer_says_what_staff_set(client, campaign_page):
    settings = CharitySettings.for_site(campaign_page.get_site())
    settings.charity_number = "1234567"
    settings.save()
    assert "no. 1234567" in client.get("/home-for-winter/").content.decode()


def test_stories_are_listed_and_shown(client):
    home = HomePage.objects.get()
    index = home.add_child(instance=StoryIndexPage(title="Stories", slug="stories"))
    index.add_child(instance=StoryPage(title="Andrei comes home", summary="Back with his grandmother.",
                                       date=timezone.localdate(),
                                       body=[("paragraph", "<p>After four years, Andrei is home.</p>")]))
    assert "Andrei comes home" in client.get("/stories/").content.decode()
    story = client.get("/stories/andrei-comes-home/").content.decode()
    assert "After four years, Andrei is home." in story
    assert "Andrei comes home" in client.get("/").content.decode()


def test_a_campaign_page_can_only_live_under_the_home_page():
    home = HomePage.objects.get()
    assert CampaignPage.can_create_at(home)
    index = home.add_child(instance=StoryIndexPage(title="Stories", slug="stories"))
    assert not CampaignPage.can_create_at(index)
    assert not StoryPage.can_create_at(home)


def test_public_pages_are_cached_and_personal_ones_never(client, campaign_page, settings):
    from django.test import Client

    settings.CACHE_MIDDLEWARE_SECONDS = 60
    first = Client().get("/home-for-winter/")
    assert "max-age=60" in first["Cache-Control"]
    assert "csrftoken" not in first.cookies  # nothing per visitor in a shared page
    campaign_totals_apply(campaign_id=campaign_page.campaign_id, appeal_id=None,
                          supporter_id=SupporterFactory().pk, raised_pence=1000, gift_aid_pence=0, gifts=1)
    cached = Client().get("/home-for-winter/").content.decode()
    assert "£0</strong> raised" in cached  # served from the cache, without a query for the new total
    assert "no-cache" in Client().get("/donate/session/")["Cache-Control"]


def test_fundraising_staff_publish_a_campaign_page_and_finance_cannot(fundraiser_client, finance_user):
    from django.test import Client

    campaign = Campaign.objects.create(name="Spring", code="spring")
    home = HomePage.objects.get()
    response = fundraiser_client.post(f"/admin/pages/add/cms/campaignpage/{home.pk}/", {
        "title": "Spring appeal", "slug": "spring", "campaign": campaign.pk, "intro": "Bring children home.",
        "hero_alt": "", "preset_amounts": "", "body-count": "0", "action-publish": "publish",
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    page = CampaignPage.objects.get(slug="spring")
    assert page.live
    finance = Client()
    log_in_verified(finance, finance_user)
    assert finance.get(f"/admin/pages/{page.pk}/edit/").status_code in (302, 403)
