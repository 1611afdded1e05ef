"""Reads: finding supporters, their duplicates, their Gift Aid declarations, and
everything held about one."""

import re

from django.db.models import Case, CharField, Count, Q, QuerySet, Value, When
from django.db.models.functions import Concat, Lower, Replace

from supporters import personal_data
from supporters.addresses import UK_POSTCODE_COUNTRIES, normalise_postcode
from supporters.models import GiftAidDeclaration, LikelyDuplicate, Supporter

# An outward code, optionally followed by the inward code: "SW1A", "sw1a 1aa", "M1 1AE".
_POSTCODE_LIKE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]?( ?[0-9]([A-Z]{2})?)?$")


def supporter_search(*, query: str, queryset: QuerySet | None = None) -> QuerySet:
    """Supporters matching what staff type in the search box: an email (or its
    start), a postcode (or its outward code), a reference like S0000042, or
    names ("jane", "jane smi", "smith"). Each branch uses an index, so search
    stays fast at hundreds of thousands of supporters."""
    queryset = Supporter.objects.all() if queryset is None else queryset
    query = " ".join((query or "").split())
    if not query:
        return queryset
    if "@" in query:
        return queryset.filter(email__startswith=query.lower())
    reference = re.fullmatch(r"[Ss]0*(\d+)", query)
    if reference:
        return queryset.filter(pk=int(reference.group(1)))
    upper = query.upper()
    if _POSTCODE_LIKE.match(upper) and any(ch.isdigit() for ch in upper):
        try:
            postcode = normalise_postcode(upper, country="GB")
        except ValueError:
            postcode = upper
        return queryset.filter(postcode__startswith=postcode)

    # Names: every word must start a first, last or preferred name.
    queryset = queryset.alias(first_lower=Lower("first_name"), last_lower=Lower("last_name"), preferred_lower=Lower("preferred_name"))
    for word in query.lower().split():
        queryset = queryset.filter(
            Q(first_lower__startswith=word) | Q(last_lower__startswith=word) | Q(preferred_lower__startswith=word)
        )
    return queryset


def supporter_duplicates_of(*, supporter: Supporter) -> QuerySet:
    """Other live records that are likely the same person: the same email, or
    the same first and last name at the same postcode."""
    same = Q()
    if supporter.email:
        same |= Q(email=supporter.email)
    if supporter.postcode:
        same |= Q(
            first_lower=supporter.first_name.lower(),
            last_lower=supporter.last_name.lower(),
            postcode=supporter.postcode,
        )
    if not same:
        return Supporter.objects.none()
    return (
        Supporter.objects.alias(first_lower=Lower("first_name"), last_lower=Lower("last_name"))
        .filter(same, erased_at__isnull=True)
        .exclude(pk=supporter.pk)
        .order_by("created_at", "pk")
    )


def duplicate_groups(*, limit: int = 200) -> list[dict]:
    """Groups of live supporters that look like one person, for staff to review:
    each {"reason": ..., "supporters": [Supporter, ...]}, oldest record first."""
    live = Supporter.objects.filter(erased_at__isnull=True)
    by_email = (
        live.exclude(email="").values("email").annotate(n=Count("id")).filter(n__gt=1).order_by("email")[:limit]
    )
    by_name = (
        live.exclude(postcode="")
        .annotate(first_lower=Lower("first_name"), last_lower=Lower("last_name"))
        .values("first_lower", "last_lower", "postcode")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .order_by("last_lower", "first_lower", "postcode")[:limit]
    )
    groups, seen = [], set()
    for row in by_email:
        members = list(live.filter(email=row["email"]).order_by("created_at", "pk"))
        groups.append({"reason": f"Same email: {row['email']}", "supporters": members})
        seen.add(frozenset(s.pk for s in members))
    for row in by_name:
        members = list(
            live.alias(first_lower=Lower("first_name"), last_lower=Lower("last_name"))
            .filter(first_lower=row["first_lower"], last_lower=row["last_lower"], postcode=row["postcode"])
            .order_by("created_at", "pk")
        )
        if frozenset(s.pk for s in members) in seen:
            continue
        groups.append({"reason": f"Same name at {row['postcode']}", "supporters": members})
    return groups[:limit]


def supporter_personal_data(*, supporter: Supporter) -> dict:
    """Everything held about one supporter, for a subject-access request:
    their record, consent history, timeline, and each other app's section."""
    data = {
        "supporter": {
            "reference": supporter.reference,
            "title": supporter.title,
            "first_name": supporter.first_name,
            "last_name": supporter.last_name,
            "preferred_name": supporter.preferred_name,
            "email": supporter.email,
            "phone": str(supporter.phone) if supporter.phone else "",
            "date_of_birth": supporter.date_of_birth.isoformat() if supporter.date_of_birth else None,
            "address": {
                "house_name_or_number": supporter.address_house,
                "street": supporter.address_street,
                "line_2": supporter.address_locality,
                "town": supporter.address_town,
                "county": supporter.address_county,
                "postcode": supporter.postcode,
                "country": supporter.country.name,
            },
            "source_of_acquisition": supporter.get_source_display(),
            "tags": sorted(tag.name for tag in supporter.tags.all()),
            "notes": supporter.notes,
            "created_at": supporter.created_at.isoformat(),
            "updated_at": supporter.updated_at.isoformat(),
        },
        "current_consent": {channel: granted for channel, granted in supporter.current_consent().items()},
        "consent_history": [
            {
                "channel": event.get_channel_display(),
                "granted": event.granted,
                "when": event.occurred_at.isoformat(),
                "how": event.get_method_display(),
                "wording": event.wording,
                "source": event.source_detail,
            }
            for event in supporter.consent_events.order_by("occurred_at", "pk")
        ],
        "timeline": [
            {
                "when": item.occurred_at.isoformat(),
                "kind": item.get_kind_display(),
                "summary": item.summary,
                "detail": item.detail,
            }
            for item in supporter.interactions.order_by("occurred_at", "pk")
        ],
    }
    for title, build in personal_data.sections().items():
        data[title] = build(supporter)
    return data


def gift_aid_declarations_of(*, supporter: Supporter) -> QuerySet:
    """Every Gift Aid declaration of a supporter, cancelled and superseded ones
    included, newest first, with what their `status` and `replacement` read."""
    return (
        GiftAidDeclaration.objects.filter(supporter=supporter)
        .select_related("recorded_by", "supersedes")
        .prefetch_related("superseded_by")
        .order_by("-declared_on", "-id")
    )


def _squeezed(field: str):
    """A field in lower case without its spaces: "N16 8AA" and "n168aa" alike."""
    return Replace(Lower(field), Value(" "), Value(""))


def postal_mailing_supporters() -> QuerySet:
    """Supporters a letter may go to: current postal consent, not erased, not
    known to have died, no postal suppression (gone away, no contact, MPS), and
    a usable address (a house or street and, in the UK, a postcode).

    Each carries `household`, a key shared by everyone at one address (a UK
    address by its postcode, house and street; an overseas one by all its
    lines; capitals and spaces ignored), and they are ordered by it, so a
    household's people come one after another and a reader can group them
    without holding the rest in memory."""
    uk = sorted(UK_POSTCODE_COUNTRIES)
    uk_address = Concat(Lower("country"), Value("|"), _squeezed("postcode"), Value("|"),
                        _squeezed("address_house"), Value("|"), _squeezed("address_street"))
    overseas_address = Concat(
        Lower("country"), Value("|"), _squeezed("postcode"), Value("|"), _squeezed("address_house"), Value("|"),
        _squeezed("address_street"), Value("|"), _squeezed("address_locality"), Value("|"),
        _squeezed("address_town"), Value("|"), _squeezed("address_county"))
    return (Supporter.objects
            .filter(consent_post=True, erased_at__isnull=True, deceased_on__isnull=True, postal_suppression="")
            .exclude(address_house="", address_street="")
            .exclude(country__in=uk, postcode="")
            .annotate(household=Case(When(country__in=uk, then=uk_address), default=overseas_address,
                                     output_field=CharField()))
            .order_by("household", "last_name", "first_name", "pk"))



def likely_duplicates_to_review(*, limit: int = 200):
    """Records an import added that may be someone already held (the same name
    elsewhere), not yet merged or dismissed, oldest first."""
    return (LikelyDuplicate.objects.filter(dismissed_at__isnull=True, supporter__erased_at__isnull=True,
                                           may_be__erased_at__isnull=True)
            .select_related("supporter", "may_be", "data_import").order_by("created_at", "pk")[:limit])
