"""Erasure is complete: a supporter with everything a person can have here (an
address and phone, consent history, a Gift Aid declaration, a gift and a
monthly gift with a Stripe customer, a timeline, emails sent and the provider's
events on them, an import that brought them in with its file, a fundraising
page with a photo, a likely-duplicate flag, a download of a list searched for
them) is erased through the service; then no column of any table (every model
the app registry knows: text and JSON) and no file under MEDIA_ROOT or
PRIVATE_FILES_ROOT holds their email, name, postcode or phone, except the Gift
Aid records the law makes us keep, while the books (each gift's amount, date
and status) are unchanged. On SQLite and PostgreSQL."""

import io
from pathlib import Path

import pytest
import stripe
from django.conf import settings as django_settings

from donations.models import Donation
from supporters import services
from supporters.models import DataImport, ExportRecord, LikelyDuplicate, Supporter
from supporters.services import imports
from tests.supporters.test_erasure import EMAIL, FIRST, LAST, _where, everywhere  # noqa: F401  (a fixture)

pytestmark = pytest.mark.django_db

POSTCODE, PHONE = "LS6 2AA", "7700900461"


def _files() -> set[tuple[Path, Path]]:
    roots = {Path(django_settings.MEDIA_ROOT), Path(django_settings.PRIVATE_FILES_ROOT),
             Path(DataImport._meta.get_field("file").storage.location)}
    return {(root, path) for root in roots for path in root.rglob("*") if path.is_file()}


@pytest.fixture
def files_before():
    """The files other tests of the session left: only this test's are searched."""
    return _files()


def _in_files(needles, leaving_out) -> list[tuple[str, str]]:
    """(file, needle) for every file under the two roots whose name or content holds a needle."""
    found = []
    for root, path in _files() - leaving_out:
        if path.is_file():
            text = (str(path.relative_to(root)) + "\n" + path.read_bytes().decode("utf-8", "replace")).lower()
            found += [(str(path), needle) for needle in needles if needle.lower() in text]
    return found


@pytest.fixture
def everything(files_before, everywhere, fundraiser, fundraiser_client):  # noqa: F811
    supporter = everywhere
    # An import of the charity's old database that brings in their phone number, with its file kept.
    rows = ("First name,Last name,Email,Phone,Address line 1,Town,Postcode\r\n"
            f"{FIRST},{LAST},{EMAIL},07700 900461,Quillon House,Leeds,{POSTCODE}\r\n").encode()
    data_import = imports.data_import_upload(uploaded=io.BytesIO(rows), file_name=f"{LAST}-old-crm.csv",
                                             kind="supporters", format_name="Old CRM", by=fundraiser)
    assert imports.data_import_check(data_import=data_import, by=fundraiser).problem_count == 0
    imports.data_import_confirm(data_import=data_import, by=fundraiser)
    supporter.refresh_from_db()
    assert PHONE in str(supporter.phone)
    # Someone else flagged as perhaps the same person (the reason names where they live).
    other = services.supporter_create(first_name="Ada", last_name="Other", email="ada.other@example.org")
    LikelyDuplicate.objects.create(supporter=other, may_be=supporter, reason="The same name as one in Leeds")
    # Staff search the supporters list for them and download what they found.
    response = fundraiser_client.get("/admin/supporter/", {"q": LAST, "export": "csv"})
    assert response.status_code == 200 and EMAIL in b"".join(response.streaming_content).decode()
    assert ExportRecord.objects.filter(what__icontains=LAST).exists()
    return supporter


def test_erasure_leaves_the_person_in_no_table_and_no_file(files_before, everything, stripe_client, fundraiser_client,
                                                            django_capture_on_commit_callbacks):
    supporter = everything
    needles = [EMAIL, FIRST, LAST, POSTCODE, PHONE]
    before = _where(needles)
    for place in (("supporters.Supporter", "phone"), ("supporters.Supporter", "postcode"),
                  ("supporters.DataImport", "file_name"), ("supporters.ExportRecord", "what")):
        assert any(found[:2] == place for found in before), f"the test should leave a trace in {place}"
    assert _in_files(needles, files_before), "the import's file and the photo hold them"
    customers = set(supporter.recurring_gifts.exclude(stripe_customer_id="").values_list("stripe_customer_id",
                                                                                            flat=True))
    assert customers
    books = sorted(Donation.objects.filter(supporter=supporter).values_list("amount_pence", "paid_at", "status"))

    with django_capture_on_commit_callbacks(execute=True):
        response = fundraiser_client.post(f"/admin/supporter/{supporter.pk}/erase/",
                                          {"reason": "Request SAR-12", "confirm": "on"})
    assert response.status_code == 302

    left = _where(needles)
    assert left == [], "\n".join(map(str, left))
    assert _in_files(needles, files_before) == []
    assert not LikelyDuplicate.objects.filter(may_be=supporter).exists()
    for customer_id in customers:  # their customer record at Stripe is gone too
        try:
            assert stripe_client.v1.customers.retrieve(customer_id).get("deleted")
        except stripe.InvalidRequestError:
            pass
    # The books are as they were; the import's record stays, without its file.
    assert sorted(Donation.objects.filter(supporter=supporter).values_list("amount_pence", "paid_at", "status")) \
        == books
    assert DataImport.objects.filter(rows=1).exists()
    assert Supporter.objects.get(pk=supporter.pk).is_erased
