"""Reports → Export log: every download made through config.exports (our
exporters and every Wagtail list's CSV and XLSX) leaves a row saying who took
what, when, in which format and how many rows; a refused download leaves none.
The log is for superusers and whoever they grant its view permission to."""

import csv
import datetime
import io

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from donations.services import donation_record_offline
from supporters import services
from supporters.models import ExportRecord
from tests.helpers import refused, staff_client

pytestmark = pytest.mark.django_db

LOG = "/admin/export-log/"




@pytest.fixture
def auditor(django_user_model):
    """Staff given nothing but the admin and the log's view permission."""
    user = django_user_model.objects.create_user(username="auditor", password="x")
    user.user_permissions.add(Permission.objects.get(codename="access_admin"),
                              Permission.objects.get(content_type__app_label="supporters", codename="view_exportrecord"))
    return user


def test_who_may_read_the_log(fundraiser, finance_user, admin_user, auditor):
    ExportRecord.objects.create(user_name="someone", exporter="mailing_list", what="the post mailing list",
                                file_format="csv", rows=3)
    anonymous = staff_client(None).get(LOG)
    assert anonymous.status_code == 302 and "/admin/login/" in anonymous.url
    for user in (fundraiser, finance_user):
        assert refused(staff_client(user).get(LOG)), user
        assert refused(staff_client(user).get(LOG, {"export": "csv"})), user
        assert "Export log" not in staff_client(user).get("/admin/").content.decode(), user
    for user in (admin_user, auditor):
        page = staff_client(user).get(LOG)
        assert page.status_code == 200, user
        assert "the post mailing list" in page.content.decode()
        assert "Export log" in staff_client(user).get("/admin/").content.decode(), user
    # Taking the log away is itself logged (the auditor's download, its one row before).
    assert ExportRecord.objects.filter(exporter="supporters.exportrecord_list").count() == 0
    response = staff_client(auditor).get(LOG, {"export": "csv"})
    rows = list(csv.DictReader(io.StringIO(response.getvalue().decode("utf-8"))))
    assert [row["What"] for row in rows] == ["the post mailing list"]
    assert ExportRecord.objects.get(exporter="supporters.exportrecord_list").user_name == "auditor"


def test_a_download_writes_its_row_with_who_what_and_how_many(fundraiser, supporter_factory):
    for _ in range(3):
        services.consent_record(supporter=supporter_factory(), channel="email", granted=True, method="web_form",
                                wording="Email me")
    supporter_factory()  # no consent: not in the file, not counted
    before = timezone.now()
    response = staff_client(fundraiser).get("/admin/supporter/mailing-list/email/", {"format": "xlsx"})
    assert response.status_code == 200
    record = ExportRecord.objects.get()
    assert (record.user, record.user_name, record.exporter, record.what, record.file_format, record.rows) == (
        fundraiser, "fundraiser", "mailing_list", "the email mailing list", "xlsx", 3)
    assert before <= record.at <= timezone.now()


def test_a_list_download_names_its_filters_and_a_refused_one_leaves_no_row(fundraiser, finance_user,
                                                                            supporter_factory):
    today = timezone.localdate()
    for days_ago in (1, 2, 40):
        donation_record_offline(supporter=supporter_factory(), amount_pence=1000, channel="offline",
                                received_on=today - datetime.timedelta(days=days_ago), by=finance_user)
    period = {"given_from": (today - datetime.timedelta(days=7)).isoformat(), "given_to": today.isoformat()}

    assert refused(staff_client(fundraiser).get("/admin/donation/", {**period, "export": "csv"}))
    assert not ExportRecord.objects.exists()

    response = staff_client(finance_user).get("/admin/donation/", {**period, "export": "csv"})
    assert response.status_code == 200
    assert len(list(csv.reader(io.StringIO(response.getvalue().decode("utf-8"))))) == 1 + 2
    record = ExportRecord.objects.get()
    assert (record.user, record.exporter, record.file_format, record.rows) == (
        finance_user, "donations.donation_list", "csv", 2)
    assert record.what.startswith("the list of donations (") and f"given_from={period['given_from']}" in record.what


def test_a_record_outlives_the_login_that_took_it(fundraiser, supporter_factory):
    staff_client(fundraiser).get("/admin/supporter/", {"export": "csv"})
    fundraiser.delete()
    record = ExportRecord.objects.get()
    assert (record.user, record.user_name, record.exporter) == (None, "fundraiser", "supporters.supporter_list")
