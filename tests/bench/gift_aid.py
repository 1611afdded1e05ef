"""`make bench`, Gift Aid: the time to build one claim from a million donations
(goal: under 10 s), and to render its schedules (.ods) and R68 messages.

Called by tests/bench/__main__.py once Django is set up on the migrated
PostgreSQL database. Loads its own supporters, declarations and donations in
SQL (INSERT ... SELECT over generate_series, seeded, so every run draws the
same data), then builds the claim through the service finance staff use. Demo
data already in the database is left alone: the claim starts after any claim
already made, and its gifts are counted in the figures like any other."""

import datetime
import time
from collections import defaultdict
from contextlib import contextmanager

from django.db import connection
from django.utils import timezone

DONATIONS = 1_000_000
SUPPORTERS_PER_DONATION = 0.2   # 200,000 supporters for a million gifts; three in four have declared
GOAL_SECONDS = 10
SEED = 0.2026

FIRST_NAMES = [
    "Olivia", "Amelia", "Isla", "Ava", "Grace", "Freya", "Charlotte", "Margaret", "Susan", "Helen", "Ruth",
    "Priya", "Aisha", "Fatima", "Hannah", "Zoë", "Chloé", "Siân", "Siobhán", "Aoife", "Renée", "Anaïs",
    "Noah", "Oliver", "George", "Arthur", "Harry", "James", "William", "David", "John", "Peter", "Michael",
    "Robert", "Rajesh", "Kwame", "Muhammad", "Tomás", "Seán", "Dafydd", "Rhys", "José", "Björn", "Jean-Luc",
    "Mary Ann",
]
LAST_NAMES = [
    "Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans", "Wilson", "Thomas", "Johnson",
    "Roberts", "Robinson", "Wright", "Walker", "White", "Edwards", "Hughes", "Green", "Hall", "Patel",
    "Khan", "Singh", "Begum", "Ahmed", "Okafor", "Mensah", "Nowak", "Kowalski", "Murphy", "Kelly",
    "O'Brien", "O'Connor", "D'Arcy", "McDonald", "MacLeod", "Smith-Jones", "Lloyd-Webber", "Ní Bhriain",
    "de la Cruz", "Müller", "Núñez", "Brontë", "Ó Súilleabháin", "St. John",
]
TITLES = ["Mr", "Mrs", "Ms", "Miss", "Dr", "", "", "", "Mx", "Professor", "Rev"]
HOUSES = ["1", "2", "3", "4", "5", "7", "8", "10", "12", "14", "15", "17", "21", "23", "27", "31", "42", "56",
          "101", "12a", "3b", "Flat 2", "Flat 14", "Rose Cottage", "The Old Rectory", "Ivy House", "Mill House",
          "Tŷ Newydd"]
STREETS = ["High Street", "Station Road", "Church Lane", "Victoria Road", "Green Lane", "Manor Road", "Park Road",
           "Queen's Road", "The Crescent", "Mill Lane", "King's Road", "Elm Grove", "Willow Way", "Albert Road"]
# Outward codes with their towns; every pattern HMRC accepts (A9, A99, AA9, AA99, A9A, AA9A) is here.
UK_PLACES = [
    ("N16", "London"), ("SW1A", "London"), ("E8", "London"), ("SE15", "London"), ("W1A", "London"),
    ("EC1V", "London"), ("M1", "Manchester"), ("B15", "Birmingham"), ("LS6", "Leeds"), ("EH3", "Edinburgh"),
    ("CF10", "Cardiff"), ("BS8", "Bristol"), ("NE1", "Newcastle upon Tyne"), ("L8", "Liverpool"),
    ("G12", "Glasgow"), ("OX4", "Oxford"), ("CB2", "Cambridge"), ("BN1", "Brighton"), ("NR2", "Norwich"),
    ("YO1", "York"), ("PL4", "Plymouth"), ("BT9", "Belfast"), ("AB10", "Aberdeen"), ("SA1", "Swansea"),
]
INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
ABROAD = [("IE", "Dublin"), ("FR", "Lyon"), ("US", "Boston, MA"), ("DE", "Berlin"), ("ES", "Madrid")]


@contextmanager
def _timed(figures: dict, label: str):
    started = time.perf_counter()
    yield
    figures[label] = time.perf_counter() - started


def _load(*, donations: int, period_end: datetime.date) -> dict:
    """Supporters, declarations and donations in a few statements; returns their
    counts and the seconds each table took."""
    from supporters.services import GIFT_AID_WORDING_VERSION, gift_aid_wording

    supporters = max(10, int(donations * SUPPORTERS_PER_DONATION))
    end = timezone.make_aware(datetime.datetime.combine(period_end + datetime.timedelta(days=1), datetime.time()))
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(%s)", [SEED])
        cursor.execute("SELECT coalesce(max(id), 0) FROM supporters_supporter")
        (before,) = cursor.fetchone()
        # Every NOT NULL column is given: the schema has no defaults for Django's fields.
        started = time.perf_counter()
        cursor.execute(
            """
            INSERT INTO supporters_supporter (
                title, first_name, last_name, preferred_name, email, phone, date_of_birth,
                address_house, address_street, address_locality, address_town, address_county, postcode, country,
                source, notes, consent_email, consent_post, consent_phone, consent_sms, erased_at,
                created_at, updated_at)
            SELECT t.titles[1 + floor(r1 * cardinality(t.titles))::int],
                   t.firsts[1 + floor(r2 * cardinality(t.firsts))::int],
                   t.lasts[1 + floor(r3 * cardinality(t.lasts))::int],
                   '', 'ga.bench.' || n || '@example.org', '', NULL,
                   t.houses[1 + floor(r4 * cardinality(t.houses))::int],
                   t.streets[1 + floor(r5 * cardinality(t.streets))::int], '',
                   CASE WHEN abroad THEN t.abroad_towns[1 + n %% cardinality(t.abroad_towns)]
                        ELSE t.towns[1 + place] END,
                   '',
                   CASE WHEN abroad THEN ''
                        ELSE t.outwards[1 + place] || ' ' || (n %% 10)::text
                             || substr(t.letters, 1 + floor(r1 * 997)::int %% 20, 1)
                             || substr(t.letters, 1 + floor(r2 * 991)::int %% 20, 1) END,
                   CASE WHEN abroad THEN t.abroad_countries[1 + n %% cardinality(t.abroad_countries)] ELSE 'GB' END,
                   'web_donation', '', r1 < 0.6, r2 < 0.5, false, false, NULL,
                   %(end)s - interval '5 years' * r6, %(end)s - interval '5 years' * r6
            FROM (SELECT n, random() AS r1, random() AS r2, random() AS r3, random() AS r4, random() AS r5,
                         random() AS r6, random() < 0.005 AS abroad,
                         floor(random() * %(places)s)::int AS place
                  FROM generate_series(1, %(count)s) AS n) AS g,
                 (SELECT %(titles)s::text[] AS titles, %(firsts)s::text[] AS firsts, %(lasts)s::text[] AS lasts,
                         %(houses)s::text[] AS houses, %(streets)s::text[] AS streets,
                         %(outwards)s::text[] AS outwards, %(towns)s::text[] AS towns, %(letters)s::text AS letters,
                         %(abroad_countries)s::text[] AS abroad_countries,
                         %(abroad_towns)s::text[] AS abroad_towns) AS t
            ORDER BY n
            """,
            {"count": supporters, "end": end, "titles": TITLES, "firsts": FIRST_NAMES, "lasts": LAST_NAMES,
             "houses": HOUSES, "streets": STREETS, "places": len(UK_PLACES),
             "outwards": [o for o, _t in UK_PLACES], "towns": [t for _o, t in UK_PLACES],
             "letters": INWARD_LETTERS, "abroad_countries": [c for c, _t in ABROAD],
             "abroad_towns": [t for _c, t in ABROAD]})
        seconds = {"supporters": time.perf_counter() - started}
        # One statement numbers its rows one after another, perhaps after a gap the sequence left.
        cursor.execute("SELECT min(id) - 1 FROM supporters_supporter WHERE id > %s", [before])
        (base,) = cursor.fetchone()
        # Declarations copy the supporter's name and address; every fourth supporter has none.
        # About 1% lack the house (held as "needs data"), 0.5% were cancelled during the year.
        started = time.perf_counter()
        cursor.execute(
            """
            INSERT INTO supporters_giftaiddeclaration (
                title, first_name, last_name, address_house, address_street, address_town, postcode, country,
                declared_on, method, scope, wording, wording_version, source_detail, created_at,
                cancelled_on, cancellation_reason, recorded_by_id, supporter_id, confirmation_sent_on, supersedes_id)
            SELECT title, first_name, last_name, CASE WHEN r1 < 0.01 THEN '' ELSE address_house END,
                   address_street, address_town, postcode, country, declared_on, 'online', 'all_gifts',
                   %(wording)s, %(version)s, 'Donation form', declared_on,
                   CASE WHEN r2 < 0.005 THEN %(period_end)s::date - floor(r3 * 300)::int END,
                   CASE WHEN r2 < 0.005 THEN 'Asked us to stop claiming' ELSE '' END,
                   NULL, id, NULL, NULL
            FROM (SELECT s.*, random() AS r1, random() AS r2, random() AS r3,
                         %(period_end)s::date - 400 - floor(random() * 1000)::int AS declared_on
                  FROM supporters_supporter s
                  WHERE s.id > %(base)s AND (s.id - %(base)s) %% 4 <> 0) AS s
            ORDER BY id
            """,
            {"base": base, "period_end": period_end, "wording": gift_aid_wording(),
             "version": GIFT_AID_WORDING_VERSION})
        declarations = cursor.rowcount
        seconds["declarations"] = time.perf_counter() - started
        # Gifts of £2 to £200 (a third £20 or less), paid over the 12 months to the period's end; a few
        # donors give often. Mostly succeeded; some refunded in part or in full, failed or disputed;
        # a few sponsorships, tickets, company gifts, JustGiving gifts, euros and benefits. No Stripe
        # ids: Gift Aid never reads them, and their unique indexes would double the loading time.
        started = time.perf_counter()
        cursor.execute(
            """
            INSERT INTO donations_donation (
                uid, amount_pence, fee_cover_pence, currency, fee_pence, net_pence, refunded_pence, status,
                failure_reason, dispute_status, receipt_sent_at, gift_aid_declared, appeal_code, channel,
                utm_source, utm_medium, utm_campaign, stripe_payment_intent_id, stripe_charge_id,
                stripe_balance_transaction_id, stripe_customer_id, stripe_payment_method_id, form_token,
                created_at, paid_at, updated_at, campaign_id, supporter_id, recurring_gift_id, appeal_id,
                fundraiser_page_id, is_sponsorship, benefit_pence, gift_aid_claimed_by, gift_aid_declaration_id,
                gift_kind, sponsor_relationship)
            SELECT uid, amount, 0, CASE WHEN r_cur < 0.003 THEN 'eur' ELSE 'gbp' END,
                   CASE WHEN status = 'failed' THEN NULL ELSE 20 + amount * 15 / 1000 END,
                   CASE WHEN status = 'failed' THEN NULL ELSE amount - 20 - amount * 15 / 1000 END,
                   CASE status WHEN 'refunded' THEN amount
                               WHEN 'partly_refunded' THEN 1 + floor(r_ref * (amount - 1))::bigint
                               ELSE 0 END,
                   status, CASE WHEN status = 'failed' THEN 'Your card was declined.' ELSE '' END,
                   CASE WHEN status = 'disputed' THEN 'needs_response' ELSE '' END,
                   CASE WHEN status = 'failed' THEN NULL ELSE at END,
                   (supporter + 1) %% 4 <> 0, '', 'web', '', '', '',
                   NULL, NULL, NULL,
                   'cus_' || lpad(to_hex(supporter), 14, '0'), '', NULL,
                   at - interval '40 seconds', CASE WHEN status = 'failed' THEN NULL ELSE at END, at,
                   NULL, %(base)s + 1 + supporter, NULL, NULL, NULL,
                   r_kind >= 0.96, CASE WHEN r_ben < 0.002 THEN amount / 10 WHEN r_ben < 0.003 THEN amount / 2
                                        ELSE 0 END,
                   CASE WHEN r_plat < 0.03 THEN 'JustGiving' ELSE '' END, NULL,
                   CASE WHEN r_kind < 0.94 OR r_kind >= 0.96 THEN 'own_gift' WHEN r_kind < 0.95 THEN 'ticket'
                        WHEN r_kind < 0.955 THEN 'company' ELSE 'on_behalf' END,
                   CASE WHEN r_kind >= 0.996 THEN 'participant' WHEN r_kind >= 0.992 THEN 'connected' ELSE '' END
            FROM (SELECT n, gen_random_uuid() AS uid,
                         CASE WHEN r_round < 0.6 THEN greatest(200, round(raw / 100.0)::bigint * 100) ELSE raw END
                             AS amount,
                         CASE WHEN r_status < 0.93 THEN 'succeeded' WHEN r_status < 0.96 THEN 'partly_refunded'
                              WHEN r_status < 0.98 THEN 'refunded' WHEN r_status < 0.99 THEN 'failed'
                              ELSE 'disputed' END AS status,
                         %(end)s - interval '365 days' * r_at AS at,
                         floor(%(supporters)s * power(r_who, 1.4))::bigint AS supporter,
                         r_cur, r_ref, r_kind, r_ben, r_plat
                  FROM (SELECT n, 200 + floor(19800 * power(random(), 2))::bigint AS raw, random() AS r_round,
                               random() AS r_status, random() AS r_at, random() AS r_who, random() AS r_cur,
                               random() AS r_ref, random() AS r_kind, random() AS r_ben, random() AS r_plat
                        FROM generate_series(1, %(count)s) AS n) AS raw) AS g
            ORDER BY g.at
            """,
            {"count": donations, "supporters": supporters, "base": base, "end": end})
        seconds["donations"] = time.perf_counter() - started
        started = time.perf_counter()
        cursor.execute("ANALYZE supporters_supporter, supporters_giftaiddeclaration, donations_donation, "
                       "donations_giftaidclaim, donations_giftaidclaimrow, donations_giftaidclaimedgift")
        seconds["ANALYZE"] = time.perf_counter() - started
    return {"supporters": supporters, "declarations": declarations, "donations": donations, "seconds": seconds}


def _claim_period(today: datetime.date) -> tuple[datetime.date, datetime.date]:
    """The 12 months to yesterday, starting after any claim already made (the demo data's)."""
    from donations.models import GiftAidClaim

    period_end = today - datetime.timedelta(days=1)
    period_start = period_end.replace(year=period_end.year - 1) + datetime.timedelta(days=1)
    latest = (GiftAidClaim.objects.exclude(status=GiftAidClaim.Status.REJECTED)
              .order_by("-period_end").values_list("period_end", flat=True).first())
    if latest and latest >= period_start:
        period_start = latest + datetime.timedelta(days=1)
    return period_start, period_end


@contextmanager
def _phases(figures: dict):
    """Time the claim builder's steps by wrapping its module-level helpers for the
    one call (the service itself is untouched). A helper that is not there is
    simply not timed; what is not wrapped shows as "other"."""
    from donations.services import gift_aid_claims

    originals = {}

    def timed(name, label):
        original = getattr(gift_aid_claims, name, None)
        if original is None:
            return
        originals[name] = original

        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                figures[label] += time.perf_counter() - started
        setattr(gift_aid_claims, name, wrapper)

    def timed_generator(name, label):
        original = getattr(gift_aid_claims, name, None)
        if original is None:
            return
        originals[name] = original

        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                yield from original(*args, **kwargs)
            finally:
                figures[label] += time.perf_counter() - started
        setattr(gift_aid_claims, name, wrapper)

    timed_generator("verdicts_for", "candidate query + verdicts")
    timed("_rows_for", "grouping")
    timed("_insert", "writes (COPY; the schedule is sorted meanwhile)")
    # The build's transaction commits as it returns: PostgreSQL checks the deferred foreign keys then.
    commit = connection.commit

    def timed_commit():
        started = time.perf_counter()
        try:
            return commit()
        finally:
            figures["commit (deferred foreign-key checks)"] += time.perf_counter() - started
    connection.commit = timed_commit
    try:
        yield
    finally:
        del connection.commit  # the instance attribute; the class's method shows through again
        for name, original in originals.items():
            setattr(gift_aid_claims, name, original)


def _check(claim) -> list[str]:
    """Cheap sums that must agree; returns what does not."""
    from donations.models import GiftAidClaimedGift, GiftAidClaimRow

    problems = []
    if claim.tax_pence != claim.gifts_pence * 25 // 100:
        problems.append(f"tax {claim.tax_pence} is not 25% of gifts {claim.gifts_pence}")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*), coalesce(sum(amount_pence), 0) FROM {GiftAidClaimRow._meta.db_table} "
                       "WHERE claim_id = %s", [claim.pk])
        rows, rows_pence = cursor.fetchone()
        cursor.execute(
            f"""SELECT count(*), count(DISTINCT g.donation_id), coalesce(sum(g.amount_pence), 0),
                       count(*) FILTER (WHERE d.status NOT IN ('succeeded', 'partly_refunded')
                                        OR d.gift_aid_claimed_by <> '' OR d.currency <> 'gbp'
                                        OR d.gift_kind <> 'own_gift' OR g.amount_pence <> d.amount_pence - d.refunded_pence)
                FROM {GiftAidClaimedGift._meta.db_table} g JOIN donations_donation d ON d.id = g.donation_id
                WHERE g.claim_id = %s""", [claim.pk])
        gifts, distinct_gifts, gifts_pence, wrong = cursor.fetchone()
        cursor.execute(f"SELECT count(*) FROM (SELECT donation_id FROM {GiftAidClaimedGift._meta.db_table} "
                       "WHERE active GROUP BY donation_id HAVING count(*) > 1) AS twice")
        (twice,) = cursor.fetchone()
    if rows != claim.row_count:
        problems.append(f"{rows} rows stored, the claim says {claim.row_count}")
    if rows_pence != claim.gifts_pence:
        problems.append(f"rows add up to {rows_pence}, the claim says {claim.gifts_pence}")
    if gifts != claim.gift_count:
        problems.append(f"{gifts} claimed gifts stored, the claim says {claim.gift_count}")
    if gifts_pence != claim.gifts_pence:
        problems.append(f"claimed gifts add up to {gifts_pence}, the claim says {claim.gifts_pence}")
    if distinct_gifts != gifts or twice:
        problems.append(f"{gifts - distinct_gifts + twice} gifts claimed twice")
    if wrong:
        problems.append(f"{wrong} claimed gifts are unpaid, refunded, foreign, not own gifts or claimed elsewhere")
    return problems


def _render(claim) -> dict:
    """As finance downloads them: the claim's page lists the schedules, then each is read on its own."""
    from donations import hmrc, selectors

    figures = defaultdict(float)
    ods_bytes = xml_bytes = 0
    with _timed(figures, "summaries"):
        summaries = selectors.claim_part_summaries(claim)
    for summary in summaries:
        started = time.perf_counter()
        part = selectors.claim_part(claim, summary["number"])
        figures["parts"] += time.perf_counter() - started
        started = time.perf_counter()
        ods_bytes += len(hmrc.schedule_ods(part["rows"], earliest_gift_date=part["earliest_gift_date"],
                                           adjustment_pence=part["adjustment_pence"]))
        middle = time.perf_counter()
        xml_bytes += len(hmrc.r68_xml(selectors.claim_header(claim, part), part["rows"]))
        figures["ods"] += middle - started
        figures["xml"] += time.perf_counter() - middle
    figures.update(schedules=len(summaries), ods_bytes=ods_bytes, xml_bytes=xml_bytes)
    return figures


def run(url: str, donations: int = DONATIONS) -> None:
    from donations.models import Donation, GiftAidClaimedGift
    from donations.services import gift_aid_claims

    today = timezone.localdate()
    period_start, period_end = _claim_period(today)
    if period_start > period_end:
        print(f"gift aid claim: skipped, a claim already covers the days to {period_end:%d %B %Y}")
        return
    # Top the database up to `donations` in all (earlier benches' demo data has gifts too).
    started = time.perf_counter()
    loaded = _load(donations=max(0, donations - Donation.objects.count()), period_end=period_end)
    elapsed = time.perf_counter() - started
    print(f"gift aid data: {loaded['supporters']:,} supporters, {loaded['declarations']:,} declarations and "
          f"{loaded['donations']:,} donations loaded in {elapsed:.1f} s (INSERT ... SELECT generate_series: "
          + ", ".join(f"{table} {seconds:.1f} s" for table, seconds in loaded["seconds"].items()) + ")")

    on_file = Donation.objects.count()
    claimed_before = GiftAidClaimedGift.objects.filter(active=True).count()
    phases = defaultdict(float)
    with _phases(phases):
        started = time.perf_counter()
        claim = gift_aid_claims.gift_aid_claim_build(period_start=period_start, period_end=period_end, today=today)
        elapsed = time.perf_counter() - started
    verdict = "OK" if elapsed < GOAL_SECONDS else "SLOWER THAN GOAL"
    schedules = -(-claim.row_count // 1000)
    print(f"gift aid claim: built from {on_file:,} donations in {elapsed:.1f} s ({claim.gift_count:,} eligible "
          f"gifts, {claim.row_count:,} rows, {schedules:,} schedules; £{claim.gifts_pence / 100:,.2f} gifts, "
          f"£{claim.tax_pence / 100:,.2f} tax; goal < {GOAL_SECONDS} s: {verdict})")
    phases["other (period checks, adjustments, row ids, totals)"] = elapsed - sum(phases.values())
    print("gift aid claim, where the time went: " + "; ".join(
        f"{label} {seconds:.1f} s" for label, seconds in phases.items()))
    if claimed_before:
        print(f"gift aid claim: {claimed_before:,} gifts were already in earlier claims (demo data)")

    problems = _check(claim)
    print("gift aid claim, checks (tax is 25% of gifts; rows and claimed gifts add up to the claim; "
          "no gift claimed twice; only paid own gifts in pounds): " + ("OK" if not problems else
                                                                         "FAILED: " + "; ".join(problems)))

    started = time.perf_counter()
    figures = _render(claim)
    elapsed = time.perf_counter() - started
    print(f"gift aid files: {figures['schedules']:,} schedules rendered as .ods and R68 XML in {elapsed:.1f} s "
          f"(schedule list {figures['summaries']:.2f} s, rows read {figures['parts']:.1f} s, "
          f".ods {figures['ods']:.1f} s, XML with IRmark {figures['xml']:.1f} s; "
          f"{figures['ods_bytes'] / 1e6:,.1f} MB .ods, {figures['xml_bytes'] / 1e6:,.1f} MB XML)")
