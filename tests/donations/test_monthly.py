"""Monthly gifts on our own schedule: set-up, the monthly run (twice, and by two
workers at once), failures and their retries, cancellation."""

import datetime
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import stripe
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from donations import services
from donations.services import monthly
from donations.models import Donation, MonthlyCharge, RecurringGift
from tests.helpers import run_at_once

pytestmark = pytest.mark.django_db


@pytest.fixture
def start_monthly(stripe_client):
    """A supporter sets up £10 a month: our server starts it, the browser confirms
    the SetupIntent with the card (as Stripe.js's confirmCardSetup does)."""
    def make(number="4242424242424242", amount_pence=1000, browser_stripe=None):
        gift = services.Gift(amount_pence=amount_pence, first_name="Mo", last_name="Khan",
                             email=f"mo{uuid.uuid4().hex[:6]}@example.org", form_token=uuid.uuid4(), gift_aid=False)
        recurring, client_secret = monthly.recurring_gift_start(gift=gift)
        assert client_secret.startswith(recurring.stripe_setup_intent_id)
        (browser_stripe or stripe_client).v1.setup_intents.confirm(recurring.stripe_setup_intent_id, params={
            "payment_method_data": {"type": "card", "card": {"number": number, "exp_month": 12, "exp_year": 2034,
                                                              "cvc": "123"}}})
        setup = monthly.stripe_gateway.setup_intent_retrieve(recurring.stripe_setup_intent_id)
        return monthly.recurring_gift_apply_setup(setup_intent=setup)
    return make


def next_month(day=None):
    today = timezone.localdate()
    first = (today.replace(day=1) + datetime.timedelta(days=32)).replace(day=1)
    return first.replace(day=day or 28)


class TestSetUp:
    def test_the_welcome_email_is_queued_not_sent_while_the_donor_waits(self, start_monthly, settings,
                                                                       django_capture_on_commit_callbacks):
        from django.core import mail

        from donations import tasks

        settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}  # no worker runs
        with django_capture_on_commit_callbacks(execute=True):
            recurring = start_monthly()
        assert not [m for m in mail.outbox if m.to == [recurring.supporter.email]]
        tasks.send_monthly_welcome.call(recurring_gift_id=recurring.pk)  # as the task worker runs it
        [welcome] = [m for m in mail.outbox if m.to == [recurring.supporter.email]]
        assert "£10.00" in welcome.body and "/giving/monthly/" in welcome.body

    def test_setting_up_saves_the_card_and_takes_the_first_month(self, start_monthly, stripe_client, deliver):
        from tests.donations.conftest import event_for

        recurring = start_monthly()
        assert recurring.status == "active"
        assert recurring.stripe_customer_id.startswith("cus_") and recurring.stripe_payment_method_id.startswith("pm_")
        assert recurring.card_last4 == "4242"
        charge = recurring.charges.get()
        assert charge.status == "succeeded" and charge.month == timezone.localdate().replace(day=1)
        donation = charge.donation
        assert (donation.status, donation.amount_pence, donation.channel) == ("succeeded", 1000, "monthly")
        assert donation.recurring_gift == recurring and donation.fee_pence is None
        # The fee arrives with the webhook, which fetches the balance transaction once.
        intent = stripe_client.v1.payment_intents.retrieve(donation.stripe_payment_intent_id).to_dict()
        deliver(event_for(intent, "payment_intent.succeeded"))
        donation.refresh_from_db()
        assert (donation.fee_pence, donation.net_pence) == (35, 965)

    def test_the_thank_you_page_says_what_was_taken_and_how_to_change_it(self, start_monthly, client):
        recurring = start_monthly(amount_pence=1500)
        page = " ".join(client.get(f"/donate/thank-you/monthly/{recurring.form_token}/").content.decode().split())
        assert "We took your first payment of <strong>£15.00</strong> today from your card ending 4242." in page
        later = recurring.payment_day_after(timezone.localdate())
        day = f"{recurring.day_of_month}{recurring.day_suffix}"
        assert (f"Then we will take <strong>£15.00</strong> on the <strong>{day} of each month</strong>, "
                f"starting on {later:%-d %B %Y}.") in page
        assert f"cancel at any time with the link in the welcome email we have sent to <strong>{recurring.supporter.email}" in page
        assert "reply" not in page  # the welcome email carries a link to manage the gift; replies reach nobody
        assert "Thank you for adding Gift Aid" not in page
        RecurringGift.objects.filter(pk=recurring.pk).update(gift_aid_declared=True)
        page = client.get(f"/donate/thank-you/monthly/{recurring.form_token}/").content.decode()
        assert "Thank you for adding Gift Aid: it makes every monthly gift worth 25% more" in page

    def test_setting_up_twice_with_one_form_is_one_gift(self, start_monthly):
        recurring = start_monthly()
        gift = services.Gift(amount_pence=1000, first_name="Mo", last_name="Khan", email=recurring.supporter.email,
                             form_token=recurring.form_token)
        again, secret = monthly.recurring_gift_start(gift=gift)
        assert again.pk == recurring.pk and secret == ""
        assert RecurringGift.objects.count() == 1 and MonthlyCharge.objects.count() == 1


class TestTheMonthlyRun:
    def test_next_month_is_charged_once_however_often_the_job_runs(self, start_monthly):
        recurring = start_monthly()
        day = next_month(recurring.day_of_month)
        first = monthly.monthly_charges_run(today=day)
        second = monthly.monthly_charges_run(today=day)
        call_command("charge_monthly_gifts", date=day.isoformat())
        assert first["scheduled"] == 1 and first["succeeded"] == 1
        assert second["scheduled"] == 0 and second.get("succeeded", 0) == 0
        assert recurring.charges.count() == 2
        assert Donation.objects.filter(recurring_gift=recurring, status="succeeded").count() == 2

    def test_a_gift_is_not_charged_before_its_day(self, start_monthly):
        recurring = start_monthly()
        RecurringGift.objects.filter(pk=recurring.pk).update(day_of_month=20)
        assert monthly.monthly_charges_run(today=next_month(19))["scheduled"] == 0
        assert monthly.monthly_charges_run(today=next_month(20))["scheduled"] == 1

    def test_an_interrupted_charge_is_resumed_with_the_same_key(self, start_monthly, stripe_client):
        recurring = start_monthly()
        charge = MonthlyCharge.objects.create(recurring_gift=recurring, month=next_month(1), amount_pence=1000,
                                              next_attempt_at=timezone.now())
        claimed = monthly._claim(charge.pk)  # a worker claimed it, then died before Stripe answered
        assert claimed.status == "processing" and claimed.attempts == 1
        assert monthly.monthly_charge_attempt(charge_id=charge.pk) == "busy"  # not stale yet
        MonthlyCharge.objects.filter(pk=charge.pk).update(next_attempt_at=timezone.now() - datetime.timedelta(hours=1))
        assert monthly.monthly_charge_attempt(charge_id=charge.pk) == "succeeded"
        charge.refresh_from_db()
        assert charge.attempts == 1 and charge.status == "succeeded"
        assert Donation.objects.filter(monthly_charge=charge).count() == 1


class TestAChargeThatDidNotReachStripe:
    def test_a_missing_key_is_found_before_anything_is_written(self, start_monthly, settings):
        from django.core.management.base import CommandError

        recurring = start_monthly()
        settings.STRIPE_SECRET_KEY = ""  # a second shell without make run's settings
        with pytest.raises(CommandError, match="STRIPE_SECRET_KEY is not set"):
            call_command("charge_monthly_gifts", date=next_month(recurring.day_of_month).isoformat())
        assert recurring.charges.count() == 1  # only the first month, taken at sign-up

    def test_it_says_why_and_the_next_run_takes_it_with_the_same_key(self, start_monthly, settings, finance_client):
        from tests.conftest import _free_port

        recurring = start_monthly()
        day = next_month(recurring.day_of_month)
        local_stripe = settings.STRIPE_API_BASE
        settings.STRIPE_API_BASE = f"http://127.0.0.1:{_free_port()}"  # nothing listens there
        assert monthly.monthly_charges_run(today=day)["interrupted"] == 1
        charge = recurring.charges.get(month=day.replace(day=1))
        assert charge.status == "interrupted" and charge.attempts == 1
        assert charge.last_error == "Stripe call did not complete: Stripe could not be reached (a network error or timeout)"
        page = finance_client.get(f"/admin/recurring_gift/inspect/{recurring.pk}/").content.decode()
        assert "Interrupted, will retry" in page and "Stripe call did not complete" in page

        settings.STRIPE_API_BASE = local_stripe
        assert monthly.monthly_charges_run(today=day)["succeeded"] == 1
        charge.refresh_from_db()
        assert (charge.status, charge.attempts, charge.last_error) == ("succeeded", 1, "")
        assert Donation.objects.filter(monthly_charge=charge).count() == 1
        assert charge.donation.status == "succeeded"


def _database_url() -> str:
    """The test database, for a manage.py command run in another process."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # a second process reads what we commit
def test_a_second_shell_charges_through_make_runs_local_stripe(start_monthly, settings, tmp_path):
    """`make run` starts the local Stripe with --env-file; while it runs, manage.py in
    another shell (config.settings.local, no Stripe variables) reads that file and
    charges through the same local Stripe. The file goes when the local Stripe stops."""
    from tests.conftest import _free_port
    from tests.stripe_server import SECRET_KEY

    root = Path(__file__).resolve().parents[2]
    env_file, port = tmp_path / "local-stripe.env", _free_port()
    launcher = subprocess.Popen([sys.executable, "-m", "tests.stripe_server", "--port", str(port),
                                 "--env-file", str(env_file), "--site-url", "http://127.0.0.1:8123"],
                                cwd=root, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not env_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        settings.STRIPE_API_BASE = f"http://127.0.0.1:{port}"
        make_runs_stripe = stripe.StripeClient(SECRET_KEY, base_addresses={"api": settings.STRIPE_API_BASE})
        recurring = start_monthly(browser_stripe=make_runs_stripe)
        day = next_month(recurring.day_of_month)
        second_shell = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "DJANGO_", "DATABASE_"))}
        result = subprocess.run(
            [sys.executable, "manage.py", "charge_monthly_gifts", "--date", day.isoformat()], cwd=root,
            env={**second_shell, "DJANGO_SETTINGS_MODULE": "config.settings.local", "LOCAL_STRIPE_ENV": str(env_file),
                 "DATABASE_URL": _database_url()}, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "succeeded 1" in result.stdout
        charge = recurring.charges.get(month=day.replace(day=1))
        assert charge.status == "succeeded" and charge.stripe_payment_intent_id
        # Links in the emails that second shell sends point at the port make run serves.
        base_url = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", "from django.conf import settings; "
             "print(settings.WAGTAILADMIN_BASE_URL)"], cwd=root, capture_output=True, text=True, timeout=60,
            env={**second_shell, "DJANGO_SETTINGS_MODULE": "config.settings.local", "LOCAL_STRIPE_ENV": str(env_file)})
        assert base_url.stdout.strip().splitlines()[-1] == "http://127.0.0.1:8123", base_url.stderr
    finally:
        launcher.terminate()
        launcher.wait(timeout=10)
    assert not env_file.exists()


def test_the_demo_datas_monthly_givers_are_charged_by_the_local_stripe(start_monthly):
    """load_demo_data gives monthly givers made-up card ids (cus_demo…, pm_demo…);
    the demo's local Stripe takes them, so the scheduled run works on the demo."""
    recurring = start_monthly()
    RecurringGift.objects.filter(pk=recurring.pk).update(stripe_customer_id="cus_demo0123456789abcd",
                                                         stripe_payment_method_id="pm_demo0123456789abcd")
    day = next_month(recurring.day_of_month)
    assert monthly.monthly_charges_run(today=day)["succeeded"] == 1
    assert recurring.charges.get(month=day.replace(day=1)).status == "succeeded"


class TestFailures:
    def test_a_declined_month_is_retried_then_marked_past_due(self, start_monthly, stripe_client):
        recurring = start_monthly()
        # The card starts declining (a test card that fails at charge time).
        method = stripe_client.v1.payment_methods.create(params={"type": "card", "card": {
            "number": "4000000000000341", "exp_month": 12, "exp_year": 2034, "cvc": "123"}})
        RecurringGift.objects.filter(pk=recurring.pk).update(stripe_payment_method_id=method.id)
        day = next_month(recurring.day_of_month)
        assert monthly.monthly_charges_run(today=day)["failed"] == 1
        charge = recurring.charges.get(month=day.replace(day=1))
        assert charge.status == "failed" and charge.attempts == 1
        assert charge.next_attempt_at.date() == (timezone.now() + datetime.timedelta(days=3)).date()
        assert monthly.monthly_charges_run(today=day).get("failed", 0) == 0  # not due again yet

        for expected_status, retry_days in (("failed", 7), ("abandoned", None)):
            MonthlyCharge.objects.filter(pk=charge.pk).update(next_attempt_at=timezone.now())
            monthly.monthly_charges_run(today=day)
            charge.refresh_from_db()
            assert charge.status == expected_status
        recurring.refresh_from_db()
        assert charge.attempts == 3 and recurring.status == "past_due"
        assert Donation.objects.filter(recurring_gift=recurring, status="failed").count() == 3
        assert recurring.supporter.interactions.filter(summary__contains="failed (attempt 3)").exists()

    def test_a_card_no_longer_at_stripe_fails_like_a_decline_rather_than_hanging(self, start_monthly):
        recurring = start_monthly()
        RecurringGift.objects.filter(pk=recurring.pk).update(stripe_payment_method_id="pm_gone0123456789")
        day = next_month(recurring.day_of_month)
        assert monthly.monthly_charges_run(today=day)["failed"] == 1
        charge = recurring.charges.get(month=day.replace(day=1))
        assert charge.status == "failed" and charge.attempts == 1
        assert charge.last_error.startswith("The saved card is no longer at Stripe")
        assert charge.next_attempt_at.date() == (timezone.now() + datetime.timedelta(days=3)).date()

    def test_a_retry_that_succeeds_revives_a_past_due_gift(self, start_monthly):
        recurring = start_monthly()
        RecurringGift.objects.filter(pk=recurring.pk).update(status="past_due")
        monthly.monthly_charges_run(today=next_month(recurring.day_of_month))
        recurring.refresh_from_db()
        assert recurring.status == "active"


class TestCancelling:
    def test_a_cancelled_gift_is_never_charged_again(self, start_monthly):
        recurring = start_monthly()
        monthly.recurring_gift_cancel(recurring_gift=recurring, reason="Asked by phone")
        result = monthly.monthly_charges_run(today=next_month(recurring.day_of_month))
        assert result["scheduled"] == 0
        assert recurring.charges.count() == 1

    def test_a_late_event_does_not_revive_a_cancelled_gift(self, start_monthly, stripe_client, deliver):
        from tests.donations.conftest import event_for

        recurring = start_monthly()
        monthly.recurring_gift_cancel(recurring_gift=recurring, reason="Changed bank")
        setup = stripe_client.v1.setup_intents.retrieve(recurring.stripe_setup_intent_id).to_dict()
        deliver(event_for(setup, "setup_intent.succeeded"))
        intent = stripe_client.v1.payment_intents.retrieve(recurring.charges.get().stripe_payment_intent_id).to_dict()
        deliver(event_for(intent, "payment_intent.succeeded"))
        recurring.refresh_from_db()
        assert recurring.status == "cancelled" and recurring.charges.count() == 1

    def test_a_detached_card_flags_the_gift(self, start_monthly, deliver):
        from tests.donations.conftest import event_for

        recurring = start_monthly()
        deliver(event_for({"id": recurring.stripe_payment_method_id, "object": "payment_method", "card": {}},
                          "payment_method.detached"))
        recurring.refresh_from_db()
        assert recurring.needs_new_card


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # keep the roles and pages that migrations made
def test_two_workers_at_once_charge_each_month_once(start_monthly, stripe_settings):
    if connection.vendor != "postgresql":
        pytest.skip("row locks with SKIP LOCKED need PostgreSQL")
    gifts = [start_monthly() for _ in range(4)]
    day = next_month(28)
    results = run_at_once(lambda: monthly.monthly_charges_run(today=day), workers=3)
    for recurring in gifts:
        assert recurring.charges.count() == 2
        assert Donation.objects.filter(recurring_gift=recurring, status="succeeded").count() == 2
    assert sum(r.get("succeeded", 0) for r in results) == 4


class TestSupporterManagesTheirGift:
    @pytest.fixture
    def manage_url(self, start_monthly, django_capture_on_commit_callbacks):
        from django.core import mail

        with django_capture_on_commit_callbacks(execute=True):
            recurring = start_monthly()
        welcome = [m for m in mail.outbox if m.to == [recurring.supporter.email]][-1]
        line = next(line for line in welcome.body.splitlines() if "/giving/monthly/" in line)
        url = line[line.index("http"):].strip()
        return recurring, url.replace("http://testserver", "")

    def test_the_welcome_email_links_to_the_gift(self, client, manage_url):
        recurring, url = manage_url
        page = client.get(url).content.decode()
        assert "£10.00 a month" in page and "ending 4242" in page

    def test_a_tampered_link_is_refused(self, client, manage_url):
        recurring, url = manage_url
        assert client.get(url[:-3] + "xyz/").status_code == 404

    def test_change_the_amount(self, client, manage_url):
        recurring, url = manage_url
        page = client.post(url + "amount/", {"amount": "12.50"}).content.decode()
        assert "£12.50 a month" in page
        recurring.refresh_from_db()
        assert recurring.amount_pence == 1250
        bad = client.post(url + "amount/", {"amount": "0"})
        assert bad.status_code == 400 and "above zero" in bad.content.decode()
        absurd = client.post(url + "amount/", {"amount": "1e400"})
        assert absurd.status_code == 400 and "please call us" in absurd.content.decode()
        recurring.refresh_from_db()
        assert recurring.amount_pence == 1250

    def test_cancel_reaches_stripe(self, client, manage_url, stripe_client, django_capture_on_commit_callbacks):
        recurring, url = manage_url
        with django_capture_on_commit_callbacks(execute=True):
            page = client.post(url + "cancel/", {"reason": "Money is tight"}).content.decode()
        assert "is cancelled" in page
        recurring.refresh_from_db()
        assert recurring.status == "cancelled" and "Money is tight" in recurring.cancellation_reason
        method = stripe_client.v1.payment_methods.retrieve(recurring.stripe_payment_method_id)
        assert method.customer is None  # the card is detached at Stripe

    def test_a_late_sign_up_event_never_brings_the_old_card_back(self, client, manage_url, stripe_client, deliver):
        from tests.donations.conftest import event_for

        recurring, url = manage_url
        secret = client.post(url + "card/").json()["client_secret"]
        setup_id = secret.split("_secret_")[0]
        stripe_client.v1.setup_intents.confirm(setup_id, params={"payment_method_data": {
            "type": "card", "card": {"number": "5555555555554444", "exp_month": 1, "exp_year": 2035, "cvc": "123"}}})
        client.post(url + "card-saved/", {"setup_intent": setup_id})
        # Stripe delivers (or retries) the sign-up's setup_intent.succeeded after that.
        sign_up = stripe_client.v1.setup_intents.retrieve(recurring.stripe_setup_intent_id).to_dict()
        assert deliver(event_for(sign_up, "setup_intent.succeeded")).status_code == 200
        recurring.refresh_from_db()
        assert recurring.card_last4 == "4444" and recurring.charges.count() == 1

    def test_update_the_card(self, client, manage_url, stripe_client):
        recurring, url = manage_url
        RecurringGift.objects.filter(pk=recurring.pk).update(status="past_due", needs_new_card=True)
        secret = client.post(url + "card/").json()["client_secret"]
        setup_id = secret.split("_secret_")[0]
        stripe_client.v1.setup_intents.confirm(setup_id, params={"payment_method_data": {
            "type": "card", "card": {"number": "5555555555554444", "exp_month": 1, "exp_year": 2035, "cvc": "123"}}})
        answer = client.post(url + "card-saved/", {"setup_intent": setup_id}).json()
        assert "ending 4444" in answer["message"]
        recurring.refresh_from_db()
        assert (recurring.card_last4, recurring.status, recurring.needs_new_card) == ("4444", "active", False)


def test_erasing_a_monthly_giver_stops_the_gift_and_keeps_the_books(start_monthly, stripe_client,
                                                                    django_capture_on_commit_callbacks):
    from supporters.selectors import supporter_personal_data
    from supporters.services import supporter_erase

    recurring = start_monthly()
    exported = supporter_personal_data(supporter=recurring.supporter)
    assert exported["gifts"][0]["amount"] == "£10.00" and exported["monthly_gifts"][0]["status"] == "Active"
    with django_capture_on_commit_callbacks(execute=True):
        supporter_erase(supporter=recurring.supporter, reason="Erasure request 77")
    recurring.refresh_from_db()
    assert recurring.status == "cancelled" and recurring.card_last4 == ""
    assert Donation.objects.get(recurring_gift=recurring).amount_pence == 1000  # the accounts still add up
    import stripe

    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.customers.retrieve(recurring.stripe_customer_id)  # deleted at Stripe


def test_a_card_expiring_before_the_next_charge_is_flagged(start_monthly):
    recurring = start_monthly()
    today = timezone.localdate()
    RecurringGift.objects.filter(pk=recurring.pk).update(card_exp_year=today.year, card_exp_month=today.month)
    assert monthly.monthly_charges_run(today=today)["cards_expiring"] == 1
    recurring.refresh_from_db()
    assert recurring.needs_new_card
