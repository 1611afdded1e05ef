"""`make loadtest`: a TV-appeal night against the production shape, then proof
that Stripe and our gifts agree.

    python -m tests.load [--users 20] [--seconds 60] [--max-gifts 2000] [--workers 2]

Starts what `make serve` starts (tests/serve.py: the local Stripe, gunicorn with
gunicorn.conf.py, one db_worker) on its own PostgreSQL database (LOAD_DATABASE_URL,
created and migrated if missing), on a free port of 127.0.0.1, with the load
balancer's X-Forwarded-For as the visitor's address (each simulated viewer has
their own, so the real rate limits apply). Runs tests/load/locustfile.py headless
for a bounded time, users and number of gifts; prints p50/p95/p99 and errors per
endpoint; waits for the queued work to finish; runs `reconcile_stripe_gifts` for
the run; stops everything. Exits non-zero on any failed request or any mismatch."""

import argparse
import csv
import datetime
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests import serve
from tests.bench import servers

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/brightwell_load"


def _site_details() -> dict:
    """The live campaign pages' paths and the campaign on TV, from the database."""
    from campaigns.models import Campaign
    from cms.models import CampaignPage

    pages = [page.get_url_parts()[2] for page in CampaignPage.objects.live().specific()]
    campaign = Campaign.objects.filter(status=Campaign.Status.LIVE).order_by("pk").first()
    appeal = campaign.appeals.order_by("pk").first() if campaign else None
    return {
        "LOAD_PAGES": ",".join(pages),
        "LOAD_CAMPAIGN": campaign.code if campaign else "", "LOAD_APPEAL": appeal.code if appeal else "",
    }


def _staff_authenticator_key(username: str) -> str:
    """The key of the searching fundraiser's authenticator (set up for them if need be),
    so that the load's staff member signs in with a code, as staff do."""
    from django.contrib.auth import get_user_model

    from tests.helpers import staff_authenticator

    return staff_authenticator(get_user_model().objects.get(username=username)).key


def _queue_drained(timeout: float) -> int:
    """Wait for the db_worker to finish what the night queued (fees, receipts); the number left."""
    from django_tasks_db.models import DBTaskResult

    deadline = time.monotonic() + timeout
    while True:
        left = DBTaskResult.objects.filter(status__in=["READY", "RUNNING"]).count()
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(1)


def _table(stats_csv: Path) -> str:
    rows = list(csv.DictReader(stats_csv.open()))
    lines = [f"{'endpoint':<58} {'requests':>8} {'errors':>6} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'req/s':>6}"]
    for row in rows:
        name = row["Name"] if row["Type"] != "" and row["Name"] != "Aggregated" else "all requests"
        lines.append(f"{name[:58]:<58} {int(row['Request Count']):>8,} {int(row['Failure Count']):>6,} "
                     f"{row['50%']:>7} {row['95%']:>7} {row['99%']:>7} {float(row['Requests/s']):>6.1f}")
    return "\n".join(lines)


def run(*, users: int, seconds: int, max_gifts: int, workers: int, database_url: str, cache_url: str,
        supporters: int) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="brightwell-load-"))
    port = servers.free_port()
    print(f"loadtest: starting the production shape on 127.0.0.1:{port} ({workers} gunicorn workers, one db_worker, "
          f"the local Stripe; {database_url.rsplit('/', 1)[-1]}); logs in {workdir}", flush=True)
    load_env = {"RATELIMIT_IP_META_KEY": "HTTP_X_FORWARDED_FOR", "LOG_LEVEL": "WARNING",
                "GUNICORN_ACCESS_LOG": str(workdir / "access.log")}
    with serve.stack(port=port, workers=workers, database_url=database_url, cache_url=cache_url,
                     supporters=supporters, workdir=workdir, env=load_env) as site_env:
        # The night starts once the site is up: the demo data's own gifts are not the night's.
        started = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=1)
        os.environ.update(site_env, LOG_LEVEL="WARNING")
        import django

        django.setup()
        from django.core.management import call_command
        from django.core.management.base import CommandError

        from donations.models import Donation, RecurringGift

        stripe_base = _stripe_base(workdir)
        locust_env = {**os.environ, **_site_details(), "LOAD_STRIPE_BASE": stripe_base,
                      "LOAD_STAFF_TOTP_KEY": _staff_authenticator_key(os.environ.get("LOAD_STAFF_USER", "fundraiser")),
                      "LOAD_WEBHOOK_SECRET": serve.WEBHOOK_SECRET, "LOAD_MAX_GIFTS": str(max_gifts)}
        print(f"loadtest: {users} users for {seconds} s (at most {max_gifts:,} gifts): viewers reading the campaign "
              f"page ~20x for each gift, one-off gifts and monthly sign-ups through the form, Stripe's webhook "
              f"bursts, a fundraiser searching supporters", flush=True)
        with open(workdir / "locust.log", "wb") as log:
            locust = subprocess.run(
                [sys.executable, "-m", "locust", "-f", str(Path(__file__).with_name("locustfile.py")), "--headless",
                 "--users", str(users), "--spawn-rate", str(max(1, users // 5)), "--run-time", f"{seconds}s",
                 "--host", f"http://127.0.0.1:{port}", "--csv", str(workdir / "load"), "--stop-timeout", "20",
                 "--only-summary"],
                cwd=servers.PROJECT, env=locust_env, stdout=log, stderr=subprocess.STDOUT)
        print(_table(workdir / "load_stats.csv"), flush=True)
        failures = list(csv.DictReader((workdir / "load_failures.csv").open()))
        for row in failures[:20]:
            print(f"  error x{row['Occurrences']}: {row['Method']} {row['Name']}: {row['Error'][:160]}")
        left = _queue_drained(timeout=90)
        gifts = Donation.objects.filter(created_at__gte=started)
        print(f"loadtest: {gifts.filter(channel=Donation.Channel.WEB).count():,} one-off gifts and "
              f"{RecurringGift.objects.filter(created_at__gte=started).count():,} monthly sign-ups made; "
              f"queued work left after waiting: {left}", flush=True)
        print("reconciliation (manage.py reconcile_stripe_gifts):", flush=True)
        try:
            call_command("reconcile_stripe_gifts", since=started.isoformat())
            reconciled = True
        except CommandError as error:
            print(f"  {error}", flush=True)
            reconciled = False
    print(f"loadtest: stopped gunicorn, the db_worker and the local Stripe; locust exit {locust.returncode}",
          flush=True)
    return 0 if locust.returncode == 0 and reconciled and not failures else 1


def _stripe_base(workdir: Path) -> str:
    for line in (workdir / ".serve-stripe.env").read_text().splitlines():
        if line.startswith("STRIPE_API_BASE="):
            return line.split("=", 1)[1]
    raise RuntimeError("the local Stripe wrote no address")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=int(os.environ.get("LOAD_USERS", 20)))
    parser.add_argument("--seconds", type=int, default=int(os.environ.get("LOAD_SECONDS", 60)))
    parser.add_argument("--max-gifts", type=int, default=int(os.environ.get("LOAD_MAX_GIFTS", 2000)))
    parser.add_argument("--workers", type=int, default=int(os.environ.get("SERVE_WORKERS", 2)))
    parser.add_argument("--supporters", type=int, default=int(os.environ.get("DEMO_SUPPORTERS", 500)))
    args = parser.parse_args()
    if not 1 <= args.users <= 500 or not 1 <= args.seconds <= 3600:
        parser.error("keep it bounded: 1-500 users, 1-3600 seconds")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind, so that every process is stopped
    sys.exit(run(users=args.users, seconds=args.seconds, max_gifts=args.max_gifts, workers=args.workers,
                 database_url=os.environ.get("LOAD_DATABASE_URL", DEFAULT_DATABASE_URL),
                 cache_url=os.environ.get("SERVE_CACHE_URL", serve.DEFAULT_CACHE_URL), supporters=args.supporters))


if __name__ == "__main__":
    main()
