import pytest

from cms.models import HomePage

pytestmark = pytest.mark.django_db


def test_home_page_is_the_site_root_and_renders(client):
    home = HomePage.objects.get()
    assert home.get_site().root_page.specific == home
    response = client.get("/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Every child belongs in a family" in page
    assert '<html lang="en-GB">' in page
    assert 'name="viewport"' in page


def test_unknown_address_gets_the_friendly_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "can't find that page" in response.content.decode()


def test_sitemap_lists_the_home_page(client):
    response = client.get("/sitemap.xml")
    assert response.status_code == 200
    assert b"<loc>" in response.content
