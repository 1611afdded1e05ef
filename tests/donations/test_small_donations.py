"""The Gift Aid Small Donations Scheme (GASDS): small cash and contactless gifts
with no declaration, recorded by staff, claimed with Gift Aid in the same
claim within HMRC's yearly limits, never twice."""

import datetime

import pytest
from django.db import IntegrityError, transaction
from lxml import etree

from config.errors import ApplicationError
from donations import services
from donations.hmrc import r68_xml
from donations.models import Donation, GiftAidSmallDonation
from donations import selectors
from donations.services import gift_aid_claims
from tests.donations.test_gift_aid import D, TODAY, build, declare, gift
from tests.supporters.factories import SupporterFactory

pytestmark = pytest.mark.django_db

R68 = "{http://www.govtalk.gov.uk/taxation/charities/r68/2}"


def collection(pence: int, on: datetime.date, where="Street collection, York") -> Donation:
    return services.donation_record_offline(supporter=None, amount_pence=pence, received_on=on,
                                            channel=Donation.Channel.OFFLINE, small_donation=True, description=where)


def gift_aid_gifts(pence: int, on: datetime.date) -> None:
    donor = SupporterFactory()
    declare(donor, on)
    gift(donor, pence, on)


def test_staff_record_a_collection_and_a_small_cash_gift_and_bad_ones_are_refused():
    bucket = collection(24_560, D(2026, 5, 2))
    assert (bucket.supporter, bucket.small_donation, bucket.donor_display) == (None, True,
                                                                               "Collection: Street collection, York")
    cash = services.donation_record_offline(supporter=SupporterFactory(), amount_pence=3_000, received_on=D(2026, 5, 3),
                                            channel=Donation.Channel.EVENT, small_donation=True)
    assert cash.small_donation
    refused = [
        ({"supporter": SupporterFactory(), "amount_pence": 3_001}, "£30 or less"),
        ({"supporter": None, "description": ""}, "Say where and when"),
        ({"supporter": None, "small_donation": False}, "only a collection of small donations has no donor"),
        ({"supporter": None, "channel": Donation.Channel.POST}, "cash or contactless"),
        ({"supporter": SupporterFactory(), "amount_pence": 2_000, "gift_aid_declared": True}, "claimed as Gift Aid"),
        ({"supporter": None, "gift_kind": "raffle"}, "nothing in return"),
    ]
    for change, message in refused:
        arguments = {"amount_pence": 5_000, "received_on": D(2026, 5, 4), "channel": Donation.Channel.OFFLINE,
                     "small_donation": True, "description": "Bucket", **change}
        with pytest.raises(ApplicationError, match=message):
            services.donation_record_offline(**arguments)
    assert Donation.objects.count() == 2


def test_small_donations_go_in_the_claim_with_their_own_gasds_part():
    gift_aid_gifts(50_000, D(2026, 5, 1))  # £500 of Gift Aid gifts: room for £5,000 of small donations
    bucket = collection(24_560, D(2026, 5, 2))
    claim = build(D(2026, 5, 1), D(2026, 5, 31))
    assert (claim.small_donations_pence, claim.small_donations_tax_pence) == (24_560, 6_140)
    assert claim.repayment_due_pence == 12_500 + 6_140
    assert list(claim.small_donations.values_list("donation_id", "tax_year_end")) == [(bucket.pk, 2027)]

    part = selectors.claim_part(claim, 1)
    xml = etree.fromstring(r68_xml(selectors.claim_header(claim, part), part["rows"]))
    gasds = xml.find(f".//{R68}GASDS")
    assert [child.tag.replace(R68, "") for child in gasds] == ["ConnectedCharities", "GASDSClaim", "CommBldgs"]
    assert (gasds.findtext(f"{R68}GASDSClaim/{R68}Year"), gasds.findtext(f"{R68}GASDSClaim/{R68}Amount")) == \
        ("2027", "245.60")
    claim_element = xml.find(f".//{R68}Claim")
    assert [c.tag.replace(R68, "") for c in claim_element][-2:] == ["Repayment", "GASDS"]


def test_a_claim_without_small_donations_has_no_gasds_part():
    gift_aid_gifts(50_000, D(2026, 5, 1))
    claim = build(D(2026, 5, 1), D(2026, 5, 31))
    part = selectors.claim_part(claim, 1)
    assert etree.fromstring(r68_xml(selectors.claim_header(claim, part), part["rows"])).find(f".//{R68}GASDS") is None


def test_the_yearly_limits_hold_and_what_does_not_fit_waits():
    gift_aid_gifts(10_000, D(2026, 5, 1))  # £100 of Gift Aid: ten times is £1,000
    first, second, third = (collection(60_000, D(2026, 5, 2)), collection(50_000, D(2026, 5, 3)),
                            collection(40_000, D(2026, 5, 4)))
    claim = build(D(2026, 5, 1), D(2026, 5, 31))
    # Whole collections in the order taken while the room lasts: £600, then £400 (the £500 does not fit).
    assert set(claim.small_donations.values_list("donation_id", flat=True)) == {first.pk, third.pk}
    assert claim.small_donations_pence == 100_000

    gift_aid_claims.gift_aid_claim_submit(claim=claim)
    gift_aid_gifts(100_000, D(2026, 6, 1))  # £1,000 more Gift Aid for the year: room for the £500
    later = build(D(2026, 6, 1), D(2026, 6, 30))
    assert list(later.small_donations.values_list("donation_id", flat=True)) == [second.pk]


def test_never_more_than_eight_thousand_pounds_a_tax_year():
    gift_aid_gifts(2_000_000, D(2025, 6, 1))  # ten times is far above £8,000
    for day in range(1, 10):
        collection(100_000, D(2025, 7, day))  # £9,000 in all
    claim = build(D(2025, 6, 1), D(2025, 7, 31))
    assert claim.small_donations_pence == 800_000


def test_a_small_gift_that_a_declaration_covers_is_gift_aid_not_gasds():
    donor = SupporterFactory()
    declare(donor, D(2026, 4, 6))
    cash = services.donation_record_offline(supporter=donor, amount_pence=2_000, received_on=D(2026, 5, 2),
                                            channel=Donation.Channel.OFFLINE, small_donation=True)
    claim = build(D(2026, 5, 1), D(2026, 5, 31))
    assert list(claim.gifts.values_list("donation_id", flat=True)) == [cash.pk]
    assert not claim.small_donations.exists()


def test_a_small_donation_is_claimed_once_and_a_rejection_frees_it():
    gift_aid_gifts(50_000, D(2026, 5, 1))
    bucket = collection(10_000, D(2026, 5, 2))
    claim = gift_aid_claims.gift_aid_claim_submit(claim=build(D(2026, 5, 1), D(2026, 5, 31)))
    gift_aid_gifts(50_000, D(2026, 6, 1))
    assert not build(D(2026, 6, 1), D(2026, 6, 30)).small_donations.exists()
    with pytest.raises(IntegrityError), transaction.atomic():
        GiftAidSmallDonation.objects.create(claim=claim, donation=bucket, tax_year_end=2027, amount_pence=10_000)
    gift_aid_claims.gift_aid_claim_record_outcome(claim=claim, accepted=False, reason="Wrong reference")
    assert GiftAidSmallDonation.objects.get(donation=bucket, claim=claim).active is False


def test_small_donations_older_than_two_tax_years_are_not_claimed():
    gift_aid_gifts(50_000, D(2023, 5, 1))
    collection(10_000, D(2023, 5, 2))  # tax year to 5 April 2024: claimable until 5 April 2026
    claim = build(D(2023, 5, 1), D(2023, 5, 31), today=TODAY)
    assert claim.small_donations_pence == 0


def test_finance_records_a_collection_on_the_offline_gift_form(finance_client):
    form = {"supporter": "", "amount": "245.60", "received_on": "2026-05-02", "channel": "offline", "gift_kind": "",
            "benefit": "", "small_donation": "on", "description": "Bucket collection, York Minster"}
    response = finance_client.post("/admin/donation/offline/", {**form, "description": ""})
    assert "Say where and when the collection was taken" in response.content.decode()
    response = finance_client.post("/admin/donation/offline/", {**form, "small_donation": ""})
    assert "only a collection of small donations has no donor" in response.content.decode()
    assert not Donation.objects.exists()

    response = finance_client.post("/admin/donation/offline/", form)
    bucket = Donation.objects.get()
    assert response.status_code == 302 and (bucket.amount_pence, bucket.supporter_id) == (24_560, None)
    page = finance_client.get(f"/admin/donation/inspect/{bucket.pk}/").content.decode()
    assert "Bucket collection, York Minster" in page and "Gift Aid Small Donations Scheme" in page
    listing = finance_client.get("/admin/donation/").content.decode()
    assert "Collection: Bucket collection, York Minster" in listing
