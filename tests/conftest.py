import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.contrib.auth.models import Group

from tests.donations.income_builders import year_of_gifts  # noqa: F401  (a fixture for every folder)
from tests.supporters.factories import SupporterFactory
from tests.helpers import log_in_verified, wait_for_port

# Playwright's sync API runs an event loop in the test thread; Django would
# otherwise refuse ORM calls made in the same thread by our fixtures.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def _staff(django_user_model, username, group=None, superuser=False):
    user = django_user_model.objects.create_user(
        username=username, password="pass-word-123", email=f"{username}@example.org",
        first_name=username.capitalize(), is_superuser=superuser, is_staff=superuser,
    )
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def fundraiser(django_user_model):
    return _staff(django_user_model, "fundraiser", group="Fundraising")


@pytest.fixture
def finance_user(django_user_model):
    return _staff(django_user_model, "finance", group="Finance")


@pytest.fixture
def admin_user(django_user_model):
    return _staff(django_user_model, "admin", superuser=True)


@pytest.fixture
def admin_client(client, admin_user):
    """pytest-django's, signed in through both steps (password and authenticator code)."""
    return log_in_verified(client, admin_user)


@pytest.fixture
def fundraiser_client(client, fundraiser):
    log_in_verified(client, fundraiser)
    return client


@pytest.fixture
def finance_client(client, finance_user):
    log_in_verified(client, finance_user)
    return client


@pytest.fixture
def supporter_factory():
    return SupporterFactory


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def local_stripe():
    """localstripe, through our test launcher, on a free port for this run."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.stripe_server", "--port", str(port)],
        cwd=Path(__file__).resolve().parent.parent, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    wait_for_port(port, process, "the local Stripe")
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit counters and cached pages must not leak from one test to the next."""
    from django.core.cache import cache

    cache.clear()
    yield


WEBHOOK_SECRET = "whsec_test_brightwell"


@pytest.fixture
def stripe_settings(settings, local_stripe):
    """Point our Stripe gateway and the donation page at the local Stripe, and
    leave it empty afterwards: no webhook registration, no delivery under way
    and no object of this test's reaches the next one (this runs before the
    database is flushed, as the database fixture was set up first)."""
    from tests.stripe_server import PUBLISHABLE_KEY, SECRET_KEY

    settings.STRIPE_SECRET_KEY = SECRET_KEY
    settings.STRIPE_PUBLISHABLE_KEY = PUBLISHABLE_KEY
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_API_BASE = local_stripe
    settings.STRIPE_JS_URL = f"{local_stripe}/js.stripe.com/v3/extended.js"
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    yield settings
    requests.post(f"{local_stripe}/_config/reset", timeout=60).raise_for_status()


@pytest.fixture
def stripe_webhooks_to_live_server(stripe_settings, live_server, local_stripe):
    """The local Stripe signs and posts its events to this test's live server,
    until the test ends: the registration is removed, and the deliveries under
    way have finished, before anything else is torn down."""
    url = f"{local_stripe}/_config/webhooks/live-server"
    requests.post(url, data={"url": f"{live_server.url}/stripe/webhook/", "secret": WEBHOOK_SECRET},
                  timeout=10).raise_for_status()
    yield live_server
    requests.delete(url, timeout=60).raise_for_status()


@pytest.fixture
def stripe_client(stripe_settings):
    import stripe

    from tests.stripe_server import SECRET_KEY

    return stripe.StripeClient(SECRET_KEY, base_addresses={"api": stripe_settings.STRIPE_API_BASE})


@pytest.fixture
def card(stripe_client):
    """A PaymentMethod for a Stripe test card number, as Stripe.js would make it."""
    def make(number="4242424242424242"):
        return stripe_client.v1.payment_methods.create(
            params={"type": "card", "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"}}
        ).id
    return make

