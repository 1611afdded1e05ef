"""Imports as staff use them: upload a file on the Imports screens, match its
columns, read the dry run, import, import again with nothing new, roll back;
and the same through `manage.py import_data`. On SQLite and PostgreSQL."""

import csv
import datetime
import io

import openpyxl
import pytest
from django.core.management import CommandError, call_command
from django.db.models import Sum

from config.errors import ApplicationError
from campaigns.models import Appeal, Campaign, CampaignSupporter, TotalShard
from donations.models import DailyIncome, Donation, DonorYear, PaymentMethod
from donations.services import gift_aid_claims
from supporters.models import (Channel, ConsentEvent, DataImport, GiftAidDeclaration, ImportMapping, LikelyDuplicate,
                               Supporter)
from tests.supporters.factories import SupporterFactory
from tests.supporters.import_steps import check, confirm, upload

pytestmark = pytest.mark.django_db

JG_HEADINGS = ["Donation Ref", "Donation Date", "Donor User Id", "Donor Title", "Donor FirstName", "Donor LastName",
               "Donor E-mail", "Donor Address Line 1", "Donor Address Line 2", "Donor Town", "Donor County",
               "Donor Postcode", "Donor Country", "Donor Further Contact", "Donation Auth Amount", "Appeal Name",
               "Gift Aid Status", "Gift Aid Amount", "Donation Message", "Currency Code"]


def jg_row(ref, date, *, user="", title="", first="", last="", email="", line1="", line2="", town="", county="",
           postcode="", country="", contact="No", amount="10.00", appeal="Winter appeal", gift_aid="Not eligible",
           gift_aid_amount="0", message="", currency="GBP"):
    return [ref, date, user, title, first, last, email, line1, line2, town, county, postcode, country, contact,
            amount, appeal, gift_aid, gift_aid_amount, message, currency]


def csv_file(rows, headings, *, encoding="utf-8", name="file.csv"):
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(headings)
    writer.writerows(rows)
    data = text.getvalue().encode(encoding)
    upload = io.BytesIO(data)
    upload.name = name
    return upload


def jg_report(rows, **kwargs):
    return csv_file(rows, JG_HEADINGS, name=kwargs.pop("name", "DonationsReport-CharityId-1-2026-04.csv"), **kwargs)


@pytest.fixture
def winter():
    campaign = Campaign.objects.create(name="Winter appeal", code="winter", target_pence=1_000_000)
    Appeal.objects.create(campaign=campaign, code="WIN-EMAIL", name="Winter email", channel="email")
    return campaign


def campaign_totals(campaign):
    return TotalShard.objects.filter(key=TotalShard.key_for("campaign", campaign.pk)).aggregate(
        raised=Sum("raised_pence"), gifts=Sum("gifts"), donors=Sum("donors"))


class TestJustGiving:
    ROWS = [
        jg_row("JG-1", "03/04/2026 10:15", user="u-1", title="Ms", first="Zoë", last="O'Brien",
               email="Zoe@Example.org", line1="12 High Street", town="York", postcode="yo1 7hh", contact="Yes",
               amount="£1,250.00", gift_aid="Eligible", gift_aid_amount="312.50", message="For the children"),
        jg_row("JG-2", "04/04/2026", amount="10.00"),  # anonymous
        jg_row("JG-3", "05/04/2026", user="u-2", first="Jean", last="Dupont", email="jean@example.fr",
               line1="5 Rue de la Paix", town="Paris", postcode="75002", country="France", amount="25.00",
               gift_aid="Eligible", gift_aid_amount="6.25"),
        jg_row("JG-4", "06/04/2026", user="u-3", first="李", last="伟", line1="Flat 2 Rose Court", town="Leeds",
               postcode="LS1 4AP", contact="Yes", amount="5", gift_aid="Eligible", gift_aid_amount="1.25"),
        jg_row("JG-5", "07/04/2026", user="u-4", first="Ann", last="Lee", email="ann@example.org", amount="20.00",
               gift_aid="Eligible", gift_aid_amount="5.00"),  # eligible, but no address
    ]

    def test_a_report_is_checked_then_imported_then_found_again_and_rolled_back(self, fundraiser_client, winter):
        first = upload(fundraiser_client, jg_report(self.ROWS), "justgiving", "JustGiving donations report")
        assert first.mapping["amount"] == "Donation Auth Amount" and first.mapping["external_id"] == "Donor User Id"

        report = check(fundraiser_client, first)
        page = report.content.decode()
        assert "Checked: nothing has been saved yet" in page
        assert first.summary["gifts created"] == 5 and first.summary["supporters created"] == 4
        assert not Donation.objects.exists() and not Supporter.objects.exists()
        assert "lacks the donor&#x27;s name or address" in page or "lacks the donor's name or address" in page
        assert "outside the UK" in page

        done = confirm(fundraiser_client, first)
        assert first.status == DataImport.Status.IMPORTED and "Imported" in done.content.decode()
        gifts = {gift.import_ref: gift for gift in Donation.objects.select_related("supporter")}
        assert len(gifts) == 5 and all(g.gift_aid_claimed_by == "JustGiving" for g in gifts.values())
        assert all(g.payment_method == PaymentMethod.PLATFORM and g.campaign == winter for g in gifts.values())
        zoe = gifts["JG-1"]
        assert (zoe.amount_pence, zoe.given_on) == (125_000, datetime.date(2026, 4, 3))
        assert (zoe.supporter.first_name, zoe.supporter.last_name, zoe.supporter.email) == ("Zoë", "O'Brien",
                                                                                            "zoe@example.org")
        assert (zoe.supporter.address_house, zoe.supporter.address_street, zoe.supporter.postcode) == (
            "12", "High Street", "YO1 7HH")
        assert zoe.gift_aid_declared and gifts["JG-4"].gift_aid_declared
        assert gifts["JG-2"].supporter is None and "Anonymous" in gifts["JG-2"].description
        assert not gifts["JG-3"].gift_aid_declared and gifts["JG-3"].supporter.country.code == "FR"
        assert gifts["JG-3"].supporter.postcode == "75002"  # as written: not a UK postcode
        assert not gifts["JG-5"].gift_aid_declared
        assert gifts["JG-4"].supporter.first_name == "李"
        # Further contact: email and post consent, with JustGiving's wording and the file's row; "No": none.
        consent = ConsentEvent.objects.get(supporter=zoe.supporter, channel=Channel.EMAIL)
        assert consent.granted and "JustGiving" in consent.wording and "row 2" in consent.source_detail
        assert zoe.supporter.consent_post and not gifts["JG-3"].supporter.consent_email
        assert not ConsentEvent.objects.filter(supporter=gifts["JG-5"].supporter).exists()
        # Counted once, everywhere: the campaign (the anonymous gift too), the dashboard's rollups.
        assert campaign_totals(winter) == {"raised": 131_000, "gifts": 5, "donors": 4}
        assert DailyIncome.objects.aggregate(kept=Sum("kept_pence"), gifts=Sum("gifts"), new=Sum("new_donors")) == {
            "kept": 131_000, "gifts": 5, "new": 4}
        assert DonorYear.objects.count() == 4
        # Never in our Gift Aid claims: JustGiving claims it.
        with pytest.raises(ApplicationError, match="none is eligible"):
            gift_aid_claims.gift_aid_claim_build(period_start=datetime.date(2026, 4, 1),
                                                 period_end=datetime.date(2026, 4, 30))

        again = upload(fundraiser_client, jg_report(self.ROWS), "justgiving", "JustGiving donations report")
        page = check(fundraiser_client, again).content.decode()
        assert again.summary["gifts already imported"] == 5 and "gifts created" not in again.summary
        assert "This same file was imported" in page
        confirm(fundraiser_client, again)
        assert Donation.objects.count() == 5 and Supporter.objects.count() == 4

        rollback = fundraiser_client.post(f"/admin/imports/{first.pk}/roll-back/")
        assert rollback.status_code == 302
        first.refresh_from_db()
        assert first.status == DataImport.Status.ROLLED_BACK
        assert not Donation.objects.exists() and not Supporter.objects.exists()
        assert not ConsentEvent.objects.exists() and not DonorYear.objects.exists()
        assert campaign_totals(winter) == {"raised": 0, "gifts": 0, "donors": 0}
        assert DailyIncome.objects.aggregate(kept=Sum("kept_pence"), new=Sum("new_donors")) == {"kept": 0, "new": 0}
        assert not CampaignSupporter.objects.exists()

    def test_people_are_found_by_platform_id_email_or_name_and_postcode(self, fundraiser_client, winter):
        by_email = SupporterFactory(first_name="Ann", last_name="Lee", email="ann@example.org")
        by_name = SupporterFactory(first_name="Raj", last_name="Patel", email="", postcode="M1 1AE",
                                   address_town="Manchester")
        namesake = SupporterFactory(first_name="Sam", last_name="Hill", email="", postcode="B1 1AA",
                                    address_town="Birmingham")
        rows = [
            jg_row("A-1", "01/05/2026", user="u-9", first="Ann", last="Lee", email="ANN@example.org"),
            jg_row("A-2", "01/05/2026", user="u-8", first="raj", last="PATEL", line1="3 Oak Road", town="Manchester",
                   postcode="m11ae"),
            jg_row("A-3", "01/05/2026", user="u-7", first="Sam", last="Hill", line1="9 Elm Road", town="Leeds",
                   postcode="LS6 2AA"),
            jg_row("A-4", "02/05/2026", user="u-9", first="A.", last="Lee"),  # the same donor by JustGiving's id
        ]
        data_import = upload(fundraiser_client, jg_report(rows), "justgiving", "JustGiving donations report")
        check(fundraiser_client, data_import)
        confirm(fundraiser_client, data_import)
        gifts = {gift.import_ref: gift.supporter_id for gift in Donation.objects.all()}
        assert gifts["A-1"] == gifts["A-4"] == by_email.pk
        assert gifts["A-2"] == by_name.pk
        new_sam = Supporter.objects.get(pk=gifts["A-3"])
        assert new_sam.pk != namesake.pk and new_sam.address_town == "Leeds"
        flag = LikelyDuplicate.objects.get(supporter=new_sam)
        assert flag.may_be == namesake and "Birmingham" in flag.reason
        assert data_import.summary["supporters created"] == 1
        assert "see Possible duplicates" in fundraiser_client.get(f"/admin/imports/{data_import.pk}/").content.decode()
        # Staff review it: listed with both records; dismissed, it goes from the list.
        review = fundraiser_client.get("/admin/supporter/duplicates/").content.decode()
        assert "Added by imports" in review and new_sam.reference in review and namesake.reference in review
        assert f"/admin/supporter/{namesake.pk}/merge/?duplicate={new_sam.pk}" in review
        fundraiser_client.post(f"/admin/supporter/duplicates/{flag.pk}/dismiss/")
        assert "Added by imports" not in fundraiser_client.get("/admin/supporter/duplicates/").content.decode()

    def test_an_overlapping_month_adds_only_the_new_gifts(self, finance_client, winter):
        first = upload(finance_client, jg_report(self.ROWS[:3]), "justgiving", "JustGiving donations report")
        check(finance_client, first)
        confirm(finance_client, first)
        second = upload(finance_client, jg_report(self.ROWS[1:]), "justgiving", "JustGiving donations report")
        check(finance_client, second)
        assert second.summary["gifts already imported"] == 2 and second.summary["gifts created"] == 2
        confirm(finance_client, second)
        assert sorted(Donation.objects.values_list("import_ref", flat=True)) == ["JG-1", "JG-2", "JG-3", "JG-4",
                                                                                  "JG-5"]

    def test_a_closed_month_or_a_claim_stops_the_rollback_and_says_which(self, finance_client, winter, finance_user):
        from finance.services.months import month_close

        data_import = upload(finance_client, jg_report(self.ROWS[:2]), "justgiving", "JustGiving donations report")
        check(finance_client, data_import)
        confirm(finance_client, data_import)
        month_close(month=datetime.date(2026, 4, 1), by=finance_user)
        response = finance_client.post(f"/admin/imports/{data_import.pk}/roll-back/", follow=True)
        assert "April 2026" in response.content.decode() and "Not rolled back" in response.content.decode()
        data_import.refresh_from_db()
        assert data_import.status == DataImport.Status.IMPORTED and Donation.objects.count() == 2


SUPPORTER_HEADINGS = ["Constituent ID", "Title", "Forename", "Surname", "Email Address", "Address 1", "Address 2",
                      "Town", "Post Code", "Country", "Email opt in", "Post opt in", "Consent date"]


class TestSupporters:
    ROWS = [
        ["C1", "Mrs", "Siân", "Ó Briain", "sian@example.org", "Rose Cottage", "Church Lane", "Ludlow", "SY8 1AA",
         "", "Yes", "No", "14/02/2024"],
        ["C2", "", "Łukasz", "Kowalski", "", "4 Mill Street", "", "Bristol", "BS1 4DJ", "UK", "", "yes", ""],
        ["C3", "Dr", "Amara", "Okafor", "amara@example.org", "", "", "", "", "", "no", "", ""],
    ]

    def test_a_crm_export_in_windows_1252_is_mapped_once_and_remembered(self, fundraiser_client):
        rows = [row for row in self.ROWS if row[0] != "C2"]  # Windows-1252 has no Ł
        first = upload(fundraiser_client, csv_file(rows, SUPPORTER_HEADINGS, encoding="cp1252"), "supporters",
                       "Old CRM")
        assert first.mapping == {"external_id": "Constituent ID", "title": "Title", "first_name": "Forename",
                                 "last_name": "Surname", "email": "Email Address", "address_line_1": "Address 1",
                                 "address_line_2": "Address 2", "town": "Town", "postcode": "Post Code",
                                 "country": "Country", "consent_email": "Email opt in", "consent_post": "Post opt in",
                                 "consent_date": "Consent date"}
        page = check(fundraiser_client, first).content.decode()
        assert "Consent is recorded with the words" in page  # consent columns need the wording
        check(fundraiser_client, first, consent_wording="Tick to hear from us by email or post.")
        assert first.problem_count == 0 and first.summary["supporters created"] == 2
        confirm(fundraiser_client, first)
        sian = Supporter.objects.get(first_name="Siân")
        assert (sian.last_name, sian.address_house, sian.address_street, sian.postcode) == (
            "Ó Briain", "Rose Cottage", "Church Lane", "SY8 1AA")
        assert sian.consent_email and not sian.consent_post
        event = sian.consent_events.get(channel=Channel.EMAIL)
        assert event.occurred_at.date() == datetime.date(2024, 2, 14) and event.wording.startswith("Tick")
        assert sian.consent_events.get(channel=Channel.POST).granted is False  # her "no" is kept as her answer
        assert ImportMapping.objects.get(kind="supporters", format_name="Old CRM").mapping == first.mapping

        # UTF-8 with Excel's mark, next time: the mapping is remembered; everyone is found again.
        second = upload(fundraiser_client, csv_file(self.ROWS, SUPPORTER_HEADINGS, encoding="utf-8-sig"),
                        "supporters", "Old CRM")
        assert second.mapping == first.mapping
        check(fundraiser_client, second, consent_wording="Tick to hear from us by email or post.")
        assert second.summary["supporters created"] == 1 and second.summary["supporters matched"] == 2
        confirm(fundraiser_client, second)
        assert Supporter.objects.get(first_name="Łukasz").consent_post
        # A person whose answers differ across rows, and the whole file again: no consent recorded twice.
        events = ConsentEvent.objects.count()
        changed = [*self.ROWS, ["C1", "Mrs", "Siân", "Ó Briain", "sian@example.org", "Rose Cottage", "Church Lane",
                                "Ludlow", "SY8 1AA", "", "No", "", "01/03/2023"]]
        for _ in range(2):
            again = upload(fundraiser_client, csv_file(changed, SUPPORTER_HEADINGS), "supporters", "Old CRM")
            check(fundraiser_client, again, consent_wording="Tick to hear from us by email or post.")
            confirm(fundraiser_client, again)
        assert ConsentEvent.objects.count() == events + 1  # her older "no", once
        assert Supporter.objects.get(first_name="Siân").consent_email  # the newer "yes" stands

    def test_utf16_and_xlsx_read_as_the_same_rows(self, fundraiser_client):
        for file in (csv_file(self.ROWS, SUPPORTER_HEADINGS, encoding="utf-16", name="people.csv"),
                     xlsx_file(self.ROWS, SUPPORTER_HEADINGS)):
            data_import = upload(fundraiser_client, file, "supporters", "Old CRM")
            check(fundraiser_client, data_import, consent_wording="Tick to hear from us.")
            assert data_import.problem_count == 0 and data_import.summary["supporters created"] == 3, file.name


def xlsx_file(rows, headings, name="people.xlsx"):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(headings)
    for row in rows:
        sheet.append(row)
    data = io.BytesIO()
    workbook.save(data)
    data.seek(0)
    data.name = name
    return data


GIFT_HEADINGS = ["Reference", "Supporter reference", "First name", "Last name", "Email", "Date", "Amount", "Method",
                 "Campaign", "Appeal", "Gift Aid"]


class TestBadInput:
    def test_every_problem_is_named_by_row_and_column_and_nothing_is_saved(self, finance_client, winter):
        rows = [
            ["G-1", "", "Ann", "Lee", "ann@example.org", "03/04/2026", "£12.50", "cheque", "", "", "no"],
            ["G-2", "", "Bo", "Ng", "", "31/02/2026", "12.50", "cash", "", "", ""],
            ["G-3", "", "Cy", "Ray", "", "04/04/2026", "twelve", "cheque", "", "", ""],
            ["G-4", "", "Di", "Fox", "", "04/04/2026", "5", "barter", "Summer", "", ""],
            ["", "", "Ed", "Orr", "", "04/04/2099", "5", "cash", "", "WIN-EMAIL", ""],
            ["G-6", "S9999999", "", "", "", "04/04/2026", "5", "cash", "", "", ""],
        ]
        data_import = upload(finance_client, csv_file(rows, GIFT_HEADINGS), "gifts", "Standard gifts file")
        page = check(finance_client, data_import).content.decode()
        problems = {(row, column) for row, column, _, _ in data_import.problems}
        assert problems == {(3, "Date"), (4, "Amount"), (5, "Method"), (5, "Campaign"), (6, "Reference"),
                            (6, "Date"), (7, "Supporter reference")}
        assert "is not a real date" in page and "is not an amount of money" in page and "in the future" in page
        assert "Nothing has been saved" in page
        assert not Donation.objects.exists() and not Supporter.objects.exists()
        response = finance_client.post(f"/admin/imports/{data_import.pk}/", {"action": "import"}, follow=True)
        assert "Nothing was imported" in response.content.decode()
        assert not Donation.objects.exists() and not Supporter.objects.exists()

        # Staff choose to leave the bad rows out: the good row alone is saved, the others listed.
        finance_client.post(f"/admin/imports/{data_import.pk}/", {"action": "skip_bad_rows"})
        confirm(finance_client, data_import)
        assert data_import.status == DataImport.Status.IMPORTED
        assert list(Donation.objects.values_list("import_ref", "amount_pence", "payment_method")) == [
            ("G-1", 1250, "cheque")]

    def test_a_missing_column_an_invalid_postcode_and_a_uk_address_without_one(self, fundraiser_client):
        rows = [["C1", "", "Ann", "Lee", "", "1 High St", "", "York", "ZZ99 9ZZ", "", "", "", ""],
                ["C2", "", "Bo", "Ng", "", "2 High St", "", "York", "", "GB", "", "", ""]]
        data_import = upload(fundraiser_client, csv_file(rows, SUPPORTER_HEADINGS), "supporters", "Old CRM")
        check(fundraiser_client, data_import, map_last_name="")
        assert {(row, column) for row, column, _, _ in data_import.problems} == {(1, "Last name")}
        check(fundraiser_client, data_import, map_last_name="Surname")
        assert {(row, column) for row, column, _, _ in data_import.problems} == {(2, "Post Code"), (3, "Post Code")}
        assert "not a valid UK postcode" in data_import.problems[0][3]

    @pytest.mark.parametrize("content, name, message", [
        (b"", "empty.csv", "The submitted file is empty"),
        (b"Reference,Date,Amount\r\n", "header-only.csv", "no rows under"),
        (b"%PDF-1.7 report", "report.pdf", "This is a PDF"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1old", "old.xls", "old Excel file"),
        (b"PK\x03\x04not really", "archive.zip", "zip archive"),
        (b"PK\x03\x04broken", "broken.xlsx", "could not be opened as an Excel workbook"),
    ])
    def test_files_that_are_not_imports_are_explained(self, fundraiser_client, content, name, message):
        file = io.BytesIO(content)
        file.name = name
        response = fundraiser_client.post("/admin/imports/new/", {"kind": "gifts", "file": file})
        if response.status_code == 302:  # readable headings: the problem shows in the dry run
            data_import = DataImport.objects.get()
            page = check(fundraiser_client, data_import).content.decode()
            assert message in page and not Donation.objects.exists()
        else:
            assert response.status_code == 200 and message in response.content.decode()
            assert not DataImport.objects.exists()

    def test_a_file_over_the_limit_is_refused_before_it_is_read(self, fundraiser_client, settings):
        settings.IMPORT_MAX_MB = 1
        file = io.BytesIO(b"Reference,Date,Amount\r\n" + b"G,01/01/2026,1\r\n" * 80_000)
        file.name = "big.csv"
        response = fundraiser_client.post("/admin/imports/new/", {"kind": "gifts", "file": file})
        assert response.status_code == 200 and "the most we import at once is 1 MB" in response.content.decode()
        assert not DataImport.objects.exists()

    def test_a_spreadsheet_with_formulas_names_the_cells(self, fundraiser_client, winter):
        workbook = openpyxl.Workbook()
        sheet = workbook.active
        sheet.append(["Reference", "Date", "Amount", "First name", "Last name"])
        sheet.append(["G-1", "03/04/2026", "=10*2", "Ann", "Lee"])
        sheet.append(["G-2", "03/04/2026", 15, "Bo", "Ng"])
        data = io.BytesIO()
        workbook.save(data)
        data.seek(0)
        data.name = "gifts.xlsx"
        data_import = upload(fundraiser_client, data, "gifts")
        check(fundraiser_client, data_import)
        assert [(row, column) for row, column, _, _ in data_import.problems] == [(2, "Amount")]
        assert "formula" in data_import.problems[0][3]


class TestDeclarations:
    HEADINGS = ["supporter_reference", "email", "title", "first_name", "last_name", "house", "street", "town",
                "postcode", "country", "declared_on", "scope"]

    def test_paper_declarations_join_the_flow_and_a_second_import_adds_nothing(self, fundraiser_client):
        zoe = SupporterFactory(email="zoe@example.org", last_name="Smith-Jones")
        assert fundraiser_client.get("/admin/gift-aid-import/").url == "/admin/imports/new/?kind=declarations"
        rows = [["", "ZOE@example.org", "Dr", "Zoë", "Smith-Jones", "Flat 3", "Elm Road", "Leeds", "ls6 2aa", "",
                 "03/04/2026", "future_gifts"],
                ["S9999999", "", "", "Omar", "Quist", "3", "", "", "M1 1AE", "", "2026-02-01", ""]]
        data_import = upload(fundraiser_client, csv_file(rows, self.HEADINGS), "declarations")
        check(fundraiser_client, data_import)
        assert [(row, column) for row, column, _, _ in data_import.problems] == [(3, "supporter_reference")]
        good = upload(fundraiser_client, csv_file(rows[:1], self.HEADINGS), "declarations")
        check(fundraiser_client, good)
        confirm(fundraiser_client, good)
        declaration = zoe.gift_aid_declarations.get()
        assert (declaration.postcode, declaration.scope, declaration.data_import) == ("LS6 2AA", "future_gifts", good)
        again = upload(fundraiser_client, csv_file(rows[:1], self.HEADINGS), "declarations")
        check(fundraiser_client, again)
        assert again.summary["declarations already held"] == 1
        confirm(fundraiser_client, again)
        assert GiftAidDeclaration.objects.count() == 1


class TestCommand:
    def test_the_command_prints_the_summary_and_fails_on_a_file_with_problems(self, tmp_path, winter, capsys):
        path = tmp_path / "DonationsReport-1.csv"
        path.write_bytes(jg_report(TestJustGiving.ROWS).getvalue())
        call_command("import_data", "justgiving", str(path), "--dry-run")
        out = capsys.readouterr().out
        assert "Checked (nothing saved)" in out and "gifts created: 5" in out and not Donation.objects.exists()
        call_command("import_data", "justgiving", str(path))
        assert "Imported" in capsys.readouterr().out and Donation.objects.count() == 5
        call_command("import_data", "justgiving", str(path))
        assert "gifts already imported: 5" in capsys.readouterr().out and Donation.objects.count() == 5

        bad = tmp_path / "bad.csv"
        bad.write_bytes(jg_report([jg_row("X-1", "32/01/2026")]).getvalue())
        with pytest.raises(CommandError, match="1 problem in the file: nothing was saved"):
            call_command("import_data", "justgiving", str(bad))
        assert "row 2, column “Donation Date”" in capsys.readouterr().out


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # keep the roles that migrations made
def test_two_imports_of_one_report_at_once_add_each_gift_and_person_once(winter, finance_user):
    from django.db import connection

    from supporters.services import imports as import_services
    from tests.helpers import run_at_once

    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL")
    imports = []
    for _ in range(2):
        imports.append(import_services.data_import_upload(
            uploaded=jg_report(TestJustGiving.ROWS), file_name="DonationsReport.csv", kind="justgiving",
            by=finance_user))
        import_services.data_import_check(data_import=imports[-1], by=finance_user)
    done = run_at_once(*(lambda data_import=data_import: import_services.data_import_confirm(
        data_import=data_import, by=finance_user) for data_import in imports))
    assert len(done) == 2
    assert Donation.objects.count() == 5 and Supporter.objects.count() == 4
    assert sorted(sum(d.summary.get("gifts created", 0) for d in DataImport.objects.filter(pk=i.pk))
                  for i in imports) == [0, 5]
    # The same Confirm pressed twice at once imports once.
    third = import_services.data_import_upload(uploaded=jg_report([jg_row("JG-9", "08/04/2026")]),
                                               file_name="more.csv", kind="justgiving", by=finance_user)
    import_services.data_import_check(data_import=third, by=finance_user)
    results = run_at_once(lambda: import_services.data_import_confirm(data_import=third, by=finance_user),
                          workers=2)
    assert [getattr(r, "message", None) for r in results].count("This file has been imported already.") == 1
    assert Donation.objects.count() == 6


class TestPersonalData:
    def test_files_are_kept_for_a_while_and_forgotten_when_someone_in_them_is_erased(self, fundraiser_client,
                                                                                    winter, settings):
        from supporters.services import supporter_erase

        data_import = upload(fundraiser_client, jg_report(TestJustGiving.ROWS), "justgiving")
        check(fundraiser_client, data_import)
        confirm(fundraiser_client, data_import)
        other = upload(fundraiser_client, jg_report([jg_row("JG-8", "09/04/2026")]), "justgiving")
        check(fundraiser_client, other)
        path = data_import.file.path
        assert data_import.preview and open(path, "rb").read().count(b"O'Brien") == 1

        zoe = Donation.objects.get(import_ref="JG-1").supporter
        supporter_erase(supporter=zoe, reason="Asked to be forgotten")
        data_import.refresh_from_db()
        assert not data_import.file and data_import.preview == [] and data_import.summary["notes"] == []
        assert data_import.summary["gifts created"] == 5  # what it did stays
        import os
        assert not os.path.exists(path)
        page = fundraiser_client.get(f"/admin/imports/{data_import.pk}/").content.decode()
        assert "O&#x27;Brien" not in page and "O'Brien" not in page

        other.refresh_from_db()
        assert other.file  # an import that never named her keeps its file until the purge
        call_command("purge_import_files", "--days", "0")
        other.refresh_from_db()
        assert not other.file and other.preview == []
        response = fundraiser_client.post(f"/admin/imports/{other.pk}/", {"action": "import"}, follow=True)
        assert "no longer kept" in response.content.decode() and Donation.objects.count() == 5


def test_a_large_file_is_checked_and_imported_by_the_task_worker(fundraiser_client, winter, settings,
                                                                 django_capture_on_commit_callbacks):
    settings.IMPORT_BACKGROUND_MB = 0  # every file is "large"
    data_import = upload(fundraiser_client, jg_report(TestJustGiving.ROWS), "justgiving")
    with django_capture_on_commit_callbacks() as queued:
        page = check(fundraiser_client, data_import).content.decode()
    assert "Checking the file" in page and "refreshes itself" in page and "Import 5 rows" not in page
    assert data_import.working_on == "check" and not data_import.summary
    for callback in queued:
        callback()  # the worker takes the task (TASK_BACKEND=immediate runs it here)
    page = fundraiser_client.get(f"/admin/imports/{data_import.pk}/").content.decode()
    data_import.refresh_from_db()
    assert data_import.working_on == "" and data_import.summary["gifts created"] == 5 and "Import 5 rows" in page

    with django_capture_on_commit_callbacks(execute=True):
        fundraiser_client.post(f"/admin/imports/{data_import.pk}/", {"action": "import"})
    data_import.refresh_from_db()
    assert data_import.status == DataImport.Status.IMPORTED and Donation.objects.count() == 5


def test_names_in_any_script_round_trip_from_a_file_to_an_export(fundraiser_client, winter):
    names = [("Zoë", "O'Brien-Ćosić"), ("李", "伟"), ("Σοφία", "Παπαδοπούλου"), ("فاطمة", "الزهراء"), ("Ана", "Іваненко")]
    rows = [[f"C{n}", "", first, last, f"p{n}@example.org", "", "", "", "", "", "", "", ""]
            for n, (first, last) in enumerate(names)]
    data_import = upload(fundraiser_client, csv_file(rows, SUPPORTER_HEADINGS, encoding="utf-8-sig"), "supporters")
    check(fundraiser_client, data_import)
    confirm(fundraiser_client, data_import)
    for file_format in ("csv", "xlsx"):
        response = fundraiser_client.get("/admin/supporter/", {"export": file_format})
        content = b"".join(response.streaming_content) if response.streaming else response.content
        if file_format == "csv":
            heading = next(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
            first, last = heading.index("First name"), heading.index("Last name")
            exported = {(row[first], row[last]) for row in csv.reader(io.StringIO(content.decode("utf-8-sig")))}
        else:
            sheet = openpyxl.load_workbook(io.BytesIO(content)).active
            values = list(sheet.values)
            first, last = values[0].index("First name"), values[0].index("Last name")
            exported = {(row[first], row[last]) for row in values[1:]}
        assert set(names) <= exported, file_format
