"""`make bench`, the fundraising dashboard: two years of a charity's gifts,
1,000,000 and then 10,000,000, and the dashboard read from the income rollups.

For each size (BENCH_DASHBOARD_GIFTS, default "1000000,10000000"; "20000" makes a
quick run), on a database of its own (DATABASE_URL's name + "_dash_1m" etc.,
dropped, made and migrated):

1. Loads, by PostgreSQL's COPY (no ORM; the gifts' indexes dropped for the load
   and built after it, foreign-key triggers off), about N/8 supporters and N
   gifts over the two years to today, with a Christmas peak: monthly givers
   (a RecurringGift each, a gift a month, some new, some lapsed), one-off donors
   (some only in the first year: lapsed; some only in the second: new), ~20
   campaigns with appeals, targets and budgets, online, offline and platform
   gifts, collections (no donor), Gift Aid declared on a share, failed gifts,
   refunds, part refunds and disputes on a small share.
2. Times the rebuild: `campaign_totals_rebuild()` and `income_rollups_rebuild()`
   (goal: reasonable at 10M). BENCH_DASHBOARD_PROFILE=1 prints cProfile's top
   functions and the time of each of its SQL statements.
3. Starts the site under gunicorn (tests/bench/servers.py), logs in as a
   superuser and as a Fundraising user, and requests the dashboard with the
   common filters (DASHBOARD_URLS), BENCH_DASHBOARD_REQUESTS times each (50)
   after a warm-up: p50/p95 per filter and overall, and queries per request
   (goal: p95 under 200 ms at 1M, under 300 ms at 10M).
4. At the first size only (the 1M database): what the live rollups add to a
   gift, recording BENCH_DASHBOARD_ROLLUP_GIFTS (2,000) offline gifts through
   `donation_record_offline` with `income_rollups_move` live and as a no-op
   (patched in this process only): the difference per gift in wall and CPU ms
   and in queries (goal: under 1 ms).

Run by tests/bench/__main__.py, or alone:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_dash python -m tests.bench.dashboard

BENCH_DASHBOARD_REUSE=1 keeps a database already loaded at that size (skips 1);
BENCH_DASHBOARD_LOAD_ONLY=1 stops after 1; BENCH_DASHBOARD_CAMPAIGN_TOTALS=0 skips
campaign_totals_rebuild() (minutes at 10M: it reads every gift into a model instance);
BENCH_DASHBOARD_REBUILD=0 (with REUSE) keeps the rollups as they are;
BENCH_DASHBOARD_CHECK=1 checks the rebuild's SQL path against the Python one above 1M too."""

import contextlib
import datetime
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

from tests.bench.profiling import profiled

SIZES = "1000000,10000000"
REQUESTS = 50
WARM_UP = 5
ROLLUP_GIFTS = 2000
GIFTS_PER_DONOR = 8
DAYS = 730
SEED = 2026
GOALS_MS = {1_000_000: 200, 10_000_000: 300}  # dashboard p95; sizes in between take the larger
ROLLUP_GOAL_MS = 1.0
NULL = r"\N"  # COPY's null
CHUNK_BYTES = 4 << 20
PASSWORD = "bench-dashboard-pw"

# The page and its common filters: one list, so that pointing the bench at
# another page is one change. "{campaign}" is a busy campaign's id.
DASHBOARD_PATH = "/admin/dashboard/"
DASHBOARD_URLS = {
    "this tax year (default)": DASHBOARD_PATH,
    "today": DASHBOARD_PATH + "?period=today",
    "this month": DASHBOARD_PATH + "?period=month",
    "last tax year": DASHBOARD_PATH + "?period=last_tax_year",
    "one campaign": DASHBOARD_PATH + "?campaign={campaign}",
}

MONTHLY_SHARE = 0.18  # of donors
LAPSED_SHARE, NEW_SHARE = 0.25, 0.25  # of one-off donors: gave only in the first year, only in the second


def _label(size: int) -> str:
    return f"{size // 1_000_000}m" if size % 1_000_000 == 0 else f"{size // 1000}k" if size % 1000 == 0 else str(size)


def _size_url(url: str, size: int) -> str:
    parsed = urlparse(url)
    return parsed._replace(path=f"{parsed.path}_dash_{_label(size)}").geturl()


# --- loading ----------------------------------------------------------------------------

def _text(value) -> str:
    """A value in COPY's text format."""
    if value is None:
        return r"\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    return str(value).replace("\\", "\\\\").replace("\t", " ").replace("\n", " ")


class _Copy:
    """Rows of one model into PostgreSQL's COPY: `varying` columns given per row (as
    COPY text), every other column at its default as save() would write it."""

    def __init__(self, model, varying: list[str]):
        from django.db import connection

        self.model = model
        fields = {f.attname: f for f in model._meta.concrete_fields
                  if not f.primary_key and not getattr(f, "generated", False)}
        constant = [name for name in fields if name not in varying]
        instance = model()
        values = []
        for name in constant:
            field = fields[name]
            values.append(_text(field.get_db_prep_save(field.pre_save(instance, True), connection)))
        self.suffix = ("\t" + "\t".join(values) if values else "") + "\n"
        quote = connection.ops.quote_name
        self.sql = (f"COPY {quote(model._meta.db_table)} "
                    f"({', '.join(quote(fields[name].column) for name in [*varying, *constant])}) FROM STDIN")

    def load(self, rows) -> int:
        """rows: an iterable of lines' varying part (tab-joined, no newline)."""
        from django.db import connection

        count, size, chunk = 0, 0, []
        suffix = self.suffix
        with connection.cursor() as cursor, cursor.cursor.copy(self.sql) as copy:
            for row in rows:
                line = row + suffix
                chunk.append(line)
                size += len(line)
                count += 1
                if size >= CHUNK_BYTES:
                    copy.write("".join(chunk))
                    chunk, size = [], 0
            if chunk:
                copy.write("".join(chunk))
        return count


@contextlib.contextmanager
def _indexes_dropped(table: str):
    """The table's indexes and unique constraints (not its primary key) dropped, and
    built again afterwards: much faster than keeping them up row by row."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid), c.conname, pg_get_constraintdef(c.oid)
            FROM pg_index i LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.contype IN ('u', 'p')
                            AND c.conrelid = i.indrelid
            WHERE i.indrelid = %s::regclass AND NOT i.indisprimary""", [table])
        found = cursor.fetchall()
        for index, _definition, constraint, _constraint_definition in found:
            if constraint:
                cursor.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{constraint}"')
            else:
                cursor.execute(f"DROP INDEX {index}")
    yield
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '1GB'")
        for _index, definition, constraint, constraint_definition in found:
            if constraint:
                cursor.execute(f'ALTER TABLE "{table}" ADD CONSTRAINT "{constraint}" {constraint_definition}')
            else:
                cursor.execute(definition)
        cursor.execute("RESET maintenance_work_mem")


def _day_weights(first: datetime.date, days: int) -> list[float]:
    """How busy each day is: a Christmas peak, Giving Tuesday, the tax year's end, quieter weekends."""
    weights = []
    for k in range(days):
        day = first + datetime.timedelta(days=k)
        weight = 0.8 if day.weekday() >= 5 else 1.0
        if day.month == 12:
            weight *= 1.6 + 3.0 * max(0.0, 1 - abs(day.day - 22) / 9)
        elif day.month == 11 and day.day >= 25 or day.month == 1 and day.day <= 6:
            weight *= 1.6
        elif day.month == 3 and day.day >= 25 or day.month == 4 and day.day <= 5:
            weight *= 1.3
        weights.append(weight)
    return weights


PRESETS = (500, 1000, 2000, 2500, 5000, 10_000)


def _one_off_amount(rng: random.Random) -> int:
    """As a charity's gifts come: mostly the form's presets, then amounts typed in
    whole pounds (skewed small, a few large), a few odd sums (a cheque for £12.34,
    a sponsorship's round-up); a third of gifts add the card-fee cover, which
    makes the preset's own odd sum (£10 + 1.5% + 20p = £10.35)."""
    chance = rng.random()
    if chance < 0.70:
        amount = rng.choice(PRESETS)
    elif chance < 0.97:
        amount = 100 * (3 + int(497 * rng.random() ** 3))
    else:
        amount = rng.randint(200, 20_000)
    if rng.random() < 0.33:
        amount += amount * CARD_FEE[0] // 1000 + CARD_FEE[1]
    return amount


MONTHLY_AMOUNTS = (300, 500, 500, 800, 1000, 1000, 1000, 1500, 2000, 2500, 3000)
CARD_FEE = (15, 20)  # per mille and pence: 1.5% + 20p
STARTED = datetime.datetime.now(datetime.UTC)


class _Plan:
    """What is loaded: the window, campaigns, the monthly givers and one-off donors."""

    def __init__(self, rng: random.Random, gifts: int, today: datetime.date):
        self.gifts = gifts
        self.today = today
        self.first = today - datetime.timedelta(days=DAYS - 1)
        self.donors = max(40, gifts // GIFTS_PER_DONOR)
        self.monthly = int(self.donors * MONTHLY_SHARE)
        one_off = self.donors - self.monthly
        self.lapsed, self.new = int(one_off * LAPSED_SHARE), int(one_off * NEW_SHARE)
        self.both = one_off - self.lapsed - self.new
        # Months counted from the window's first month: a monthly giver gives from `start` to `end` (inclusive).
        self.months = (today.year - self.first.year) * 12 + today.month - self.first.month + 1
        self.givers = []  # (day_of_month, start, end, amount, gift aid, campaign index or None)
        for _ in range(self.monthly):
            start = 0 if rng.random() < 0.6 else rng.randrange(self.months)
            end = self.months - 1 if rng.random() < 0.75 else rng.randint(start, self.months - 1)
            self.givers.append((rng.randint(1, 28), start, end, rng.choice(MONTHLY_AMOUNTS), rng.random() < 0.55))


def _month_index(plan: _Plan, day: datetime.date) -> int:
    return (day.year - plan.first.year) * 12 + day.month - plan.first.month


CAMPAIGNS = [
    # name, kind, start (month, day), length in days, target £, budget £, share of the gifts while live
    ("Christmas appeal", "appeal", (11, 1), 92, 900_000, 120_000, 5.0),
    ("Spring appeal", "appeal", (3, 1), 60, 250_000, 40_000, 2.0),
    ("Summer emergency", "appeal", (7, 10), 45, 300_000, 30_000, 3.0),
    ("London Marathon", "event", (2, 1), 90, 200_000, 25_000, 1.5),
    ("Autumn raffle", "event", (9, 15), 50, 60_000, 8_000, 1.0),
]


def _load(url: str, size: int, rng: random.Random) -> dict:
    """Everything loaded, by COPY; returns counts and the seconds it took."""
    from django.contrib.auth.models import Group, Permission, User
    from django.db import connection

    from campaigns.models import Appeal, Campaign
    from donations.models import Donation, IncomeTarget, MonthlyCharge, RecurringGift
    from supporters.models import Supporter

    today = datetime.date.today()
    plan = _Plan(rng, size, today)
    started = time.perf_counter()

    # Campaigns: each kind in each year of the window, plus a monthly-giving drive and a general fund.
    campaigns = []  # (Campaign, [appeal ids], first day, last day, weight)
    for year in range(plan.first.year - 1, today.year + 1):
        for name, kind, (month, day), length, target, budget, weight in CAMPAIGNS:
            starts = datetime.date(year, month, day)
            ends = starts + datetime.timedelta(days=length - 1)
            if ends < plan.first or starts > today:
                continue
            campaign = Campaign.objects.create(
                name=f"{name} {year}", code=f"{kind}-{name.split()[0].lower()}-{year}", kind=kind, status="live"
                if ends >= today else "closed", target_pence=target * 100, budget_pence=budget * 100,
                starts_on=starts, ends_on=ends)
            appeals = [Appeal.objects.create(campaign=campaign, code=f"{campaign.code}-{channel}".upper()[:40],
                                             name=f"{campaign.name}: {channel}", channel=channel).pk
                       for channel in ("email", "post", "social", "web")[:rng.randint(2, 4)]]
            campaigns.append((campaign, appeals, starts, ends, weight))
    general = Campaign.objects.create(name="General fund", code="general", status="live", target_pence=0,
                                      starts_on=plan.first)
    drive = Campaign.objects.create(name="Monthly giving drive", code="regular-giving", kind="regular_giving",
                                    status="live", target_pence=50_000_000, budget_pence=6_000_000,
                                    starts_on=plan.first)
    drive_appeals = [Appeal.objects.create(campaign=drive, code=f"RG-{channel.upper()}", name=f"Monthly: {channel}",
                                           channel=channel).pk for channel in ("tv", "phone", "web")]
    campaigns.append((general, [], plan.first, today, 1.5))
    for year in range(plan.first.year, today.year + 2):
        IncomeTarget.objects.get_or_create(tax_year=year - 1, defaults={"target_pence": size * 3_000})

    # Supporters: the monthly givers first, then one-off donors: lapsed, both years, new.
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) FROM supporters_supporter")
        (supporter_base,) = cursor.fetchone()
        cursor.execute("SELECT coalesce(max(id), 0) FROM donations_recurringgift")
        (recurring_base,) = cursor.fetchone()
    joined = f"{plan.first - datetime.timedelta(days=400)}T09:00:00+00:00"
    supporters = _Copy(Supporter, ["first_name", "last_name", "email", "postcode", "created_at"]).load(
        f"Donor{n}\tBench{n % 997}\tdonor{n}@example.org\tAB{n % 90 + 10} {n % 9}CD\t{joined}"
        for n in range(plan.donors))
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id), max(id) FROM supporters_supporter WHERE id > %s", [supporter_base])
        low, high = cursor.fetchone()
    assert high - low + 1 == plan.donors, "supporters' ids not in one run"

    # Monthly givers' gifts: a campaign (the drive, mostly), and a RecurringGift each.
    giver_campaigns = [(drive.pk, rng.choice(drive_appeals)) if rng.random() < 0.7 else (None, None)
                       for _ in plan.givers]

    def month_day(index: int, day: int) -> datetime.date:
        month = plan.first.month - 1 + index
        return datetime.date(plan.first.year + month // 12, month % 12 + 1, day)

    def recurring_rows():
        for n, (day, start, end, amount, gift_aid) in enumerate(plan.givers):
            campaign_id, appeal_id = giver_campaigns[n]
            started_on = month_day(start, day) if start else plan.first - datetime.timedelta(days=rng.randint(30, 900))
            lapsed = end < plan.months - 1
            cancelled = f"{month_day(end, day) + datetime.timedelta(days=20)}T10:00:00+00:00" if lapsed else NULL
            yield (f"{low + n}\t{amount}\t{day}\t{'cancelled' if lapsed else 'active'}\t{'t' if gift_aid else 'f'}\t"
                   f"{campaign_id or NULL}\t{appeal_id or NULL}\t{started_on}\t{started_on}T08:00:00+00:00\t"
                   f"{cancelled}\t00000000-0000-4000-8000-{n:012x}\t00000000-0000-4000-9000-{n:012x}\t"
                   f"cus_bench{n}\tpm_bench{n}")
    recurring = _Copy(RecurringGift, ["supporter_id", "amount_pence", "day_of_month", "status", "gift_aid_declared",
                                      "campaign_id", "appeal_id", "started_on", "created_at", "cancelled_at", "uid",
                                      "manage_token", "stripe_customer_id", "stripe_payment_method_id"]).load(
        recurring_rows())
    by_day_of_month = [[] for _ in range(29)]
    for n, giver in enumerate(plan.givers):
        by_day_of_month[giver[0]].append(n)

    # The gifts, day by day (so their ids run in time order, as they would).
    monthly_total = 0
    for k in range(DAYS):
        day = plan.first + datetime.timedelta(days=k)
        if day.day <= 28:
            index = _month_index(plan, day)
            monthly_total += sum(1 for n in by_day_of_month[day.day]
                                 if plan.givers[n][1] <= index <= plan.givers[n][2])
    one_off_total = max(0, size - monthly_total)
    weights = _day_weights(plan.first, DAYS)
    scale, cumulative, previous = one_off_total / sum(weights), 0.0, 0
    one_off_per_day = []
    for weight in weights:
        cumulative += weight * scale
        one_off_per_day.append(round(cumulative) - previous)
        previous = round(cumulative)
    live_by_day = []
    for k in range(DAYS):
        day = plan.first + datetime.timedelta(days=k)
        live = [(c.pk, appeals, weight) for c, appeals, starts, ends, weight in campaigns if starts <= day <= ends]
        live_by_day.append(live)

    now_seconds = STARTED.hour * 3600 + STARTED.minute * 60
    counts = {"failed": 0, "refunded": 0, "partly refunded": 0, "disputed": 0, "offline": 0, "platform": 0,
              "collections": 0, "gift aid": 0, "monthly": 0}
    monthly_charges = []  # (recurring gift's n, month, status, gift number) for the last two months
    this_month = _month_index(plan, today)
    random_ = rng.random
    one_off_ranges = ((plan.lapsed + plan.both, 0), (plan.both + plan.new, plan.lapsed))  # (size, offset) by year
    one_off_base = low + plan.monthly

    def gifts_rows():
        number = 0
        for k in range(DAYS):
            day = plan.first + datetime.timedelta(days=k)
            stamp = f"{day.isoformat()} "
            latest = max(now_seconds - 60, 7 * 3600 + 60) if day == today else 21 * 3600
            # Monthly charges, early in the morning.
            if day.day <= 28:
                index = _month_index(plan, day)
                for n in by_day_of_month[day.day]:
                    _, start, end, amount, gift_aid = plan.givers[n]
                    if not start <= index <= end:
                        continue
                    number += 1
                    campaign_id, appeal_id = giver_campaigns[n]
                    chance = random_()
                    status, refunded, at = "succeeded", 0, f"{stamp}06:{number % 60:02d}:00+00"
                    if chance < 0.03:
                        status, at = "failed", None
                        counts["failed"] += 1
                    elif chance < 0.034:
                        status, refunded = "refunded", amount
                        counts["refunded"] += 1
                    fee = amount * CARD_FEE[0] // 1000 + CARD_FEE[1]
                    counts["monthly"] += 1
                    counts["gift aid"] += gift_aid
                    if index >= this_month - 1:
                        monthly_charges.append((n, index, status, number))
                    yield (f"{low + n}\t{amount}\t{fee}\t{amount - fee}\t{refunded}\t{status}\t\t"
                           f"{'t' if gift_aid else 'f'}\t{campaign_id or NULL}\t{appeal_id or NULL}\t\tmonthly\tf\t"
                           f"{recurring_base + n + 1}\t{stamp}05:59:00+00\t{at or NULL}\t"
                           f"00000000-0000-4000-a000-{number:012x}")
            year = 0 if k < DAYS // 2 else 1
            span, offset = one_off_ranges[year]
            live = live_by_day[k]
            total_weight = sum(weight for *_, weight in live)
            for _ in range(one_off_per_day[k]):
                number += 1
                amount = _one_off_amount(rng)
                # The donor: skewed (some give often), spread over the year's donors by a multiplicative step.
                rank = int(span * random_() ** 1.5)
                supporter = one_off_base + offset + (rank * 7919) % span
                chance = random_()
                channel, platform, small, fee = "web", "", "f", amount * CARD_FEE[0] // 1000 + CARD_FEE[1]
                if chance < 0.25:
                    channel = ("post", "phone", "event", "offline", "offline")[int(chance * 20)]
                    fee = None
                    counts["offline"] += 1
                elif chance < 0.33:
                    channel, platform, fee = "offline", "JustGiving", None
                    counts["platform"] += 1
                elif chance < 0.335:
                    channel, small, fee, amount = "offline", "t", None, rng.randint(500, 40_000)
                    supporter = None
                    counts["collections"] += 1
                gift_aid = supporter is not None and not platform and random_() < 0.45
                counts["gift aid"] += gift_aid
                campaign_id = appeal_id = None
                if live and random_() < 0.75:
                    pick = random_() * total_weight
                    for campaign_id, appeals, weight in live:
                        pick -= weight
                        if pick <= 0:
                            break
                    if appeals and random_() < 0.85:
                        appeal_id = appeals[int(random_() * len(appeals))]
                status, refunded, dispute = "succeeded", 0, ""
                chance = random_()
                if chance < 0.02:
                    status = "failed" if channel == "web" else "succeeded"
                    counts["failed"] += status == "failed"
                elif chance < 0.026:
                    status, refunded = "refunded", amount
                    counts["refunded"] += 1
                elif chance < 0.03 and amount > 100:
                    status, refunded = "partly_refunded", amount // 2
                    counts["partly refunded"] += 1
                elif chance < 0.0308 and channel == "web":
                    status, dispute = "disputed", "needs_response"
                    counts["disputed"] += 1
                elif chance < 0.0312 and channel == "web":
                    status, refunded, dispute = "refunded", amount, "lost"
                    counts["disputed"] += 1
                seconds = 7 * 3600 + int(random_() * (latest - 7 * 3600))
                at = f"{stamp}{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}+00"
                yield (f"{supporter or NULL}\t{amount}\t{NULL if fee is None else fee}\t"
                       f"{NULL if fee is None else amount - fee}\t{refunded}\t{status}\t{dispute}\t"
                       f"{'t' if gift_aid else 'f'}\t{campaign_id or NULL}\t{appeal_id or NULL}\t{platform}\t"
                       f"{channel}\t{small}\t{NULL}\t{at}\t{NULL if status == 'failed' else at}\t"
                       f"00000000-0000-4000-a000-{number:012x}")

    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) FROM donations_donation")
        (gift_base,) = cursor.fetchone()
        cursor.execute("SET session_replication_role = replica")  # no foreign-key triggers during the load
    try:
        with _indexes_dropped(Donation._meta.db_table):
            loaded = _Copy(Donation, ["supporter_id", "amount_pence", "fee_pence", "net_pence", "refunded_pence",
                                      "status", "dispute_status", "gift_aid_declared", "campaign_id", "appeal_id",
                                      "gift_aid_claimed_by", "channel", "small_donation", "recurring_gift_id",
                                      "created_at", "paid_at", "uid"]).load(gifts_rows())
            copied = time.perf_counter()
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET session_replication_role = DEFAULT")
    indexed = time.perf_counter()
    _Copy(MonthlyCharge, ["recurring_gift_id", "month", "amount_pence", "status", "attempts", "donation_id",
                          "uid"]).load(
        f"{recurring_base + n + 1}\t{month_day(index, 1)}\t{plan.givers[n][3]}\t{'failed' if status == 'failed' else 'succeeded'}\t1\t{gift_base + number}\t"
        f"00000000-0000-4000-b000-{number:012x}"
        for n, index, status, number in monthly_charges)

    # Staff: a superuser, and a Fundraising user (the group the project's roles give, if it exists).
    User.objects.filter(username__in=["bench-admin", "bench-fundraiser"]).delete()
    User.objects.create_superuser("bench-admin", "bench-admin@example.org", PASSWORD)
    fundraiser = User.objects.create_user("bench-fundraiser", "bench-fundraiser@example.org", PASSWORD, is_staff=True)
    group = Group.objects.filter(name__iexact="Fundraising").first()
    if group is None:
        group = Group.objects.create(name="Fundraising")
        group.permissions.set(Permission.objects.filter(
            content_type__app_label__in=["donations", "campaigns", "supporters"], codename__startswith="view_")
            | Permission.objects.filter(codename="access_admin"))
    fundraiser.groups.add(group)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    busiest = max(campaigns, key=lambda c: c[4] if c[3] >= today - datetime.timedelta(days=365) else 0)[0]
    return {"seconds": time.perf_counter() - started, "copy_seconds": copied - started,
            "index_seconds": indexed - copied, "supporters": supporters, "recurring": recurring, "gifts": loaded,
            "campaigns": len(campaigns) + 1, "campaign": busiest.pk, **counts}


# --- the rebuild --------------------------------------------------------------------------

def _profiled(label: str):
    """With BENCH_DASHBOARD_PROFILE=1: cProfile's top functions, and each SQL statement's time."""
    return profiled(label, switch="BENCH_DASHBOARD_PROFILE", statements=True)


def _rollups_digest() -> dict[str, tuple]:
    """Each rollup table's rows (all but their ids) as a count and an md5 of their sorted text."""
    from django.db import connection

    from donations.models import DailyGiftSizes, DailyIncome, DonorYear

    found = {}
    with connection.cursor() as cursor:
        for model in (DailyIncome, DailyGiftSizes, DonorYear):
            columns = ", ".join(connection.ops.quote_name(f.column) for f in model._meta.concrete_fields
                                if not f.primary_key)
            cursor.execute(f"SELECT count(*), md5(string_agg(row::text, '|' ORDER BY row::text)) "
                           f"FROM (SELECT {columns} FROM {model._meta.db_table}) AS row")
            found[model.__name__] = cursor.fetchone()
    return found


def _check_rebuild() -> dict:
    """The rebuild with the donors' years in Python (the reference) and in SQL: the same tables?"""
    from donations.services.rollups import income_rollups_rebuild

    timings, digests = {}, {}
    for in_sql in (False, True):
        started = time.perf_counter()
        income_rollups_rebuild(in_sql=in_sql)
        timings[in_sql] = time.perf_counter() - started
        digests[in_sql] = _rollups_digest()
    differ = [name for name in digests[True] if digests[True][name] != digests[False][name]]
    return {"python_seconds": timings[False], "sql_seconds": timings[True], "differ": differ,
            "rows": {name: rows for name, (rows, _) in digests[True].items()}}


def _rebuild() -> dict:
    from donations.services.rollups import income_rollups_rebuild
    from donations.services.totals import campaign_totals_rebuild

    figures = {"campaign_totals_seconds": None}
    if os.environ.get("BENCH_DASHBOARD_CAMPAIGN_TOTALS", "1") != "0":
        started = time.perf_counter()
        with _profiled("campaign_totals_rebuild"):
            campaign_totals_rebuild()
        figures["campaign_totals_seconds"] = time.perf_counter() - started
    started = time.perf_counter()
    with _profiled("income_rollups_rebuild"):
        figures["rows"] = income_rollups_rebuild()
    figures["rollups_seconds"] = time.perf_counter() - started
    return figures


# --- the page through the real server ------------------------------------------------------

def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))]


def _read_timings(directory: Path) -> list[tuple[str, float, float, int]]:
    """Every request the workers timed so far: (method and path, wall s, CPU s, queries)."""
    rows = []
    for path in sorted(directory.glob("*.tsv")):
        for line in path.read_text().splitlines():
            what, wall, _stripe, cpu, *queries = line.split("\t")
            rows.append((what, float(wall), float(cpu), int(queries[0]) if queries else -1))
        path.write_text("")
    return rows


def _session(base: str, username: str):
    import requests

    session = requests.Session()
    session.get(base + "/admin/login/", timeout=30)
    response = session.post(base + "/admin/login/", timeout=30, allow_redirects=False, data={
        "username": username, "password": PASSWORD, "csrfmiddlewaretoken": session.cookies.get("csrftoken", ""),
        "next": "/admin/"}, headers={"Referer": base + "/admin/login/"})
    if response.status_code != 302:
        raise RuntimeError(f"{username} could not log in: {response.status_code}")
    from django.contrib.auth.models import User

    from tests.helpers import authenticator_code, staff_authenticator

    code = authenticator_code(staff_authenticator(User.objects.get(username=username)))
    response = session.post(base + "/admin/sign-in/code/", timeout=30, allow_redirects=False, data={
        "otp_token": code, "csrfmiddlewaretoken": session.cookies.get("csrftoken", ""), "next": "/admin/"},
        headers={"Referer": base + "/admin/sign-in/code/"})
    if response.status_code != 302:
        raise RuntimeError(f"{username} could not give a sign-in code: {response.status_code}")
    return session


def _dashboard(url: str, campaign_id: int, requests_each: int) -> dict:
    """p50/p95 of the page per filter and user, measured at the client (one request at a time)."""
    from tests.bench import servers

    from django.contrib.auth.hashers import PBKDF2PasswordHasher
    from django.contrib.auth.models import User

    # The server's hasher (this process may run the tests' settings, whose MD5 the server does not read).
    User.objects.filter(username__in=["bench-admin", "bench-fundraiser"]).update(
        password=PBKDF2PasswordHasher().encode(PASSWORD, "benchsalt"))
    workdir = Path(tempfile.mkdtemp(prefix="brightwell-bench-dashboard-"))
    env = {"DJANGO_SETTINGS_MODULE": "config.settings.local", "DEBUG": "false", "DATABASE_URL": url,
           "ALLOWED_HOSTS": "127.0.0.1,localhost"}
    results = {}
    with servers.gunicorn(workdir, env=env, workers=os.cpu_count() or 1) as (port, timings):
        base = f"http://127.0.0.1:{port}"
        users = {"superuser": _session(base, "bench-admin"), "Fundraising": _session(base, "bench-fundraiser")}
        urls = {name: path.format(campaign=campaign_id) for name, path in DASHBOARD_URLS.items()}
        probe = users["superuser"].get(base + DASHBOARD_PATH, timeout=120)
        if probe.status_code == 404:  # the page not in this branch yet: the admin's home in its stead
            urls = {name: path.replace(DASHBOARD_PATH, "/admin/") for name, path in urls.items()}
            results["page"] = "/admin/ (no /admin/dashboard/ yet)"
        else:
            results["page"] = DASHBOARD_PATH
        for user, session in users.items():
            for name, path in urls.items():
                for _ in range(WARM_UP):
                    session.get(base + path, timeout=120)
                _read_timings(timings)
                client = []
                for _ in range(requests_each):
                    started = time.perf_counter()
                    response = session.get(base + path, timeout=120)
                    client.append((time.perf_counter() - started) * 1000)
                    if response.status_code != 200:
                        raise RuntimeError(f"{path} as {user}: {response.status_code}")
                server = [row for row in _read_timings(timings) if row[0].startswith("GET ")]
                results[(user, name)] = {"path": path, "ms": client, "cpu_ms": [row[2] * 1000 for row in server],
                                         "queries": [row[3] for row in server], "bytes": len(response.content)}
    return results


# --- what the rollups add to a gift ----------------------------------------------------------

def _rollup_cost(gifts: int, rng: random.Random) -> dict:
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from campaigns.models import Appeal
    from donations.services import gifts as gift_services
    from donations.services import totals
    from supporters.models import Supporter

    today = timezone.localdate()
    high = Supporter.objects.order_by("-pk").values_list("pk", flat=True).first()
    supporters = list(Supporter.objects.filter(pk__in=[rng.randint(1, high) for _ in range(300)]))
    appeals = list(Appeal.objects.select_related("campaign"))
    live = totals.income_rollups_move
    figures = {"live": [0.0, 0.0, 0, 0], "off": [0.0, 0.0, 0, 0]}  # wall s, CPU s, queries, gifts

    def record(count: int, kind: str) -> None:
        with CaptureQueriesContext(connection) as queries:
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(count):
                appeal = rng.choice(appeals)
                gift_services.donation_record_offline(
                    supporter=rng.choice(supporters), amount_pence=rng.choice((1000, 2500, 5000, 10_000)),
                    received_on=today - datetime.timedelta(days=rng.randrange(today.day)),
                    channel=rng.choice(("post", "phone", "offline")), campaign=appeal.campaign, appeal=appeal,
                    gift_aid_declared=rng.random() < 0.5)
            figures[kind][0] += time.perf_counter() - wall
            figures[kind][1] += time.process_time() - cpu
        figures[kind][2] += len(queries)
        figures[kind][3] += count
        reset_queries()

    record(50, "live")  # warm up
    figures["live"] = [0.0, 0.0, 0, 0]
    # Interleaved rounds, so that the database's state and caches drift equally for both.
    rounds = 8
    for _ in range(rounds):
        record(gifts // (2 * rounds), "live")
        totals.income_rollups_move = lambda **kwargs: None
        try:
            record(gifts // (2 * rounds), "off")
        finally:
            totals.income_rollups_move = live
    per_gift = {kind: (wall / n * 1000, cpu / n * 1000, queries / n) for kind, (wall, cpu, queries, n) in figures.items()}
    return {"per_gift": per_gift, "gifts": figures["live"][3] + figures["off"][3]}


# --- the run -----------------------------------------------------------------------------------

def _loaded(url: str, size: int) -> bool:
    import psycopg

    try:
        with psycopg.connect(url) as conn:
            return conn.execute("SELECT count(*) FROM donations_donation").fetchone()[0] >= size
    except psycopg.Error:
        return False


def _goal(size: int) -> int:
    return min((goal for limit, goal in sorted(GOALS_MS.items()) if size <= limit), default=max(GOALS_MS.values()))


def _one_size(url: str, size: int, *, first: bool, summary: list[str]) -> None:
    from django.core.management import call_command

    from tests.bench.__main__ import fresh_database, on_database

    size_url = _size_url(url, size)
    name = urlparse(size_url).path.lstrip("/")
    label = f"{size:,} gifts"
    rng = random.Random(SEED + size)
    reuse = os.environ.get("BENCH_DASHBOARD_REUSE") and _loaded(size_url, size)
    if not reuse:
        fresh_database(size_url)
    with on_database(size_url):
        if reuse:
            from django.db import connection

            call_command("migrate", verbosity=0)  # what main added since it was loaded
            with connection.cursor() as cursor:
                cursor.execute("SELECT min(id) FROM campaigns_campaign WHERE kind = 'appeal' AND status = 'live'")
                loaded = {"campaign": cursor.fetchone()[0]}
            print(f"dashboard {label}: database {name} reused as loaded before")
        else:
            call_command("migrate", verbosity=0)
            loaded = _load(size_url, size, rng)
            print(f"dashboard {label}: database {name} loaded by COPY in {loaded['seconds']:.0f} s "
                  f"(gifts written {loaded['copy_seconds']:.0f} s at "
                  f"{loaded['gifts'] / loaded['copy_seconds']:,.0f}/s, their indexes built "
                  f"{loaded['index_seconds']:.0f} s): {loaded['supporters']:,} supporters, "
                  f"{loaded['recurring']:,} monthly gifts (RecurringGift), {loaded['gifts']:,} gifts over {DAYS} days "
                  f"of which {loaded['monthly']:,} monthly, {loaded['offline']:,} offline, "
                  f"{loaded['platform']:,} through a platform, {loaded['collections']:,} collections, "
                  f"{loaded['gift aid']:,} Gift Aid declared, {loaded['failed']:,} failed, "
                  f"{loaded['refunded']:,} refunded, {loaded['partly refunded']:,} partly refunded, "
                  f"{loaded['disputed']:,} disputed; {loaded['campaigns']} campaigns")

        if os.environ.get("BENCH_DASHBOARD_LOAD_ONLY"):
            return
        if reuse and os.environ.get("BENCH_DASHBOARD_REBUILD") == "0":
            rebuilt = None
        else:
            rebuilt = _rebuild()
        if rebuilt:
            rows = ", ".join(f"{n:,} {what}" for what, n in rebuilt["rows"].items())
            totals = rebuilt["campaign_totals_seconds"]
            totals = "skipped" if totals is None else f"{totals:.1f} s"
            print(f"dashboard {label}: income_rollups_rebuild() in {rebuilt['rollups_seconds']:.1f} s ({rows}); "
                  f"campaign_totals_rebuild() {totals}")
            summary.append(f"rollups rebuild at {label}: {rebuilt['rollups_seconds']:.1f} s (campaign totals {totals})")
        if rebuilt and (size <= 1_000_000 or os.environ.get("BENCH_DASHBOARD_CHECK")):
            check = _check_rebuild()
            line = (f"rollups rebuild check at {label}: donors' years in Python {check['python_seconds']:.1f} s, "
                    f"in SQL {check['sql_seconds']:.1f} s; every table the same: "
                    + ("OK" if not check["differ"] else "DIFFERENT: " + ", ".join(check["differ"]))
                    + " (" + ", ".join(f"{n:,} {name}" for name, n in check["rows"].items()) + ")")
            print(line)
            summary.append(line)
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

        requests_each = int(os.environ.get("BENCH_DASHBOARD_REQUESTS", REQUESTS))
        results = _dashboard(size_url, loaded["campaign"], requests_each)
        page = results.pop("page")
        overall, overall_queries = [], []
        for (user, name), figures in results.items():
            ms = figures["ms"]
            overall += ms
            overall_queries += figures["queries"]
            queries = sorted(set(figures["queries"]))
            print(f"dashboard {label}, {page} as {user}, {name} ({figures['path']}): p50 "
                  f"{statistics.median(ms):.0f} ms, p95 {_percentile(ms, 0.95):.0f} ms, worst {max(ms):.0f} ms over "
                  f"{len(ms)} requests; server CPU p50 {statistics.median(figures['cpu_ms'] or [0]):.0f} ms; "
                  f"queries {'/'.join(map(str, queries))}; {figures['bytes'] / 1000:.0f} kB")
        goal = _goal(size)
        p95 = _percentile(overall, 0.95)
        line = (f"dashboard p95 at {label}: {p95:.0f} ms (goal < {goal} ms: {'OK' if p95 < goal else 'OVER GOAL'}); "
                f"p50 {statistics.median(overall):.0f} ms over {len(overall)} requests of {page}, "
                f"{statistics.median(overall_queries or [0]):.0f} queries per request (median)")
        print(line)
        summary.append(line)

        if first:
            cost_gifts = int(os.environ.get("BENCH_DASHBOARD_ROLLUP_GIFTS", ROLLUP_GIFTS))
            cost = _rollup_cost(cost_gifts, rng)
            live, off = cost["per_gift"]["live"], cost["per_gift"]["off"]
            print(f"dashboard {label}: {cost['gifts']:,} offline gifts recorded through donation_record_offline: "
                  f"with the rollups {live[0]:.2f} ms wall, {live[1]:.2f} ms CPU, {live[2]:.1f} queries a gift; "
                  f"without (income_rollups_move a no-op) {off[0]:.2f} ms, {off[1]:.2f} ms CPU, {off[2]:.1f} queries")
            added = live[0] - off[0]
            line = (f"rollup cost per gift at {label}: {added:.2f} ms wall, {live[1] - off[1]:.2f} ms CPU, "
                    f"{live[2] - off[2]:.1f} queries (goal < {ROLLUP_GOAL_MS:g} ms: "
                    f"{'OK' if added < ROLLUP_GOAL_MS else 'OVER GOAL'})")
            print(line)
            summary.append(line)


def run(url: str, sizes: str | None = None) -> None:
    sizes = [int(s) for s in (sizes or os.environ.get("BENCH_DASHBOARD_GIFTS", SIZES)).split(",") if s.strip()]
    summary = []
    for n, size in enumerate(sizes):
        _one_size(url, size, first=n == 0, summary=summary)
    print("dashboard summary:\n  " + "\n  ".join(summary))


def main() -> int:
    """The dashboard section alone (each size on a fresh database of its own)."""
    from tests.bench.__main__ import django_on, postgres_url

    url = postgres_url("The dashboard benchmark")
    if url is None:
        return 2
    django_on(url, fresh=False)  # each size makes a database of its own
    run(url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
