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


def test_a_fresh_site_has_a_privacy_notice_and_terms_of_giving(client):
    """Made by a migration, so a site has them before any demo data: UK GDPR asks for
    a privacy notice where personal data is collected."""
    privacy = client.get("/privacy-notice/").content.decode()
    assert "Privacy notice" in privacy
    for must_say in ("controller", "Gift Aid", "Stripe", "HMRC", "Your rights", "Information Commissioner",
                     "ico.org.uk", "withdraw your consent", "Cookies"):
        assert must_say in privacy, must_say
    terms = client.get("/terms-of-giving/").content.decode()
    for must_say in ("Monthly gifts", "refund", "Gift Aid", "Fundraising Regulator", "England and Wales"):
        assert must_say in terms, must_say


def test_the_donation_form_and_every_footer_link_to_them(client):
    from wagtail.models import Site

    from cms.models import CharitySettings, StandardPage

    donate = client.get("/donate/").content.decode()
    form = donate[donate.index('id="donation-form"'):donate.index("</form>")]
    assert '<a href="/terms-of-giving/">terms of giving</a>' in form
    assert '<a href="/privacy-notice/">privacy notice</a>' in form
    assert 'href="/about-us/"' not in form
    footer = client.get("/").content.decode().split('<footer class="site-footer">')[1]
    assert '<a href="/privacy-notice/">Privacy notice</a>' in footer
    assert '<a href="/terms-of-giving/">Terms of giving</a>' in footer
    # Staff choose the pages in Settings → Charity details.
    home = Site.objects.get(is_default_site=True).root_page
    home.add_child(instance=StandardPage(title="How we use your data", slug="data"))
    settings = CharitySettings.for_site(Site.objects.get(is_default_site=True))
    settings.privacy_page = StandardPage.objects.get(slug="data")
    settings.save()
    assert '<a href="/data/">How we use your data</a>' in client.get("/").content.decode()
