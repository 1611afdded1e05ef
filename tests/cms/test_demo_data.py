import pytest
from django.core.management import call_command

from campaigns.models import Campaign
from supporters.models import Supporter
from supporters.services import consent_state_from_events

pytestmark = pytest.mark.django_db


def test_demo_data_is_believable_and_consistent():
    call_command("load_demo_data", supporters=300, no_users=True)
    assert Supporter.objects.count() == 300
    assert Campaign.objects.count() >= 2
    with_history = Supporter.objects.filter(consent_events__isnull=False).distinct().count()
    assert with_history > 100
    # The stored current consent is exactly what the history says.
    for supporter in Supporter.objects.prefetch_related("consent_events"):
        assert supporter.current_consent() == consent_state_from_events(supporter.consent_events.all())
        supporter.full_clean()  # every generated record passes the same checks as staff input


def test_if_empty_leaves_existing_data_alone(supporter_factory):
    supporter_factory()
    call_command("load_demo_data", supporters=50, if_empty=True, no_users=True)
    assert Supporter.objects.count() == 1


def test_demo_logins_for_each_role(django_user_model):
    call_command("load_demo_data", supporters=1)
    assert set(django_user_model.objects.get(username="fundraiser").groups.values_list("name", flat=True)) == {"Fundraising"}
    assert set(django_user_model.objects.get(username="finance").groups.values_list("name", flat=True)) == {"Finance"}
    assert django_user_model.objects.get(username="admin").is_superuser


def test_demo_site_has_campaign_pages_stories_and_a_leaderboard(client):
    from campaigns.models import Campaign
    from campaigns.selectors import campaign_totals

    call_command("load_demo_data", supporters=200, no_users=True)
    home = client.get("/").content.decode()
    assert "Home for Christmas" in home and "Stories" in home
    marathon = client.get("/london-marathon/").content.decode()
    assert "Top fundraisers" in marathon
    totals = campaign_totals(campaign=Campaign.objects.get(code="london-marathon-2027"))
    assert totals["raised_pence"] > 0
