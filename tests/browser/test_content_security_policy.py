"""The Content Security Policy, enforced, on the pages it could break: the
donation form with Stripe.js, a campaign page, the admin's home and dashboard,
a supporter's edit page and the audit log. The browser reports any violation
in its console, which new_page (conftest) turns into a failure; here we also
check that the policy is the enforcing header, not the report-only one."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import BROWSER_DB as browser_db
from tests.browser.conftest import shot
from tests.browser.test_supporter_admin import log_in
from tests.supporters.factories import SupporterFactory
from tests.helpers import log_in_verified

pytestmark = pytest.mark.browser


def _visit(page, url):
    response = page.goto(url)
    assert response.status == 200, url
    policy = response.headers.get("content-security-policy", "")
    assert "default-src 'self'" in policy and "object-src 'none'" in policy, url
    assert "content-security-policy-report-only" not in response.headers
    assert response.headers["cross-origin-opener-policy"] == "same-origin"
    assert "camera=()" in response.headers["permissions-policy"]
    return policy


@browser_db
def test_the_donation_form_works_under_the_policy(new_page, stripe_webhooks_to_live_server):
    live_server = stripe_webhooks_to_live_server
    page = new_page()
    policy = _visit(page, live_server.url + "/donate/")
    assert "https://js.stripe.com" in policy
    # Stripe.js has loaded (from STRIPE_JS_URL, allowed by the policy) and mounted the card field.
    expect(page.locator("#card-element iframe, #card-element input").first).to_be_attached()


@browser_db
def test_a_campaign_page_works_under_the_policy(new_page, live_server, marathon_page):
    page = new_page()
    _visit(page, live_server.url + marathon_page.url)
    expect(page.locator(".progress, [role=progressbar]").first).to_be_visible()


@browser_db
def test_the_admin_works_under_the_policy(new_page, live_server, admin_user):
    supporter = SupporterFactory(first_name="Ottilie", last_name="Brackenbury")
    page = new_page()
    log_in(page, live_server, admin_user)
    for url in ("/admin/", "/admin/dashboard/", f"/admin/supporter/edit/{supporter.pk}/",
                f"/admin/supporter/inspect/{supporter.pk}/"):
        policy = _visit(page, live_server.url + url)
        directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
        assert "'unsafe-inline'" not in directives["script-src"] + directives["style-src"], url
    # Wagtail's own scripts ran: the side menu is built by them.
    expect(page.get_by_role("button", name="Supporters")).to_be_visible()


@browser_db
@pytest.mark.parametrize("width", [390, 1280])
def test_the_audit_log_at_phone_and_desktop_widths(new_page, live_server, admin_user, fundraiser, width):
    from django.test import Client

    supporter = SupporterFactory(first_name="Ottilie", last_name="Brackenbury")
    client = Client()
    log_in_verified(client, fundraiser)
    client.get(f"/admin/supporter/inspect/{supporter.pk}/")
    client.get("/admin/supporter/", {"export": "csv"})
    page = new_page(width=width, height=900)
    log_in(page, live_server, admin_user)
    _visit(page, live_server.url + "/admin/audit-log/")
    expect(page.locator("main")).to_contain_text("Ottilie Brackenbury")
    expect(page.locator("main")).to_contain_text("Exported")
    shot(page, f"audit-log-{width}")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1") or width > 400
