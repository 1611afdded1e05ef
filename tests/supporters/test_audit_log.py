"""The audit log of personal data (Reports → Audit log): opening a record or a
subject-access page, a download, a change and an erasure each leave an entry
naming who and when; an erasure leaves the person's data nowhere in the log;
the screen and its download are for superusers and whoever they grant it."""

import csv
import io
import json

import pytest
from django.contrib.auth.models import Permission
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.test.utils import CaptureQueriesContext

from supporters.services import email as email_services
from supporters.models import AuditEntry, ExportRecord
from tests.supporters.test_admin import edit_form_data
from tests.helpers import refused, staff_client

pytestmark = pytest.mark.django_db

LOG = "/admin/audit-log/"
E = AuditEntry.Event




def _entries(**filters):
    return list(AuditEntry.objects.filter(**filters).order_by("id"))


@pytest.fixture
def person(supporter_factory):
    return supporter_factory(first_name="Imogen", last_name="Quarrie", email="imogen.quarrie@larkspur.test",
                             address_street="Larkspur Lane", postcode="SW1A 1AA")


def test_opening_a_record_and_a_subject_access_page_are_logged(fundraiser, person):
    client = staff_client(fundraiser)
    assert client.get(f"/admin/supporter/inspect/{person.pk}/").status_code == 200
    assert client.get(f"/admin/supporter/{person.pk}/personal-data/").status_code == 200
    assert client.get(f"/admin/supporter/{person.pk}/personal-data/", {"format": "json"}).status_code == 200
    entries = _entries(object_pk=str(person.pk), content_type__model="supporter", actor__isnull=False)
    assert [(entry.event, entry.actor, (entry.additional_data or {}).get("page")) for entry in entries] == [
        (E.VIEWED, fundraiser, "record"), (E.VIEWED, fundraiser, "subject access page"),
        (E.EXPORTED, fundraiser, "subject access JSON")]


def test_opening_the_edit_form_is_logged_as_a_look_at_the_record(fundraiser, person):
    assert staff_client(fundraiser).get(f"/admin/supporter/edit/{person.pk}/").status_code == 200
    [entry] = _entries(object_pk=str(person.pk), content_type__model="supporter", actor__isnull=False)
    assert (entry.event, entry.actor, entry.additional_data["page"]) == (E.VIEWED, fundraiser, "edit form")


def test_opening_a_record_costs_the_log_one_insert(fundraiser, person):
    client = staff_client(fundraiser)
    client.get(f"/admin/supporter/inspect/{person.pk}/")  # a first look fills the caches
    with CaptureQueriesContext(connection) as queries:
        assert client.get(f"/admin/supporter/inspect/{person.pk}/").status_code == 200
    audit = [query["sql"] for query in queries if AuditEntry._meta.db_table in query["sql"]]
    assert len(audit) == 1 and audit[0].startswith("INSERT"), audit


def test_a_refused_look_leaves_no_entry(finance_user, person):
    assert refused(staff_client(finance_user).get(f"/admin/supporter/{person.pk}/personal-data/"))
    assert not _entries(event=E.VIEWED)


def test_a_change_in_the_admin_is_logged_with_its_fields_and_who(fundraiser, person):
    response = staff_client(fundraiser).post(f"/admin/supporter/edit/{person.pk}/",
                                        edit_form_data(person, email="imogen@quarrie.test"))
    assert response.status_code == 302
    [entry] = _entries(event=E.CHANGED, content_type__model="supporter")
    assert entry.actor == fundraiser and entry.object_pk == str(person.pk)
    assert entry.changes["email"] == ["imogen.quarrie@larkspur.test", "imogen@quarrie.test"]


def test_consent_and_a_gift_linked_by_staff_are_logged(fundraiser, finance_user, person):
    staff_client(fundraiser).post(f"/admin/supporter/{person.pk}/consent/",
                             {"channel": "post", "granted": "yes", "method": "phone", "occurred_at": "2026-11-20T10:30",
                              "wording": "Post is fine", "source_detail": ""})
    assert [entry.actor for entry in _entries(event=E.CREATED, content_type__model="consentevent")] == [fundraiser]
    response = staff_client(finance_user).post("/admin/donation/offline/", {
        "supporter": person.reference, "amount": "10", "received_on": "2026-11-02", "channel": "offline"})
    assert response.status_code == 302
    [gift] = _entries(event=E.CREATED, content_type__model="donation")
    assert gift.actor == finance_user and str(gift.changes["supporter"][1]) == str(person.pk)


def test_the_public_site_writes_nothing_to_the_log(client, supporter_factory):
    person = supporter_factory(consent_email=True)
    # Only staff work in the admin is logged: a supporter's own unsubscribe (like a gift) adds no insert.
    before = AuditEntry.objects.count()
    token = email_services.unsubscribe_token(supporter_id=person.pk, message_uid="00000000-0000-0000-0000-000000000000")
    assert client.post(f"/email/unsubscribe/{token}/", {"List-Unsubscribe": "One-Click"}).status_code == 200
    assert person.consent_events.filter(granted=False, method="unsubscribe").exists()
    assert AuditEntry.objects.count() == before


def test_a_download_is_logged_pointing_at_its_export_record(fundraiser, person):
    response = staff_client(fundraiser).get("/admin/supporter/", {"export": "csv"})
    assert response.status_code == 200
    record = ExportRecord.objects.get()
    [entry] = _entries(event=E.EXPORTED)
    assert entry.export_record == record and entry.actor == fundraiser


def test_erasure_is_logged_and_leaves_nothing_of_the_person_in_the_log(fundraiser, person):
    client = staff_client(fundraiser)
    client.get(f"/admin/supporter/inspect/{person.pk}/")
    client.post(f"/admin/supporter/edit/{person.pk}/", edit_form_data(person, email="imogen@quarrie.test",
                                                                       notes="Prefers Imogen Q."))
    client.post(f"/admin/supporter/{person.pk}/consent/",
                {"channel": "email", "granted": "yes", "method": "phone", "occurred_at": "2026-11-20T10:30",
                 "wording": "Email Imogen", "source_detail": "Imogen on the phone"})
    client.post(f"/admin/supporter/{person.pk}/timeline/", {"kind": "call", "occurred_at": "2026-11-20T10:30",
                                                                "summary": "Called Imogen Quarrie", "detail": ""})
    assert len(_entries()) >= 4
    response = client.post(f"/admin/supporter/{person.pk}/erase/", {"reason": "SAR-77", "confirm": "on"})
    assert response.status_code == 302
    [erased] = _entries(event=E.ERASED)
    assert erased.actor == fundraiser and erased.object_pk == str(person.pk)
    assert erased.changes is None and "SAR-77" not in erased.object_repr
    # The whole log, as stored, holds none of what identified them.
    stored = json.dumps([{field.attname: getattr(entry, field.attname) for field in AuditEntry._meta.fields}
                         for entry in AuditEntry.objects.all()], cls=DjangoJSONEncoder).lower()
    for personal in ("imogen", "quarrie", "larkspur.test", "quarrie.test", "larkspur", "sw1a"):
        assert personal not in stored, personal
    # What was done, by whom and to which record stays.
    assert {entry.event for entry in _entries(object_pk=str(person.pk), content_type__model="supporter")} == {
        E.CREATED, E.VIEWED, E.CHANGED, E.ERASED}


@pytest.fixture
def auditor(django_user_model):
    user = django_user_model.objects.create_user(username="auditor", password="x")
    user.user_permissions.add(Permission.objects.get(codename="access_admin"),
                              Permission.objects.get(content_type__app_label="supporters", codename="view_auditentry"))
    return user


def test_the_screen_is_for_superusers_and_whoever_they_grant_it(fundraiser, finance_user, admin_user, auditor,
                                                               person):
    staff_client(fundraiser).get(f"/admin/supporter/inspect/{person.pk}/")
    staff_client(finance_user).get(f"/admin/supporter/inspect/{person.pk}/")
    anonymous = staff_client(None).get(LOG)
    assert anonymous.status_code == 302 and "/admin/login/" in anonymous.url
    for user in (fundraiser, finance_user):
        assert refused(staff_client(user).get(LOG)), user
        assert refused(staff_client(user).get(LOG, {"export": "csv"})), user
        assert "Audit log" not in staff_client(user).get("/admin/").content.decode(), user
    for user in (admin_user, auditor):
        page = staff_client(user).get(LOG)
        assert page.status_code == 200 and "Audit log" in staff_client(user).get("/admin/").content.decode(), user
    # Filtered by staff member and action.
    page = staff_client(auditor).get(LOG, {"actor": fundraiser.pk, "event": "viewed"})
    assert [(entry.actor, entry.event) for entry in page.context["object_list"]] == [(fundraiser, E.VIEWED)]
    # The download holds the rows the filter chose, and is itself logged (and audited).
    response = staff_client(auditor).get(LOG, {"export": "csv", "actor": finance_user.pk})
    rows = list(csv.DictReader(io.StringIO(response.getvalue().decode("utf-8"))))
    assert [(row["Staff member"], row["Action"]) for row in rows] == [("finance", "viewed")]
    assert ExportRecord.objects.get(exporter="supporters.auditentry_list").user_name == "auditor"
    assert _entries(event=E.EXPORTED, actor=auditor)


def test_the_screen_filters_by_day(admin_user, fundraiser, person):
    staff_client(fundraiser).get(f"/admin/supporter/inspect/{person.pk}/")
    AuditEntry.objects.update(timestamp="2026-01-15T12:00:00Z")
    client = staff_client(admin_user)
    assert f"#{person.pk}" in client.get(LOG, {"timestamp_from": "2026-01-15",
                                               "timestamp_to": "2026-01-15"}).content.decode()
    assert f"#{person.pk}" not in client.get(LOG, {"timestamp_from": "2026-01-16"}).content.decode()
