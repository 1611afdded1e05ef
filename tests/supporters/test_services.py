import datetime

import pytest
from django.utils import timezone
from wagtail.models import ModelLogEntry

from config.errors import ApplicationError
from supporters import personal_data, selectors, services
from supporters.models import ConsentEvent, ErasureRecord, Interaction, Supporter

pytestmark = pytest.mark.django_db

WORDING = "Yes, I'd like to hear by email how my gift helps."


def days_ago(n):
    return timezone.now() - datetime.timedelta(days=n)


class TestCreateAndValidate:
    def test_uk_postcode_is_normalised_and_email_lower_cased(self):
        supporter = services.supporter_create(
            first_name="Ann", last_name="Lee", email="  Ann.Lee@Example.ORG ", postcode="sw1a1aa",
            address_house="10", address_street="Downing Street", country="GB",
        )
        supporter.refresh_from_db()
        assert supporter.postcode == "SW1A 1AA"
        assert supporter.email == "ann.lee@example.org"

    @pytest.mark.parametrize("postcode", ["SW1A 1A", "12345", "QQ1 1AA", "N16 8A@"])
    def test_bad_uk_postcode_is_refused_and_nothing_saved(self, postcode):
        with pytest.raises(ApplicationError) as error:
            services.supporter_create(first_name="Ann", last_name="Lee", postcode=postcode, country="GB")
        assert error.value.field == "postcode"
        assert "not a valid UK postcode" in error.value.message
        assert not Supporter.objects.exists()

    def test_foreign_postcode_is_kept_as_written(self):
        supporter = services.supporter_create(first_name="Marie", last_name="Dupont", postcode="69002", country="FR")
        assert supporter.postcode == "69002"
        assert supporter.address_lines()[-1] == "France"

    def test_invalid_email_is_refused(self):
        with pytest.raises(ApplicationError) as error:
            services.supporter_create(first_name="Ann", last_name="Lee", email="ann@", country="GB")
        assert error.value.field == "email"
        assert not Supporter.objects.exists()

    def test_uk_street_address_needs_a_postcode(self):
        with pytest.raises(ApplicationError) as error:
            services.supporter_create(first_name="Ann", last_name="Lee", address_street="High St", country="GB")
        assert error.value.field == "postcode"

    def test_same_email_finds_the_same_supporter(self, supporter_factory):
        existing = supporter_factory(email="sam@example.org")
        found, created = services.supporter_find_or_create(email="SAM@example.org", first_name="Sam", last_name="X")
        assert (found, created) == (existing, False)
        new, created = services.supporter_find_or_create(email="other@example.org", first_name="O", last_name="T")
        assert created and new.pk != existing.pk
        assert Supporter.objects.count() == 2


class TestConsent:
    def test_current_consent_follows_the_history(self, supporter_factory):
        supporter = supporter_factory()
        assert supporter.consent_email is False
        services.consent_record(supporter=supporter, channel="email", granted=True, method="web_form",
                                wording=WORDING, occurred_at=days_ago(10), source_detail="/donate/")
        assert Supporter.objects.get(pk=supporter.pk).consent_email is True
        services.consent_record(supporter=supporter, channel="email", granted=False, method="phone",
                                wording="Please stop emailing me.", occurred_at=days_ago(1))
        supporter.refresh_from_db()
        assert supporter.consent_email is False
        assert supporter.consent_events.count() == 2

    def test_a_late_entered_older_event_does_not_override_a_newer_wish(self, supporter_factory):
        supporter = supporter_factory()
        services.consent_record(supporter=supporter, channel="post", granted=False, method="phone",
                                wording="No post please.", occurred_at=days_ago(2))
        # A paper form signed a month ago arrives today.
        services.consent_record(supporter=supporter, channel="post", granted=True, method="paper",
                                wording="Yes, you can send me news by post.", occurred_at=days_ago(30))
        supporter.refresh_from_db()
        assert supporter.consent_post is False

    def test_consent_keeps_source_time_and_wording(self, supporter_factory, fundraiser):
        supporter = supporter_factory()
        when = days_ago(3)
        services.consent_record(supporter=supporter, channel="sms", granted=True, method="phone",
                                wording="Can we text you?", occurred_at=when, source_detail="call 55", by=fundraiser)
        event = ConsentEvent.objects.get(supporter=supporter)
        assert (event.channel, event.granted, event.method, event.wording, event.source_detail, event.recorded_by) == (
            "sms", True, "phone", "Can we text you?", "call 55", fundraiser)
        assert event.occurred_at == when
        assert supporter.interactions.filter(kind="consent").count() == 1

    def test_consent_without_wording_is_refused(self, supporter_factory):
        supporter = supporter_factory()
        with pytest.raises(ApplicationError):
            services.consent_record(supporter=supporter, channel="email", granted=True, method="web_form", wording=" ")
        assert not ConsentEvent.objects.exists()


class TestTimeline:
    def test_an_entry_with_a_source_ref_is_added_once(self, supporter_factory):
        supporter = supporter_factory()
        for _ in range(3):
            services.timeline_add(supporter=supporter, kind="donation", summary="Gave £25", source_ref="donation:1")
        assert supporter.interactions.filter(source_ref="donation:1").count() == 1


class TestSearch:
    @pytest.fixture
    def people(self, supporter_factory):
        return {
            "jane": supporter_factory(first_name="Jane", last_name="Smith", email="jane@example.org", postcode="SW1A 1AA"),
            "john": supporter_factory(first_name="John", last_name="Smithers", email="js@example.com", postcode="M1 1AE"),
            "sean": supporter_factory(first_name="Seán", last_name="O'Brien", email="sean@example.net", postcode="BT9 5AA"),
        }

    @pytest.mark.parametrize("query, expected", [
        ("jane smith", {"jane"}),
        ("smith", {"jane", "john"}),
        ("SMITHE", {"john"}),
        ("o'brien", {"sean"}),
        ("js@example", {"john"}),
        ("JANE@EXAMPLE.ORG", {"jane"}),
        ("sw1a1aa", {"jane"}),
        ("sw1a", {"jane"}),
        ("m1 1ae", {"john"}),
        ("nobody", set()),
    ])
    def test_search_by_name_email_postcode(self, people, query, expected):
        found = set(selectors.supporter_search(query=query).values_list("pk", flat=True))
        assert found == {people[name].pk for name in expected}

    def test_search_by_reference(self, people):
        reference = people["sean"].reference
        assert list(selectors.supporter_search(query=reference)) == [people["sean"]]


class TestDuplicates:
    def test_same_email_or_same_name_and_postcode(self, supporter_factory):
        a = supporter_factory(first_name="Ann", last_name="Lee", email="ann@example.org", postcode="N16 8AA")
        b = supporter_factory(first_name="Bob", last_name="Ray", email="ann@example.org", postcode="E8 1AA")
        c = supporter_factory(first_name="ANN", last_name="lee", email="", postcode="N16 8AA")
        supporter_factory(first_name="Ann", last_name="Lee", email="other@example.org", postcode="M1 1AE")
        assert set(selectors.supporter_duplicates_of(supporter=a)) == {b, c}
        groups = selectors.duplicate_groups()
        assert {frozenset(s.pk for s in g["supporters"]) for g in groups} == {frozenset({a.pk, b.pk}), frozenset({a.pk, c.pk})}


class TestMerge:
    def test_merge_moves_everything_to_the_survivor(self, supporter_factory, fundraiser):
        survivor = supporter_factory(first_name="Ann", last_name="Lee", email="ann@example.org", phone="",
                                     created_at=days_ago(10))
        duplicate = supporter_factory(first_name="Ann", last_name="Lee", email="ann.lee@example.com",
                                      phone="+447911123456", notes="Met at gala", created_at=days_ago(400))
        survivor.tags.add("volunteer")
        duplicate.tags.add("major donor", "volunteer")
        services.consent_record(supporter=duplicate, channel="post", granted=True, method="paper",
                                wording="Post is fine.", occurred_at=days_ago(5))
        services.timeline_add(supporter=duplicate, kind="call", summary="Thank-you call")

        result = services.supporter_merge(survivor=survivor, duplicate=duplicate, by=fundraiser)

        assert not Supporter.objects.filter(pk=duplicate.pk).exists()
        result.refresh_from_db()
        assert result.email == "ann@example.org"  # the survivor keeps its own
        assert str(result.phone) == "+447911123456"  # and takes what it lacked
        assert "Met at gala" in result.notes
        assert result.created_at == duplicate.created_at
        assert set(result.tags.names()) == {"volunteer", "major donor"}
        assert result.consent_post is True
        assert result.consent_events.count() == 1
        assert result.interactions.filter(summary="Thank-you call").exists()
        entry = ModelLogEntry.objects.for_instance(result).get(action="supporters.merge")
        assert entry.user_id == fundraiser.pk
        assert entry.data["merged_reference"] == duplicate.reference

    def test_merge_with_itself_is_refused_and_changes_nothing(self, supporter_factory):
        supporter = supporter_factory()
        with pytest.raises(ApplicationError, match="cannot be merged with itself"):
            services.supporter_merge(survivor=supporter, duplicate=supporter)
        assert Supporter.objects.filter(pk=supporter.pk).exists()
        assert not ModelLogEntry.objects.filter(action="supporters.merge").exists()

    def test_an_erased_supporter_cannot_be_merged(self, supporter_factory):
        a, b = supporter_factory(), supporter_factory()
        services.supporter_erase(supporter=b, reason="request 1")
        with pytest.raises(ApplicationError, match="erased"):
            services.supporter_merge(survivor=a, duplicate=b)
        assert Supporter.objects.count() == 2


class TestErasure:
    def test_erasure_removes_the_person_and_keeps_the_record(self, supporter_factory, fundraiser):
        supporter = supporter_factory(first_name="Zoë", last_name="Smith-Jones", email="zoe@example.org",
                                      phone="+447911123111", date_of_birth=datetime.date(1980, 5, 1), notes="Allergic")
        supporter.tags.add("volunteer")
        services.consent_record(supporter=supporter, channel="email", granted=True, method="web_form", wording=WORDING)
        services.timeline_add(supporter=supporter, kind="note", summary="Zoë called about her gift")
        ModelLogEntry.objects.log_action(supporter, "wagtail.edit", user=fundraiser)
        erased_in_upper_app = []
        personal_data.register_eraser(erased_in_upper_app.append)
        try:
            services.supporter_erase(supporter=supporter, reason="Erasure request ref SAR-9", by=fundraiser)
        finally:
            personal_data._erasers.remove(erased_in_upper_app.append)

        supporter.refresh_from_db()
        assert supporter.is_erased
        personal = [supporter.first_name, supporter.last_name, supporter.email, str(supporter.phone),
                    supporter.postcode, supporter.address_street, supporter.notes]
        assert not any("Zo" in value or "example.org" in value or "N16" in value or "Allergic" in value for value in personal)
        assert supporter.date_of_birth is None
        assert list(supporter.tags.all()) == []
        assert not ConsentEvent.objects.filter(supporter=supporter).exists()
        assert not Interaction.objects.filter(supporter=supporter).exists()
        assert supporter.consent_email is False
        assert erased_in_upper_app == [supporter]
        record = ErasureRecord.objects.get(supporter=supporter)
        assert record.erased_by == fundraiser and record.reason == "Erasure request ref SAR-9"
        labels = list(ModelLogEntry.objects.for_instance(supporter).values_list("label", flat=True))
        assert labels and not any("Zo" in label for label in labels)
        assert ModelLogEntry.objects.for_instance(supporter).filter(action="supporters.erase").exists()

    def test_erasing_twice_is_refused(self, supporter_factory):
        supporter = supporter_factory()
        services.supporter_erase(supporter=supporter, reason="r")
        with pytest.raises(ApplicationError, match="already been erased"):
            services.supporter_erase(supporter=supporter, reason="r")
        assert ErasureRecord.objects.count() == 1

    def test_erasure_needs_a_reason(self, supporter_factory):
        supporter = supporter_factory()
        with pytest.raises(ApplicationError):
            services.supporter_erase(supporter=supporter, reason="  ")
        supporter.refresh_from_db()
        assert not supporter.is_erased


class TestSubjectAccess:
    def test_export_holds_record_consent_timeline_and_other_apps_sections(self, supporter_factory):
        supporter = supporter_factory(first_name="Ann", email="ann@example.org")
        services.consent_record(supporter=supporter, channel="email", granted=True, method="web_form",
                                wording=WORDING, source_detail="/donate/")
        services.timeline_add(supporter=supporter, kind="letter", summary="Welcome pack")
        personal_data.register_section("test_gifts", lambda s: [{"amount": "£25.00", "supporter": s.reference}])
        try:
            data = selectors.supporter_personal_data(supporter=supporter)
        finally:
            personal_data._sections.pop("test_gifts")
        assert data["supporter"]["email"] == "ann@example.org"
        assert data["current_consent"]["email"] is True
        assert data["consent_history"][0]["wording"] == WORDING
        assert data["consent_history"][0]["source"] == "/donate/"
        assert any(item["summary"] == "Welcome pack" for item in data["timeline"])
        assert data["test_gifts"] == [{"amount": "£25.00", "supporter": supporter.reference}]
