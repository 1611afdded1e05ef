"""Finding the people in an import's rows, or adding them: by the other
system's id for them, then their email (in any case), then their name and
postcode. A weaker likeness (the same name in another town) makes a new record
flagged for staff to review: never a silent merge. A row with no name and no
email is someone who gave anonymously: no record is made.

Each chunk of rows costs a handful of queries, whatever its size; rows of the
same person within a chunk (two gifts in one month) make one record."""

import dataclasses
import datetime
import functools
from collections import defaultdict

from django.db import connection
from django.db.models import BooleanField, ExpressionWrapper, F, Min, Q
from django.utils import timezone

from config.db import AnyOf, copy_rows, rows_table
from supporters import services
from supporters.imports.fields import is_uk, split_house
from supporters.models import (
    AcquisitionSource,
    Channel,
    ConsentEvent,
    ConsentMethod,
    LikelyDuplicate,
    Supporter,
    SupporterExternalId,
)

PERSON_FIELDS = ("external_id", "title", "first_name", "last_name", "email", "phone", "address_line_1",
                 "address_line_2", "town", "county", "postcode", "country")
# Filled in on a record found by the import only where the record has nothing.
_FILLED_IF_BLANK = ("title", "email", "phone")
CHANNELS = tuple(Channel.values)  # read once: the enum builds the list anew on every read
_ADDRESS = ("address_house", "address_street", "address_locality", "address_town", "address_county", "postcode",
            "country")


@dataclasses.dataclass
class Person:
    row: object  # the ParsedRow
    external_id: str
    first_name: str
    last_name: str
    email: str
    postcode: str
    town: str
    fields: dict
    consents: dict  # channel -> granted
    supporter_id: int | None = None
    how: str = ""

    @property
    def name_key(self) -> tuple[str, str]:
        return self.first_name.casefold(), self.last_name.casefold()

    @property
    def anonymous(self) -> bool:
        return not (self.first_name or self.last_name) and not self.email


def person_of(row, *, consents: dict | None = None) -> Person:
    values = row.values
    country = values.get("country") or "GB"
    house, street, locality = split_house(values.get("address_line_1") or "", values.get("address_line_2") or "")
    fields = {
        "title": values.get("title") or "", "first_name": values.get("first_name") or "",
        "last_name": values.get("last_name") or "", "email": values.get("email") or "",
        "phone": values.get("phone") or "", "address_house": house, "address_street": street,
        "address_locality": locality, "address_town": values.get("town") or "",
        "address_county": values.get("county") or "", "postcode": values.get("postcode") or "", "country": country,
    }
    return Person(row=row, external_id=values.get("external_id") or "", first_name=fields["first_name"],
                  last_name=fields["last_name"], email=fields["email"], postcode=fields["postcode"],
                  town=fields["address_town"], fields=fields, consents=consents or {})


def check_person(row, *, required: bool) -> None:
    """A person's rules across cells, as row errors: a name needs a last name
    (the first may be an initial), a UK street address needs its postcode."""
    values = row.values
    named = values.get("first_name") or values.get("last_name")
    if required and not named:
        row.errors["last_name"] = "The row has no name: give the first and last name."
    elif named and not values.get("last_name"):
        row.errors["last_name"] = "Give the last name too."
    if (values.get("address_line_1") and is_uk(values.get("country") or "GB") and not values.get("postcode")):
        row.errors["postcode"] = "A UK address needs its postcode."


def people_find_or_add(run, people: list[Person]) -> None:
    """Set each person's supporter_id (None if anonymous) and how they were
    found ('created', 'matched by …'), adding records, ids in the other system,
    consent and likely-duplicate flags. Counts go to run.counts."""
    source = run.source
    people = [person for person in people if not person.anonymous]
    ids = {p.external_id for p in people if p.external_id}
    by_id = dict(SupporterExternalId.objects.filter(AnyOf(F("external_id"), ids), source=source)
                 .values_list("external_id", "supporter_id")) if ids else {}
    emails = {p.email for p in people if p.email and p.external_id not in by_id}
    by_email = dict(Supporter.objects.filter(AnyOf(F("email"), emails), erased_at__isnull=True).values("email")
                    .annotate(first=Min("pk")).values_list("email", "first")) if emails else {}
    # Only those not found by id or email are looked for by name and postcode.
    postcodes = {p.postcode for p in people if p.postcode and p.external_id not in by_id and p.email not in by_email}
    by_name = {}
    if postcodes:
        for pk, first, last, postcode in (Supporter.objects.filter(AnyOf(F("postcode"), postcodes), erased_at__isnull=True)
                                          .order_by("pk").values_list("pk", "first_name", "last_name", "postcode")):
            by_name.setdefault((first.casefold(), last.casefold(), postcode), pk)

    pending: dict = {}  # a key of a person to be added in this chunk -> that person
    to_add: list[Person] = []
    for person in people:
        name_post = (*person.name_key, person.postcode) if person.postcode and person.last_name else None
        keys = [k for k in (("id", person.external_id) if person.external_id else None,
                            ("email", person.email) if person.email else None,
                            ("name", name_post) if name_post else None) if k]
        if person.external_id and person.external_id in by_id:
            person.supporter_id, person.how = by_id[person.external_id], "matched by their id"
        elif person.email and person.email in by_email:
            person.supporter_id, person.how = by_email[person.email], "matched by email"
        elif name_post and name_post in by_name:
            person.supporter_id, person.how = by_name[name_post], "matched by name and postcode"
        else:
            earlier = next((pending[k] for k in keys if k in pending), None)
            if earlier is not None:
                person.how, person.supporter_id = "same person as row %d" % earlier.row.number, None
                person.same_as = earlier
            else:
                to_add.append(person)
                person.how = "created"
        for key in keys:
            pending.setdefault(key, person)

    _add(run, to_add)
    for person in people:
        same_as = getattr(person, "same_as", None)
        if same_as is not None:
            person.supporter_id = same_as.supporter_id
    _fill_blanks(run, [p for p in people if p.how.startswith("matched")])
    _link_ids(run, people)
    _record_consent(run, people, added={p.supporter_id for p in to_add})


_NEW_SUPPORTER_FIELDS = ("title", "first_name", "last_name", "email", "phone", "address_house", "address_street",
                         "address_locality", "address_town", "address_county", "postcode", "country")


def _add(run, people: list[Person]) -> None:
    if not people:
        return
    now = timezone.now()
    fields = [*_NEW_SUPPORTER_FIELDS, "source", "data_import_id", "created_at",
              *(f"consent_{channel}" for channel in CHANNELS)]
    ids = copy_rows(Supporter, fields, [
        (*(person.fields[name] for name in _NEW_SUPPORTER_FIELDS), AcquisitionSource.IMPORT, run.data_import.pk,
         now, *(person.consents.get(channel, False) for channel in CHANNELS))  # False: the field's default
        for person in people],
        # The Phone widget gives E.164, which the phone field stores as it is (re-parsing it costs 0.2 ms).
        as_stored={"phone"})
    for person, pk in zip(people, ids, strict=True):
        person.supporter_id = pk
    run.counts["supporters created"] += len(people)
    _flag_likely_duplicates(run, people)


def _flag_likely_duplicates(run, people: list[Person]) -> None:
    """Someone of the same name held in another town: flagged, for staff to merge or dismiss."""
    named = [p for p in people if p.first_name and p.last_name]
    if not named:
        return
    new_ids = {p.supporter_id for p in people}
    held = defaultdict(list)
    for pk, first, last, town in _same_names({p.name_key for p in named}, leaving_out=new_ids):
        held[(first.casefold(), last.casefold())].append((pk, town))
    flags = []
    for person in named:
        for pk, town in held.get(person.name_key, [])[:3]:
            where = f"in {town}" if town else "with no town"
            flags.append((person.supporter_id, pk, f"The same name as S{pk:07d}, {where}"[:200],
                          run.data_import.pk))
            run.note(person.row.number, "last_name", f"{person.first_name} {person.last_name}",
                     f"Added as a new supporter; may be S{pk:07d} ({where}): see Possible duplicates.")
    copy_rows(LikelyDuplicate, ("supporter_id", "may_be_id", "reason", "data_import_id"), flags,
              ignore_conflicts=True)


def _same_names(names: set[tuple[str, str]], *, leaving_out: set[int]) -> list[tuple]:
    """(pk, first name, last name, town) of the first three records by pk, not
    erased nor among `leaving_out`, for each of `names` (pairs of first and last
    name in lower case). One statement for the pairs, on the name index: filtering
    first names and last names apart would read everyone called John or Smith in
    every chunk, and a common name's every holder."""
    table = connection.ops.quote_name(Supporter._meta.db_table)
    wanted, wanted_params = rows_table([(last, first) for first, last in sorted(names)], 2)
    added, added_params = rows_table([(pk,) for pk in sorted(leaving_out)] or [(0,)], 1)
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH wanted (last, first) AS ({wanted}), added (id) AS ({added}) "
            "SELECT id, first_name, last_name, address_town FROM ("
            "  SELECT s.id, s.first_name, s.last_name, s.address_town, "
            "         ROW_NUMBER() OVER (PARTITION BY wanted.last, wanted.first ORDER BY s.id) AS nth "
            f"  FROM {table} s JOIN wanted ON LOWER(s.last_name) = wanted.last AND LOWER(s.first_name) = wanted.first "
            "  WHERE s.erased_at IS NULL AND s.id NOT IN (SELECT CAST(added.id AS bigint) FROM added)"
            ") AS held WHERE nth <= 3 ORDER BY id", wanted_params + added_params)
        return cursor.fetchall()


def _fill_blanks(run, people: list[Person]) -> None:
    """A record found by the import gets what it lacks (an email, a phone, a
    whole address), never a change to what it holds."""
    if not people:
        return
    # First what each record lacks, as plain values: most lack nothing the row has, and
    # a record read whole parses its phone number (0.2 ms) for nothing.
    matched = {p.supporter_id for p in people}
    lacking = {pk: blanks for pk, *blanks in Supporter.objects.filter(AnyOf(F("pk"), matched)).values_list(
        "pk", *(ExpressionWrapper(Q(**{name: ""}), output_field=BooleanField()) for name in _FILLED_IF_BLANK),
        ExpressionWrapper(Q(address_house="", address_street="", postcode=""), output_field=BooleanField()))}
    people = [p for p in people if p.supporter_id in lacking and (
        any(p.fields[name] and blank for name, blank in zip(_FILLED_IF_BLANK, lacking[p.supporter_id]))
        or (p.fields["address_house"] and lacking[p.supporter_id][-1]))]
    held = Supporter.objects.in_bulk({p.supporter_id for p in people})
    taken = set(Supporter.objects.filter(email__in=[p.fields["email"] for p in people if p.fields["email"]])
                .values_list("email", flat=True))
    changed = {}
    for person in people:
        supporter = held.get(person.supporter_id)
        if supporter is None:
            continue
        for name in _FILLED_IF_BLANK:
            if person.fields[name] and not getattr(supporter, name):
                if name == "email" and person.fields[name] in taken:
                    continue  # someone else has it: a duplicate for staff, not a silent change
                setattr(supporter, name, person.fields[name])
                changed[supporter.pk] = supporter
        if person.fields["address_house"] and not (supporter.address_house or supporter.address_street
                                                   or supporter.postcode):
            for name in _ADDRESS:
                setattr(supporter, name, person.fields[name])
            changed[supporter.pk] = supporter
    if changed:
        Supporter.objects.bulk_update(changed.values(), [*_FILLED_IF_BLANK, *_ADDRESS], batch_size=2000)
        run.counts["supporters updated"] += len(changed)
    run.counts["supporters matched"] += len(matched)


def _link_ids(run, people: list[Person]) -> None:
    links = {(p.external_id, p.supporter_id) for p in people if p.external_id and p.supporter_id}
    copy_rows(SupporterExternalId, ("supporter_id", "source", "external_id", "data_import_id"),
              [(supporter_id, run.source, external_id, run.data_import.pk) for external_id, supporter_id in links],
              ignore_conflicts=True)


@functools.lru_cache(maxsize=4096)  # a file's rows share a few thousand dates: each made aware once
def _day_start(day, zone) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min), zone)


def _record_consent(run, people: list[Person], *, added: set[int]) -> None:
    """Each channel a row says yes or no to, with the file's wording and the row's
    date (or now). A dated answer is recorded once (the history decides which
    stands); an undated one, unless the record holds that answer already. So a file
    imported again records nothing."""
    wording = run.data_import.consent_wording
    current = {}
    matched = {p.supporter_id for p in people if p.consents and p.supporter_id and p.supporter_id not in added}
    if matched:
        current = {row[0]: dict(zip(CHANNELS, row[1:])) for row in Supporter.objects.filter(
                   AnyOf(F("pk"), matched)).values_list("pk", *(f"consent_{c}" for c in CHANNELS))}
    now, zone = timezone.now(), timezone.get_current_timezone()
    events, seen = [], set()
    for person in people:
        if not person.supporter_id:
            continue
        when = person.row.values.get("consent_date")
        occurred_at = _day_start(when, zone) if when else now
        for channel, granted in person.consents.items():
            # Every answer the file gives, each once (a person may be in it twice, answering
            # differently on other days): the history decides which stands.
            if granted is None or (person.supporter_id, channel, granted, occurred_at) in seen:
                continue
            # An undated answer (a platform's "further contact") that a record found already
            # holds, however given, adds nothing; a dated one is history, recorded once.
            held = current.get(person.supporter_id, {}).get(channel, False)
            if occurred_at is now and person.supporter_id not in added and held == granted:
                continue
            seen.add((person.supporter_id, channel, granted, occurred_at))
            events.append({"supporter_id": person.supporter_id, "channel": channel, "granted": granted,
                           "occurred_at": occurred_at, "method": ConsentMethod.IMPORT, "wording": wording,
                           "source_detail": run.source_detail(person.row.number), "recorded_by": run.by,
                           "data_import_id": run.data_import.pk})
    # The same answer on the same day held already (this file, or an overlapping one, imported
    # before): not recorded twice, so importing a file again records nothing.
    asked = {event["supporter_id"] for event in events if event["supporter_id"] not in added}
    if asked:
        held = set()
        for supporter_id, channel, granted, occurred_at, method in (
                ConsentEvent.objects.filter(AnyOf(F("supporter_id"), asked))
                .values_list("supporter_id", "channel", "granted", "occurred_at", "method")):
            held.add((supporter_id, channel, granted, occurred_at))
            if method == ConsentMethod.IMPORT:
                held.add((supporter_id, channel, granted, None))  # an undated answer, imported before
        events = [event for event in events if (
            event["supporter_id"], event["channel"], event["granted"],
            event["occurred_at"] if event["occurred_at"] is not now else None) not in held]
    services.consents_import(events=events)
    run.counts["consents recorded"] += len(events)
