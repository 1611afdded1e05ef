"""Finance's Gift Aid screens: build, review, download, submit, record HMRC's
answer and the repayment; who may do what; bad input changes nothing."""

import csv
import datetime
import io
import zipfile

import pytest
from django.utils import timezone
from lxml import etree

from donations.models import GiftAidClaim
from tests.donations.test_gift_aid import D, declare, gift
from tests.supporters.factories import SupporterFactory
from tests.helpers import log_in_verified

pytestmark = pytest.mark.django_db

LAST_MONTH_END = timezone.localdate().replace(day=1) - datetime.timedelta(days=1)
LAST_MONTH_START = LAST_MONTH_END.replace(day=1)


@pytest.fixture
def gifts():
    zoe = SupporterFactory(first_name="Zoë", last_name="O'Brien-Smith")
    declare(zoe, LAST_MONTH_START)
    gift(zoe, 12_345, LAST_MONTH_START + datetime.timedelta(days=2))
    small = SupporterFactory()
    declare(small, LAST_MONTH_START)
    gift(small, 1500, LAST_MONTH_START + datetime.timedelta(days=3))
    gift(SupporterFactory(), 5000, LAST_MONTH_START)  # no declaration
    return zoe


def _build(client):
    return client.post("/admin/gift_aid_claim/build/", {
        "period_start": LAST_MONTH_START.isoformat(), "period_end": LAST_MONTH_END.isoformat(), "include_earlier": "on"})


def test_finance_builds_reviews_downloads_and_submits_a_claim(finance_client, gifts):
    assert "Build a claim" in finance_client.get("/admin/gift_aid_claim/").content.decode()
    response = _build(finance_client)
    claim = GiftAidClaim.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/inspect/{claim.pk}/")
    page = finance_client.get(response["Location"]).content.decode()
    for text in ("£138.45", "£34.61", "O&#x27;Brien Smith", "Zoe", "1 small gift", "Submit the claim"):
        assert text in page, text

    ods = finance_client.get(f"/admin/gift_aid_claim/{claim.pk}/schedule-1.ods")
    assert ods["Content-Type"] == "application/vnd.oasis.opendocument.spreadsheet"
    assert zipfile.ZipFile(io.BytesIO(ods.content)).read("mimetype") == b"application/vnd.oasis.opendocument.spreadsheet"
    rows = list(csv.reader(io.StringIO(finance_client.get(f"/admin/gift_aid_claim/{claim.pk}/schedule-1.csv").content.decode())))
    assert rows[0] == ["Title", "First name", "Last name", "House name or number", "Postcode", "Aggregated donations",
                       "Sponsored event", "Donation date", "Amount"]
    assert rows[1][1:3] == ["Zoe", "O'Brien Smith"] and rows[1][-1] == "123.45"
    assert rows[2][5].startswith("1 small gift") and rows[2][-1] == "15.00" and rows[2][:5] == ["", "", "", "", ""]
    xml = etree.fromstring(finance_client.get(f"/admin/gift_aid_claim/{claim.pk}/r68-1.xml").content)
    totals = [e.text for e in xml.iter("{*}Total")]
    assert totals == ["123.45", "15.00"]
    gifts_csv = b"".join(finance_client.get(f"/admin/gift_aid_claim/{claim.pk}/gifts.csv").streaming_content).decode()
    assert gifts_csv.count("\n") == 3 and "123.45,30.86" in gifts_csv

    response = finance_client.post(f"/admin/gift_aid_claim/{claim.pk}/submit/", {"hmrc_reference": "ABC123"})
    assert response.status_code == 200, "the confirmation box is required"
    response = finance_client.post(f"/admin/gift_aid_claim/{claim.pk}/submit/", {"hmrc_reference": "ABC123", "confirm": "on"})
    assert response.status_code == 302
    claim.refresh_from_db()
    assert (claim.status, claim.hmrc_reference) == ("submitted", "ABC123")
    page = finance_client.get(f"/admin/gift_aid_claim/inspect/{claim.pk}/").content.decode()
    assert "Submit the claim" not in page and "Discard this draft" not in page and "Record HMRC" in page

    finance_client.post(f"/admin/gift_aid_claim/{claim.pk}/outcome/", {"outcome": "accepted"})
    response = finance_client.post(f"/admin/gift_aid_claim/{claim.pk}/repayment/",
                                   {"amount": "34.61", "received_on": timezone.localdate().isoformat(), "reference": "BACS"})
    assert response.status_code == 302
    claim.refresh_from_db()
    assert (claim.status, claim.repayment_pence, claim.repayment_difference_pence) == ("accepted", 3461, 0)
    assert "matches to the penny" in finance_client.get(f"/admin/gift_aid_claim/inspect/{claim.pk}/").content.decode()


def test_a_gift_shows_staff_why_it_is_or_is_not_eligible(finance_client, gifts):
    from donations.models import Donation

    undeclared = Donation.objects.get(amount_pence=5000)
    page = finance_client.get(f"/admin/donation/inspect/{undeclared.pk}/").content.decode()
    assert "Not eligible" in page and "No Gift Aid declaration covers this gift" in page
    _build(finance_client)
    claimed = Donation.objects.get(amount_pence=12_345)
    page = finance_client.get(f"/admin/donation/inspect/{claimed.pk}/").content.decode()
    assert "Claimed" in page and GiftAidClaim.objects.get().reference in page


def test_bad_input_gets_a_clear_message_and_saves_nothing(finance_client, gifts):
    response = finance_client.post("/admin/gift_aid_claim/build/", {
        "period_start": LAST_MONTH_END.isoformat(), "period_end": LAST_MONTH_START.isoformat()})
    assert "The period must end on or after the day it starts." in response.content.decode()
    _build(finance_client)
    response = _build(finance_client)
    assert "already in claim" in response.content.decode()
    assert GiftAidClaim.objects.count() == 1
    claim = GiftAidClaim.objects.get()
    response = finance_client.post(f"/admin/gift_aid_claim/{claim.pk}/repayment/",
                                   {"amount": "12.345", "received_on": "2026-01-01"})
    assert "at most two decimal places" in response.content.decode()
    response = finance_client.post(f"/admin/gift_aid_claim/{claim.pk}/repayment/",
                                   {"amount": "34.61", "received_on": "2026-01-01"})
    assert "only be recorded against a submitted or accepted claim" in response.content.decode()
    claim.refresh_from_db()
    assert claim.repayment_pence is None


def test_fundraising_staff_cannot_reach_claims(fundraiser_client, gifts):
    assert fundraiser_client.get("/admin/gift_aid_claim/").status_code in (302, 403)
    assert _build(fundraiser_client).status_code in (302, 403)
    assert not GiftAidClaim.objects.exists()


def test_follow_ups_list_gifts_held_for_missing_details(finance_client):
    from supporters.models import GiftAidDeclaration

    donor = SupporterFactory(first_name="Held")
    GiftAidDeclaration.objects.create(supporter=donor, first_name="Held", last_name="Doe", address_house="12",
                                      postcode="", declared_on=D(2025, 1, 1), method="imported",
                                      wording="(imported)", wording_version="legacy")
    held = gift(donor, 4000, D(2026, 1, 5))
    page = finance_client.get("/admin/gift_aid_claim/follow-ups/").content.decode()
    assert held.reference in page and "The declaration has no postcode" in page


def test_an_offline_ticket_is_recorded_as_such_and_carries_no_gift_aid(finance_client):
    donor = SupporterFactory()
    declare(donor, D(2026, 1, 1))
    response = finance_client.post("/admin/donation/offline/", {
        "supporter": donor.reference, "amount": "40", "received_on": "2026-02-01", "channel": "event",
        "gift_kind": "ticket", "benefit": "", "note": "Gala dinner ticket"})
    assert response.status_code == 302
    ticket = donor.donations.get()
    assert ticket.gift_kind == "ticket"
    page = finance_client.get(f"/admin/donation/inspect/{ticket.pk}/").content.decode()
    assert "Not the donor&#x27;s own gift: admission or event ticket" in page

    response = finance_client.post("/admin/donation/offline/", {
        "supporter": donor.reference, "amount": "40", "received_on": "2026-02-01", "channel": "event",
        "gift_kind": "own_gift", "benefit": "50"})
    assert "between nothing and the gift itself" in response.content.decode()
    assert donor.donations.count() == 1


def _refunded_after_claim(charge_id="ch_owed_screen"):
    """A £100 gift claimed and submitted, then refunded in full: £25 owed to HMRC."""
    from donations import services
    from donations.services import gift_aid_claims

    donor = SupporterFactory()
    declare(donor, LAST_MONTH_START)
    given = gift(donor, 10_000, LAST_MONTH_START, stripe_charge_id=charge_id)
    claim = gift_aid_claims.gift_aid_claim_build(period_start=LAST_MONTH_START, period_end=LAST_MONTH_END)
    gift_aid_claims.gift_aid_claim_submit(claim=claim)
    services.donation_apply_refund_total(charge_id=charge_id, payment_intent_id=None, refunded_pence=10_000)
    return given


@pytest.mark.parametrize("role, sees, records", [
    ("anonymous", False, False), ("fundraiser", False, False), ("finance", True, True), ("admin", True, True)])
def test_who_sees_and_records_what_is_owed_to_hmrc(client, django_user_model, role, sees, records):
    from donations.models import GiftAidDirectRepayment
    from tests.conftest import _staff

    given = _refunded_after_claim()
    if role != "anonymous":
        log_in_verified(client, _staff(django_user_model, role, group={"fundraiser": "Fundraising", "finance": "Finance"}
                                  .get(role), superuser=role == "admin"))
    page = client.get("/admin/gift_aid_claim/owed-to-hmrc/")
    if not sees:
        assert page.status_code in (302, 403)
    else:
        text = page.content.decode()
        assert page.status_code == 200 and given.reference in text and "£25.00" in text
    form = {"amount": "25.00", "received_on": LAST_MONTH_END.isoformat(), "reference": "CHY REPAY 7"}
    response = client.post("/admin/gift_aid_claim/owed-to-hmrc/", form)
    assert GiftAidDirectRepayment.objects.exists() == records
    if records:
        assert response.status_code == 302
        text = client.get("/admin/gift_aid_claim/owed-to-hmrc/").content.decode()
        assert "Nothing: every over-claim" in text and "CHY REPAY 7" in text


def test_a_direct_repayment_must_match_what_is_owed(finance_client):
    from donations.models import GiftAidDirectRepayment

    _refunded_after_claim()
    response = finance_client.post("/admin/gift_aid_claim/owed-to-hmrc/", {
        "amount": "20.00", "received_on": LAST_MONTH_END.isoformat(), "reference": "CHY"})
    assert "£25.00 is owed to HMRC for 1 gift: record a repayment of exactly that." in response.content.decode()
    response = finance_client.post("/admin/gift_aid_claim/owed-to-hmrc/", {
        "amount": "25.00", "received_on": LAST_MONTH_END.isoformat(), "reference": ""})
    assert "This field is required" in response.content.decode()
    assert not GiftAidDirectRepayment.objects.exists()
