"""Gift Aid declarations through the real Wagtail admin, as the staff roles use
them: taking one by phone (with its written confirmation), on paper, cancelling,
completing missing details, and importing a spreadsheet of paper forms."""

import datetime
import io

import openpyxl
import pytest
from django.contrib.auth.models import Group, Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from supporters import services
from supporters.models import GiftAidDeclaration, Interaction
from tests.helpers import log_in_verified
from tests.supporters import import_steps

pytestmark = pytest.mark.django_db

TAX_STATEMENT = ("I am a UK taxpayer and understand that if I pay less Income Tax and/or Capital Gains Tax than the "
                 "amount of Gift Aid claimed on all my donations in that tax year it is my responsibility to pay "
                 "any difference.")


def today():
    return timezone.localdate()


def days_ago(n):
    return today() - datetime.timedelta(days=n)


def inspect(client, supporter):
    return client.get(f"/admin/supporter/inspect/{supporter.pk}/").content.decode()


def record_form(supporter, **changes):
    data = {
        "method": "oral", "scope": "all_gifts", "declared_on": today().isoformat(),
        "title": supporter.title, "first_name": supporter.first_name, "last_name": supporter.last_name,
        "address_house": supporter.address_house, "address_street": supporter.address_street,
        "address_town": supporter.address_town, "postcode": supporter.postcode, "country": "GB",
        "source_detail": "call 77", "send_confirmation": "on",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def declare(supporter, method="written", declared_on=None, **kwargs):
    """A declaration recorded through the service, as the screens and the donation form do."""
    return services.gift_aid_declaration_record(
        supporter=supporter, method=method, wording=services.gift_aid_wording(),
        wording_version=services.GIFT_AID_WORDING_VERSION, declared_on=declared_on or today(), **kwargs,
    )


def url(supporter, action, declaration=None):
    if declaration is None:
        return f"/admin/supporter/{supporter.pk}/gift-aid/{action}/"
    return f"/admin/supporter/{supporter.pk}/gift-aid/{declaration.pk}/{action}/"


class TestRecordByPhone:
    def test_the_form_shows_the_script_and_the_supporters_details(self, fundraiser_client, supporter_factory):
        supporter = supporter_factory(first_name="Amara", last_name="Okafor", address_house="7")
        page = fundraiser_client.get(url(supporter, "new")).content.decode()
        assert "Read this to the supporter, word for word" in page
        assert "Brightwell Children&#x27;s Trust" in page and "it is your responsibility to pay any difference" in page
        assert "within 30 days" in page
        assert 'value="Amara"' in page and 'value="Okafor"' in page and 'value="7"' in page
        assert 'name="send_confirmation"' in page and "checked" in page

    def test_record_by_phone_and_email_the_written_confirmation(self, fundraiser_client, fundraiser, supporter_factory,
                                                                mailoutbox):
        supporter = supporter_factory(title="Ms", first_name="Siobhán", last_name="O'Neill-Byrne",
                                      email="siobhan@example.org", address_house="Flat 2, Rose Court",
                                      address_street="Mill Lane", address_town="Leeds", postcode="LS6 2AA")
        response = fundraiser_client.post(url(supporter, "new"), record_form(supporter, postcode="ls62aa",
                                                                            declared_on=days_ago(1).isoformat()))
        assert response.status_code == 302 and response.url == f"/admin/supporter/inspect/{supporter.pk}/"

        declaration = supporter.gift_aid_declarations.get()
        assert (declaration.method, declaration.scope) == ("oral", "all_gifts")
        assert (declaration.first_name, declaration.last_name) == ("Siobhán", "O'Neill-Byrne")
        assert (declaration.address_house, declaration.postcode) == ("Flat 2, Rose Court", "LS6 2AA")
        assert declaration.declared_on == days_ago(1)
        assert declaration.wording == services.gift_aid_oral_script(scope="all_gifts")
        assert declaration.wording_version == services.GIFT_AID_ORAL_SCRIPT_VERSION
        assert declaration.recorded_by == fundraiser and "call 77" in declaration.source_detail
        assert declaration.confirmation_sent_on == today()

        assert len(mailoutbox) == 1
        mail = mailoutbox[0]
        assert mail.to == ["siobhan@example.org"] and "Gift Aid declaration" in mail.subject
        html = mail.alternatives[0][0]
        for body in (mail.body, html.replace("&#x27;", "'")):
            assert "Ms Siobhán O'Neill-Byrne" in body
            assert "Flat 2, Rose Court" in body and "Mill Lane" in body and "Leeds" in body and "LS6 2AA" in body
            assert "30 days" in body
            assert TAX_STATEMENT in " ".join(body.split())
            assert f"{days_ago(1):%-d %B %Y}" in body  # the date of the declaration
            assert f"{today():%-d %B %Y}" in body  # the date of the letter
            assert declaration.reference in body
        assert f"by {today() + datetime.timedelta(days=30):%-d %B %Y}" in mail.body

        page = inspect(fundraiser_client, supporter)
        assert declaration.reference in page and "Active" in page
        assert f"Sent {today():%-d %b %Y}" in page
        assert list(supporter.interactions.filter(kind=Interaction.Kind.EMAIL).values_list("summary", flat=True)) == [
            f"Written confirmation of Gift Aid declaration {declaration.reference} emailed to {supporter.email}"]

    def test_no_email_address_means_post_the_letter(self, fundraiser_client, supporter_factory, mailoutbox):
        supporter = supporter_factory(email="", first_name="Zoë", last_name="D'Arcy")
        response = fundraiser_client.post(url(supporter, "new"), record_form(supporter), follow=True)
        declaration = supporter.gift_aid_declarations.get()
        assert mailoutbox == [] and declaration.confirmation_sent_on is None
        assert "post the letter instead" in response.content.decode()

        letter = fundraiser_client.get(url(supporter, "letter", declaration)).content.decode().replace("&#x27;", "'")
        assert "Zoë D'Arcy" in letter and "N16 8AA" in letter and "30 days" in letter
        assert "Capital Gains Tax" in letter and "Print the letter" in letter
        assert "Not sent yet" in inspect(fundraiser_client, supporter)

        response = fundraiser_client.post(url(supporter, "letter", declaration), {"posted_on": today().isoformat()})
        assert response.status_code == 302
        declaration.refresh_from_db()
        assert declaration.confirmation_sent_on == today()

    def test_unticking_the_box_sends_nothing(self, fundraiser_client, supporter_factory, mailoutbox):
        supporter = supporter_factory()
        fundraiser_client.post(url(supporter, "new"), record_form(supporter, send_confirmation=None))
        assert supporter.gift_aid_declarations.get().confirmation_sent_on is None
        assert mailoutbox == []

    def test_a_paper_form_records_the_model_wording_for_its_scope(self, fundraiser_client, supporter_factory,
                                                                  mailoutbox):
        supporter = supporter_factory()
        fundraiser_client.post(url(supporter, "new"), record_form(supporter, method="written", scope="this_gift"))
        declaration = supporter.gift_aid_declarations.get()
        assert declaration.method == "written" and declaration.scope == "this_gift"
        assert declaration.wording == services.gift_aid_wording(scope="this_gift")
        assert "Gift Aid this donation to" in declaration.wording and TAX_STATEMENT in declaration.wording
        assert mailoutbox == []

    @pytest.mark.parametrize("changes, field, message", [
        ({"address_house": ""}, "address_house", "needs the house name or number"),
        ({"postcode": ""}, "postcode", "needs the postcode of a UK address"),
        ({"postcode": "ZZ99"}, "postcode", "not a valid UK postcode"),
        ({"declared_on": (today() + datetime.timedelta(days=1)).isoformat()}, "declared_on", "cannot be in the future"),
    ])
    def test_bad_details_are_explained_on_the_field_and_nothing_is_saved(
            self, fundraiser_client, supporter_factory, mailoutbox, changes, field, message):
        supporter = supporter_factory()
        response = fundraiser_client.post(url(supporter, "new"), record_form(supporter, **changes))
        assert response.status_code == 200
        assert message in " ".join(response.context["form"].errors[field])
        assert "Nothing was saved" in response.content.decode()
        assert not GiftAidDeclaration.objects.exists()
        assert not supporter.interactions.exists()
        assert mailoutbox == []

    def test_every_missing_detail_is_reported_at_once(self, fundraiser_client, supporter_factory):
        supporter = supporter_factory()
        response = fundraiser_client.post(url(supporter, "new"), record_form(supporter, address_house="", postcode=""))
        assert set(response.context["form"].errors) == {"address_house", "postcode"}


class TestCancel:
    def test_finance_cancels_a_declaration_which_is_kept(self, finance_client, finance_user, supporter_factory):
        supporter = supporter_factory()
        declaration = declare(supporter, declared_on=days_ago(100))
        response = finance_client.post(url(supporter, "cancel", declaration),
                                       {"cancelled_on": days_ago(10).isoformat(), "reason": "No longer pays UK tax"})
        assert response.status_code == 302
        declaration.refresh_from_db()
        assert declaration.cancelled_on == days_ago(10)
        assert declaration.cancellation_reason == "No longer pays UK tax"
        assert not declaration.is_void and declaration.status == "cancelled"
        assert GiftAidDeclaration.objects.count() == 1
        page = inspect(finance_client, supporter)
        assert "Cancelled" in page and "No longer pays UK tax" in page
        entry = supporter.interactions.get(summary__contains="cancelled")
        assert entry.recorded_by == finance_user

    def test_staff_see_every_declaration_a_donors_cancellation_ended(self, finance_client, supporter_factory):
        supporter = supporter_factory()
        older = declare(supporter, declared_on=days_ago(300))
        newer = declare(supporter, declared_on=days_ago(100))
        response = finance_client.post(url(supporter, "cancel", newer),
                                       {"cancelled_on": days_ago(10).isoformat(), "reason": "Emailed: please stop"},
                                       follow=True)
        message = " ".join(str(m) for m in response.context["messages"])
        assert f"{newer.reference}, {older.reference} ended" in message
        assert GiftAidDeclaration.objects.filter(supporter=supporter, cancelled_on=days_ago(10)).count() == 2

    def test_a_second_cancellation_is_refused(self, finance_client, supporter_factory):
        supporter = supporter_factory()
        declaration = declare(supporter, declared_on=days_ago(100))
        finance_client.post(url(supporter, "cancel", declaration),
                            {"cancelled_on": days_ago(10).isoformat(), "reason": "Asked by phone"})
        response = finance_client.post(url(supporter, "cancel", declaration),
                                       {"cancelled_on": days_ago(2).isoformat(), "reason": "Again"})
        assert response.status_code == 200
        assert "already cancelled" in response.content.decode()
        declaration.refresh_from_db()
        assert (declaration.cancelled_on, declaration.cancellation_reason) == (days_ago(10), "Asked by phone")

    @pytest.mark.parametrize("from_days_ago, reason, field, message", [
        (None, "Asked by phone", "cancelled_on", "This field is required"),
        (200, "Asked by phone", "cancelled_on", "cannot take effect before"),
        (1, "   ", "reason", "Give the reason"),
    ])
    def test_bad_cancellations_are_refused(self, finance_client, supporter_factory, from_days_ago, reason, field,
                                           message):
        supporter = supporter_factory()
        declaration = declare(supporter, declared_on=days_ago(100))
        cancelled_on = "" if from_days_ago is None else days_ago(from_days_ago).isoformat()
        response = finance_client.post(url(supporter, "cancel", declaration),
                                       {"cancelled_on": cancelled_on, "reason": reason})
        assert response.status_code == 200
        assert message in " ".join(response.context["form"].errors[field])
        declaration.refresh_from_db()
        assert declaration.cancelled_on is None

    def test_an_oral_declaration_cancelled_within_30_days_is_void(self, fundraiser_client, finance_client,
                                                                   supporter_factory, mailoutbox):
        supporter = supporter_factory()
        fundraiser_client.post(url(supporter, "new"), record_form(supporter, declared_on=days_ago(3).isoformat()))
        declaration = supporter.gift_aid_declarations.get()
        assert declaration.confirmation_sent_on == today() and len(mailoutbox) == 1

        response = finance_client.post(url(supporter, "cancel", declaration),
                                       {"cancelled_on": today().isoformat(), "reason": "Changed her mind"}, follow=True)
        assert "counts as never made" in response.content.decode()
        declaration.refresh_from_db()
        assert declaration.is_void and declaration.status == "void"
        assert "Void" in inspect(finance_client, supporter)

    def test_an_oral_declaration_cancelled_after_30_days_is_only_cancelled(self, finance_client, supporter_factory):
        supporter = supporter_factory()
        declaration = declare(supporter, method="oral", declared_on=days_ago(60))
        services.gift_aid_declaration_confirmation_posted(declaration=declaration, posted_on=days_ago(58))
        finance_client.post(url(supporter, "cancel", declaration),
                            {"cancelled_on": today().isoformat(), "reason": "Moved abroad"})
        declaration.refresh_from_db()
        assert declaration.cancelled_on == today() and not declaration.is_void


def incomplete_declaration(supporter, **fields):
    """A declaration held from before today's checks (an old import), lacking what HMRC needs."""
    values = dict(supporter=supporter, first_name="Ann", last_name="Lee", address_house="", address_street="High St",
                  address_town="Leeds", postcode="", country="GB", declared_on=days_ago(400), method="oral",
                  scope="all_gifts", wording="The old script", wording_version="2019-01",
                  confirmation_sent_on=days_ago(398))
    values.update(fields)
    return GiftAidDeclaration.objects.create(**values)


class TestCompleteDetails:
    def test_completing_makes_a_new_declaration_and_keeps_the_old(self, finance_client, finance_user,
                                                                  supporter_factory):
        supporter = supporter_factory()
        old = incomplete_declaration(supporter)
        before = {f.name: getattr(old, f.name) for f in GiftAidDeclaration._meta.concrete_fields}
        page = inspect(finance_client, supporter)
        assert "house name or number, postcode</strong>: no Gift Aid can be claimed until completed" in page

        data = {"title": "", "first_name": "Ann", "last_name": "Lee", "address_house": "14",
                "address_street": "High St", "address_town": "Leeds", "postcode": "ls6 2aa", "country": "GB",
                "note": "Phoned her today"}
        response = finance_client.post(url(supporter, "complete", old), data)
        assert response.status_code == 302

        old.refresh_from_db()
        assert {f.name: getattr(old, f.name) for f in GiftAidDeclaration._meta.concrete_fields} == before
        new = GiftAidDeclaration.objects.get(supersedes=old)
        assert (new.address_house, new.postcode) == ("14", "LS6 2AA")
        assert (new.method, new.scope, new.declared_on, new.wording, new.wording_version) == (
            old.method, old.scope, old.declared_on, old.wording, old.wording_version)
        assert new.confirmation_sent_on == old.confirmation_sent_on
        assert new.recorded_by == finance_user
        assert "completed by Finance" in new.source_detail and "Phoned her today" in new.source_detail
        assert old.status == "superseded" and new.status == "active" and new.missing_details() == []

        page = inspect(finance_client, supporter)
        assert "Superseded" in page and f"Replaced by {new.reference}" in page
        assert f"<dt>Completes</dt><dd>{old.reference}</dd>" in page

    def test_completing_without_a_postcode_is_refused(self, finance_client, supporter_factory):
        supporter = supporter_factory()
        old = incomplete_declaration(supporter)
        response = finance_client.post(url(supporter, "complete", old), {
            "first_name": "Ann", "last_name": "Lee", "address_house": "14", "postcode": "", "country": "GB"})
        assert response.status_code == 200
        assert "needs the postcode" in " ".join(response.context["form"].errors["postcode"])
        assert GiftAidDeclaration.objects.count() == 1

    def test_a_complete_declaration_has_nothing_to_complete(self, finance_client, supporter_factory):
        supporter = supporter_factory()
        declaration = declare(supporter)
        response = finance_client.post(url(supporter, "complete", declaration), {
            "first_name": "Jane", "last_name": "Doe", "address_house": "99", "postcode": "N16 8AA", "country": "GB"})
        assert "nothing to complete" in response.content.decode()
        assert GiftAidDeclaration.objects.count() == 1

    def test_cancelling_the_completed_declaration_cancels_what_it_completed(self, finance_client, supporter_factory):
        supporter = supporter_factory()
        old = incomplete_declaration(supporter)
        new = services.gift_aid_declaration_complete(
            declaration=old, declared={"address_house": "14", "postcode": "LS6 2AA"})
        response = finance_client.post(url(supporter, "cancel", old), {"cancelled_on": today().isoformat(),
                                                                       "reason": "x"})
        assert f"cancel {new.reference} instead" in response.content.decode()
        finance_client.post(url(supporter, "cancel", new), {"cancelled_on": today().isoformat(), "reason": "Asked"})
        old.refresh_from_db()
        new.refresh_from_db()
        assert old.cancelled_on == new.cancelled_on == today()


class TestPermissions:
    def test_fundraising_records_but_cannot_cancel_or_complete(self, fundraiser_client, supporter_factory):
        supporter = supporter_factory()
        declaration = declare(supporter)
        old = incomplete_declaration(supporter)
        page = inspect(fundraiser_client, supporter)
        assert "Gift Aid declarations" in page and "Record a declaration" in page
        assert "Complete details" not in page and ">Cancel</a>" not in page

        for target in (declaration, old):
            response = fundraiser_client.get(url(supporter, "cancel", target))
            assert (response.status_code, response.url) == (302, "/admin/")
        response = fundraiser_client.post(url(supporter, "cancel", declaration),
                                          {"cancelled_on": today().isoformat(), "reason": "x"})
        assert response.status_code == 302
        response = fundraiser_client.post(url(supporter, "complete", old), {
            "first_name": "Ann", "last_name": "Lee", "address_house": "14", "postcode": "LS6 2AA", "country": "GB"})
        assert response.status_code == 302
        declaration.refresh_from_db()
        assert declaration.cancelled_on is None and GiftAidDeclaration.objects.count() == 2

    def test_finance_sees_every_action(self, finance_client, supporter_factory):
        supporter = supporter_factory()
        declare(supporter, method="oral")
        incomplete_declaration(supporter)
        page = inspect(finance_client, supporter)
        for label in ("Record a declaration", "Complete details", ">Cancel</a>", "Confirmation letter"):
            assert label in page

    def test_a_user_without_a_role_is_turned_away(self, client, django_user_model, supporter_factory):
        supporter = supporter_factory()
        declaration = declare(supporter, method="oral")
        nobody = django_user_model.objects.create_user(username="nobody", password="pass-word-123")
        log_in_verified(client, nobody)
        for path in (url(supporter, "new"), url(supporter, "cancel", declaration),
                     url(supporter, "letter", declaration), "/admin/gift-aid-import/"):
            response = client.get(path)
            assert response.status_code in (302, 403) and "/admin/login/" in response.url
        client.post(url(supporter, "new"), record_form(supporter))
        assert GiftAidDeclaration.objects.count() == 1

    def test_admin_access_without_the_permissions_is_refused(self, client, django_user_model, supporter_factory):
        volunteers = Group.objects.create(name="Volunteers")
        volunteers.permissions.add(*Permission.objects.filter(codename__in=["access_admin", "view_supporter"]))
        volunteer = django_user_model.objects.create_user(username="vol", password="pass-word-123")
        volunteer.groups.add(volunteers)
        log_in_verified(client, volunteer)
        supporter = supporter_factory()
        declaration = declare(supporter, method="oral")
        assert "Gift Aid declarations" not in inspect(client, supporter)
        for path in (url(supporter, "new"), url(supporter, "cancel", declaration),
                     url(supporter, "letter", declaration), "/admin/gift-aid-import/"):
            response = client.get(path)
            assert (response.status_code, response.url) == (302, "/admin/")
        response = client.post(url(supporter, "send-confirmation", declaration))
        assert response.status_code == 302
        declaration.refresh_from_db()
        assert declaration.confirmation_sent_on is None


HEADERS = ["supporter_reference", "email", "title", "first_name", "last_name", "house", "street", "town", "postcode",
           "country", "declared_on", "scope"]


def csv_upload(rows, headers=HEADERS, name="paper-forms.csv"):
    lines = [",".join(headers)] + [",".join(f'"{value}"' for value in row) for row in rows]
    return SimpleUploadedFile(name, ("\n".join(lines) + "\n").encode("utf-8"), content_type="text/csv")


def check_file(client, file):
    """Upload paper declarations through the import flow and run its dry run."""
    data_import = import_steps.upload(client, file, "declarations")
    page = import_steps.check(client, data_import)
    return data_import, page.content.decode()


class TestImport:
    """Paper declarations through the import flow (tests/supporters/test_imports.py has the flow itself)."""

    def test_the_dry_run_reports_every_error_with_row_and_column_and_saves_nothing(
            self, finance_client, supporter_factory):
        jane = supporter_factory(email="jane@example.org")
        erased = supporter_factory()
        services.supporter_erase(supporter=erased, reason="request")
        rows = [
            [jane.reference, "", "Mrs", "Jane", "Doe", "12", "High St", "London", "N16 8AA", "", "01/02/2026", ""],
            ["S9999999", "", "", "Omar", "Quist", "3", "", "", "M1 1AE", "", "2026-02-01", ""],
            ["", "jane@example.org", "", "Jane", "Doe", "", "", "", "N16 8AA", "GB", "01/02/2026", "all_gifts"],
            ["", "nobody@example.org", "", "Jane", "Doe", "12", "", "", "ZZ99", "", "31/02/2026", "every_gift"],
            [erased.reference, "", "", "", "Doe", "12", "", "", "", "", "01/02/2026", ""],
        ]
        data_import, page = check_file(finance_client, csv_upload(rows))
        assert {(row, column) for row, column, _, _ in data_import.problems} == {
            (3, "supporter_reference"),
            (4, "house"),
            (5, "email"), (5, "postcode"), (5, "declared_on"), (5, "scope"),
            (6, "supporter_reference"), (6, "first_name"), (6, "postcode"),
        }
        assert "Nothing has been saved" in page and "No supporter has the reference" in page
        assert "not a valid UK postcode" in page and "is not a real date" in page and "has been erased" in page
        assert not GiftAidDeclaration.objects.exists()
        assert not Interaction.objects.filter(summary__contains="Gift Aid").exists()

    def test_import_then_reimport_makes_no_duplicates(self, fundraiser_client, fundraiser, supporter_factory):
        zoe = supporter_factory(email="zoe@example.org", last_name="smith-jones")
        darcy = supporter_factory(last_name="Doe")
        rows = [
            ["", "ZOE@example.org", "Dr", "Zoë", "Smith-Jones", "Flat 3", "Elm Road", "Leeds", "ls6 2aa", "",
             "03/04/2026", "future_gifts"],
            [darcy.reference, "", "", "Seán", "D'Arcy", "The Old Mill", "", "Cork", "T12 X70A", "Ireland",
             "2026-04-05", ""],
            ["", "zoe@example.org", "Dr", "Zoë", "Smith-Jones", "Flat 3", "Elm Road", "Leeds", "LS6 2AA", "GB",
             "03/04/2026", "future_gifts"],
        ]
        data_import, page = check_file(fundraiser_client, csv_upload(rows))
        assert data_import.problem_count == 0
        assert (data_import.summary["declarations recorded"], data_import.summary["declarations already held"]) == (2, 1)
        # A declared name unlike the record's is pointed out (a mistyped reference?), not refused.
        assert f"not the name on {darcy.reference}" in page
        assert not GiftAidDeclaration.objects.exists()

        import_steps.confirm(fundraiser_client, data_import)
        zoes = zoe.gift_aid_declarations.get()
        assert (zoes.title, zoes.first_name, zoes.last_name) == ("Dr", "Zoë", "Smith-Jones")
        assert (zoes.address_house, zoes.postcode, zoes.scope, zoes.declared_on) == (
            "Flat 3", "LS6 2AA", "future_gifts", datetime.date(2026, 4, 3))
        assert zoes.method == "written" and zoes.recorded_by == fundraiser
        assert zoes.wording == services.gift_aid_wording(scope="future_gifts")
        assert zoes.source_detail == "Imported from “paper-forms.csv”, row 2"
        seans = darcy.gift_aid_declarations.get()
        assert (seans.first_name, seans.last_name, str(seans.country), seans.postcode, seans.scope) == (
            "Seán", "D'Arcy", "IE", "T12 X70A", "all_gifts")

        again, _ = check_file(fundraiser_client, csv_upload(rows))
        assert again.summary["declarations already held"] == 3 and "declarations recorded" not in again.summary
        # The first import, confirmed a second time, imports nothing either.
        replay = fundraiser_client.post(f"/admin/imports/{data_import.pk}/", {"action": "import"}, follow=True)
        assert "imported already" in replay.content.decode()
        assert GiftAidDeclaration.objects.count() == 2

    def test_an_excel_file_with_real_dates_and_numbers(self, finance_client, supporter_factory):
        supporter = supporter_factory()
        book = openpyxl.Workbook()
        sheet = book.active
        sheet.append(["Supporter reference", "First name", "Last name", "House", "Postcode", "Declared on"])
        sheet.append([supporter.reference, "Ann", "Lee", 14, "n168aa", datetime.datetime(2026, 1, 9)])
        sheet.append([None] * 6)  # a blank row left at the end
        data = io.BytesIO()
        book.save(data)
        data_import, _ = check_file(finance_client, SimpleUploadedFile("forms.xlsx", data.getvalue()))
        assert data_import.problem_count == 0, data_import.problems
        import_steps.confirm(finance_client, data_import)
        declaration = supporter.gift_aid_declarations.get()
        assert (declaration.address_house, declaration.postcode, declaration.declared_on) == (
            "14", "N16 8AA", datetime.date(2026, 1, 9))

    def test_confirm_is_all_or_nothing(self, finance_client, supporter_factory):
        first, second = supporter_factory(), supporter_factory()
        rows = [[person.reference, "", "", "Jo", "Bloggs", "1", "", "", "N16 8AA", "", "01/01/2026", ""]
                for person in (first, second)]
        data_import, _ = check_file(finance_client, csv_upload(rows))
        assert data_import.problem_count == 0
        services.supporter_erase(supporter=second, reason="request")  # meanwhile, before the import
        page = import_steps.confirm(finance_client, data_import).content.decode()
        assert [(row, column) for row, column, _, _ in data_import.problems] == [(3, "supporter_reference")]
        assert "Nothing has been saved" in page and data_import.status == "checked"
        assert not GiftAidDeclaration.objects.exists()

    def test_the_import_is_in_the_menu_and_offers_a_template(self, fundraiser_client):
        page = fundraiser_client.get("/admin/").content.decode()
        assert "Import Gift Aid declarations" in page and "Imports" in page
        template = fundraiser_client.get("/admin/imports/template/declarations/")
        assert template.content.decode().strip() == ",".join(HEADERS)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # keep the roles that migrations made
def test_two_people_completing_and_cancelling_at_once_never_do_it_twice(supporter_factory):
    from django.db import connection

    from config.errors import ApplicationError
    from tests.helpers import refusals, run_at_once

    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL")
    supporter = supporter_factory()
    old = incomplete_declaration(supporter)

    def race(action):
        results = run_at_once(action, workers=2)
        return [r for r in results if not isinstance(r, ApplicationError)], refusals(results)

    done, refused = race(lambda: services.gift_aid_declaration_complete(
        declaration=old, declared={"address_house": "14", "postcode": "LS6 2AA"}))
    assert len(done) == 1 and len(refused) == 1 and "already completed" in refused[0]
    assert GiftAidDeclaration.objects.filter(supersedes=old).count() == 1

    new = GiftAidDeclaration.objects.get(supersedes=old)
    done, refused = race(lambda: services.gift_aid_declaration_cancel(
        declaration=new, cancelled_on=today(), reason="Asked by phone"))
    assert len(done) == 1 and len(refused) == 1 and "already cancelled" in refused[0]
