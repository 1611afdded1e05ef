"""`make bench`: the figures each issue names, measured on PostgreSQL.

Makes a fresh database (named by DATABASE_URL), migrates it, then prints:
- demo data: time to create 100,000 supporters with consent histories (goal: under 60 s);
- supporter search at that size: median time per query by email, postcode, name;
- online giving (tests/bench/giving.py): webhook events applied per second, gifts per second
  through gunicorn against the local Stripe with our own time per gift, and replays that change nothing
  (sized by BENCH_WEBHOOK_EVENTS, BENCH_GIFTS and BENCH_REPLAYS; defaults 10,000, 1,000 and 10);
- campaign pages (tests/bench/pages.py): one uncached render, and cached requests per second through gunicorn;
- Gift Aid (tests/bench/gift_aid.py): a claim built from 1,000,000 donations (goal: under 10 s), checked,
  and its schedules rendered as .ods and R68 XML (sized by BENCH_GIFT_AID_DONATIONS);
- supporter communications (tests/bench/mailings.py): a mailing to 100,000 supporters with email consent, sent
  to anymail's test backend: recipients queued per second, messages sent per second by one worker and by two,
  our time per message and the memory used (sized by BENCH_MAILING_SUPPORTERS);
- finance (tests/bench/finance.py): a charity's year of 100,000 card gifts in 365 Stripe payouts and a
  5,000-line bank statement, synced from the local Stripe, imported and reconciled, in seconds and rows/s per
  step (goal: the whole year reconciles in under 10 s; sized by BENCH_FINANCE_GIFTS);
- imports (tests/bench/imports.py): 100,000 supporter rows and 100,000 gifts in JustGiving's donations report,
  generated on disk and imported through the real path (upload, dry run, confirm) on a database of its own
  (this one's name + "_imports"): rows/s of the dry run and of the confirm (goal: 10,000/s confirmed), the ratio
  to a raw COPY of the same rows, peak RSS of the confirm at a quarter, half and all of the rows (goal: flat),
  and the same files again, creating nothing; sized by BENCH_IMPORT_ROWS;
- the fundraising dashboard (tests/bench/dashboard.py): two years of 1,000,000 and of 10,000,000 gifts loaded by
  COPY, each on a database of its own (this one's name + "_dash_1m", "_dash_10m"), the income rollups' rebuild
  timed, the dashboard's p50/p95 through gunicorn with the common filters (goal: p95 under 200 ms at 1M, under
  300 ms at 10M) and what the live rollups add to a gift (goal: under 1 ms); sized by BENCH_DASHBOARD_GIFTS.
"""

import contextlib
import os
import statistics
import sys
import time
from urllib.parse import urlparse

import django


def fresh_database(url: str) -> None:
    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def postgres_url(what: str) -> str | None:
    """DATABASE_URL, if it names a PostgreSQL database; else None, having said so."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        print(f"{what} runs on PostgreSQL: set DATABASE_URL=postgres://...", file=sys.stderr)
        return None
    return url


@contextlib.contextmanager
def on_database(url: str):
    """Point Django's default connection at another database (url's name) for a while."""
    from django.db import connection

    name = urlparse(url).path.lstrip("/")
    before = connection.settings_dict["NAME"]
    connection.close()
    connection.settings_dict["NAME"] = name
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict["NAME"] = before


def django_on(url: str, *, fresh: bool) -> None:
    """Django set up on `url`'s database: made afresh and migrated, if `fresh`."""
    if fresh:
        fresh_database(url)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    django.setup()
    if fresh:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)


def main() -> int:
    url = postgres_url("make bench")
    if url is None:
        return 2
    django_on(url, fresh=True)
    from django.core.management import call_command
    print(f"database: {urlparse(url).path.lstrip('/')} (PostgreSQL, fresh)")

    count = int(os.environ.get("BENCH_SUPPORTERS", "100000"))
    started = time.perf_counter()
    call_command("load_demo_data", supporters=count, no_users=True, verbosity=0, stdout=open(os.devnull, "w"))
    elapsed = time.perf_counter() - started
    verdict = "OK" if elapsed < 60 else "SLOWER THAN GOAL"
    print(f"demo data: {count:,} supporters with consent histories in {elapsed:.1f} s "
          f"({count / elapsed:,.0f}/s; goal < 60 s: {verdict})")

    from supporters.models import Supporter
    from supporters.selectors import supporter_search

    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    sample = list(Supporter.objects.exclude(email="").order_by("?")[:20])
    queries = {
        "email (exact)": [s.email for s in sample],
        "email (start)": [s.email[:6] for s in sample],
        "postcode (full)": [s.postcode for s in sample if s.postcode],
        "postcode (outward)": [s.postcode.split()[0] for s in sample if " " in s.postcode],
        "name (first + last)": [f"{s.first_name} {s.last_name}" for s in sample],
        "surname start": [s.last_name[:4] for s in sample],
    }
    for label, terms in queries.items():
        timings = []
        for term in terms:
            t = time.perf_counter()
            list(supporter_search(query=term)[:50])
            timings.append((time.perf_counter() - t) * 1000)
        print(f"search by {label:<20} median {statistics.median(timings):6.1f} ms, worst {max(timings):6.1f} ms "
              f"over {len(timings)} queries at {Supporter.objects.count():,} supporters")

    from tests.bench import giving

    giving.run(url, webhook_events=int(os.environ.get("BENCH_WEBHOOK_EVENTS", giving.WEBHOOK_EVENTS)),
               gifts=int(os.environ.get("BENCH_GIFTS", giving.GIFTS)),
               replays=int(os.environ.get("BENCH_REPLAYS", giving.REPLAYS)))

    from tests.bench import pages

    pages.run(url)

    from tests.bench import gift_aid

    gift_aid.run(url, donations=int(os.environ.get("BENCH_GIFT_AID_DONATIONS", gift_aid.DONATIONS)))

    from tests.bench import mailings

    mailings.run(url, supporters=int(os.environ.get("BENCH_MAILING_SUPPORTERS", mailings.SUPPORTERS)))

    from tests.bench import finance

    finance.run(url, gifts=int(os.environ.get("BENCH_FINANCE_GIFTS", finance.GIFTS)))

    from tests.bench import imports

    imports.run(url, rows=int(os.environ.get("BENCH_IMPORT_ROWS", imports.ROWS)))

    from tests.bench import dashboard

    dashboard.run(url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
