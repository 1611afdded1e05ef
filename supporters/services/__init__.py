"""Everything that writes a supporter, their consent or their timeline.

Called alike from the admin, the donation form, imports and commands."""

import dataclasses
import datetime
import re
import smtplib
from collections.abc import Iterable

from anymail.exceptions import AnymailError
from auditlog.context import disable_auditlog
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q, Window
from django.db.models.functions import RowNumber
from django.template.loader import render_to_string
from django.utils import timezone
from wagtail.log_actions import log
from wagtail.models import ModelLogEntry

from config.db import AnyOf, bulk_set, copy_rows, insert_unless_present
from config.errors import ApplicationError
from config.formats import long_date
from supporters import personal_data
from supporters.addresses import UK_POSTCODE_COUNTRIES, normalise_postcode
from supporters.models import (Channel, ConsentEvent, ConsentMethod, ErasureRecord, ExportRecord, GiftAidDeclaration,
                               Interaction, LikelyDuplicate, Supporter)

# Fields copied from a merged duplicate only where the survivor has nothing.
# Apps above that keep figures per supporter (donations' donor years) register
# a step here: it folds the duplicate's figures into the survivor's once the
# records have moved, and its model (marked `merged_by_its_app`) is not moved row by row.
_MERGE_STEPS = []


def merge_step_register(step) -> None:
    """`step(survivor_id=..., duplicate_id=...)`, called inside a merge's transaction."""
    if step not in _MERGE_STEPS:
        _MERGE_STEPS.append(step)


_MERGE_FILL_FIELDS = ("title", "preferred_name", "email", "phone", "date_of_birth")
_ADDRESS_FIELDS = (
    "address_house", "address_street", "address_locality", "address_town", "address_county", "postcode", "country",
)
_ERASED_BLANK_FIELDS = (
    "title", "preferred_name", "email", "phone", "address_house", "address_street", "address_locality",
    "address_town", "address_county", "postcode", "notes",
)


def _validated(instance, *, trusted_keys=()):
    """full_clean(), turning Django's ValidationError into the ApplicationError a
    person can read, naming the first field at fault. `trusted_keys`: foreign
    keys our own code set to rows it holds, which the database checks anyway
    (validating each costs a query)."""
    try:
        # Check constraints are left to the database, which enforces them anyway:
        # validating them here costs a query each.
        instance.full_clean(exclude=list(trusted_keys), validate_constraints=False)
    except ValidationError as error:
        field, messages = next(iter(error.message_dict.items()))
        label = field if field == "__all__" else instance._meta.get_field(field).verbose_name
        raise ApplicationError(f"{str(label).capitalize()}: {' '.join(messages)}", field=field) from error
    return instance


def _validated_save(instance, *, trusted_keys=(), **save_kwargs):
    _validated(instance, trusted_keys=trusted_keys).save(**save_kwargs)
    return instance


def supporter_create(*, tags: Iterable[str] = (), **fields) -> Supporter:
    """Create a supporter from validated fields. Raises ApplicationError for bad
    input, before anything is written (so a caller's transaction goes on)."""
    supporter = _validated(Supporter(**fields))
    # No savepoint of its own: nothing below is meant to fail and be carried on from.
    with transaction.atomic(savepoint=False):
        supporter.save()
        if tags:
            supporter.tags.add(*tags)
    return supporter


@transaction.atomic
def supporters_add(*, supporters: list[Supporter]) -> list[Supporter]:
    """Many new supporters at once (unsaved, without tags), each checked as
    supporter_create checks one, in one statement: a batch of online gifts'
    donors. Raises ApplicationError, saving none, if any is wrong."""
    for supporter in supporters:
        _validated(supporter)
    return Supporter.objects.bulk_create(supporters, batch_size=2000)


def supporter_update(*, supporter: Supporter, **fields) -> Supporter:
    """Change some fields of a supporter. Raises ApplicationError for bad input,
    in which case nothing is saved."""
    for name, value in fields.items():
        setattr(supporter, name, value)
    _validated_save(supporter)
    return supporter


def supporter_find_or_create(*, email: str, **fields) -> tuple[Supporter, bool]:
    """The supporter with this email (the oldest record, if duplicates exist),
    or a new one. A second gift from the same address never makes a second
    supporter. Returns (supporter, created)."""
    email = (email or "").strip().lower()
    if email:
        existing = Supporter.objects.filter(email=email, erased_at__isnull=True).order_by("created_at", "pk").first()
        if existing:
            return existing, False
    return supporter_create(email=email, **fields), True


def consent_state_from_events(events: Iterable[ConsentEvent]) -> dict[str, bool]:
    """The current consent per channel: the latest event by when it happened
    (ties broken by the order recorded) wins; no event means no consent."""
    latest: dict[str, ConsentEvent] = {}
    for event in events:
        current = latest.get(event.channel)
        if current is None or (event.occurred_at, event.pk or 0) > (current.occurred_at, current.pk or 0):
            latest[event.channel] = event
    return {channel: (channel in latest and latest[channel].granted) for channel in Channel.values}


def _consent_refresh(supporter: Supporter) -> None:
    state = consent_state_from_events(supporter.consent_events.all())
    Supporter.objects.filter(pk=supporter.pk).update(
        **{f"consent_{channel}": granted for channel, granted in state.items()}
    )
    for channel, granted in state.items():
        setattr(supporter, f"consent_{channel}", granted)


def consents_import(*, events: list[dict]) -> None:
    """Consent given or withheld in imported rows, recorded at once: each event a
    dict of ConsentEvent's fields (supporter_id, channel, granted, occurred_at,
    method, wording, source_detail, recorded_by, data_import_id; the same keys
    in every one). Each supporter's current consent is worked out again from
    their whole history, so an old file's answer never overrides a newer wish.
    In the caller's transaction."""
    if events:
        names = list(events[0])
        copy_rows(ConsentEvent, names, [[event[name] for name in names] for event in events])
    consents_refresh(supporter_ids={event["supporter_id"] for event in events})


def consents_record_many(*, events: list[dict]) -> None:
    """Many consent changes at once, each recorded as consent_record records one
    (its history, the supporter's current consent worked out again, an entry on
    their timeline), in a few statements: a batch of online gifts'. Each event:
    supporter, channel, granted, method, wording, occurred_at, source_detail."""
    consents_import(events=[
        {"supporter_id": event["supporter"].pk, "channel": event["channel"], "granted": event["granted"],
         "occurred_at": event["occurred_at"], "method": event["method"], "wording": event["wording"].strip(),
         "source_detail": event["source_detail"][:255], "recorded_by_id": None} for event in events])
    timeline_add_many(entries=[
        {"supporter": event["supporter"], "kind": Interaction.Kind.CONSENT, "occurred_at": event["occurred_at"],
         "summary": f"{Channel(event['channel']).label} consent {'given' if event['granted'] else 'withdrawn'} "
                    f"({ConsentMethod(event['method']).label.lower()})"} for event in events])


def consents_refresh(*, supporter_ids) -> None:
    """Work these supporters' current consent out again from their histories
    (after an import's events are added or rolled back)."""
    supporter_ids = list(supporter_ids)
    channels = Channel.values
    for start in range(0, len(supporter_ids), 2000):
        some = supporter_ids[start:start + 2000]
        # consent_state_from_events' rule, in the database: each channel's latest event by
        # when it happened, ties by the order recorded; and only the records it changes are
        # written (an import's new records mostly hold their consent already).
        latest = (ConsentEvent.objects.filter(AnyOf(F("supporter_id"), some))
                  .annotate(newest=Window(RowNumber(), partition_by=[F("supporter_id"), F("channel")],
                                          order_by=[F("occurred_at").desc(), F("pk").desc()]))
                  .filter(newest=1).values_list("supporter_id", "channel", "granted"))
        granted = {(supporter_id, channel) for supporter_id, channel, given in latest if given}
        changed = []
        for pk, *held in Supporter.objects.filter(AnyOf(F("pk"), some)).values_list(
                "pk", *(f"consent_{channel}" for channel in channels)):
            state = [(pk, channel) in granted for channel in channels]
            if state != held:
                changed.append((pk, *state))
        bulk_set(Supporter, changed, [f"consent_{channel}" for channel in channels])


def consent_record(
    *,
    supporter: Supporter,
    channel: str,
    granted: bool,
    method: str,
    wording: str,
    occurred_at: datetime.datetime | None = None,
    source_detail: str = "",
    by=None,
) -> ConsentEvent:
    """Add one consent change to the supporter's history and re-derive their
    current consent from the whole history (so a late-entered paper form with
    an earlier date does not override a newer wish). Raises ApplicationError for
    bad input before anything is written."""
    if channel not in Channel.values:
        raise ApplicationError(f"Unknown consent channel “{channel}”.", field="channel")
    if not (wording or "").strip():
        raise ApplicationError("Record the wording the supporter was shown or told.", field="wording")
    if supporter.is_erased:
        raise ApplicationError("This supporter has been erased.")
    event = ConsentEvent(
        supporter=supporter,
        channel=channel,
        granted=granted,
        method=method,
        wording=wording.strip(),
        occurred_at=occurred_at or timezone.now(),
        source_detail=source_detail,
        recorded_by=by,
    )
    _validated(event, trusted_keys=("supporter", "recorded_by"))
    with transaction.atomic(savepoint=False):
        # The supporter's row locked: two changes at once each see the other's event.
        list(Supporter.objects.select_for_update().filter(pk=supporter.pk).values_list("pk"))
        event.save()
        _consent_refresh(supporter)
        timeline_add(
            supporter=supporter,
            kind=Interaction.Kind.CONSENT,
            summary=f"{event.get_channel_display()} consent {'given' if granted else 'withdrawn'} "
                    f"({event.get_method_display().lower()})",
            occurred_at=event.occurred_at,
            by=by,
        )
    return event


def timeline_add(
    *,
    supporter: Supporter,
    kind: str,
    summary: str,
    detail: str = "",
    occurred_at: datetime.datetime | None = None,
    source_ref: str = "",
    by=None,
) -> Interaction:
    """Add an entry to the supporter's timeline. With a source_ref the entry is
    added once only (a unique constraint): a repeat returns the existing entry."""
    interaction = Interaction(
        supporter=supporter,
        kind=kind,
        summary=summary[:255],
        detail=detail,
        occurred_at=occurred_at or timezone.now(),
        source_ref=source_ref,
        recorded_by=by,
    )
    # Written by our own code with a real supporter: the database checks the
    # foreign keys and the one-entry-per-source_ref rule (handled just below).
    interaction.full_clean(exclude=["supporter", "recorded_by"], validate_unique=False, validate_constraints=False)
    if not source_ref:
        interaction.save()
    elif not insert_unless_present(interaction, unique=["supporter", "source_ref"]):
        return Interaction.objects.get(supporter=supporter, source_ref=source_ref)
    return interaction


def timeline_add_many(*, entries: Iterable[dict]) -> None:
    """Many timeline entries at once, for bulk loads and imports: each a dict of
    timeline_add's arguments (supporter, or their id; kind, summary, and optionally detail,
    occurred_at, source_ref), written as timeline_add writes it. An entry whose
    source_ref the supporter already has is skipped, as with timeline_add."""
    now = timezone.now()
    copy_rows(Interaction, ("supporter_id", "kind", "summary", "detail", "occurred_at", "source_ref", "recorded_by"), [
        (getattr(entry["supporter"], "pk", entry["supporter"]), entry["kind"], entry["summary"][:255],
         entry.get("detail", ""), entry.get("occurred_at") or now, entry.get("source_ref", ""), entry.get("by"))
        for entry in entries
    ], ignore_conflicts=True)


@transaction.atomic
def supporter_merge(*, survivor: Supporter, duplicate: Supporter, by=None) -> Supporter:
    """Fold `duplicate` into `survivor`: every record pointing at the duplicate
    (consent history, timeline, tags, and the donations and declarations that
    other apps hold) moves to the survivor, blanks on the survivor are filled
    from the duplicate, the duplicate is deleted and the merge is logged.

    Locks both rows. Raises ApplicationError, changing nothing, for a merge of a
    supporter with itself or with an erased record."""
    if survivor.pk == duplicate.pk:
        raise ApplicationError("A supporter cannot be merged with itself. Choose two different records.")
    # Lock in primary-key order so that two merges of the same pair cannot deadlock.
    locked = {s.pk: s for s in Supporter.objects.select_for_update().filter(pk__in=[survivor.pk, duplicate.pk]).order_by("pk")}
    if len(locked) != 2:
        raise ApplicationError("One of these supporters no longer exists; it may have been merged already.")
    survivor, duplicate = locked[survivor.pk], locked[duplicate.pk]
    if survivor.is_erased or duplicate.is_erased:
        raise ApplicationError("An erased supporter cannot be merged.")

    merged_label, merged_reference = str(duplicate), duplicate.reference
    moved: dict[str, int] = {}
    for relation in Supporter._meta.related_objects:
        model = relation.related_model
        if model is Supporter.tags.through or getattr(model, "merged_by_its_app", False):
            continue
        if relation.one_to_one:
            if model._default_manager.filter(**{relation.field.name: survivor}).exists() and \
                    model._default_manager.filter(**{relation.field.name: duplicate}).exists():
                raise ApplicationError(
                    f"Both supporters have a {model._meta.verbose_name}; resolve that before merging."
                )
        if relation.one_to_many or relation.one_to_one:
            count = model._default_manager.filter(**{relation.field.name: duplicate}).update(
                **{relation.field.name: survivor}
            )
            if count:
                moved[str(model._meta.verbose_name_plural)] = count
    survivor.tags.add(*duplicate.tags.all())
    for step in _MERGE_STEPS:
        step(survivor_id=survivor.pk, duplicate_id=duplicate.pk)

    for name in _MERGE_FILL_FIELDS:
        if not getattr(survivor, name) and getattr(duplicate, name):
            setattr(survivor, name, getattr(duplicate, name))
    # An address moves as a whole: never half of one and half of another.
    if not survivor.postcode and not survivor.address_street and (duplicate.postcode or duplicate.address_street):
        for name in _ADDRESS_FIELDS:
            setattr(survivor, name, getattr(duplicate, name))
    if duplicate.notes:
        survivor.notes = "\n\n".join(n for n in (survivor.notes, f"From merged record {merged_reference}:\n{duplicate.notes}") if n)
    survivor.created_at = min(survivor.created_at, duplicate.created_at)

    duplicate_pk = duplicate.pk
    duplicate.delete()
    from supporters.services.audit import audit_merged

    audit_merged(duplicate_pk=duplicate_pk, survivor=survivor)
    _validated_save(survivor)
    _consent_refresh(survivor)
    timeline_add(
        supporter=survivor,
        kind=Interaction.Kind.RECORD,
        summary=f"Merged with duplicate record {merged_reference}",
        detail="Moved: " + (", ".join(f"{n} {name}" for name, n in moved.items()) or "nothing"),
        by=by,
    )
    log(
        instance=survivor,
        action="supporters.merge",
        user=by,
        data={"merged_reference": merged_reference, "merged_name": merged_label, "moved": moved},
    )
    return survivor


@dataclasses.dataclass(frozen=True)
class PersonalTraces:
    """What names a person in free text (a file's cells, a file name, a search
    someone downloaded): their email, names and postcode, and their phone's digits."""
    email: str
    words: tuple[str, ...]
    phone_digits: str

    @classmethod
    def of(cls, supporter: Supporter) -> "PersonalTraces":
        words = (supporter.first_name, supporter.last_name, supporter.postcode)
        phone = getattr(supporter.phone, "national_number", None) if supporter.phone else None
        return cls(email=(supporter.email or "").strip().lower(),
                   words=tuple(w.strip() for w in words if len((w or "").strip()) > 1),
                   phone_digits=str(phone) if phone and len(str(phone)) >= 7 else "")

    def in_cell(self, text: str) -> bool:
        return bool((self.email and self.email in text.lower())
                    or (self.phone_digits and self.phone_digits in re.sub(r"\D", "", text)))

    def named_in(self, field: str) -> Q:
        found = Q(pk__in=[])
        for needle in (self.email, *self.words, self.phone_digits):
            if needle:
                found |= Q(**{f"{field}__icontains": needle})
        return found

    def scrubbed(self, text: str) -> str:
        for needle in (self.email, *self.words, self.phone_digits):
            if needle:
                text = re.sub(rf"(?<!\w){re.escape(needle)}(?!\w)", "[erased]", text, flags=re.IGNORECASE)
        return text


@transaction.atomic
def supporter_erase(*, supporter: Supporter, reason: str, by=None) -> Supporter:
    """Erase a supporter (the right to erasure): names, contact details, address,
    notes, consent history and timeline go, and the address leaves the email
    records (sent messages, the provider's events, suppressions); the row stays,
    anonymised, so that donations and Gift Aid figures still add up in the
    accounts. Only the Gift Aid declarations keep the name and address, as HMRC
    requires. Other apps scrub their own copies of personal data through
    personal_data erasers (gifts' Stripe events, fundraising pages).

    Idempotent in effect: a second erasure raises ApplicationError and changes nothing."""
    if not (reason or "").strip():
        raise ApplicationError("Give the reason for the erasure (e.g. the request's reference).", field="reason")
    supporter = Supporter.objects.select_for_update().get(pk=supporter.pk)
    if supporter.is_erased:
        raise ApplicationError("This supporter has already been erased.")

    # Nothing of the person goes into the audit log on the way out (auditlog would
    # record each field's old value): the log gets one entry, with no personal data.
    with disable_auditlog():
        return _supporter_erase(supporter=supporter, reason=reason, by=by)


def _supporter_erase(*, supporter: Supporter, reason: str, by) -> Supporter:
    from supporters.services.audit import audit_erase, audit_related_keys

    audited = audit_related_keys(supporter=supporter)
    address = supporter.email
    # Imports that only updated them, flags, and searches staff downloaded name them in free text.
    from supporters.services.imports import imports_forget_supporter

    traces = PersonalTraces.of(supporter)
    imports_forget_supporter(supporter=supporter, traces=traces)
    LikelyDuplicate.objects.filter(Q(supporter=supporter) | Q(may_be=supporter)).delete()
    for record in ExportRecord.objects.filter(traces.named_in("what")):
        record.what = traces.scrubbed(record.what)
        record.save(update_fields=["what"])
    for name in _ERASED_BLANK_FIELDS:
        setattr(supporter, name, "")
    supporter.first_name = "Erased"
    supporter.last_name = "Supporter"
    supporter.date_of_birth = None
    supporter.erased_at = timezone.now()
    for channel in Channel.values:
        setattr(supporter, f"consent_{channel}", False)
    supporter.save()
    supporter.tags.clear()
    supporter.consent_events.all().delete()
    supporter.interactions.all().delete()
    from supporters.services.email import email_history_erase

    email_history_erase(supporter=supporter, address=address)
    for erase in personal_data.erasers():
        erase(supporter)

    # The audit trail names the person in its labels and merge snapshots: scrub them too.

    ModelLogEntry.objects.for_instance(supporter).update(label=str(supporter), data={})
    ErasureRecord.objects.create(supporter=supporter, erased_by=by, reason=reason.strip()[:255])
    log(instance=supporter, action="supporters.erase", user=by, data={"reason": reason.strip()[:255]})
    audit_erase(supporter=supporter, keys=audited, by=by, traces=traces)
    return supporter


# --- Gift Aid declarations ------------------------------------------------------

_DECLARED_FIELDS = ("title", "first_name", "last_name", "address_house", "address_street", "address_town",
                    "postcode", "country")

# HMRC's statement, which every declaration must include in the words given.
GIFT_AID_TAX_STATEMENT = (
    "I am a UK taxpayer and understand that if I pay less Income Tax and/or Capital Gains Tax than the amount "
    "of Gift Aid claimed on all my donations in that tax year it is my responsibility to pay any difference."
)

# HMRC's model wording for an enduring online declaration, versioned so that each
# declaration records exactly what the donor saw.
GIFT_AID_WORDING_VERSION = "2026-11"
GIFT_AID_WORDING = (
    "Yes, I want to Gift Aid this donation and any donations I make in the future or have made in the past "
    "4 years to {charity}. " + GIFT_AID_TAX_STATEMENT
)
# The same model wording for each scope a paper form can offer (same version).
GIFT_AID_WORDING_BY_SCOPE = {
    GiftAidDeclaration.Scope.THIS_GIFT: "Yes, I want to Gift Aid this donation to {charity}. " + GIFT_AID_TAX_STATEMENT,
    GiftAidDeclaration.Scope.FUTURE_GIFTS: (
        "Yes, I want to Gift Aid this donation and any donations I make in the future to {charity}. "
        + GIFT_AID_TAX_STATEMENT
    ),
    GiftAidDeclaration.Scope.ALL_GIFTS: GIFT_AID_WORDING,
}

# What staff read out on the phone (or in person) before recording an oral
# declaration: HMRC's model wording put to the donor in the second person, then
# what the written record will tell them. Versioned like GIFT_AID_WORDING; the
# text read, with the scope filled in, is stored on each oral declaration.
GIFT_AID_ORAL_SCRIPT_VERSION = "oral-2026-11"
GIFT_AID_ORAL_SCRIPT = (
    "If you pay UK Income Tax or Capital Gains Tax, Gift Aid lets {charity} claim an extra 25p from HMRC "
    "for every £1 you give, at no extra cost to you.\n\n"
    "To make a Gift Aid declaration, please listen to this statement and tell me if you agree with it:\n\n"
    "“You want to Gift Aid {gifts} to {charity}. You are a UK taxpayer and understand that if you pay less "
    "Income Tax and/or Capital Gains Tax than the amount of Gift Aid claimed on all your donations in that "
    "tax year, it is your responsibility to pay any difference.”\n\n"
    "Do you agree?\n\n"
    "Thank you. May I check your full name and your home address, with the house name or number and the "
    "postcode?\n\n"
    "We will send you a written record of this declaration. If you change your mind, tell us within 30 days "
    "of the date on it and it will be as if you had never made it. You can cancel it at any time after that, "
    "too. Please tell us if you change your name or home address, or no longer pay enough Income Tax or "
    "Capital Gains Tax."
)
_ORAL_SCRIPT_GIFTS = {
    GiftAidDeclaration.Scope.THIS_GIFT: "your donation",
    GiftAidDeclaration.Scope.FUTURE_GIFTS: "your donation and any donations you make in the future",
    GiftAidDeclaration.Scope.ALL_GIFTS: (
        "your donation and any donations you make in the future or have made in the past 4 years"
    ),
}


def gift_aid_wording(*, scope: str = GiftAidDeclaration.Scope.ALL_GIFTS) -> str:
    """HMRC's model declaration for `scope`, naming the charity (version
    GIFT_AID_WORDING_VERSION). With no scope: the online form's wording."""
    return GIFT_AID_WORDING_BY_SCOPE[scope].format(charity=settings.CHARITY_NAME)


def gift_aid_oral_script(*, scope: str = GiftAidDeclaration.Scope.ALL_GIFTS) -> str:
    """The words staff read out for an oral declaration covering `scope`
    (version GIFT_AID_ORAL_SCRIPT_VERSION), paragraphs separated by blank lines."""
    return GIFT_AID_ORAL_SCRIPT.format(charity=settings.CHARITY_NAME, gifts=_ORAL_SCRIPT_GIFTS[scope])


class DeclarationDetailsError(ApplicationError):
    """The name and address given for a declaration lack what HMRC needs.
    `errors` holds every problem, field -> message; `field` and `message` the first."""

    def __init__(self, errors: dict[str, str]):
        field, message = next(iter(errors.items()))
        super().__init__(message, field=field)
        self.errors = errors


def gift_aid_declaration_details(*, supporter: Supporter | None, declared: dict | None = None) -> dict:
    """The title, names and home address for a declaration: `declared` over the
    supporter's record as it is now (if a supporter is given), with spaces
    tidied and a UK postcode written as "SW1A 1AA". Names are otherwise kept
    exactly as given (apostrophes, hyphens, accents). Raises
    DeclarationDetailsError (an ApplicationError) listing every problem when a
    name, the house name or number, or a UK address's valid postcode is missing.
    Writes nothing."""
    details = {name: getattr(supporter, name, "") for name in _DECLARED_FIELDS}
    details.update({name: value for name, value in (declared or {}).items() if name in _DECLARED_FIELDS})
    for name in _DECLARED_FIELDS:
        if name != "country":
            details[name] = " ".join(str(details[name] or "").split())
    details["country"] = str(details["country"] or "GB").strip().upper()
    errors = {}
    if not details["first_name"]:
        errors["first_name"] = "A Gift Aid declaration needs the first name (or at least an initial)."
    if not details["last_name"]:
        errors["last_name"] = "A Gift Aid declaration needs the last name."
    if not details["address_house"]:
        errors["address_house"] = "A Gift Aid declaration needs the house name or number."
    try:
        details["postcode"] = normalise_postcode(details["postcode"], country=details["country"])
    except ValueError as error:
        errors["postcode"] = str(error)
    if details["country"] in UK_POSTCODE_COUNTRIES and not details["postcode"] and "postcode" not in errors:
        errors["postcode"] = "A Gift Aid declaration needs the postcode of a UK address."
    if errors:
        raise DeclarationDetailsError(errors)
    return details


@transaction.atomic
def gift_aid_declaration_record(
    *,
    supporter: Supporter,
    method: str,
    wording: str,
    wording_version: str,
    declared_on: datetime.date | None = None,
    scope: str = GiftAidDeclaration.Scope.ALL_GIFTS,
    source_detail: str = "",
    declared: dict | None = None,
    by=None,
) -> GiftAidDeclaration:
    """Record a Gift Aid declaration with the name and home address as declared:
    `declared` (title, first_name, last_name, address_house, address_street,
    address_town, postcode, country), or else the supporter's record as it is now
    (see gift_aid_declaration_details). `declared_on` defaults to today.
    Raises ApplicationError, saving nothing, when the address lacks what HMRC
    needs (a house name or number, and a UK postcode), when the date is in the
    future, or for an erased supporter. Adds a timeline entry."""
    if supporter.is_erased:
        raise ApplicationError("This supporter has been erased; a declaration cannot be recorded for them.")
    details = gift_aid_declaration_details(supporter=supporter, declared=declared)
    declared_on = declared_on or timezone.localdate()
    if declared_on > timezone.localdate():
        raise ApplicationError("The date of the declaration cannot be in the future.", field="declared_on")
    declaration = GiftAidDeclaration(
        supporter=supporter,
        **details,
        declared_on=declared_on,
        method=method,
        scope=scope,
        wording=wording,
        wording_version=wording_version,
        source_detail=source_detail[:255],
        recorded_by=by,
    )
    _validated_save(declaration, trusted_keys=("supporter", "recorded_by"))
    timeline_add(
        supporter=supporter,
        kind=Interaction.Kind.RECORD,
        summary=f"Gift Aid declaration {declaration.reference} made: {declaration.get_method_display().lower()}",
        by=by,
    )
    return declaration


def gift_aid_declarations_add(*, declarations: list[dict], method: str, wording: str, wording_version: str) -> list:
    """Many declarations at once, each made as gift_aid_declaration_record makes
    one (the same checks, and an entry on each supporter's timeline), in a few
    statements: a batch of online gifts'. Each item: supporter, declared (the
    name and home address as declared), declared_on and source_detail. Raises
    ApplicationError, saving none, if any is wrong."""
    made = []
    for item in declarations:
        supporter = item["supporter"]
        if supporter.is_erased:
            raise ApplicationError("This supporter has been erased; a declaration cannot be recorded for them.")
        if item["declared_on"] > timezone.localdate():
            raise ApplicationError("The date of the declaration cannot be in the future.", field="declared_on")
        made.append(_validated(GiftAidDeclaration(
            supporter=supporter, **gift_aid_declaration_details(supporter=supporter, declared=item["declared"]),
            declared_on=item["declared_on"], method=method, scope=GiftAidDeclaration.Scope.ALL_GIFTS,
            wording=wording, wording_version=wording_version, source_detail=item["source_detail"][:255]),
            trusted_keys=("supporter", "recorded_by")))
    GiftAidDeclaration.objects.bulk_create(made, batch_size=2000)
    timeline_add_many(entries=[
        {"supporter": declaration.supporter, "kind": Interaction.Kind.RECORD,
         "summary": f"Gift Aid declaration {declaration.reference} made: {declaration.get_method_display().lower()}"}
        for declaration in made])
    return made


def _validated_update(instance, *, fields: Iterable[str]) -> None:
    """Check and save only `fields` of a row already saved: a declaration recorded
    before today's rules (say, without a house number) can still be cancelled or
    confirmed, as the rest of it is never rewritten."""
    fields = list(fields)
    others = [f.name for f in instance._meta.concrete_fields if f.name not in fields]
    try:
        instance.full_clean(exclude=others, validate_unique=False, validate_constraints=False)
    except ValidationError as error:
        field, messages = next(iter(error.message_dict.items()))
        raise ApplicationError(f"{' '.join(messages)}", field=field) from error
    instance.save(update_fields=fields)


def _declaration_locked(declaration: GiftAidDeclaration) -> GiftAidDeclaration:
    return GiftAidDeclaration.objects.select_for_update().select_related("supporter").get(pk=declaration.pk)


def _replacement_of(declaration: GiftAidDeclaration) -> GiftAidDeclaration | None:
    return GiftAidDeclaration.objects.filter(supersedes=declaration).order_by("pk").first()


@transaction.atomic
def gift_aid_declaration_cancel(
    *, declaration: GiftAidDeclaration, cancelled_on: datetime.date, reason: str, by=None
) -> list[GiftAidDeclaration]:
    """Record that the donor cancelled Gift Aid from `cancelled_on`, and why.

    A donor who asks to stop means every declaration of theirs, not just the one
    staff opened: each of the donor's declarations made on or before that date
    and not yet cancelled is cancelled with it (an older one left open would
    otherwise keep their gifts claimable). Declarations made after that date are
    later wishes and stay as they are. Nothing is deleted: gifts before the date
    stay claimable, and an oral declaration cancelled within 30 days of its
    written confirmation becomes void (`is_void`); the claim builder decides
    what that means for each gift, including gifts already claimed.

    Locks the donor's declarations. Raises ApplicationError, changing nothing,
    for a declaration already cancelled, a date before it, an empty reason, or
    a declaration replaced by a completed copy (cancel that one instead).
    Returns the declarations it ended, the one asked for first. Adds a timeline
    entry naming them."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise ApplicationError("Give the reason for the cancellation (e.g. “Phoned: no longer pays UK tax”).",
                               field="reason")
    if cancelled_on is None:
        raise ApplicationError("Give the date the cancellation takes effect.", field="cancelled_on")
    declaration = _declaration_locked(declaration)
    if declaration.cancelled_on:
        raise ApplicationError(
            f"{declaration.reference} was already cancelled from {_cancelled_on_text(declaration)}.",
            field="cancelled_on",
        )
    replacement = _replacement_of(declaration)
    if replacement is not None:
        raise ApplicationError(
            f"{declaration.reference} was replaced by {replacement.reference} when its details were completed: "
            f"cancel {replacement.reference} instead."
        )
    if cancelled_on < declaration.declared_on:
        raise ApplicationError(
            f"A cancellation cannot take effect before the declaration was made "
            f"({declaration.declared_on:%d/%m/%Y}).",
            field="cancelled_on",
        )
    # The completed copies' originals (its `supersedes` chain) are made on or
    # before it, so they are among these.
    others = (GiftAidDeclaration.objects.select_for_update()
              .filter(supporter_id=declaration.supporter_id, cancelled_on__isnull=True, declared_on__lte=cancelled_on)
              .exclude(pk=declaration.pk).order_by("-declared_on", "-pk"))
    ended = [declaration, *others]
    for item in ended:
        item.cancelled_on = cancelled_on
        item.cancellation_reason = reason[:255]
        _validated_update(item, fields=["cancelled_on", "cancellation_reason"])
    summary = f"Gift Aid cancelled from {cancelled_on:%d %b %Y}: " + ", ".join(
        item.reference + (f" (void, as cancelled within {GiftAidDeclaration.ORAL_COOLING_OFF_DAYS} days)"
                          if item.is_void else "")
        for item in ended)
    timeline_add(supporter=declaration.supporter, kind=Interaction.Kind.RECORD, summary=summary[:255],
                 detail=reason, by=by)
    return ended


def _cancelled_on_text(declaration: GiftAidDeclaration) -> str:
    return f"{declaration.cancelled_on:%d %b %Y}" if declaration.cancelled_on else ""


def _staff_name(by) -> str:
    if by is None:
        return "the system"
    return by.get_full_name() or by.get_username()


@transaction.atomic
def gift_aid_declaration_complete(
    *, declaration: GiftAidDeclaration, declared: dict, by=None, note: str = ""
) -> GiftAidDeclaration:
    """Complete the details HMRC needs (house name or number, postcode, names)
    that `declaration` lacks, by recording a NEW declaration that supersedes it:
    the same method, scope, date, wording, wording version and confirmation
    date, with the completed name and address (`declared` over the old
    declaration's own details; validated as gift_aid_declaration_record does)
    and a source_detail saying who completed it. The old declaration is left
    exactly as it was.

    Locks the old declaration, so two people cannot complete it twice. Raises
    ApplicationError, saving nothing, when the old declaration has nothing
    missing, is cancelled, was already completed, or the details given still lack
    what HMRC needs. Adds a timeline entry. Returns the new declaration."""
    declaration = _declaration_locked(declaration)
    replacement = _replacement_of(declaration)
    if replacement is not None:
        raise ApplicationError(f"{declaration.reference} was already completed by {replacement.reference}.")
    if declaration.cancelled_on:
        raise ApplicationError(
            f"{declaration.reference} was cancelled from {_cancelled_on_text(declaration)}: record a new "
            f"declaration instead."
        )
    if not declaration.missing_details():
        raise ApplicationError(
            f"{declaration.reference} already has the name and address HMRC needs; nothing to complete."
        )
    own = {name: getattr(declaration, name) for name in _DECLARED_FIELDS}
    details = gift_aid_declaration_details(supporter=declaration.supporter, declared={**own, **declared})
    source = f"Details of {declaration.reference} completed by {_staff_name(by)}"
    note = " ".join((note or "").split())
    if note:
        source += f": {note}"
    completed = GiftAidDeclaration(
        supporter=declaration.supporter,
        **details,
        declared_on=declaration.declared_on,
        method=declaration.method,
        scope=declaration.scope,
        wording=declaration.wording,
        wording_version=declaration.wording_version,
        confirmation_sent_on=declaration.confirmation_sent_on,
        source_detail=source[:255],
        supersedes=declaration,
        recorded_by=by,
    )
    _validated_save(completed, trusted_keys=("supporter", "recorded_by", "supersedes"))
    timeline_add(
        supporter=declaration.supporter,
        kind=Interaction.Kind.RECORD,
        summary=f"Gift Aid declaration {declaration.reference} completed as {completed.reference} "
                f"({', '.join(declaration.missing_details())} added)",
        detail=note,
        by=by,
    )
    return completed


# The declaration as the donor made it, in their words, for the written record.
_DECLARATION_GIFTS = {
    GiftAidDeclaration.Scope.THIS_GIFT: "my donation",
    GiftAidDeclaration.Scope.FUTURE_GIFTS: "my donation and any donations I make in the future",
    GiftAidDeclaration.Scope.ALL_GIFTS: (
        "my donation and any donations I make in the future or have made in the past 4 years"
    ),
}
_COVERS = {
    GiftAidDeclaration.Scope.THIS_GIFT: "The donation you made with this declaration, only.",
    GiftAidDeclaration.Scope.FUTURE_GIFTS: "Your donation, and every donation you make from {date} until you cancel.",
    GiftAidDeclaration.Scope.ALL_GIFTS: (
        "Your donation, every donation you made in the 4 years before {date}, and every donation you make "
        "from then on until you cancel."
    ),
}


def gift_aid_written_record(*, declaration: GiftAidDeclaration, letter_date: datetime.date) -> dict:
    """What HMRC's written record of an oral declaration says, as template
    context for the email and the printed letter: the name and home address
    given, which gifts it covers, the declaration with its tax statement, the
    date of the declaration and of the letter, and the last day to cancel it as
    if it had never been made. Reads nothing from the database."""
    charity = settings.CHARITY_NAME
    return {
        "charity_name": charity,
        "declaration": declaration,
        "supporter": declaration.supporter,
        "full_name": declaration.full_name,
        "address_lines": declaration.address_lines(),
        "covers": _COVERS[declaration.scope].format(
            date=f"{declaration.declared_on.day} {declaration.declared_on:%B %Y}"),
        "declaration_text": f"I want to Gift Aid {_DECLARATION_GIFTS[declaration.scope]} to {charity}. "
                            f"{GIFT_AID_TAX_STATEMENT}",
        "declared_on": declaration.declared_on,
        "letter_date": letter_date,
        "cooling_off_days": GiftAidDeclaration.ORAL_COOLING_OFF_DAYS,
        "cancel_by": letter_date + datetime.timedelta(days=GiftAidDeclaration.ORAL_COOLING_OFF_DAYS),
        "site_url": settings.WAGTAILADMIN_BASE_URL.rstrip("/"),
    }


def _check_confirmation_due(declaration: GiftAidDeclaration) -> None:
    if declaration.method != GiftAidDeclaration.Method.ORAL:
        raise ApplicationError(
            f"{declaration.reference} was not made orally: only oral declarations need a written confirmation."
        )
    if declaration.confirmation_sent_on:
        raise ApplicationError(
            f"The written confirmation of {declaration.reference} was already sent on "
            f"{declaration.confirmation_sent_on:%d %b %Y}. To send a copy, print the confirmation letter."
        )
    if declaration.cancelled_on:
        raise ApplicationError(f"{declaration.reference} has been cancelled: there is nothing to confirm.")
    replacement = _replacement_of(declaration)
    if replacement is not None:
        raise ApplicationError(
            f"{declaration.reference} was replaced by {replacement.reference}: confirm that one instead."
        )


@transaction.atomic
def gift_aid_declaration_send_confirmation(*, declaration: GiftAidDeclaration, by=None) -> GiftAidDeclaration:
    """Email the supporter HMRC's written record of an oral declaration: the
    name and home address given, which gifts it covers, the tax statement, the
    right to cancel within 30 days, and the dates of the declaration and of this
    letter (today), which becomes `confirmation_sent_on`.

    Locks the declaration; the date is saved only if the mail was handed to the
    mail backend. Raises ApplicationError, sending and saving nothing, when the
    supporter has no email address (post the letter instead), the declaration is
    not oral, is cancelled or replaced, its confirmation was already sent, or the
    mail could not be sent (or the address is suppressed). Adds a timeline
    entry; the message itself is recorded as every email is (EmailMessage)."""
    from supporters.models import EmailMessage
    from supporters.services import email as email_services

    declaration = _declaration_locked(declaration)
    supporter = declaration.supporter
    _check_confirmation_due(declaration)
    if supporter.is_erased or not supporter.email:
        raise ApplicationError(
            f"{supporter} has no email address: print the confirmation letter and post the letter instead."
        )
    today = timezone.localdate()
    declaration.confirmation_sent_on = today
    _validated_update(declaration, fields=["confirmation_sent_on"])
    # The wording above the record is the staff's (EmailTemplate "gift_aid_confirmation"); the record HMRC
    # asks for (details, the declaration, the right to cancel) is added here, so no edit can drop it.
    record = gift_aid_written_record(declaration=declaration, letter_date=today)
    details = [
        ("Your name", record["full_name"]),
        ("Your home address", ", ".join(record["address_lines"])),
        ("Gifts it covers", record["covers"]),
        ("Date of your declaration", long_date(declaration.declared_on)),
        ("Date of this letter", long_date(today)),
        ("Reference", declaration.reference),
    ]
    try:
        message = email_services.email_send_template(
            supporter=supporter, key="gift_aid_confirmation", details=details,
            values={"declared_on": long_date(declaration.declared_on), "letter_date": long_date(today)},
            extra_html=render_to_string("emails/gift_aid_confirmation.html", record),
            extra_text=render_to_string("emails/gift_aid_confirmation.txt", record).strip(),
            timeline_summary=f"Written confirmation of Gift Aid declaration {declaration.reference} emailed to "
                             f"{supporter.email}", by=by,
        )
    except (AnymailError, smtplib.SMTPException, OSError) as error:
        # Raising rolls back the confirmation date: nothing was sent, so nothing is recorded.
        raise ApplicationError(
            f"The email to {supporter.email} could not be sent ({error.__class__.__name__}). Nothing was "
            f"recorded: try again later, or post the letter instead."
        ) from error
    if message.status != EmailMessage.Status.SENT:
        raise ApplicationError(
            f"The email to {supporter.email} was not sent ({message.error}). Nothing was recorded: post the "
            f"letter instead."
        )
    return declaration


@transaction.atomic
def gift_aid_declaration_confirmation_posted(
    *, declaration: GiftAidDeclaration, posted_on: datetime.date, by=None
) -> GiftAidDeclaration:
    """Record that the printed written record of an oral declaration was posted
    on `posted_on` (its 30 days to cancel run from then). Locks the declaration.
    Raises ApplicationError, saving nothing, for the same reasons as
    gift_aid_declaration_send_confirmation (bar the email address), or a date
    before the declaration or in the future. Adds a timeline entry."""
    declaration = _declaration_locked(declaration)
    _check_confirmation_due(declaration)
    if posted_on is None or posted_on < declaration.declared_on:
        raise ApplicationError("The letter cannot have been posted before the declaration was made.",
                               field="posted_on")
    if posted_on > timezone.localdate():
        raise ApplicationError("The date of posting cannot be in the future.", field="posted_on")
    declaration.confirmation_sent_on = posted_on
    _validated_update(declaration, fields=["confirmation_sent_on"])
    timeline_add(
        supporter=declaration.supporter,
        kind=Interaction.Kind.LETTER,
        summary=f"Written confirmation of Gift Aid declaration {declaration.reference} posted on "
                f"{posted_on:%d %b %Y}",
        by=by,
    )
    return declaration


def likely_duplicate_dismiss(*, flag: LikelyDuplicate) -> None:
    """Staff found the flagged pair to be two people: the flag is kept, dismissed."""
    flag.dismissed_at = timezone.now()
    flag.save(update_fields=["dismissed_at"])
