"""Money screens in the admin: who sees gifts, who refunds, failed events and their retry."""

import uuid

import pytest

from donations import services
from donations.models import Donation, StripeEvent
from tests.helpers import log_in_verified, recorded

pytestmark = pytest.mark.django_db


@pytest.fixture
def gift(card):
    return recorded(services.donation_start(
        gift=services.Gift(amount_pence=2500, first_name="Ann", last_name="Lee", email="ann@example.org",
                           form_token=uuid.uuid4()),
        payment_method_id=card(),
    ))


def test_finance_sees_gifts_with_fee_and_net_and_refunds_one(finance_client, gift):
    services.donation_refresh_from_stripe(payment_intent_id=gift.stripe_payment_intent_id)
    listing = finance_client.get("/admin/donation/").content.decode()
    assert gift.reference in listing and "£25.00" in listing and "£0.58" in listing and "£24.42" in listing
    page = finance_client.get(f"/admin/donation/inspect/{gift.pk}/").content.decode()
    assert "Refund" in page and gift.stripe_payment_intent_id in page
    response = finance_client.post(f"/admin/donation/{gift.pk}/refund/", {"amount": "10", "reason": "Gave twice"})
    assert response.status_code == 302
    gift.refresh_from_db()
    assert (gift.status, gift.refunded_pence) == ("partly_refunded", 1000)
    page = finance_client.get(f"/admin/donation/inspect/{gift.pk}/").content.decode()
    assert "Gave twice" in page and "£10" in page and "re_" in page


def test_a_refund_over_what_is_left_is_refused(finance_client, gift):
    response = finance_client.post(f"/admin/donation/{gift.pk}/refund/", {"amount": "30", "reason": "x"})
    assert response.status_code == 200 and "Refund between £0.01 and £25.00" in response.content.decode()
    absurd = finance_client.post(f"/admin/donation/{gift.pk}/refund/", {"amount": "1e400", "reason": "x"})
    assert absurd.status_code == 200 and "Enter an amount in pounds" in absurd.content.decode()
    gift.refresh_from_db()
    assert gift.refunded_pence == 0


def test_fundraising_reads_gifts_but_cannot_refund(fundraiser_client, gift):
    assert fundraiser_client.get("/admin/donation/").status_code == 200
    page = fundraiser_client.get(f"/admin/donation/inspect/{gift.pk}/").content.decode()
    assert "/refund/" not in page
    response = fundraiser_client.post(f"/admin/donation/{gift.pk}/refund/", {"amount": "10", "reason": "x"})
    assert (response.status_code, response.url) == (302, "/admin/")
    gift.refresh_from_db()
    assert gift.refunded_pence == 0


@pytest.mark.parametrize("url", ["/admin/donation/new/", "/admin/donation/edit/{pk}/", "/admin/donation/delete/{pk}/"])
def test_nobody_edits_a_gift_by_hand(admin_client_logged_in, gift, url):
    response = admin_client_logged_in.get(url.format(pk=gift.pk))
    assert response.status_code in (302, 403)


def test_search_gifts_by_supporter_and_reference(finance_client, gift):
    assert gift.reference in finance_client.get("/admin/donation/", {"q": "lee"}).content.decode()
    assert gift.reference in finance_client.get("/admin/donation/", {"q": gift.reference}).content.decode()
    assert gift.reference not in finance_client.get("/admin/donation/", {"q": "nobody"}).content.decode()


def test_failed_events_are_listed_and_retried_by_finance(finance_user, fundraiser):
    from django.test import Client

    finance_client, fundraiser_client = Client(), Client()
    log_in_verified(finance_client, finance_user)
    log_in_verified(fundraiser_client, fundraiser)
    stored = StripeEvent.objects.create(
        stripe_id="evt_failed", type="customer.created", status="failed", error="RuntimeError: boom", attempts=1,
        payload={"id": "evt_failed", "type": "customer.created", "data": {"object": {"id": "cus_1"}}},
    )
    listing = finance_client.get("/admin/stripe_event/", {"status": "failed"}).content.decode()
    assert "evt_failed" in listing
    assert fundraiser_client.post(f"/admin/stripe_event/{stored.pk}/retry/").url == "/admin/"
    finance_client.post(f"/admin/stripe_event/{stored.pk}/retry/")
    stored.refresh_from_db()
    assert stored.status == "ignored" and stored.attempts == 2


@pytest.fixture
def admin_client_logged_in(client, admin_user):
    log_in_verified(client, admin_user)
    return client


def test_the_supporter_timeline_shows_the_gift(fundraiser_client, gift):
    page = fundraiser_client.get(f"/admin/supporter/inspect/{gift.supporter_id}/").content.decode()
    assert "Gave £25.00" in page
    assert Donation.objects.count() == 1


def test_the_supporter_record_shows_their_giving(fundraiser_client, gift, finance_user):
    services.donation_refund(donation=gift, amount_pence=500, reason="Gave too much", by=finance_user)
    page = fundraiser_client.get(f"/admin/supporter/inspect/{gift.supporter_id}/").content.decode()
    giving = page[page.index('id="giving-heading"'):page.index(">Timeline<")]
    assert "1 gift, £20.00 given after refunds" in giving
    assert f'href="/admin/donation/inspect/{gift.pk}/">{gift.reference}</a>' in giving
    assert "£25.00 (£5.00 refunded)" in giving and "Partly refunded" in giving


def test_a_role_without_gifts_sees_no_giving_on_the_record(client, django_user_model, gift):
    from django.contrib.auth.models import Permission

    reader = django_user_model.objects.create_user(username="reader", password="x", is_staff=True)
    reader.user_permissions.add(*Permission.objects.filter(codename__in=["view_supporter", "access_admin"]))
    log_in_verified(client, reader)
    page = client.get(f"/admin/supporter/inspect/{gift.supporter_id}/")
    assert page.status_code == 200 and 'id="giving-heading"' not in page.content.decode()
