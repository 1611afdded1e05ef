import pytest

from campaigns.models import Appeal, Campaign
from campaigns.services import campaign_totals_apply
from tests.supporters.factories import SupporterFactory
from tests.helpers import log_in_verified

pytestmark = pytest.mark.django_db


def test_the_campaign_list_shows_target_raised_donors_and_days_left(fundraiser_client):
    campaign = Campaign.objects.create(name="Spring appeal", code="spring", target_pence=500_000)
    for pence in (1_050, 2_000):
        campaign_totals_apply(campaign_id=campaign.pk, appeal_id=None, supporter_id=SupporterFactory().pk,
                              raised_pence=pence, gift_aid_pence=0, gifts=1)
    page = fundraiser_client.get("/admin/campaign/").content.decode()
    assert "Spring appeal" in page and "£5,000.00" in page and "£30.50" in page
    assert ">2<" in page.replace(" ", "").replace("\n", "")


def test_fundraising_adds_appeals_and_finance_only_reads_them(fundraiser_client, finance_user, client):
    campaign = Campaign.objects.create(name="Spring appeal", code="spring")
    response = fundraiser_client.post("/admin/appeal/new/", {"campaign": campaign.pk, "code": "SPR-POST",
                                                             "name": "Spring letter", "channel": "post"})
    assert response.status_code == 302 and Appeal.objects.filter(code="SPR-POST").exists()
    log_in_verified(client, finance_user)
    assert client.get("/admin/appeal/").status_code == 200
    assert client.get("/admin/appeal/new/").url == "/admin/"
