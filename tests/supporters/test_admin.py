"""Staff screens for supporters, through the real Wagtail admin: what each role can
and cannot reach, and the screens that find, edit, merge, export and erase."""

import csv
import io
import json

import pytest
from django.contrib.auth.models import Group

from supporters import services
from supporters.models import ErasureRecord, Supporter

pytestmark = pytest.mark.django_db

WORDING = "Yes, you can send me news by post."


def edit_form_data(supporter, **changes):
    data = {
        "title": supporter.title, "first_name": supporter.first_name, "last_name": supporter.last_name,
        "preferred_name": supporter.preferred_name, "email": supporter.email, "phone": "", "date_of_birth": "",
        "address_house": supporter.address_house, "address_street": supporter.address_street,
        "address_locality": "", "address_town": supporter.address_town, "address_county": "",
        "postcode": supporter.postcode, "country": str(supporter.country), "source": supporter.source,
        "tags": "", "notes": supporter.notes,
    }
    data.update(changes)
    return data


class TestRoles:
    def test_the_two_roles_exist_with_their_permissions(self):
        fundraising = set(Group.objects.get(name="Fundraising").permissions.values_list("codename", flat=True))
        finance = set(Group.objects.get(name="Finance").permissions.values_list("codename", flat=True))
        assert {"access_admin", "change_supporter", "merge_supporter", "erase_supporter",
                "export_supporter_data", "export_supporter_list", "change_campaign"} <= fundraising
        assert finance & {"add_supporter", "change_supporter", "delete_supporter", "merge_supporter",
                          "erase_supporter", "export_supporter_data", "export_supporter_list"} == set()
        assert {"access_admin", "view_supporter"} <= finance

    @pytest.mark.parametrize("url", [
        "/admin/supporter/", "/admin/supporter/inspect/{pk}/", "/admin/supporter/edit/{pk}/",
        "/admin/supporter/new/", "/admin/supporter/duplicates/", "/admin/supporter/{pk}/merge/",
        "/admin/supporter/{pk}/erase/", "/admin/supporter/{pk}/personal-data/", "/admin/supporter/{pk}/consent/",
        "/admin/supporter/mailing-list/email/", "/admin/campaign/new/", "/admin/pages/add/cms/standardpage/{home}/",
    ])
    def test_fundraising_reaches_supporters_campaigns_and_pages(self, fundraiser_client, supporter_factory, url):
        from cms.models import HomePage

        supporter = supporter_factory()
        response = fundraiser_client.get(url.format(pk=supporter.pk, home=HomePage.objects.get().pk))
        assert response.status_code == 200

    @pytest.mark.parametrize("url", ["/admin/supporter/", "/admin/supporter/inspect/{pk}/"])
    def test_finance_reads_supporters(self, finance_client, supporter_factory, url):
        supporter = supporter_factory(first_name="Readable")
        response = finance_client.get(url.format(pk=supporter.pk))
        assert response.status_code == 200
        assert "Readable" in response.content.decode()

    @pytest.mark.parametrize("url", [
        "/admin/supporter/edit/{pk}/", "/admin/supporter/new/", "/admin/supporter/delete/{pk}/",
        "/admin/supporter/duplicates/", "/admin/supporter/{pk}/merge/", "/admin/supporter/{pk}/erase/",
        "/admin/supporter/{pk}/personal-data/", "/admin/supporter/{pk}/consent/", "/admin/supporter/{pk}/timeline/",
        "/admin/supporter/mailing-list/email/", "/admin/supporter/?export=csv", "/admin/campaign/new/",
        "/admin/pages/add/cms/standardpage/{home}/",
    ])
    def test_finance_cannot_change_export_or_erase_supporters_or_edit_pages(self, finance_client, supporter_factory, url):
        from cms.models import HomePage

        supporter = supporter_factory()
        response = finance_client.get(url.format(pk=supporter.pk, home=HomePage.objects.get().pk))
        # Wagtail answers a logged-in user's permission failure with a redirect to the dashboard.
        assert (response.status_code, response.url) == (302, "/admin/")

    def test_finance_cannot_post_an_edit(self, finance_client, supporter_factory):
        supporter = supporter_factory(first_name="Before")
        finance_client.post(f"/admin/supporter/edit/{supporter.pk}/", edit_form_data(supporter, first_name="After"))
        supporter.refresh_from_db()
        assert supporter.first_name == "Before"

    def test_finance_sees_no_action_buttons_on_the_record(self, finance_client, supporter_factory):
        supporter = supporter_factory()
        page = finance_client.get(f"/admin/supporter/inspect/{supporter.pk}/").content.decode()
        for label in ("Edit details", "Erase personal data", "Subject access export", "Merge a duplicate"):
            assert label not in page

    def test_anonymous_visitors_are_sent_to_log_in(self, client, supporter_factory):
        response = client.get("/admin/supporter/")
        assert response.status_code == 302 and "/admin/login/" in response.url


class TestFindAndEdit:
    def test_search_and_filters(self, fundraiser_client, supporter_factory):
        jane = supporter_factory(first_name="Jane", last_name="Marsh", postcode="SW1A 1AA", source="event")
        supporter_factory(first_name="Omar", last_name="Quist", postcode="M1 1AE", source="import")
        jane.tags.add("volunteer")
        services.consent_record(supporter=jane, channel="post", granted=True, method="paper", wording=WORDING)

        def names(query):
            return fundraiser_client.get("/admin/supporter/", query).content.decode()

        assert "Marsh" in names({"q": "marsh"}) and "Quist" not in names({"q": "marsh"})
        assert "Marsh" in names({"q": "sw1a 1aa"}) and "Quist" not in names({"q": "sw1a 1aa"})
        tag_id = jane.tags.get().pk
        assert "Marsh" in names({"tags": tag_id}) and "Quist" not in names({"tags": tag_id})
        assert "Marsh" in names({"consent": "post"}) and "Quist" not in names({"consent": "post"})
        assert "Quist" in names({"source": "import"}) and "Marsh" not in names({"source": "import"})

    def test_edit_normalises_the_postcode(self, fundraiser_client, supporter_factory):
        supporter = supporter_factory()
        response = fundraiser_client.post(f"/admin/supporter/edit/{supporter.pk}/", edit_form_data(supporter, postcode="sw1a1aa"))
        assert response.status_code == 302
        supporter.refresh_from_db()
        assert supporter.postcode == "SW1A 1AA"

    @pytest.mark.parametrize("field, value, message", [
        ("postcode", "ZZ99", "not a valid UK postcode"),
        ("email", "not-an-email", "Enter a valid email address"),
    ])
    def test_bad_input_is_explained_and_changes_nothing(self, fundraiser_client, supporter_factory, field, value, message):
        supporter = supporter_factory(first_name="Unchanged")
        response = fundraiser_client.post(
            f"/admin/supporter/edit/{supporter.pk}/", edit_form_data(supporter, **{field: value, "first_name": "Changed"})
        )
        assert response.status_code == 200
        assert message in response.content.decode()
        supporter.refresh_from_db()
        assert supporter.first_name == "Unchanged"

    def test_record_a_consent_change_taken_by_phone(self, fundraiser_client, fundraiser, supporter_factory):
        supporter = supporter_factory()
        response = fundraiser_client.post(f"/admin/supporter/{supporter.pk}/consent/", {
            "channel": "phone", "granted": "yes", "method": "phone", "occurred_at": "2026-11-20T10:30",
            "wording": "Can we call you about our work?", "source_detail": "call ref 77",
        })
        assert response.status_code == 302
        supporter.refresh_from_db()
        assert supporter.consent_phone is True
        event = supporter.consent_events.get()
        assert (event.method, event.recorded_by, event.source_detail) == ("phone", fundraiser, "call ref 77")

    def test_add_a_note_to_the_timeline(self, fundraiser_client, supporter_factory):
        supporter = supporter_factory()
        fundraiser_client.post(f"/admin/supporter/{supporter.pk}/timeline/", {
            "kind": "call", "occurred_at": "2026-11-20T10:30", "summary": "Thanked for the marathon gift", "detail": "",
        })
        page = fundraiser_client.get(f"/admin/supporter/inspect/{supporter.pk}/").content.decode()
        assert "Thanked for the marathon gift" in page


class TestMergeScreen:
    def test_merge_two_records(self, fundraiser_client, supporter_factory):
        keep = supporter_factory(email="same@example.org")
        other = supporter_factory(email="same@example.org")
        page = fundraiser_client.get(f"/admin/supporter/{keep.pk}/merge/", {"duplicate": other.reference}).content.decode()
        assert other.reference in page
        response = fundraiser_client.post(f"/admin/supporter/{keep.pk}/merge/", {"duplicate": other.pk, "confirm": "on"})
        assert response.status_code == 302
        assert list(Supporter.objects.values_list("pk", flat=True)) == [keep.pk]

    def test_merge_with_itself_shows_an_error_and_changes_nothing(self, fundraiser_client, supporter_factory):
        keep = supporter_factory()
        response = fundraiser_client.post(f"/admin/supporter/{keep.pk}/merge/", {"duplicate": keep.pk, "confirm": "on"})
        assert response.status_code == 200
        assert "cannot be merged with itself" in response.content.decode()
        assert Supporter.objects.filter(pk=keep.pk).exists()

    def test_merge_needs_the_confirmation(self, fundraiser_client, supporter_factory):
        keep, other = supporter_factory(), supporter_factory()
        response = fundraiser_client.post(f"/admin/supporter/{keep.pk}/merge/", {"duplicate": other.pk})
        assert response.status_code == 200
        assert Supporter.objects.count() == 2


class TestPersonalDataScreens:
    def test_subject_access_export_as_json(self, fundraiser_client, supporter_factory):
        supporter = supporter_factory(first_name="Siân", email="sian@example.org")
        services.consent_record(supporter=supporter, channel="post", granted=True, method="paper", wording=WORDING)
        response = fundraiser_client.get(f"/admin/supporter/{supporter.pk}/personal-data/", {"format": "json"})
        assert response["Content-Disposition"].startswith("attachment")
        data = json.loads(response.content)
        assert data["supporter"]["first_name"] == "Siân"
        assert data["consent_history"][0]["wording"] == WORDING

    def test_subject_access_readable_page(self, fundraiser_client, supporter_factory):
        supporter = supporter_factory(email="sian@example.org")
        page = fundraiser_client.get(f"/admin/supporter/{supporter.pk}/personal-data/").content.decode()
        assert "sian@example.org" in page and "Download as JSON" in page

    def test_erase_from_the_record(self, fundraiser_client, supporter_factory):
        supporter = supporter_factory(first_name="Gwen", email="gwen@example.org")
        response = fundraiser_client.post(f"/admin/supporter/{supporter.pk}/erase/", {"reason": "Request SAR-12", "confirm": "on"})
        assert response.status_code == 302
        supporter.refresh_from_db()
        assert supporter.is_erased and supporter.email == "" and supporter.first_name != "Gwen"
        assert ErasureRecord.objects.filter(supporter=supporter, reason="Request SAR-12").exists()
        page = fundraiser_client.get(f"/admin/supporter/inspect/{supporter.pk}/").content.decode()
        assert "personal data was erased" in page and "Gwen" not in page
        # An erased record can no longer be edited.
        fundraiser_client.post(f"/admin/supporter/edit/{supporter.pk}/", edit_form_data(supporter, first_name="Gwen"))
        supporter.refresh_from_db()
        assert supporter.first_name != "Gwen"

    def test_erase_needs_confirmation(self, fundraiser_client, supporter_factory):
        supporter = supporter_factory()
        fundraiser_client.post(f"/admin/supporter/{supporter.pk}/erase/", {"reason": "x"})
        supporter.refresh_from_db()
        assert not supporter.is_erased


class TestMailingListExport:
    def test_only_supporters_with_current_consent_are_exported(self, fundraiser_client, supporter_factory):
        yes = supporter_factory(first_name="Yes", email="yes@example.org")
        withdrew = supporter_factory(first_name="Withdrew", email="withdrew@example.org")
        supporter_factory(first_name="Never", email="never@example.org")
        erased = supporter_factory(first_name="Erased", email="erased@example.org")
        for person in (yes, withdrew, erased):
            services.consent_record(supporter=person, channel="email", granted=True, method="web_form", wording="Email me")
        services.consent_record(supporter=withdrew, channel="email", granted=False, method="unsubscribe", wording="Unsubscribe")
        services.supporter_erase(supporter=erased, reason="request")

        response = fundraiser_client.get("/admin/supporter/mailing-list/email/")
        rows = list(csv.DictReader(io.StringIO(response.getvalue().decode("utf-8-sig"))))
        assert [row["Email"] for row in rows] == ["yes@example.org"]
        assert rows[0]["Reference"] == yes.reference
