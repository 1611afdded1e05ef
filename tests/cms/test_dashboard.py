"""The fundraising dashboard, as staff use it: who sees what, every linked figure
equal to the total of the gifts or donors behind it, each table's CSV as the
page shows it, and the admin home's summary."""

import csv
import io
import re
from decimal import Decimal
from urllib.parse import parse_qs, urlparse

import pytest
from bs4 import BeautifulSoup
from django.contrib.auth.models import User

from campaigns.models import Campaign
from donations.models import IncomeTarget
from tests.helpers import log_in_verified

pytestmark = pytest.mark.django_db
URL = "/admin/dashboard/"


def page(client, url=URL):
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return BeautifulSoup(response.content, "html.parser")


def table(soup, name):
    section = soup.find(id=f"table-{name}").find_parent("section")
    return {row.th.get_text(" ", strip=True): row.find_all("td") for row in section.select("tbody tr") if row.th}


def body(response) -> str:
    return b"".join(response.streaming_content).decode("utf-8-sig")


def pence(text: str) -> int:
    return int(Decimal(re.sub(r"[£,\s]", "", text)) * 100)


def kept_on_list(client, link) -> int:
    """The 'kept' total the gifts list shows for a dashboard link."""
    soup = page(client, link)
    totals = soup.select_one(".donation-totals").get_text(" ", strip=True)
    return pence(re.search(r"kept (£[\d,.]+)", totals).group(1))


@pytest.fixture
def users(fundraiser, finance_user, admin_user):
    return {"fundraising": fundraiser, "finance": finance_user, "superuser": admin_user}


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get(URL)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert client.get(URL + "?download=income").status_code == 302
    assert client.get(URL + "donors/?group=new").status_code == 302


def test_staff_without_a_role_are_refused(client):
    log_in_verified(client, User.objects.create_user("nobody", is_staff=True, password="x"))
    assert client.get(URL).status_code in (302, 403)  # Wagtail's admin access comes first
    assert client.get(URL + "donors/").status_code in (302, 403)


@pytest.mark.parametrize("role", ["fundraising", "finance", "superuser"])
def test_what_each_role_sees(client, users, role, year_of_gifts):
    log_in_verified(client, users[role])
    soup = page(client)
    text = soup.get_text(" ", strip=True)
    sees_finance = role != "fundraising"
    assert ("Claimed from HMRC" in text) is sees_finance
    assert ("Held for missing declaration details" in text) is sees_finance
    assert "Stripe's fees" in text  # both roles see gifts' fees (the gifts list shows them too)
    assert "Potential: gifts from UK donors with no declaration would bring" in text
    assert "Top donors" in text  # both roles may see supporters
    for name in ("income", "by_channel", "by_kind", "by_campaign", "top_appeals", "income_over_time",
                 "regular_giving", "donors", "top_donors", "campaigns", "gift_aid"):
        response = client.get(URL + f"?download={name}")
        assert response.status_code == 200, name
        assert response["Content-Type"].startswith("text/csv")
    gift_aid_csv = body(client.get(URL + "?download=gift_aid"))
    assert ("Claimed from HMRC" in gift_aid_csv) is sees_finance
    assert client.get(URL + "?download=nothing").status_code == 404
    assert client.get(URL + "donors/?group=retained").status_code == 200


def test_every_linked_figure_equals_the_gifts_behind_it(finance_client, year_of_gifts):
    soup = page(finance_client, URL + "?period=custom&from=2026-04-06&to=2026-04-10")
    income = table(soup, "income")
    kept = income["Kept: income net of refunds and disputes"][0]
    assert pence(kept.get_text()) == 50_021
    assert kept_on_list(finance_client, kept.a["href"]) == 50_021
    for name in ("by_channel", "by_kind", "by_campaign"):
        for label, cells in table(soup, name).items():
            if cells[1].a:  # Kept
                assert kept_on_list(finance_client, cells[1].a["href"]) == pence(cells[1].get_text()), (name, label)
    channels = table(soup, "by_channel")
    assert pence(channels["Platforms"][1].get_text()) == 1_500
    assert pence(channels["Offline"][1].get_text()) == 25_000 + 4_321
    # The same for one campaign.
    christmas = Campaign.objects.get(code="xmas")
    soup = page(finance_client, URL + f"?period=custom&from=2026-04-06&to=2026-04-10&campaign={christmas.pk}")
    kept = table(soup, "income")["Kept: income net of refunds and disputes"][0]
    assert pence(kept.get_text()) == 2_000 + 2_500 + 25_000
    assert kept_on_list(finance_client, kept.a["href"]) == 2_000 + 2_500 + 25_000
    assert parse_qs(urlparse(kept.a["href"]).query)["campaign"] == [str(christmas.pk)]


def test_donor_figures_open_the_donors_they_count(fundraiser_client, year_of_gifts):
    soup = page(fundraiser_client, URL + "?period=custom&from=2026-04-06&to=2026-04-10")
    donors = table(soup, "donors")
    expected = {"Donors this tax year": 3, "New donors (first gift ever)": 1, "Retained from last tax year": 1,
                "Lapsed (gave last tax year, not yet this)": 1, "Back after a year or more without giving": 1}
    for label, count in expected.items():
        cell = donors[label][0]
        assert int(cell.get_text(strip=True)) == count
        listing = page(fundraiser_client, cell.a["href"])
        assert len(listing.select("table.listing tbody tr td a")) == count
        assert listing.find("strong").get_text() == str(count)
    assert donors["Retention rate (retained of last year's donors)"][0].get_text(strip=True) == "50.0%"


def test_a_tables_csv_holds_what_the_page_shows(finance_client, year_of_gifts):
    query = "?period=custom&from=2026-04-06&to=2026-04-10"
    shown = table(page(finance_client, URL + query), "by_channel")
    response = finance_client.get(URL + query + "&download=by_channel")
    assert "dashboard-by-channel-2026-04-06-to-2026-04-10.csv" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(body(response))))
    assert rows[0][:3] == ["Channel", "Gifts", "Kept"]
    for row in rows[1:]:
        assert pence(shown[row[0]][1].get_text()) == int(Decimal(row[2]) * 100)


def test_targets_and_last_year_on_the_headlines(finance_client, year_of_gifts):
    IncomeTarget.objects.create(tax_year=2026, target_pence=36_500_000)
    soup = page(finance_client)
    tax_year = [li for li in soup.select(".dashboard-headline") if "This tax year" in li.get_text()][0]
    assert "of the target's share" in tax_year.get_text()
    assert "on the same days last year" in tax_year.get_text()


def test_dates_changed_without_choosing_custom_mean_those_dates(finance_client, year_of_gifts):
    soup = page(finance_client, URL + "?period=tax_year&from=2026-04-06&to=2026-04-06")
    assert "6 April 2026" in soup.select_one(".dashboard-showing").get_text()
    assert soup.select_one("#period option[selected]")["value"] == "custom"


def test_a_wrong_filter_is_said_not_crashed_on(finance_client):
    soup = page(finance_client, URL + "?period=custom&from=2026-13-01&to=x&campaign=999999")
    alerts = " ".join(p.get_text() for p in soup.select("[role=alert]"))
    assert "Give both dates" in alerts and "campaign was not found" in alerts


def test_the_admin_home_shows_the_headlines(finance_client, year_of_gifts):
    soup = page(finance_client, "/admin/")
    panel = soup.select_one(".dashboard-panel")
    assert panel is not None and "This tax year" in panel.get_text()
    assert panel.find("a", string=re.compile("Open the dashboard"))["href"] == URL


def test_finance_sets_income_targets_and_fundraising_sees_them(client, users):
    add = "/admin/income_target/new/"
    log_in_verified(client, users["fundraising"])
    assert client.get("/admin/income_target/").status_code == 200
    assert client.post(add, {"tax_year": 2026, "target": "1"}).status_code in (302, 403)
    assert not IncomeTarget.objects.exists()
    log_in_verified(client, users["finance"])
    refused = client.post(add, {"tax_year": 2026, "target": "two million"})
    assert refused.status_code == 200 and "Enter an amount in pounds" in refused.content.decode()
    response = client.post(add, {"tax_year": 2026, "target": "£2,500,000"})
    assert response.status_code == 302
    assert IncomeTarget.objects.get().target_pence == 250_000_000
    client.logout()
    assert client.get("/admin/income_target/").status_code == 302


def test_gift_aid_claimable_held_and_potential(client, users):
    import datetime

    from django.utils import timezone

    from donations.models import Donation
    from supporters import services as supporter_services
    from supporters.models import GiftAidDeclaration
    from tests.supporters.factories import SupporterFactory

    def gift(supporter, pence):
        moment = timezone.now() - datetime.timedelta(days=30)
        return Donation.objects.create(supporter=supporter, amount_pence=pence, status=Donation.Status.SUCCEEDED,
                                       channel=Donation.Channel.OFFLINE, created_at=moment, paid_at=moment)

    declared, held, asked, abroad = (SupporterFactory() for _ in range(4))
    supporter_services.gift_aid_declaration_record(
        supporter=declared, method="online", wording=supporter_services.gift_aid_wording(),
        wording_version=supporter_services.GIFT_AID_WORDING_VERSION, declared_on=timezone.localdate(),
        scope="all_gifts", declared=None)
    GiftAidDeclaration.objects.create(supporter=held, first_name="Ann", last_name="Lee", address_house="",
                                      postcode="N16 8AA", declared_on=datetime.date(2025, 1, 1), method="imported",
                                      wording="(imported)", wording_version="legacy")
    abroad.country = "FR"
    abroad.save()
    gift(declared, 10_000)
    gift(held, 4_000)
    gift(asked, 4_001)
    gift(asked, 999)
    gift(abroad, 5_000)
    log_in_verified(client, users["finance"])
    rows = table(page(client), "gift_aid")
    assert pence(rows["Claimable now"][0].get_text()) == 2_500
    assert pence(rows["Held for missing declaration details"][0].get_text()) == 1_000
    assert pence(rows["Potential: gifts from UK donors with no declaration would bring"][0].get_text()) == 1_250
    ask = rows["Donors to ask for a declaration"][0]
    assert ask.get_text(strip=True) == "1"
    listing = page(client, ask.a["href"])
    assert [a.get_text() for a in listing.select("table.listing tbody td a")] == [str(asked)]
    assert "£50.00" in listing.select_one("table.listing tbody").get_text()
    # Fundraising sees the potential, not the claims.
    log_in_verified(client, users["fundraising"])
    rows = table(page(client), "gift_aid")
    assert "Claimable now" not in rows and pence(rows[
        "Potential: gifts from UK donors with no declaration would bring"][0].get_text()) == 1_250


def test_charts_are_drawn_for_desktop_and_phone_and_agree_with_their_tables(finance_client, year_of_gifts):
    from cms.charts import _ticks

    assert _ticks(0) == [0, 1] and _ticks(1, most=4) == [0, 1]  # a count's axis has no 0, 0, 1, 1
    assert _ticks(295, most=4) == [0, 100, 200, 300] and _ticks(12_345, most=4) == [0, 5_000, 10_000, 15_000]
    Campaign.objects.update(status=Campaign.Status.LIVE)
    soup = page(finance_client, URL + "?period=custom&from=2026-04-06&to=2026-04-10")
    for name in ("income_over_time", "donors", "campaigns"):
        chart = soup.find(id=f"table-{name}").find_parent("section").select_one(".dashboard-chart")
        assert chart["aria-hidden"] == "true", name  # the table beside it has the numbers
        assert chart.select(".dashboard-chart__wide svg") and chart.select(".dashboard-chart__narrow svg"), name
    campaigns = soup.find(id="table-campaigns").find_parent("section")
    labels = campaigns.select_one(".dashboard-chart__wide svg").get_text(" ")
    for name, cells in table(soup, "campaigns").items():
        assert f"{name} {cells[2].get_text(strip=True)}" in labels  # "Home for Christmas 4.0%", as the table says


def test_regular_giving_figures_open_the_monthly_gifts_they_count(finance_client):
    import datetime

    from django.utils import timezone

    from donations.models import RecurringGift
    from tests.supporters.factories import SupporterFactory

    campaign = Campaign.objects.create(name="Monthly drive", code="monthly", starts_on=datetime.date(2026, 1, 1))
    today = timezone.localdate()
    last_month = (today.replace(day=1) - datetime.timedelta(days=1)).replace(day=1)

    def monthly(status, *, started=last_month, cancelled=False, in_campaign=True):
        return RecurringGift.objects.create(
            supporter=SupporterFactory(), amount_pence=1_000, day_of_month=1, status=status, started_on=started,
            campaign=campaign if in_campaign else None,
            cancelled_at=timezone.now() if cancelled else None)

    monthly("active")
    monthly("active", started=today.replace(day=1))
    monthly("active", in_campaign=False)
    monthly("past_due")
    monthly("cancelled", cancelled=True)
    monthly("pending", started=today)
    rows = table(page(finance_client, URL + f"?campaign={campaign.pk}"), "regular_giving")
    expected = {"Active monthly gifts": 2, "New this month": 1, "Cancelled this month": 1,
                "Past due (retries used up)": 1}
    for label, count in expected.items():
        cell = rows[label][0]
        assert int(cell.get_text(strip=True)) == count, label
        listing = page(finance_client, cell.a["href"])
        assert len(listing.select("table.listing tbody tr")) == count, label
    assert pence(rows["Monthly income from them"][0].get_text()) == 2_000
    # Live at the month's start: the two begun last month and still giving, and the one cancelled since.
    assert rows["Churn this month (cancelled of those active at its start)"][0].get_text(strip=True) == "33.3%"
    assert pence(rows["Expected next month (active and past due)"][0].get_text()) == 3_000
