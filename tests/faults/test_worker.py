"""The task worker killed mid-work: a real `manage.py db_worker` (database task
backend) is sent SIGKILL while it sends a mailing or charges the month's
monthly gifts; a new worker (and the scheduled command that resumes, where that
is the design) finishes the work, each piece exactly once."""

import datetime
import io
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from cms.models import Mailing, MailingRecipient
from cms.services import mailings
from donations import services
from donations.models import Donation, MonthlyCharge
from donations.services import monthly
from donations.tasks import charge_monthly_gifts
from tests.faults.proxy import TcpProxy
from tests.stripe_server import SECRET_KEY
from tests.supporters.factories import SupporterFactory

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
PROJECT = Path(__file__).resolve().parents[2]
DATABASE_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def workers(tmp_path):
    """Starts `manage.py db_worker` (or another command) on the test database, each
    in its own process group; every one still running is killed at the end."""
    started = []
    base_env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.faults.worker_settings",
                "DATABASE_URL": database_url(), "TASK_BACKEND": "database", "LOG_LEVEL": "ERROR",
                "FAULTS_MAIL_LOG": str(tmp_path / "sent.txt")}

    def start(*args, **env):
        log = open(tmp_path / f"process-{len(started)}.log", "wb")
        process = subprocess.Popen([sys.executable, "manage.py", *args], cwd=PROJECT, env={**base_env, **env},
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        started.append(process)
        return process

    start.sent = lambda: (tmp_path / "sent.txt").read_text().split() if (tmp_path / "sent.txt").exists() else []
    start.log = lambda process: (tmp_path / f"process-{started.index(process)}.log").read_text()
    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def wait_for(condition, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the drill did not move on in time"
        time.sleep(0.02)


def kill(process) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def test_worker_killed_mid_mailing_each_supporter_is_mailed_at_most_once_and_the_rest_once(
        settings, workers, drill):
    settings.TASKS = DATABASE_TASKS
    settings.MAILING_WORKERS = 1
    settings.MAILING_BATCH_SIZE = 10
    people = SupporterFactory.create_batch(60, consent_email=True)
    mailing = Mailing.objects.create(name="Spring appeal", subject="{{ first_name }}, spring is here",
                                     body="Dear {{ first_name }},\n\nThank you.")
    mailings.mailing_send(mailing=mailing)  # the first batch task is queued in the database

    first = workers("db_worker", "--interval", "0.1", "--no-startup-delay", FAULTS_MAIL_DELAY="0.05",
                    MAILING_BATCH_SIZE="10")
    wait_for(lambda: len(workers.sent()) >= 25)
    kill(first)
    sent_before = len(workers.sent())
    states = Counter(MailingRecipient.objects.filter(mailing=mailing).values_list("status", flat=True))
    assert Mailing.objects.get(pk=mailing.pk).status == Mailing.Status.SENDING

    # The scheduled resume (every 15 minutes; here with no wait), then a new worker to the end.
    settings.MAILING_STALE_MINUTES = 0
    call_command("send_mailings", "--resume-only", stdout=io.StringIO())
    second = workers("db_worker", "--interval", "0.1", "--no-startup-delay", "--batch", MAILING_BATCH_SIZE="10")
    assert second.wait(timeout=120) == 0, workers.log(second)

    mailing.refresh_from_db()
    assert mailing.status == Mailing.Status.SENT
    mailed = Counter(workers.sent())
    final = Counter(MailingRecipient.objects.filter(mailing=mailing).values_list("status", flat=True))
    unknown = set(MailingRecipient.objects.filter(mailing=mailing, status="unknown")
                  .values_list("supporter__email", flat=True))
    assert max(mailed.values()) == 1  # nobody mailed twice
    everyone = {person.email for person in people}
    assert set(mailed) <= everyone and everyone - set(mailed) <= unknown  # everyone else mailed once
    assert len(unknown) <= 1  # at most the one message in the provider's hands at the kill
    assert final["sent"] == len(everyone) - len(unknown)
    drill(f"db_worker SIGKILLed mid-mailing after {sent_before} of 60 emails (rows then: {dict(states)}); "
          f"`send_mailings --resume-only` and a new db_worker finished it: {len(mailed)} supporters mailed, "
          "none twice; " + (f"{len(unknown)} marked 'interrupted' (in flight at the kill, "
          f"{'it had' if unknown & set(mailed) else 'it had not'} reached the provider; not sent again)."
          if unknown else "no message was in flight at the kill, so none is marked 'interrupted'."))


@pytest.fixture
def monthly_givers(stripe_settings, stripe_client):
    """Twelve supporters giving monthly, each card saved at the local Stripe."""
    givers = []
    for number in range(12):
        gift = services.Gift(amount_pence=1000 + number, first_name="Lee", last_name=f"Giver{number}",
                             email=f"lee{number}-{uuid.uuid4().hex[:6]}@example.org", form_token=uuid.uuid4())
        recurring, _ = monthly.recurring_gift_start(gift=gift)
        stripe_client.v1.setup_intents.confirm(recurring.stripe_setup_intent_id, params={
            "payment_method_data": {"type": "card", "card": {"number": "4242424242424242", "exp_month": 12,
                                                              "exp_year": 2034, "cvc": "123"}}})
        givers.append(monthly.recurring_gift_apply_setup(
            setup_intent=monthly.stripe_gateway.setup_intent_retrieve(recurring.stripe_setup_intent_id)))
    return givers


def test_worker_killed_mid_monthly_run_each_gift_is_charged_once(
        settings, stripe_settings, monthly_givers, local_stripe, workers, drill):
    settings.TASKS = DATABASE_TASKS
    today = timezone.localdate()
    day = ((today.replace(day=1) + datetime.timedelta(days=32)).replace(day=1)).replace(day=28)
    month = day.replace(day=1)
    charge_monthly_gifts.enqueue(date=day.isoformat())
    upstream = urlsplit(local_stripe)
    stripe_env = {"STRIPE_SECRET_KEY": SECRET_KEY, "STRIPE_PUBLISHABLE_KEY": settings.STRIPE_PUBLISHABLE_KEY,
                  "STRIPE_WEBHOOK_SECRET": settings.STRIPE_WEBHOOK_SECRET}
    with TcpProxy((upstream.hostname, upstream.port)) as slow_stripe:
        slow_stripe.delay = 0.3  # each of Stripe's answers late enough to kill the worker between them
        first = workers("db_worker", "--interval", "0.1", "--no-startup-delay",
                        STRIPE_API_BASE=f"http://{slow_stripe.address}", **stripe_env)
        wait_for(lambda: MonthlyCharge.objects.filter(month=month, status="succeeded").count() >= 4)
        kill(first)
    states = Counter(MonthlyCharge.objects.filter(month=month).values_list("status", flat=True))
    # The hourly `charge_monthly_gifts` an hour later: a charge left mid-call is stale by then.
    MonthlyCharge.objects.filter(month=month, status="processing").update(
        next_attempt_at=timezone.now() - monthly.STALE_PROCESSING - datetime.timedelta(minutes=1))
    call_command("charge_monthly_gifts", "--date", day.isoformat(), stdout=io.StringIO())

    charges = MonthlyCharge.objects.filter(month=month)
    assert charges.count() == 12 and set(charges.values_list("status", flat=True)) == {"succeeded"}
    gifts = Donation.objects.filter(monthly_charge__month=month)
    assert gifts.count() == 12 and set(gifts.values_list("status", flat=True)) == {"succeeded"}
    intents = requests.get(f"{local_stripe}/v1/payment_intents", params={"limit": 100}, auth=(SECRET_KEY, ""),
                           timeout=30).json()["data"]
    this_month = [i for i in intents if i["id"] in set(gifts.values_list("stripe_payment_intent_id", flat=True))]
    paid = Counter(i["customer"] for i in intents if i["status"] == "succeeded")
    assert len(this_month) == 12
    assert all(count == 2 for count in paid.values()) and len(paid) == 12  # sign-up month + this month, once each
    drill(f"db_worker SIGKILLed mid monthly run (Stripe answering 0.3 s late), charges then: {dict(states)}; "
          f"the next `charge_monthly_gifts` resumed with the same idempotency keys: 12 charges succeeded, "
          f"12 gifts, and each card charged once this month at Stripe ({sum(paid.values())} payments in all, "
          f"2 a giver with the sign-up month).")


@pytest.mark.postgres
def test_killed_mid_claim_the_claim_is_built_once(workers, drill):
    """Building a Gift Aid claim is one transaction (in the request of the finance
    user who asks for it): a process killed while writing it leaves nothing, and
    the next build makes the whole claim once."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (a lock holds the build mid-way)")
    import psycopg

    from donations.models import GiftAidClaim, GiftAidClaimedGift
    from donations.services import gift_aid_claims
    from supporters import services as supporter_services

    donors = SupporterFactory.create_batch(5)
    for donor in donors:
        supporter_services.gift_aid_declaration_record(
            supporter=donor, method="online", wording=supporter_services.gift_aid_wording(),
            wording_version=supporter_services.GIFT_AID_WORDING_VERSION, declared_on=datetime.date(2026, 1, 1))
    for index in range(40):
        moment = timezone.make_aware(datetime.datetime(2026, 2, 1 + index % 28, 12))
        Donation.objects.create(supporter=donors[index % 5], amount_pence=1000 + index, status="succeeded",
                                channel=Donation.Channel.OFFLINE, created_at=moment, paid_at=moment)
    db = connection.settings_dict
    table = GiftAidClaimedGift._meta.db_table
    # Another session holds the claimed gifts' table against writes (reads pass), so the
    # build stops at its first write of a claimed gift, its claim row already written.
    with psycopg.connect(host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"],
                         dbname=db["NAME"]) as blocker:
        blocker.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
        builder = workers("shell", "-c", "import datetime; from donations.services import gift_aid_claims; "
                          "gift_aid_claims.gift_aid_claim_build(period_start=datetime.date(2026, 1, 1), "
                          "period_end=datetime.date(2026, 3, 31))")

        def waiting_to_write():
            return blocker.execute("SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = %s::regclass",
                                   [table]).fetchone()[0] > 0
        wait_for(waiting_to_write)
        claim_written = blocker.execute(
            "SELECT count(*) FROM pg_locks WHERE granted AND mode = 'RowExclusiveLock' AND relation = %s::regclass "
            "AND pid IN (SELECT pid FROM pg_locks WHERE NOT granted AND relation = %s::regclass)",
            [GiftAidClaim._meta.db_table, table]).fetchone()[0]
        assert claim_written == 1  # the build has written its claim row: it is mid-way
        kill(builder)
        blocker.rollback()
    # The killed build's transaction is rolled back by PostgreSQL once its client is gone.
    wait_for(lambda: not _backend_of_killed_build_alive(db["NAME"]), 30)
    assert not GiftAidClaim.objects.exists() and not GiftAidClaimedGift.objects.exists()
    claim = gift_aid_claims.gift_aid_claim_build(period_start=datetime.date(2026, 1, 1),
                                                 period_end=datetime.date(2026, 3, 31))
    assert GiftAidClaim.objects.count() == 1 and claim.gift_count == 40
    assert GiftAidClaimedGift.objects.count() == 40
    assert GiftAidClaimedGift.objects.values("donation").distinct().count() == 40
    drill("A process SIGKILLed mid Gift Aid claim build (its claim row written, its 40 gifts not yet): "
          "PostgreSQL rolled it all back, no claim left half-built; the next build made one claim of "
          f"40 gifts (£{claim.tax_pence / 100:.2f} to reclaim), each gift once.")


def _backend_of_killed_build_alive(dbname: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid() "
                       "AND xact_start IS NOT NULL", [dbname])
        return cursor.fetchone()[0] > 0


def test_worker_killed_mid_payout_sync_records_each_line_once(
        settings, stripe_settings, card, local_stripe, workers, django_capture_on_commit_callbacks, drill):
    """Stripe's payout is fetched (its balance transactions, matched to our gifts) by
    the task worker; killed mid-fetch, the daily `sync_stripe_payouts` records it."""
    from finance.models import Payout, PayoutLine
    from finance.tasks import fetch_payout_lines
    from tests.helpers import local_stripe_route

    gifts = []
    for number in range(20):
        gift = services.Gift(amount_pence=500 + number, first_name="Ann", last_name="Lee",
                             email=f"ann{number}-{uuid.uuid4().hex[:6]}@example.org", form_token=uuid.uuid4())
        with django_capture_on_commit_callbacks(execute=True):
            gifts.append(services.donation_start(gift=gift, payment_method_id=card()).donation)
    payout = local_stripe_route(local_stripe, "/_test/payouts")
    settings.TASKS = DATABASE_TASKS
    fetch_payout_lines.enqueue(payout["id"])  # as the payout.paid webhook queues it
    upstream = urlsplit(local_stripe)
    stripe_env = {"STRIPE_SECRET_KEY": SECRET_KEY, "STRIPE_PUBLISHABLE_KEY": settings.STRIPE_PUBLISHABLE_KEY,
                  "STRIPE_WEBHOOK_SECRET": settings.STRIPE_WEBHOOK_SECRET}
    with TcpProxy((upstream.hostname, upstream.port)) as slow_stripe:
        slow_stripe.delay = 2  # the worker is mid-fetch while Stripe's answer is held back
        first = workers("db_worker", "--interval", "0.1", "--no-startup-delay",
                        STRIPE_API_BASE=f"http://{slow_stripe.address}", **stripe_env)
        wait_for(lambda: slow_stripe.connections_made >= 1)
        time.sleep(0.5)
        kill(first)
    lines_at_kill = PayoutLine.objects.count()
    # The daily sync (cron), twice.
    for _ in range(2):
        call_command("sync_stripe_payouts", "--since", timezone.localdate().isoformat(), stdout=io.StringIO())

    assert Payout.objects.count() == 1
    lines = PayoutLine.objects.filter(reporting_category="charge")
    assert lines.count() == 20 and PayoutLine.objects.count() == 20
    assert lines.values("stripe_balance_transaction_id").distinct().count() == 20
    assert {line.donation_id for line in lines} == {gift.pk for gift in gifts}
    drill(f"db_worker SIGKILLed mid payout fetch (Stripe answering 2 s late; {lines_at_kill} lines written at "
          f"the kill); the daily `sync_stripe_payouts`, run twice, recorded the payout and its 20 charge lines "
          "once each, every line matched to its gift.")
