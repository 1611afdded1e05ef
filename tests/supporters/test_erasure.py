"""Erasure leaves the person nowhere: after a supporter who gave online, gave
monthly, ran a fundraising page, was emailed, bounced and was stopped by staff
is erased, no text column of any table (every model the app registry knows, and
its JSON columns) holds their name or email address, except what the law makes
us keep: the Gift Aid declarations (and the claim rows made from them) for HMRC."""

import base64
import io
import json
import uuid

import pytest
from django.apps import apps
from django.core import mail
from django.db import connection, models
from django.test import Client
from PIL import Image as PILImage

from campaigns.models import Campaign, FundraiserPage
from donations import services as donation_services
from donations.services import monthly
from supporters import services
from supporters.models import EmailMessage, EmailSuppression, EmailTemplate, GiftAidDeclaration, Supporter
from supporters.services import email as email_services
from tests.donations.conftest import event_for, sign
from tests.helpers import recorded

pytestmark = pytest.mark.django_db

FIRST, LAST, EMAIL = "Quillon", "Verhoeve", "quillon.verhoeve@example.org"
KEPT_BY_LAW = {"supporters.GiftAidDeclaration", "donations.GiftAidClaimRow"}


def _where(needles) -> list[tuple[str, str, str]]:
    """Every (model, column, needle) where a text or JSON column holds a needle."""
    tables = set(connection.introspection.table_names())
    found = []
    for model in apps.get_models():
        if model._meta.proxy or model._meta.db_table not in tables or model._meta.label in KEPT_BY_LAW:
            continue
        for field in model._meta.concrete_fields:
            if isinstance(field, (models.CharField, models.TextField)):
                for needle in needles:
                    if model._base_manager.filter(**{f"{field.attname}__icontains": needle}).exists():
                        found.append((model._meta.label, field.name, needle))
            elif isinstance(field, models.JSONField):
                for value in model._base_manager.values_list(field.attname, flat=True).iterator():
                    text = json.dumps(value, ensure_ascii=False).lower()
                    found += [(model._meta.label, field.name, n) for n in needles if n.lower() in text]
    return found


def _png():
    buffer = io.BytesIO()
    PILImage.new("RGB", (8, 8), "red").save(buffer, "PNG")
    buffer.name = "quillon.png"
    buffer.seek(0)
    return buffer


def _deliver(event):
    payload = json.dumps(event)
    response = Client().post("/stripe/webhook/", data=payload, content_type="application/json",
                             headers={"Stripe-Signature": sign(payload)})
    assert response.status_code == 200, response.content


@pytest.fixture
def everywhere(stripe_settings, stripe_client, card, settings, fundraiser_client, fundraiser,
               django_capture_on_commit_callbacks):
    """The person, leaving a trace in every place a supporter can."""
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": "hook:secret-words"}
    receipt = EmailTemplate.objects.get(key="receipt")
    receipt.subject = "Thank you, {{ first_name }} {{ full_name }}"
    receipt.save()
    campaign = Campaign.objects.create(name="Marathon", code="run", kind="peer_to_peer", status="live")

    # A one-off gift with Gift Aid and consent, through the donation form's service.
    with django_capture_on_commit_callbacks(execute=True):
        gift = recorded(donation_services.donation_start(gift=donation_services.Gift(
            amount_pence=2500, first_name=FIRST, last_name=LAST, email=EMAIL, form_token=uuid.uuid4(),
            title="Dr", address_house="Quillon House", address_street="Verhoeve Lane", address_town="Leeds",
            postcode="LS6 2AA", gift_aid=True, consents={"email": True, "post": True}, campaign=campaign,
        ), payment_method_id=card()))
    supporter = gift.supporter
    assert gift.status == "succeeded" and supporter.email == EMAIL

    # Stripe's events about it, as Stripe sends them (the charge names the card holder).
    intent = stripe_client.v1.payment_intents.retrieve(gift.stripe_payment_intent_id).to_dict()
    intent["receipt_email"] = EMAIL
    _deliver(event_for(intent, "payment_intent.succeeded"))
    charge = stripe_client.v1.charges.retrieve(gift.stripe_charge_id).to_dict()
    charge["billing_details"] = {"name": f"{FIRST} {LAST}", "email": EMAIL, "phone": None,
                                 "address": {"line1": "Quillon House", "postal_code": "LS6 2AA"}}
    _deliver(event_for(charge, "charge.succeeded"))

    # A monthly gift: a Stripe customer with their name, and its event.
    with django_capture_on_commit_callbacks(execute=True):
        recurring, _secret = monthly.recurring_gift_start(gift=donation_services.Gift(
            amount_pence=1000, first_name=FIRST, last_name=LAST, email=EMAIL, form_token=uuid.uuid4()))
        stripe_client.v1.setup_intents.confirm(recurring.stripe_setup_intent_id, params={
            "payment_method_data": {"type": "card", "card": {"number": "4242424242424242", "exp_month": 12,
                                                              "exp_year": 2034, "cvc": "123"}}})
        monthly.recurring_gift_apply_setup(
            setup_intent=monthly.stripe_gateway.setup_intent_retrieve(recurring.stripe_setup_intent_id))
    assert recurring.supporter_id == supporter.pk
    customer = stripe_client.v1.customers.retrieve(recurring.stripe_customer_id).to_dict()
    assert customer["email"] == EMAIL
    _deliver(event_for(customer, "customer.created"))

    # A fundraising page with a photo, from the public form, approved and edited by staff.
    response = Client().post(f"/fundraise/start/{campaign.code}/", {
        "first_name": FIRST, "last_name": LAST, "email": EMAIL, "title": f"{FIRST} {LAST} runs the marathon",
        "story": f"I'm {FIRST}, and I run.", "target": "500", "photo": _png()})
    assert response.status_code == 200, response.content
    page = FundraiserPage.objects.get(supporter=supporter)
    assert page.photo is not None
    fundraiser_client.post(f"/admin/fundraiser_page/{page.pk}/review/", {"status": "approved"})
    from wagtail.log_actions import log

    log(instance=page, action="wagtail.edit", user=fundraiser)

    # A marketing email naming them, staff stopping the address by hand, then a bounce.
    def rendered_for(message, unsubscribe):
        return email_services.email_render(subject="{{ first_name }}, will you run again?", body="Dear {{ full_name }}",
                                           values=email_services.supporter_values(supporter),
                                           unsubscribe_url=unsubscribe)
    marketing = email_services.email_send(supporter=supporter, category="mailing", rendered_for=rendered_for,
                                          marketing=True)
    assert FIRST in marketing.subject
    response = fundraiser_client.post("/admin/email-suppressions/new/", {"email": EMAIL, "detail": f"{FIRST} asked"})
    assert response.status_code == 302 and EmailSuppression.objects.filter(email=EMAIL).exists()
    bounce = {"RecordType": "Bounce", "ID": 777, "Type": "HardBounce", "TypeCode": 1, "MessageID": "pm-777",
              "Email": EMAIL, "BouncedAt": "2026-11-25T10:00:00Z", "Description": f"{EMAIL}: unknown user",
              "Metadata": {"message_uid": str(marketing.uid)}}
    auth = "Basic " + base64.b64encode(b"hook:secret-words").decode()
    assert Client().post("/anymail/postmark/tracking/", data=json.dumps(bounce), content_type="application/json",
                         headers={"Authorization": auth}).status_code == 200

    # Notes, a merged duplicate, and staff's edits of the record.
    services.timeline_add(supporter=supporter, kind="note", summary=f"Called {FIRST}", detail=f"{LAST} family")
    duplicate = services.supporter_create(first_name=FIRST, last_name=LAST, email="q.v@example.org")
    services.supporter_merge(survivor=supporter, duplicate=duplicate, by=fundraiser)
    supporter.refresh_from_db()
    return supporter


def test_erasure_leaves_the_person_in_no_table_but_the_gift_aid_records(everywhere, fundraiser_client):
    supporter = everywhere
    needles = [EMAIL, FIRST, LAST]
    before = _where(needles)
    for place in (("supporters.Supporter", "email"), ("supporters.EmailMessage", "to_email"),
                  ("supporters.EmailMessage", "subject"), ("supporters.EmailEvent", "recipient"),
                  ("supporters.EmailSuppression", "email"), ("donations.StripeEvent", "payload"),
                  ("campaigns.FundraiserPage", "title"), ("wagtailimages.Image", "title"),
                  ("wagtailcore.ModelLogEntry", "label")):
        assert any(found[:2] == place for found in before), f"the test should leave a trace in {place}"
    assert mail.outbox and EmailMessage.objects.filter(supporter=supporter).count() >= 3

    response = fundraiser_client.post(f"/admin/supporter/{supporter.pk}/erase/",
                                      {"reason": "Request SAR-12", "confirm": "on"})
    assert response.status_code == 302

    left = _where(needles)
    assert left == [], "\n".join(map(str, left))
    # What the law keeps, and the books: the declarations and every gift, anonymised.
    assert GiftAidDeclaration.objects.filter(supporter=supporter, last_name=LAST).exists()
    supporter.refresh_from_db()
    assert supporter.is_erased and supporter.donations.count() == 2
    assert EmailMessage.objects.filter(supporter=supporter).count() >= 3, "the log of what was sent stays, without them"
    assert not Supporter.objects.filter(email=EMAIL).exists()
    # Staff's list of sent emails no longer shows them (once the pending messages of the session are shown).
    fundraiser_client.get(f"/admin/supporter/inspect/{supporter.pk}/")
    listing = fundraiser_client.get("/admin/email-messages/").content.decode()
    assert EMAIL not in listing and FIRST not in listing
