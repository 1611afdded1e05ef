"""`make bench`, imports: 100,000 supporter rows (the supporters kind, a CRM's
export with the standard headings) and 100,000 gifts in JustGiving's donations
report, imported into PostgreSQL through the real service path, with the
rows per second of the dry run and of the confirm, the ratio to a raw COPY of
the same rows measured in the same run, the memory used as the file grows and
a second import of the same files, which must create nothing. Goal (issue 16):
at least 10,000 rows/s confirmed, memory flat as the file grows.

1. Writes the two files to a temporary folder (realistic UK data, seeded): the
   supporters file in UTF-8 (names with accents, apostrophes and a few in other
   scripts, house numbers, named houses and flats, postcodes written carelessly,
   phones, consent per channel with its date, a few people twice under another
   id); the JustGiving report in UTF-8 with Excel's byte-order mark, as the site
   downloads it (donors giving more than once, about a tenth anonymous, a Gift
   Aid status mix, dates as `dd/mm/yyyy hh:mm`, amounts as `£1,250.00`, a fifth of
   the donors already held from the supporters file under their email).
2. On a database of its own (DATABASE_URL's name + "_imports", made from a
   migrated template "_imports_empty" with the report's campaigns), imports each
   file as staff do: `data_import_upload` → `data_import_check` (the dry run) →
   `data_import_confirm`, timed apart, and prints rows/s for each. The dry run
   must find no problem (the bench fails loudly if it does).
3. COPYs the same files into plain tables with the same columns (text, by
   psycopg's `cursor.copy`, the server parsing the CSV), in the same run, and
   prints our rows/s ÷ COPY's rows/s for the dry run and for the confirm.
4. Uploads, checks and confirms both files a second time: prints what that
   created (nothing: counts of supporters, gifts, consent events, timeline
   entries before and after) and how long it took.
5. Memory: the confirm at a quarter, half and all of the rows, each in a fresh
   subprocess on a fresh copy of the template database, printing the peak RSS
   while it confirms, the process's RSS before and its rows/s. The peak is
   VmHWM, reset before the confirm: a child's `ru_maxrss` starts at its
   parent's peak (exec keeps the larger of the two; this parent has imported
   the full files by then), so it would show the bench, not the import.

Run by tests/bench/__main__.py, or alone:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/brightwell_bench python -m tests.bench.imports

BENCH_IMPORT_ROWS sizes it (100,000 rows of each kind); BENCH_IMPORT_PROFILE=1
prints cProfile's top functions and the slowest SQL statements of each dry run
and confirm (slowing them); BENCH_IMPORT_MEMORY=0 leaves out step 5;
BENCH_IMPORT_KINDS=supporters (or justgiving) runs one kind only."""

import csv
import datetime
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import unicodedata
from pathlib import Path
from urllib.parse import urlparse

from tests.bench.profiling import profiled, reset_peak_rss, status_mb

ROWS = 100_000
SEED = 2026
GOAL_ROWS_PER_SECOND = 10_000
PROFILE_SWITCH = "BENCH_IMPORT_PROFILE"
CONSENT_WORDING = ("May we keep you up to date with our work, our appeals and ways to help, by email, post, "
                   "phone and text? You can change your mind at any time.")

# --- the files ----------------------------------------------------------------------------

SUPPORTER_HEADINGS = ["external_id", "title", "first name", "last name", "email", "phone", "address line 1",
                      "address line 2", "town", "county", "postcode", "country", "email consent", "post consent",
                      "phone consent", "sms consent", "consent date"]
JUSTGIVING_HEADINGS = ["Donation Ref", "Donation Date", "Donor User Id", "Donor Display Name", "Donor Title",
                       "Donor FirstName", "Donor LastName", "Donor E-mail", "Donor Address Line 1",
                       "Donor Address Line 2", "Donor Town", "Donor County", "Donor Postcode", "Donor Country",
                       "Donor Further Contact", "Donation Auth Amount", "Donation Net Amount", "Currency Code",
                       "Gift Aid Status", "Gift Aid Amount", "Appeal Name", "Page Short Name", "Donation Message",
                       "Donation Source"]

# Names as a UK list holds them: a few very common (weighted by rank, so there are
# many John Smiths), a long tail, and accents, apostrophes, hyphens, Welsh, Irish,
# Scottish, Polish and South Asian names among them.
FIRST_NAMES = ("Oliver", "Amelia", "George", "Isla", "Harry", "Ava", "Jack", "Mia", "Noah", "Olivia", "Thomas",
               "Emily", "James", "Sophie", "William", "Grace", "Charlotte", "Margaret", "David", "Susan", "Peter",
               "Janet", "Michael", "Patricia", "John", "Mary", "Paul", "Sarah", "Mark", "Helen", "Andrew", "Karen",
               "Richard", "Claire", "Christopher", "Emma", "Stephen", "Rachel", "Daniel", "Laura", "Robert", "Lucy",
               "Matthew", "Hannah", "Joseph", "Rebecca", "Samuel", "Jessica", "Benjamin", "Elizabeth", "Alexander",
               "Catherine", "Edward", "Victoria", "Henry", "Alice", "Arthur", "Florence", "Freddie", "Poppy", "Theo",
               "Evie", "Leo", "Ella", "Oscar", "Ruby", "Charlie", "Lily", "Alfie", "Freya", "Jacob", "Ivy", "Archie",
               "Rosie", "Zoë", "Siân", "Chloé", "Anaïs", "José", "Renée", "Aoife", "Niamh", "Saoirse", "Eilidh",
               "Dafydd", "Rhys", "Gwen", "Ciarán", "Seán", "Bronwen", "Mohammed", "Fatima", "Priya", "Arjun", "Aisha",
               "Imran", "Sunita", "Raj", "Kwame", "Adaeze", "Chidi", "Wojciech", "Małgorzata", "Agnieszka", "Björn",
               "Jean-Luc", "Mary-Jane", "Ruth", "Ann", "Ian", "Gareth", "Nia", "Hamish", "Morag", "Declan", "Róisín",
               "Mei", "Wei", "Yusuf", "Zainab", "Tomasz", "Ewa", "Giulia", "Marco", "Inés", "Pádraig", "Eoghan")
LAST_NAMES = ("Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans", "Wilson", "Thomas", "Johnson",
              "Roberts", "Robinson", "Thompson", "Wright", "Walker", "White", "Edwards", "Hughes", "Green", "Hall",
              "Lewis", "Harris", "Clarke", "Patel", "Jackson", "Wood", "Turner", "Martin", "Cooper", "Hill", "Ward",
              "Morris", "Moore", "Clark", "Lee", "King", "Baker", "Harrison", "Morgan", "Allen", "James", "Scott",
              "Phillips", "Watson", "Davis", "Parker", "Price", "Bennett", "Young", "Griffiths", "Mitchell", "Kelly",
              "Cook", "Carter", "Richardson", "Bailey", "Collins", "Bell", "Shaw", "Murphy", "Miller", "Cox",
              "Richards", "Khan", "Marshall", "Anderson", "Simpson", "Ellis", "Adams", "Singh", "Begum", "Wilkinson",
              "Foster", "Chapman", "Powell", "Webb", "Rogers", "Gray", "Mason", "Ali", "Hunt", "Hussain", "Campbell",
              "Matthews", "Owen", "Palmer", "Holmes", "Mills", "Barnes", "Knight", "Lloyd", "Butler", "Russell",
              "Barker", "Fisher", "Stevens", "Jenkins", "Dixon", "Fletcher", "Howard", "Pearson", "Reid", "Gibson",
              "Ahmed", "Chowdhury", "Rahman", "Sharma", "Kaur", "Gill", "Mistry", "Okafor", "Mensah", "Adeyemi",
              "Nguyen", "Chen", "Wang", "Kowalski", "Nowak", "Wiśniewski", "Łukasiewicz", "Müller", "Brontë",
              "Nuñez", "O'Brien", "O'Neill", "O'Connor", "O'Sullivan", "D'Souza", "D'Arcy", "McDonald", "McLeod",
              "MacLeod", "MacKenzie", "McCarthy", "Fitzgerald", "Ní Bhriain", "Ó Súilleabháin", "ap Rhys",
              "Smith-Jones", "Bowes-Lyon", "Llewellyn", "Pryce", "Vaughan", "Cadwaladr", "Gallagher", "Quinn",
              "Doherty", "Byrne", "Ross", "Stewart", "Fraser", "Henderson", "Paterson", "Duncan", "Docherty")
FIRST_WEIGHTS = [1 / (rank + 10) for rank in range(len(FIRST_NAMES))]
LAST_WEIGHTS = [1 / (rank + 10) for rank in range(len(LAST_NAMES))]
# The common surnames above are under half of a UK list; the rest are a long tail.
SURNAME_STARTS = ("Ash", "Brad", "Brook", "Car", "Cold", "Dun", "Fair", "Green", "Hart", "Hol", "Kings", "Lang", "Mar",
                  "Mid", "Mor", "New", "North", "Ox", "Pen", "Red", "Rother", "Sal", "Shel", "South", "Stan", "Stock",
                  "Thorn", "Tre", "Wal", "West", "Whit", "Win", "Al", "Bar", "Bel", "Crom", "Har", "Lock", "Ram", "At")
SURNAME_ENDS = ("ley", "ton", "ford", "worth", "field", "well", "wood", "by", "ham", "stone", "more", "wick", "combe",
                "bury", "hurst", "land", "shaw", "den", "dale", "ridge", "cott", "brook", "leigh", "wright", "man")
NON_LATIN = (("明", "王"), ("Αλέξανδρος", "Παπαδόπουλος"), ("Ольга", "Иванова"), ("محمد", "الحسن"))
TITLES = ("Mr", "Mrs", "Ms", "Miss", "Dr", "", "", "Revd", "Mx")
STREETS = ("High Street", "Church Lane", "Station Road", "Mill Lane", "Victoria Road", "The Green", "Park Avenue",
           "Queen's Road", "St John's Close", "Chapel Row", "Harbour View", "Castle Street", "Ffordd yr Eglwys",
           "Orchard Way", "Manor Drive", "Albert Terrace", "Bishop's Walk", "Nelson Street")
HOUSES = ("Rose Cottage", "The Old Rectory", "Hillside", "Ty Gwyn", "Orchard House", "The Barn", "Fern Lodge")
LOCALITIES = ("Headingley", "Clifton", "Roath", "Leith", "Jesmond", "Heaton Moor", "Hove", "Stoke Newington")
# (town, county, outward codes): real districts, so every postcode passes the UK rules.
TOWNS = (("London", "", ("SW1A", "E1", "N7", "SE15", "W3", "NW6", "EC1V", "E17")),
         ("Manchester", "Greater Manchester", ("M1", "M14", "M20")), ("Leeds", "West Yorkshire", ("LS6", "LS8")),
         ("Bristol", "", ("BS1", "BS6", "BS7")), ("Cardiff", "", ("CF10", "CF5", "CF24")),
         ("Edinburgh", "", ("EH1", "EH6", "EH10")), ("Glasgow", "", ("G1", "G12", "G41")),
         ("Belfast", "County Antrim", ("BT1", "BT7", "BT9")), ("York", "North Yorkshire", ("YO1", "YO10", "YO31")),
         ("Norwich", "Norfolk", ("NR1", "NR2", "NR3")), ("Brighton", "East Sussex", ("BN1", "BN2")),
         ("Newcastle upon Tyne", "Tyne and Wear", ("NE1", "NE6")), ("Oxford", "Oxfordshire", ("OX1", "OX4")),
         ("Exeter", "Devon", ("EX1", "EX4")), ("Truro", "Cornwall", ("TR1",)), ("Aberystwyth", "Ceredigion", ("SY23",)),
         ("St Albans", "Hertfordshire", ("AL1", "AL3")), ("King's Lynn", "Norfolk", ("PE30",)),
         ("Bury St Edmunds", "Suffolk", ("IP33",)), ("Llandudno", "Conwy", ("LL30",)))
OVERSEAS = (("Dublin", "Ireland", "D02 X285"), ("Paris", "France", "75011"), ("Sydney", "Australia", "2000"),
            ("Berlin", "Germany", "10115"))
DOMAINS = ("gmail.com", "hotmail.co.uk", "outlook.com", "yahoo.co.uk", "btinternet.com", "icloud.com",
           "sky.com", "example.org.uk")
INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
YES = ("Yes", "Yes", "Y", "TRUE", "opted in")
NO = ("No", "No", "N", "FALSE")
# JustGiving's "Appeal Name" is one of our campaigns (or an appeal's name), made in the template database.
CAMPAIGNS = (("Winter Appeal 2025", "winter-2025"), ("London Marathon 2026", "marathon-2026"),
             ("Brightwell Hospice Build", "hospice-build"), ("Spring Fun Run", "fun-run-2026"))
APPEALS = (("Christmas Cards", "XMAS25-CARDS", "winter-2025"),)
MESSAGES = ("", "", "", "In memory of Grandad, who loved this place.", "Go Siân! You've got this 💪",
            "Well done, everyone — keep it up!", "For Mum, with love", "Happy birthday \"Big Dave\"",
            "Thank you for looking after Dad, 2024–2025.", "Run, Forrest, run!")
PRESETS_PENCE = (500, 1000, 1000, 2000, 2000, 2500, 5000, 10000)


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().replace("'", "").replace(" ", "")


class _People:
    """A seeded crowd: person i is always the same person, so the supporters file
    and the JustGiving report can share some."""

    def __init__(self, seed: int):
        self.seed = seed

    def person(self, i: int) -> dict:
        rng = random.Random(self.seed * 1_000_003 + i)
        if rng.random() < 0.004:
            first, last = rng.choice(NON_LATIN)
        else:
            first = rng.choices(FIRST_NAMES, FIRST_WEIGHTS)[0]
            if rng.random() < 0.45:
                last = rng.choices(LAST_NAMES, LAST_WEIGHTS)[0]
            else:  # the long tail: Ashworth, Bradshaw, Thornbury…
                last = rng.choice(SURNAME_STARTS) + rng.choice(SURNAME_ENDS)
        email = ""
        if rng.random() < 0.9:
            local = f"{_ascii(first) or 'friend'}.{_ascii(last) or 'giver'}{i}".lower()
            email = f"{local}@{rng.choice(DOMAINS)}"
            if rng.random() < 0.05:
                email = email.title()  # Jane.Smith12@Gmail.Com: found in any case
        overseas = rng.random() < 0.01
        if overseas:
            town, country, postcode = rng.choice(OVERSEAS)
            county = ""
        else:
            town, county, outwards = rng.choice(TOWNS)
            country = rng.choice(("", "", "", "United Kingdom", "UK", "GB"))
            postcode = f"{rng.choice(outwards)} {rng.randint(1, 9)}{rng.choice(INWARD_LETTERS)}" \
                       f"{rng.choice(INWARD_LETTERS)}"
            if rng.random() < 0.05:
                postcode = postcode.lower().replace(" ", "")  # as typed
        shape = rng.random()
        if shape < 0.75:
            line_1, line_2 = f"{rng.randint(1, 220)} {rng.choice(STREETS)}", ""
        elif shape < 0.85:
            line_1, line_2 = f"Flat {rng.randint(1, 40)}, {rng.randint(1, 120)} {rng.choice(STREETS)}", ""
        else:
            line_1, line_2 = rng.choice(HOUSES), rng.choice(STREETS)
        if not line_2 and rng.random() < 0.2:
            line_2 = rng.choice(LOCALITIES)
        phone = ""
        if rng.random() < 0.6:  # mostly mobiles, written as people write them
            number = f"{rng.randint(7400, 7999)}{rng.randint(0, 999_999):06d}"
            phone = rng.choice((f"0{number[:4]} {number[4:]}", f"0{number}", f"+44 {number[:4]} {number[4:]}",
                                f"020 {rng.randint(7000, 8999)} {rng.randint(0, 9999):04d}",
                                f"0113 {rng.randint(200, 499)} {rng.randint(0, 9999):04d}"))
        return {"title": rng.choice(TITLES), "first": first, "last": last, "email": email, "phone": phone,
                "line_1": line_1, "line_2": line_2, "town": town, "county": county, "postcode": postcode,
                "country": country}


def _supporter_rows(rows: int, people: _People, rng: random.Random):
    """The supporters file: a CRM's export, some people twice under another id (a
    duplicate record over there), matched here by email or by name and postcode."""
    today = datetime.date.today()
    for n in range(rows):
        person_id = n
        if n > 100 and rng.random() < 0.04:
            person_id = rng.randrange(n)  # an earlier row's person, under a record of their own
        p = people.person(person_id)
        consents = []
        for _channel in range(4):
            draw = rng.random()
            consents.append(rng.choice(YES) if draw < 0.4 else rng.choice(NO) if draw < 0.6 else "")
        consent_date = "" if rng.random() < 0.1 else \
            (today - datetime.timedelta(days=rng.randint(1, 5 * 365))).strftime("%d/%m/%Y")
        yield [str(100_000 + n), p["title"], p["first"], p["last"], p["email"], p["phone"], p["line_1"], p["line_2"],
               p["town"], p["county"], p["postcode"], p["country"], *consents, consent_date]


def _pounds(pence: int) -> str:
    return f"£{pence / 100:,.2f}"


def _justgiving_rows(rows: int, people: _People, rng: random.Random, *, supporters: int):
    """JustGiving's donations report: donors drawn so that most give more than
    once; about a tenth anonymous; a fifth of the donors are people from the
    supporters file (the same email, another id)."""
    donors = max(10, int(rows * 0.3))
    now = datetime.datetime.now().replace(second=0, microsecond=0)
    for n in range(rows):
        moment = now - datetime.timedelta(days=1, minutes=rng.randint(0, 364 * 24 * 60))
        pence = rng.choice(PRESETS_PENCE) if rng.random() < 0.8 else rng.randint(200, 30_000)
        if rng.random() < 0.005:
            pence = rng.choice((125_000, 250_000, 100_000))
        status = rng.choices(("Eligible", "Claimed", "Not eligible", ""), weights=(45, 10, 35, 10))[0]
        aid = pence // 4 if status in ("Eligible", "Claimed") else 0
        campaign = rng.choice([name for name, _ in CAMPAIGNS] + [APPEALS[0][0], ""])
        if rng.random() < 0.1:
            person, user_id, display = None, "", "Anonymous"
        else:
            donor = int(donors * rng.random() ** 2)  # a few donors give often, most a few times
            person_id = donor if donor % 5 == 0 and donor < supporters else 10_000_000 + donor
            person, user_id = people.person(person_id), str(5_000_000 + donor)
            display = f"{person['first']} {person['last']}"
        p = person or {key: "" for key in ("title", "first", "last", "email", "line_1", "line_2", "town", "county",
                                           "postcode", "country")}
        country = p["country"]
        if person and country in ("", "GB", "UK"):
            country = "United Kingdom"  # JustGiving writes the name
        yield [str(1_100_000_000 + n), moment.strftime("%d/%m/%Y %H:%M"), user_id, display, p["title"], p["first"],
               p["last"], p["email"], p["line_1"], p["line_2"], p["town"], p["county"], p["postcode"], country,
               "" if person is None else rng.choice(("Yes", "No", "No")), _pounds(pence),
               _pounds(pence - round(pence * 0.019) - 20), "GBP", status, _pounds(aid), campaign,
               f"page-{rng.randint(1, 400)}" if rng.random() < 0.4 else "", rng.choice(MESSAGES),
               rng.choice(("Web", "Mobile", "App"))]


def write_files(folder: Path, rows: int) -> dict[str, Path]:
    """The two files of `rows` rows each; seeded, so a size is always the same files."""
    people = _People(SEED)
    paths = {"supporters": folder / f"supporters-{rows}.csv",
             "justgiving": folder / f"DonationsReport-{rows}.csv"}
    with open(paths["supporters"], "w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(SUPPORTER_HEADINGS)
        writer.writerows(_supporter_rows(rows, people, random.Random(SEED)))
    with open(paths["justgiving"], "w", encoding="utf-8-sig", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(JUSTGIVING_HEADINGS)
        writer.writerows(_justgiving_rows(rows, people, random.Random(SEED + 1), supporters=rows))
    return paths


# --- importing --------------------------------------------------------------------------

KINDS = {  # our kind -> (the format staff choose, the consent wording given at the check)
    "supporters": ("Standard supporters file", CONSENT_WORDING),
    "justgiving": ("JustGiving donations report", None),
}


def _counts() -> dict[str, int]:
    from donations.models import Donation
    from supporters.models import ConsentEvent, Interaction, Supporter, SupporterExternalId

    return {"supporters": Supporter.objects.count(), "gifts": Donation.objects.count(),
            "consent events": ConsentEvent.objects.count(), "timeline entries": Interaction.objects.count(),
            "ids in other systems": SupporterExternalId.objects.count()}


def import_file(kind: str, path: Path, *, profile_label: str = "", memory: bool = False) -> dict:
    """Upload, check and confirm one file as staff do, each step timed. Raises
    RuntimeError if the dry run finds any problem (the confirm would save nothing)."""
    from django.conf import settings
    from django.test import override_settings

    from supporters.services.imports import data_import_check, data_import_confirm, data_import_upload

    format_name, wording = KINDS[kind]
    megabytes = path.stat().st_size / 2**20
    with override_settings(IMPORT_MAX_MB=max(settings.IMPORT_MAX_MB, int(megabytes) + 1)):
        started = time.perf_counter()
        with open(path, "rb") as uploaded:
            data_import = data_import_upload(uploaded=uploaded, file_name=path.name, kind=kind,
                                             format_name=format_name)
        upload = time.perf_counter() - started
    started = time.perf_counter()
    with profiled(f"{profile_label} dry run", switch=PROFILE_SWITCH, statements=True):
        check = data_import_check(data_import=data_import, consent_wording=wording)
    check_seconds = time.perf_counter() - started
    if check.problem_count:
        shown = "; ".join(f"row {p.row}, {p.column} “{p.value}”: {p.message}" for p in check.problems[:5])
        raise RuntimeError(f"the dry run of {path.name} found {check.problem_count:,} problems: {shown}")
    rss_before = status_mb("VmRSS")
    reset = reset_peak_rss() if memory else False
    started = time.perf_counter()
    with profiled(f"{profile_label} confirm", switch=PROFILE_SWITCH, statements=True):
        confirm = data_import_confirm(data_import=data_import)
    confirm_seconds = time.perf_counter() - started
    data_import.refresh_from_db()
    if data_import.status != data_import.Status.IMPORTED:
        raise RuntimeError(f"{path.name} was not imported: {confirm.problem_count} problems")
    return {"rows": confirm.rows, "megabytes": megabytes, "upload": upload, "check": check_seconds,
            "confirm": confirm_seconds, "counts": dict(confirm.counts), "check_counts": dict(check.counts),
            "peak_mb": status_mb("VmHWM"), "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "rss_before_mb": rss_before, "peak_reset": reset}


def _copy_seconds(url: str, path: Path, headings: list[str], encoding: str) -> tuple[float, int]:
    """PostgreSQL's COPY of the file into a plain table with the same columns
    (text), the server parsing the CSV: the floor for writing these rows."""
    import psycopg

    columns = ", ".join(f'"{heading}" text' for heading in headings)
    with psycopg.connect(url) as conn:
        conn.execute(f"CREATE TABLE bench_copy ({columns})")
        conn.commit()
        started = time.perf_counter()
        with conn.cursor() as cursor:
            with cursor.copy("COPY bench_copy FROM STDIN (FORMAT csv, HEADER true, ENCODING 'UTF8')") as copy:
                with open(path, "rb") as file:
                    if encoding == "utf-8-sig":
                        file.seek(3)  # Excel's mark: COPY would take it for part of the first heading
                    while chunk := file.read(1 << 20):
                        copy.write(chunk)
        conn.commit()
        seconds = time.perf_counter() - started
        rows = conn.execute("SELECT count(*) FROM bench_copy").fetchone()[0]
        conn.execute("DROP TABLE bench_copy")
        conn.commit()
    return seconds, rows


# --- the databases ------------------------------------------------------------------------

def _named(url: str, suffix: str) -> str:
    parsed = urlparse(url)
    return parsed._replace(path=f"{parsed.path}{suffix}").geturl()


def _copy_of(template_url: str, url: str) -> None:
    """A fresh database `url`, a copy of the migrated template (seconds, not a migrate)."""
    import psycopg

    admin = urlparse(url)._replace(path="/postgres").geturl()
    name, template = urlparse(url).path.lstrip("/"), urlparse(template_url).path.lstrip("/")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')


def _template(url: str) -> None:
    """The empty database every import starts from: migrated, with the campaigns
    and appeal JustGiving's report names."""
    from django.core.management import call_command

    from campaigns.models import Appeal, Campaign
    from tests.bench.__main__ import fresh_database, on_database

    fresh_database(url)
    with on_database(url):
        call_command("migrate", verbosity=0)
        today = datetime.date.today()
        made = {code: Campaign.objects.create(name=name, code=code, status=Campaign.Status.LIVE,
                                              starts_on=today - datetime.timedelta(days=730))
                for name, code in CAMPAIGNS}
        for name, code, campaign in APPEALS:
            Appeal.objects.create(campaign=made[campaign], code=code, name=name)


# --- the run ------------------------------------------------------------------------------

def _summary(counts: dict) -> str:
    """An import's counts, the rows that repeat an earlier row's person as one figure."""
    folded = {}
    for name, count in counts.items():
        name = "same person as an earlier row" if name.startswith("same person as row") else name
        folded[name] = folded.get(name, 0) + count
    return ", ".join(f"{name} {count:,}" for name, count in sorted(folded.items()))


def _rate(rows: int, seconds: float) -> float:
    return rows / seconds if seconds else float("inf")


def run(url: str, rows: int = ROWS) -> None:
    from tests.bench.__main__ import on_database

    kinds = [k for k in os.environ.get("BENCH_IMPORT_KINDS", "supporters,justgiving").split(",") if k]
    template_url, imports_url = _named(url, "_imports_empty"), _named(url, "_imports")
    with tempfile.TemporaryDirectory(prefix="bench-imports-") as folder:
        folder = Path(folder)
        started = time.perf_counter()
        paths = write_files(folder, rows)
        print(f"imports: files written in {time.perf_counter() - started:.1f} s: "
              + ", ".join(f"{path.name} {path.stat().st_size / 2**20:.1f} MB" for path in paths.values()))
        started = time.perf_counter()
        _template(template_url)
        _copy_of(template_url, imports_url)
        print(f"imports: database {urlparse(imports_url).path.lstrip('/')} migrated with the report's campaigns in "
              f"{time.perf_counter() - started:.1f} s")

        results = {}
        with on_database(imports_url):
            for kind in kinds:
                result = results[kind] = import_file(kind, paths[kind], profile_label=f"imports {kind}")
                n = result["rows"]
                print(f"imports {kind}: {n:,} rows ({result['megabytes']:.1f} MB): upload {result['upload']:.1f} s, "
                      f"dry run {result['check']:.1f} s ({_rate(n, result['check']):,.0f} rows/s), "
                      f"confirm {result['confirm']:.1f} s ({_rate(n, result['confirm']):,.0f} rows/s; goal "
                      f"{GOAL_ROWS_PER_SECOND:,}: "
                      f"{'OK' if _rate(n, result['confirm']) >= GOAL_ROWS_PER_SECOND else 'SLOWER THAN GOAL'})")
                print(f"imports {kind}: confirmed: {_summary(result['counts'])}")

            for kind in kinds:
                headings = SUPPORTER_HEADINGS if kind == "supporters" else JUSTGIVING_HEADINGS
                encoding = "utf-8" if kind == "supporters" else "utf-8-sig"
                seconds, copied = _copy_seconds(imports_url, paths[kind], headings, encoding)
                copy_rate, result = _rate(copied, seconds), results[kind]
                n = result["rows"]
                print(f"imports {kind}: COPY of the same {copied:,} rows into a plain table of its {len(headings)} "
                      f"columns {seconds:.2f} s ({copy_rate:,.0f} rows/s); ours ÷ COPY: dry run "
                      f"{_rate(n, result['check']) / copy_rate:.3f}, confirm {_rate(n, result['confirm']) / copy_rate:.3f}")

            for kind in kinds:
                before = _counts()
                started = time.perf_counter()
                again = import_file(kind, paths[kind], profile_label=f"imports {kind} again")
                seconds = time.perf_counter() - started
                after = _counts()
                grown = {name: after[name] - before[name] for name in before}
                made = {name: count for name, count in again["counts"].items()
                        if name in ("created", "gift created", "supporters created", "consents recorded")}
                verdict = "OK, nothing created" if not any(grown.values()) and not any(made.values()) \
                    else "CREATED ROWS"
                print(f"imports {kind} again (the same file, a second upload): {seconds:.1f} s (dry run "
                      f"{again['check']:.1f} s, confirm {again['confirm']:.1f} s); "
                      + _summary(again["counts"])
                      + "; rows added: " + ", ".join(f"{name} {count:+,}" for name, count in grown.items())
                      + f": {verdict}")

        if os.environ.get("BENCH_IMPORT_MEMORY", "1") == "0":
            return
        sizes = sorted({max(1, rows // 4), max(1, rows // 2), rows})
        memory_url = _named(url, "_imports_mem")
        files = {size: paths if size == rows else _smaller_files(folder, size) for size in sizes}
        for kind in kinds:
            figures = []
            for size in sizes:
                _copy_of(template_url, memory_url)
                figures.append((size, _memory_run(memory_url, kind, files[size][kind])))
            print(f"imports {kind} memory, the confirm in a fresh process each: " + "; ".join(
                f"{size:,} rows peak RSS {f['peak_mb']:,.0f} MB (from {f['rss_before_mb']:,.0f} MB before it; "
                f"{_rate(f['rows'], f['confirm']):,.0f} rows/s)" for size, f in figures)
                + ("" if all(f["peak_reset"] for _, f in figures) else
                   " (peak since the process started: the peak could not be reset before the confirm)"))
        _drop(memory_url)


def _smaller_files(folder: Path, size: int) -> dict[str, Path]:
    (folder / str(size)).mkdir(exist_ok=True)
    return write_files(folder / str(size), size)


def _memory_run(url: str, kind: str, path: Path) -> dict:
    """The import of one file in a fresh Python process on `url`'s database: its figures."""
    env = {**os.environ, "DATABASE_URL": url}
    env.pop(PROFILE_SWITCH, None)
    done = subprocess.run([sys.executable, "-m", "tests.bench.imports", "--one", kind, str(path)], env=env,
                          capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"the import of {path.name} in a subprocess failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _drop(url: str) -> None:
    import psycopg

    with psycopg.connect(urlparse(url)._replace(path="/postgres").geturl(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{urlparse(url).path.lstrip("/")}" WITH (FORCE)')


def main() -> int:
    """The imports section alone; or, with --one KIND FILE, one import in this
    process on DATABASE_URL's database (already migrated), its figures as JSON."""
    from tests.bench.__main__ import django_on, postgres_url

    url = postgres_url("The imports benchmark")
    if url is None:
        return 2
    if sys.argv[1:2] == ["--one"]:
        kind, path = sys.argv[2], Path(sys.argv[3])
        django_on(url, fresh=False)
        print(json.dumps(import_file(kind, path, memory=True)))
        return 0
    django_on(url, fresh=False)  # the section makes databases of its own
    run(url, rows=int(os.environ.get("BENCH_IMPORT_ROWS", ROWS)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
