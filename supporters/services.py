"""Everything that writes a supporter, their consent or their timeline.

Called alike from the admin, the donation form, imports and commands."""

import datetime
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from wagtail.log_actions import log

from config.errors import ApplicationError
from supporters import personal_data
from supporters.addresses import UK_POSTCODE_COUNTRIES
from supporters.models import Channel, ConsentEvent, ErasureRecord, Interaction, Supporter

# Fields copied from a merged duplicate only where the survivor has nothing.
_MERGE_FILL_FIELDS = ("title", "preferred_name", "email", "phone", "date_of_birth")
_ADDRESS_FIELDS = (
    "address_house", "address_street", "address_locality", "address_town", "address_county", "postcode", "country",
)
_ERASED_BLANK_FIELDS = (
    "title", "preferred_name", "email", "phone", "address_house", "address_street", "address_locality",
    "address_town", "address_county", "postcode", "notes",
)


def _validated_save(instance, *, trusted_keys=(), **save_kwargs):
    """full_clean() then save(), turning Django's ValidationError into the
    ApplicationError a person can read, naming the first field at fault.
    `trusted_keys`: foreign keys our own code set to rows it holds, which the
    database checks anyway (validating each costs a query)."""
    try:
        # Check constraints are left to the database, which enforces them anyway:
        # validating them here costs a query each.
        instance.full_clean(exclude=list(trusted_keys), validate_constraints=False)
    except ValidationError as error:
        field, messages = next(iter(error.message_dict.items()))
        label = field if field == "__all__" else instance._meta.get_field(field).verbose_name
        raise ApplicationError(f"{str(label).capitalize()}: {' '.join(messages)}", field=field) from error
    instance.save(**save_kwargs)
    return instance


@transaction.atomic
def supporter_create(*, tags: Iterable[str] = (), **fields) -> Supporter:
    """Create a supporter from validated fields. Raises ApplicationError for bad input."""
    supporter = _validated_save(Supporter(**fields))
    if tags:
        supporter.tags.add(*tags)
    return supporter


@transaction.atomic
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


@transaction.atomic
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
    an earlier date does not override a newer wish)."""
    if channel not in Channel.values:
        raise ApplicationError(f"Unknown consent channel “{channel}”.", field="channel")
    if not (wording or "").strip():
        raise ApplicationError("Record the wording the supporter was shown or told.", field="wording")
    if supporter.is_erased:
        raise ApplicationError("This supporter has been erased.")
    Supporter.objects.select_for_update().filter(pk=supporter.pk).first()
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
    _validated_save(event, trusted_keys=("supporter", "recorded_by"))
    _consent_refresh(supporter)
    timeline_add(
        supporter=supporter,
        kind=Interaction.Kind.CONSENT,
        summary=f"{event.get_channel_display()} consent {'given' if granted else 'withdrawn'} ({event.get_method_display().lower()})",
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
    try:
        with transaction.atomic():
            interaction.save()
    except IntegrityError:
        if not source_ref:
            raise
        return Interaction.objects.get(supporter=supporter, source_ref=source_ref)
    return interaction


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
        if model is Supporter.tags.through:
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

    duplicate.delete()
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


@transaction.atomic
def supporter_erase(*, supporter: Supporter, reason: str, by=None) -> Supporter:
    """Erase a supporter (the right to erasure): names, contact details, address,
    notes, consent history and timeline go; the row stays, anonymised, so that
    donations and Gift Aid figures still add up in the accounts. Other apps
    scrub their own copies of personal data through personal_data erasers.

    Idempotent in effect: a second erasure raises ApplicationError and changes nothing."""
    if not (reason or "").strip():
        raise ApplicationError("Give the reason for the erasure (e.g. the request's reference).", field="reason")
    supporter = Supporter.objects.select_for_update().get(pk=supporter.pk)
    if supporter.is_erased:
        raise ApplicationError("This supporter has already been erased.")

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
    for erase in personal_data.erasers():
        erase(supporter)

    # The audit trail names the person in its labels and merge snapshots: scrub them too.
    from wagtail.models import ModelLogEntry

    ModelLogEntry.objects.for_instance(supporter).update(label=str(supporter), data={})
    ErasureRecord.objects.create(supporter=supporter, erased_by=by, reason=reason.strip()[:255])
    log(instance=supporter, action="supporters.erase", user=by, data={"reason": reason.strip()[:255]})
    return supporter


_DECLARED_FIELDS = ("title", "first_name", "last_name", "address_house", "address_street", "address_town",
                    "postcode", "country")

# HMRC's model wording for an enduring online declaration, versioned so that each
# declaration records exactly what the donor saw.
GIFT_AID_WORDING_VERSION = "2026-11"
GIFT_AID_WORDING = (
    "Yes, I want to Gift Aid this donation and any donations I make in the future or have made in the past "
    "4 years to {charity}. I am a UK taxpayer and understand that if I pay less Income Tax and/or Capital "
    "Gains Tax than the amount of Gift Aid claimed on all my donations in that tax year it is my "
    "responsibility to pay any difference."
)


def gift_aid_wording() -> str:
    from django.conf import settings

    return GIFT_AID_WORDING.format(charity=settings.CHARITY_NAME)


@transaction.atomic
def gift_aid_declaration_record(
    *,
    supporter: Supporter,
    method: str,
    wording: str,
    wording_version: str,
    declared_on: datetime.date | None = None,
    scope: str = "all_gifts",
    source_detail: str = "",
    declared: dict | None = None,
    by=None,
):
    """Record a Gift Aid declaration with the name and home address as declared:
    `declared` (title, first_name, last_name, address_house, address_street,
    address_town, postcode, country), or else the supporter's record as it is now.
    Raises ApplicationError, saving nothing, when the address lacks what HMRC
    needs (a house name or number, and a UK postcode)."""
    from supporters.models import GiftAidDeclaration

    details = {name: getattr(supporter, name) for name in _DECLARED_FIELDS}
    details.update(declared or {})
    if not details["address_house"]:
        raise ApplicationError("A Gift Aid declaration needs the house name or number.", field="address_house")
    if str(details["country"]) in UK_POSTCODE_COUNTRIES and not details["postcode"]:
        raise ApplicationError("A Gift Aid declaration needs the postcode of a UK address.", field="postcode")
    declaration = GiftAidDeclaration(
        supporter=supporter,
        **details,
        declared_on=declared_on or timezone.localdate(),
        method=method,
        scope=scope,
        wording=wording,
        wording_version=wording_version,
        source_detail=source_detail,
        recorded_by=by,
    )
    _validated_save(declaration, trusted_keys=("supporter", "recorded_by"))
    timeline_add(
        supporter=supporter,
        kind=Interaction.Kind.RECORD,
        summary=f"Gift Aid declaration made ({declaration.get_method_display().lower()})",
        by=by,
    )
    return declaration
