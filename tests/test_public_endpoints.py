"""What the public can send us, checked as an attacker would try it: every form
that changes something needs its CSRF token; the only views without one are the
two webhooks (which take signed bodies only) and the one-click unsubscribe
(whose signed link is the authority); links we email are signed, expire, and
cannot be turned on another supporter; uploads are bounded in size and kind."""

import base64
import io
import json
import uuid

import pytest
import time_machine
from django.core import signing
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from PIL import Image as PILImage
from wagtail.documents import get_document_model
from wagtail.images import get_image_model
from wagtail.models import Page

from campaigns.models import Campaign, FundraiserPage
from donations import links
from donations.models import Donation, RecurringGift, StripeEvent
from donations.services import monthly, statements
from donations.tax_years import TaxYear
from supporters.models import EmailEvent
from tests.helpers import log_in_verified
from supporters.services import email as email_services
from tests.donations.conftest import event_for, sign
from tests.donations.test_giving import form_data
from tests.supporters.factories import SupporterFactory

pytestmark = pytest.mark.django_db


def _routes(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern.callback


def test_only_the_signed_webhooks_and_the_one_click_unsubscribe_go_without_csrf(client, admin_user):
    exempt = {route for route, view in _routes(get_resolver().url_patterns) if getattr(view, "csrf_exempt", False)}
    # Wagtail's admin API is Django REST framework's, which marks its views exempt and checks
    # the token itself for a logged-in session (below).
    api = {route for route in exempt if route.startswith("admin/api/")}
    assert exempt - api == {"stripe/webhook/", "anymail/postmark/tracking/", "email/unsubscribe/<str:token>/"}
    staff = Client(enforce_csrf_checks=True)
    log_in_verified(staff, admin_user)
    home, pages = Page.objects.filter(depth=2).first(), Page.objects.count()
    response = staff.post(f"/admin/api/main/pages/{home.pk}/action/copy/", {"destination_page_id": home.pk})
    assert response.status_code == 403 and "CSRF" in response.content.decode()
    assert Page.objects.count() == pages


@pytest.fixture
def a_monthly_gift(stripe_client):
    from donations import services

    recurring, _secret = monthly.recurring_gift_start(gift=services.Gift(
        amount_pence=1000, first_name="Mo", last_name="Khan", email="mo@example.org", form_token=uuid.uuid4()))
    stripe_client.v1.setup_intents.confirm(recurring.stripe_setup_intent_id, params={"payment_method_data": {
        "type": "card", "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}}})
    return monthly.recurring_gift_apply_setup(
        setup_intent=monthly.stripe_gateway.setup_intent_retrieve(recurring.stripe_setup_intent_id))


def test_every_public_form_refuses_a_post_without_its_csrf_token(a_monthly_gift, card):
    Campaign.objects.create(name="Marathon", code="run", kind="peer_to_peer", status="live")
    manage = links.monthly_manage_url(a_monthly_gift)
    posts = {
        "/donate/": form_data(payment_method_id=card()),
        "/donate/monthly/": form_data(frequency="monthly"),
        "/donate/confirm/": {"form_token": str(uuid.uuid4())},
        "/donate/monthly/confirm/": {"form_token": str(a_monthly_gift.form_token)},
        f"{manage}amount/": {"amount": "50"},
        f"{manage}cancel/": {"reason": "forged"},
        f"{manage}card/": {},
        f"{manage}card-saved/": {"setup_intent": a_monthly_gift.stripe_setup_intent_id},
        "/fundraise/start/run/": {"first_name": "Eve", "last_name": "Forge", "email": "eve@example.org",
                                  "title": "Eve runs", "story": "A story", "target": "500"},
        "/admin/login/": {"username": "admin", "password": "anything"},
    }
    browser = Client(enforce_csrf_checks=True)
    for url, data in posts.items():
        assert browser.post(url, data).status_code == 403, url
    a_monthly_gift.refresh_from_db()
    assert (a_monthly_gift.status, a_monthly_gift.amount_pence) == (RecurringGift.Status.ACTIVE, 1000)
    assert Donation.objects.count() == 1 and not FundraiserPage.objects.exists()

    # The same browser, with the token the page gave it, gets through: the 403s were the CSRF check.
    browser.get("/donate/session/")
    token = browser.cookies["csrftoken"].value
    assert browser.post(f"{manage}amount/", {"amount": "12"}, headers={"X-CSRFToken": token}).status_code == 200
    a_monthly_gift.refresh_from_db()
    assert a_monthly_gift.amount_pence == 1200


class TestSignedLinks:
    def test_a_manage_link_expires_and_cannot_be_pointed_at_another_gift(self, a_monthly_gift, client):
        url = links.monthly_manage_url(a_monthly_gift)
        assert a_monthly_gift.supporter.first_name in client.get(url).content.decode()
        # Another gift's uid under this link's signature, or a link of another kind, opens nothing.
        token = url.rstrip("/").split("/")[-1]
        other = RecurringGift.objects.create(supporter=SupporterFactory(), amount_pence=500, day_of_month=1,
                                             started_on=timezone.localdate(), form_token=uuid.uuid4())
        forged = signing.dumps(str(other.uid), salt="some-other-salt", compress=True)
        statement = statements.statement_token(supporter=other.supporter, tax_year=TaxYear(2025))
        for bad in (forged, statement, token[:-2] + ("aa" if token[-2:] != "aa" else "bb"),
                    signing.dumps(str(other.uid), compress=True)):
            assert client.get(f"/giving/monthly/{bad}/").status_code == 404
            assert client.post(f"/giving/monthly/{bad}/cancel/").status_code == 404
        with time_machine.travel(timezone.now() + timezone.timedelta(days=links.MANAGE_LINK_DAYS + 1)):
            assert client.get(url).status_code == 404
            assert client.post(f"{url}cancel/").status_code == 404
        a_monthly_gift.refresh_from_db()
        assert a_monthly_gift.status == RecurringGift.Status.ACTIVE

    def test_a_statement_link_expires_and_names_only_its_supporter(self, client):
        donor, other = SupporterFactory(first_name="Ada"), SupporterFactory(first_name="Brook")
        url = statements.statement_url(supporter=donor, tax_year=TaxYear(2025))
        assert "Ada" in client.get(url).content.decode()
        token = url.rstrip("/").split("/")[-1]
        payload = base64.urlsafe_b64encode(json.dumps({"s": other.pk, "y": 2025}).encode()).decode().rstrip("=")
        assert client.get(f"/giving/statement/{payload}:{token.split(':', 1)[1]}/").status_code == 404
        with time_machine.travel(timezone.now() + timezone.timedelta(days=statements.LINK_DAYS + 1)):
            assert client.get(url).status_code == 404

    def test_an_unsubscribe_link_expires(self, client):
        fan = SupporterFactory(consent_email=True)
        url = email_services.unsubscribe_url(supporter_id=fan.pk, message_uid=uuid.uuid4())
        path = url.replace("http://testserver", "")
        assert client.get(path).status_code == 200
        with time_machine.travel(timezone.now() + timezone.timedelta(days=email_services.UNSUBSCRIBE_LINK_DAYS + 1)):
            response = client.post(path)
        assert response.status_code == 400 and "expired" in response.content.decode()
        fan.refresh_from_db()
        assert fan.consent_email
        assert client.post(path).status_code == 200
        fan.refresh_from_db()
        assert not fan.consent_email


def test_the_webhooks_take_only_signed_bodies(stripe_settings, settings):
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": "hook:secret-words"}
    stranger = Client(raise_request_exception=False)
    payload = json.dumps(event_for({"id": "pi_forged", "object": "payment_intent", "amount": 100,
                                    "status": "succeeded", "metadata": {}}, "payment_intent.succeeded"))
    for headers in ({}, {"Stripe-Signature": sign(payload, secret="whsec_someone_else")},
                    {"Stripe-Signature": "t=1,v1=" + "0" * 64}):
        assert stranger.post("/stripe/webhook/", data=payload, content_type="application/json",
                             headers=headers).status_code == 400
    assert not StripeEvent.objects.exists()
    bounce = json.dumps({"RecordType": "Bounce", "ID": 1, "Type": "HardBounce", "TypeCode": 1, "MessageID": "m",
                         "Email": "victim@example.org", "BouncedAt": "2026-11-25T10:00:00Z"})
    wrong = "Basic " + base64.b64encode(b"hook:guess").decode()
    for headers in ({}, {"Authorization": wrong}):
        assert stranger.post("/anymail/postmark/tracking/", data=bounce, content_type="application/json",
                             headers=headers).status_code in (400, 401, 403)
    assert not EmailEvent.objects.exists()
    assert stranger.post("/stripe/webhook/", data=payload, content_type="application/json",
                         headers={"Stripe-Signature": sign(payload)}).status_code == 200


def _png(padding: int = 0) -> io.BytesIO:
    buffer = io.BytesIO()
    PILImage.new("RGB", (8, 8), "red").save(buffer, "PNG")
    buffer.write(b"\0" * padding)
    buffer.name = "me.png"
    buffer.seek(0)
    return buffer


def _named(content: bytes, name: str) -> io.BytesIO:
    file = io.BytesIO(content)
    file.name = name
    return file


class TestUploads:
    def test_the_public_fundraising_photo_is_bounded_in_size_and_kind(self, client, settings):
        Campaign.objects.create(name="Marathon", code="run", kind="peer_to_peer", status="live")
        fields = {"first_name": "Eve", "last_name": "Forge", "email": "eve@example.org", "title": "Eve runs",
                  "story": "A story", "target": "500"}
        too_big = _png(padding=settings.WAGTAILIMAGES_MAX_UPLOAD_SIZE)
        for photo in (too_big, _named(b"<svg onload=alert(1)></svg>", "me.svg"),
                      _named(b"<script>alert(1)</script>", "me.html"), _named(b"%PDF-1.4", "me.png")):
            response = client.post("/fundraise/start/run/", {**fields, "photo": photo})
            assert response.status_code == 200 and "fundraiser_submitted" not in response.templates[-1].name
            assert response.context["form"].errors.get("photo"), photo.name
        assert not FundraiserPage.objects.exists() and not get_image_model().objects.exists()
        assert client.post("/fundraise/start/run/", {**fields, "photo": _png()}).status_code == 200
        assert FundraiserPage.objects.get().photo is not None

    def test_staff_images_and_documents_are_bounded_in_size_and_kind(self, client, admin_user, settings):
        log_in_verified(client, admin_user)
        for file in (_png(padding=settings.WAGTAILIMAGES_MAX_UPLOAD_SIZE), _named(b"<svg></svg>", "logo.svg")):
            response = client.post("/admin/images/add/", {"title": "Logo", "file": file})
            assert not get_image_model().objects.exists(), file.name
        assert response.status_code == 200
        for file in (_named(b"<script>document.cookie</script>", "annual-report.html"),
                     _named(b"<svg onload=alert(1)></svg>", "chart.svg"),
                     _named(b"%PDF-1.4\n" + b"0" * settings.WAGTAILDOCS_MAX_UPLOAD_SIZE, "annual-report.pdf")):
            response = client.post("/admin/documents/add/", {"title": "Annual report", "file": file})
            assert response.status_code == 200 and not get_document_model().objects.exists(), file.name
        response = client.post("/admin/documents/add/", {"title": "Annual report",
                                                         "file": _named(b"%PDF-1.4\n", "annual-report.pdf")})
        assert response.status_code == 302 and get_document_model().objects.count() == 1
