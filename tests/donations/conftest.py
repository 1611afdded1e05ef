import hashlib
import hmac
import json
import time

import pytest
from django.test import Client

from tests.conftest import WEBHOOK_SECRET


@pytest.fixture(autouse=True)
def _every_gift_test_talks_to_local_stripe(stripe_settings):
    return stripe_settings


def sign(payload: str, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    timestamp = int(time.time()) if timestamp is None else timestamp
    signature = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={signature}"


@pytest.fixture
def deliver(django_capture_on_commit_callbacks):
    """Post an event to our webhook, signed exactly as Stripe signs it, and run
    what it leaves for after its commit (tasks such as fetching the fee)."""
    client = Client()

    def post(event: dict, *, secret: str = WEBHOOK_SECRET, signature: str | None = None):
        payload = json.dumps(event)
        header = sign(payload, secret) if signature is None else signature
        with django_capture_on_commit_callbacks(execute=True):
            return client.post("/stripe/webhook/", data=payload, content_type="application/json",
                               headers={"Stripe-Signature": header} if header else {})
    return post


def event_for(obj: dict, event_type: str, event_id: str | None = None) -> dict:
    """A Stripe event in the current API shape (as Stripe's published example objects have it)."""
    return {
        "id": event_id or f"evt_{obj['id']}_{event_type}",
        "object": "event",
        "api_version": "2026-10-28",
        "created": int(time.time()),
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }
