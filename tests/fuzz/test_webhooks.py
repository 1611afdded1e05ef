"""The Stripe webhook and the email provider's tracking webhook take any body:
unsigned (or wrongly signed) it is refused and nothing is stored; signed by
the right secret, whatever it holds, it is answered 200 or 400, never a server
error, and a refused body changes none of the charity's records (a signed event
the worker cannot apply is kept as failed, for Finance to see)."""

import base64
import json

import pytest
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st

from donations.models import StripeEvent
from donations.webhooks import HANDLERS
from supporters.models import EmailEvent
from tests.donations.conftest import sign
from tests.fuzz.helpers import changed, row_counts

pytestmark = pytest.mark.django_db

scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2**70, max_value=2**70),
                    st.floats(allow_nan=False), st.text(max_size=20))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=10), inner, max_size=3), max_leaves=12)
STRIPE_KEYS = ["id", "object", "amount", "amount_received", "status", "charge", "payment_intent", "customer",
               "latest_charge", "payment_method", "metadata", "currency", "refunds", "balance_transaction",
               "last_payment_error", "card", "created", "application_fee_amount", "amount_refunded", "arrival_date"]
stripe_objects = st.dictionaries(st.sampled_from(STRIPE_KEYS), json_values | st.sampled_from(
    ["pi_123", "ch_123", "cus_123", "succeeded", "requires_action", "gbp", {"donation_uid": "x"}]), max_size=8)
events = st.fixed_dictionaries({
    "id": st.one_of(st.text(max_size=30), st.integers(), st.none()).map(lambda v: v if v is None else f"evt_{v}"),
    "object": st.just("event"),
    "type": st.sampled_from(sorted(HANDLERS)) | st.text(max_size=20),
    "data": st.one_of(st.fixed_dictionaries({"object": stripe_objects}), json_values),
    "created": st.integers(min_value=0, max_value=2**40),
    "livemode": st.booleans(),
}, optional={"api_version": st.text(max_size=12)})
bodies = st.one_of(events.map(json.dumps), json_values.map(json.dumps), st.text(max_size=200),
                   st.binary(max_size=200).map(lambda b: b.decode("latin-1")))


@given(body=bodies)
def test_the_stripe_webhook_refuses_any_unsigned_body_and_answers_any_signed_one(
        stripe_settings, django_capture_on_commit_callbacks, body):
    stranger = Client(raise_request_exception=False)
    before, stored = row_counts(), StripeEvent.objects.count()
    for headers in ({}, {"Stripe-Signature": sign(body, secret="whsec_not_ours")}):
        response = stranger.post("/stripe/webhook/", data=body, content_type="application/json", headers=headers)
        assert response.status_code == 400
    assert StripeEvent.objects.count() == stored and changed(before, row_counts()) == {}

    with django_capture_on_commit_callbacks(execute=True):  # and the worker applies what was stored
        response = stranger.post("/stripe/webhook/", data=body, content_type="application/json",
                                 headers={"Stripe-Signature": sign(body)})
    assert response.status_code in (200, 400), (response.status_code, response.content[:300], body[:300])
    if response.status_code == 400:
        assert changed(before, row_counts()) == {} and StripeEvent.objects.count() == stored


POSTMARK_KEYS = ["RecordType", "ID", "Type", "TypeCode", "MessageID", "Email", "Recipient", "BouncedAt",
                 "DeliveredAt", "ReceivedAt", "Description", "Details", "Metadata", "Tag", "ServerID"]
postmark_events = st.dictionaries(st.sampled_from(POSTMARK_KEYS), json_values | st.sampled_from(
    ["Bounce", "Delivery", "Open", "Click", "SpamComplaint", "SubscriptionChange", "HardBounce",
     "2026-11-25T10:00:00Z", "someone@example.org", {"message_uid": "x"}]), max_size=8)


@given(body=st.one_of(postmark_events.map(json.dumps), json_values.map(json.dumps), st.text(max_size=200)),
       authorised=st.booleans())
def test_the_email_tracking_webhook_answers_any_body_without_a_server_error(settings, body, authorised):
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": "hook:secret-words"}
    password = b"hook:secret-words" if authorised else b"hook:guessed"
    headers = {"Authorization": "Basic " + base64.b64encode(password).decode()}
    before, events_stored = row_counts(), EmailEvent.objects.count()
    response = Client(raise_request_exception=False).post("/anymail/postmark/tracking/", data=body,
                                                          content_type="application/json", headers=headers)
    assert response.status_code in ((200, 400) if authorised else (400, 401, 403)), (response.status_code, body)
    if response.status_code != 200:
        assert EmailEvent.objects.count() == events_stored and changed(before, row_counts()) == {}
