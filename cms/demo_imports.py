"""Two files for trying the imports on the demo site, written by the demo
loader into demo-files/ (dated from the day it runs, so they fall in open
months): a JustGiving donations report for the Home for Christmas appeal, and
a supporter spreadsheet from "the old CRM" with one row to fix (an address with
a postcode that is not one)."""

import csv
import datetime
import random
from pathlib import Path

from django.conf import settings

JUSTGIVING_HEADINGS = [
    "Donation Ref", "Donation Date", "Donor User Id", "Donor Title", "Donor FirstName", "Donor LastName",
    "Donor E-mail", "Donor Address Line 1", "Donor Address Line 2", "Donor Town", "Donor County", "Donor Postcode",
    "Donor Country", "Donor Further Contact", "Donation Auth Amount", "Appeal Name", "Gift Aid Status",
    "Gift Aid Amount", "Donation Message", "Currency Code"]
SUPPORTER_HEADINGS = ["Constituent ID", "Title", "Forename", "Surname", "Email Address", "Address 1", "Address 2",
                      "Town", "Post Code", "Country", "Email opt in", "Post opt in", "Consent date"]
_PEOPLE = [
    ("Ms", "Zoë", "O'Brien", "12 Park Crescent", "York", "YO1 7HH"),
    ("Mr", "Siân", "Ó Briain", "Rose Cottage", "Ludlow", "SY8 1AA"),
    ("Dr", "Amara", "Okafor", "4 Mill Street", "Bristol", "BS1 4DJ"),
    ("Mrs", "Priya", "Shah", "27 Kings Road", "Leicester", "LE1 6RP"),
    ("Mr", "Tomasz", "Nowak", "8 Victoria Terrace", "Glasgow", "G1 1XQ"),
    ("Ms", "Hannah", "Clarke", "Flat 3, Albion House", "Leeds", "LS1 4AP"),
    ("Mr", "David", "Hughes", "51 Station Road", "Cardiff", "CF10 1AA"),
    ("Mrs", "Grace", "Osei", "16 Elm Grove", "Manchester", "M1 1AE"),
    ("Mr", "Liam", "Murphy", "2 Harbour View", "Belfast", "BT1 1AA"),
    ("Ms", "Chloé", "Martin", "9 Rue Cler", "Paris", "75007"),
]
_MESSAGES = ["For the children", "Merry Christmas!", "In memory of Mum", "", "", "Keep up the good work", ""]


def write_demo_import_files(*, rng: random.Random, today: datetime.date) -> list[Path]:
    folder = Path(settings.BASE_DIR) / "demo-files"
    folder.mkdir(exist_ok=True)
    report = folder / f"DonationsReport-CharityId-1000-{today:%Y-%m}.csv"
    with open(report, "w", newline="", encoding="utf-8-sig") as file:
        writer = csv.writer(file)
        writer.writerow(JUSTGIVING_HEADINGS)
        for number in range(1, 41):
            day = today - datetime.timedelta(days=rng.randrange(0, min(today.day, 10)))
            amount = rng.choice([5, 10, 10, 20, 25, 50, 100, 1250])
            title, first, last, line1, town, postcode = rng.choice(_PEOPLE)
            anonymous = number % 9 == 0
            overseas = postcode == "75007"
            eligible = not anonymous and rng.random() < 0.7
            writer.writerow([
                f"JG{today:%y%m}{number:05d}", f"{day:%d/%m/%Y} {rng.randrange(7, 23):02d}:{rng.randrange(60):02d}",
                "" if anonymous else f"jg-{last.lower()[:4]}-{first.lower()[:2]}", "" if anonymous else title,
                "" if anonymous else first, "" if anonymous else last,
                "" if anonymous else f"{first[0].lower()}.{last.lower().replace(' ', '')}@example.org",
                "" if anonymous else line1, "", "" if anonymous else town, "", "" if anonymous else postcode,
                "France" if overseas else "", "Yes" if rng.random() < 0.4 else "No", f"£{amount:,}.00",
                "Home for Christmas 2026", "Eligible" if eligible else "Not eligible",
                f"{amount / 4:.2f}" if eligible else "0.00", rng.choice(_MESSAGES), "GBP"])
    people = folder / "old-crm-supporters.csv"
    with open(people, "w", newline="", encoding="cp1252", errors="replace") as file:  # as Excel on Windows saves
        writer = csv.writer(file)
        writer.writerow(SUPPORTER_HEADINGS)
        for number, (title, first, last, line1, town, postcode) in enumerate(_PEOPLE[:8], 1):
            if number == 5:
                postcode = "G1 1XQQ"  # the row to fix: not a postcode
            writer.writerow([f"CRM-{number:04d}", title, first, last,
                             f"{first[0].lower()}.{last.lower().replace(' ', '')}@example.org", line1, "", town,
                             postcode, "UK", rng.choice(["Yes", "No", ""]), rng.choice(["Yes", "No", ""]),
                             (today - datetime.timedelta(days=400 + number)).strftime("%d/%m/%Y")])
    return [report, people]
