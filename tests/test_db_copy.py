"""config.db's bulk writers: copy_rows (COPY on PostgreSQL, bulk_create
elsewhere) writes what bulk_create writes; bulk_set and among give the same
rows whether their values go one by one or as one JSON parameter. On SQLite
and PostgreSQL."""

import datetime

import pytest
from django.utils import timezone

from campaigns.models import Campaign
from django.db.models import F

from config.db import AnyOf, bulk_set, copy_rows
from donations.models import Donation
from supporters.models import Channel, ConsentEvent, ConsentMethod, Supporter, SupporterExternalId

pytestmark = pytest.mark.django_db

NOON = timezone.make_aware(datetime.datetime(2026, 3, 4, 12, 0))


def _fields(obj, leaving_out=("id", "uid", "updated_at")):
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields if f.attname not in leaving_out}


def test_rows_are_written_as_bulk_create_writes_them_with_their_ids_in_order():
    campaign = Campaign.objects.create(name="Winter", code="winter")
    donor = Supporter.objects.create(first_name="Siân", last_name="O'Brien")
    fields = ["supporter_id", "amount_pence", "status", "channel", "campaign", "gift_aid_claimed_by", "import_source",
              "created_at", "paid_at", "import_ref"]

    def rows(prefix):
        return [(donor.pk, 1000 + n, Donation.Status.SUCCEEDED, Donation.Channel.IMPORT, campaign if n % 2 else None,
                 "JustGiving" if n == 1 else "", "justgiving", NOON, NOON, f"{prefix}-{n}") for n in range(5)]

    ids = copy_rows(Donation, fields, rows("copied"))
    made = Donation.objects.bulk_create([Donation(**dict(zip(fields, row))) for row in rows("created")])

    assert ids == sorted(ids) and len(set(ids)) == 5
    copied = [Donation.objects.get(pk=pk) for pk in ids]
    created = [Donation.objects.get(pk=gift.pk) for gift in made]
    for one, other in zip(copied, created, strict=True):
        assert _fields(one, leaving_out=("id", "uid", "updated_at", "import_ref")) == \
            _fields(other, leaving_out=("id", "uid", "updated_at", "import_ref"))
        assert one.import_ref.replace("copied", "created") == other.import_ref and one.updated_at
    assert [gift.campaign_id for gift in copied] == [None, campaign.pk, None, campaign.pk, None]
    assert len({gift.uid for gift in copied}) == 5  # a callable default, one per row


def test_a_supporters_phone_given_as_stored_and_their_country_by_default():
    fields = ["first_name", "last_name", "email", "phone", "postcode"]
    rows = [("Zoë", "Brontë", "zoe@example.org", "+447700900123", "LS6 3HN"), ("Ann", "Lee", "", "", "")]
    ids = copy_rows(Supporter, fields, rows, as_stored={"phone"})
    zoe, ann = (Supporter.objects.get(pk=pk) for pk in ids)
    assert (zoe.first_name, zoe.last_name, str(zoe.phone), str(zoe.country)) == ("Zoë", "Brontë", "+447700900123", "GB")
    assert (ann.phone, ann.consent_email, ann.source) == ("", False, Supporter._meta.get_field("source").default)


def test_rows_that_break_a_unique_constraint_are_left_out_when_asked():
    someone = Supporter.objects.create(first_name="A", last_name="B")
    SupporterExternalId.objects.create(supporter=someone, source="justgiving", external_id="held")
    made = copy_rows(SupporterExternalId, ("supporter_id", "source", "external_id"),
                     [(someone.pk, "justgiving", "held"), (someone.pk, "justgiving", "new"),
                      (someone.pk, "justgiving", "new")], ignore_conflicts=True)
    assert made is None
    assert sorted(SupporterExternalId.objects.values_list("external_id", flat=True)) == ["held", "new"]
    assert copy_rows(SupporterExternalId, ("supporter_id",), []) == []


def test_bulk_set_writes_each_value_as_it_is_given():
    people = [Supporter.objects.create(first_name=f"P{n}", last_name="Q") for n in range(3)]
    moment = timezone.now().replace(microsecond=123456)
    bulk_set(Supporter, [(people[0].pk, "O'Neill", moment), (people[1].pk, "Nuñez", None)],
             ["last_name", "erased_at"])
    first, second, third = (Supporter.objects.get(pk=p.pk) for p in people)
    assert (first.last_name, first.erased_at, second.last_name, second.erased_at, third.last_name) == (
        "O'Neill", moment, "Nuñez", None, "Q")


def test_any_of_finds_what_in_finds():
    names = ["O'Neill", 'Say "hi"', "back\\slash", "a,b", "{brace}", "Łukasiewicz", "NULL", ""]
    people = [Supporter.objects.create(first_name="A", last_name=name) for name in names]
    for wanted in (names, names[:1], ["nobody"], []):
        assert set(Supporter.objects.filter(AnyOf(F("last_name"), wanted))) == \
            set(Supporter.objects.filter(last_name__in=wanted))
    ids = [people[0].pk, people[3].pk, None]
    assert set(Supporter.objects.filter(AnyOf(F("pk"), ids))) == {people[0], people[3]}


def test_a_timezone_now_default_is_the_moment_of_writing():
    someone = Supporter.objects.create(first_name="A", last_name="B")
    before = timezone.now()
    copy_rows(ConsentEvent, ("supporter", "channel", "granted", "occurred_at", "method", "wording"),
              [(someone, Channel.EMAIL, True, NOON, ConsentMethod.IMPORT, "Yes please")] * 2)
    after = timezone.now()
    assert all(before <= moment <= after for moment in ConsentEvent.objects.values_list("recorded_at", flat=True))
    assert ConsentEvent.objects.filter(supporter=someone, occurred_at=NOON).count() == 2
