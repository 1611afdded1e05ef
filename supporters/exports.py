"""Supporters' downloads: the mailing list for a channel, only supporters whose
current consent covers it, and the mail-house file, a line per household for
a letter (exporters: see config.exports)."""

import itertools
from operator import attrgetter

from django.utils import timezone
from django.utils.functional import cached_property

from config.exports import Column, Exporter
from supporters import selectors
from supporters.addresses import street_lines
from supporters.models import Channel, Supporter

MAILING_CHANNELS = {Channel.EMAIL.value: "email", Channel.POST.value: "post", Channel.PHONE.value: "phone", Channel.SMS.value: "SMS"}


def mailing_list_queryset(*, channel: str):
    """Live supporters whose current consent covers `channel`, with what that
    channel needs; never someone known to have died, and no post where it is suppressed."""
    queryset = Supporter.objects.filter(erased_at__isnull=True, deceased_on__isnull=True,
                                        **{f"consent_{channel}": True})
    if channel == Channel.EMAIL:
        queryset = queryset.exclude(email="")
    elif channel == Channel.POST:
        queryset = queryset.filter(postal_suppression="").exclude(address_street="", address_house="")
    else:
        queryset = queryset.exclude(phone="")
    return queryset.order_by("last_name", "first_name", "pk")


class MailingListExport(Exporter):
    name = "mailing_list"
    label = "Mailing list"
    permission = "supporters.export_supporter_list"
    columns = [
        Column("Reference", "reference"),
        Column("Title", "title"),
        Column("First name", "first_name"),
        Column("Last name", "last_name"),
        Column("Preferred name", "preferred_name"),
        Column("Email", "email"),
        Column("Phone", lambda supporter: supporter.phone.as_international if supporter.phone else ""),
        Column("House name or number", "address_house"),
        Column("Street", "address_street"),
        Column("Address line 2", "address_locality"),
        Column("Town", "address_town"),
        Column("County", "address_county"),
        Column("Postcode", "postcode"),
        Column("Country", lambda supporter: supporter.country.name),
    ]

    def __init__(self, *, channel: str):
        if channel not in MAILING_CHANNELS:
            raise ValueError(f"No mailing list for the channel {channel!r}")
        self.channel = channel

    def items(self):
        return mailing_list_queryset(channel=self.channel)

    def filename(self) -> str:
        return f"mailing-list-{self.channel}-{timezone.localdate().isoformat()}"

    def describe(self) -> str:
        return f"the {MAILING_CHANNELS[self.channel]} mailing list"


# --- the mail house ----------------------------------------------------------------

ADDRESS_LINES = 5


def _joined(names: list[str]) -> str:
    """"Ann", "Ann and John", "Ann, John and Jo"."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _once(names) -> list[str]:
    """Names in order, each once (two records of one person at one address are one name on the envelope)."""
    seen, kept = set(), []
    for name in names:
        if name.casefold() not in seen:
            seen.add(name.casefold())
            kept.append(name)
    return kept


class Household:
    """The supporters at one address, as one letter reaches them."""

    def __init__(self, people: list[Supporter]):
        self.people = people
        # The address as the most recently updated of their records writes it.
        self.address = max(people, key=lambda person: (person.updated_at, person.pk))

    @property
    def addressee(self) -> str:
        """"Mr John Smith", "Mr John Smith and Mrs Ann Smith"; three or more of
        one surname: "The Smith household", as an envelope has room for."""
        surnames = {person.last_name.casefold() for person in self.people}
        if len(self.people) > 2 and len(surnames) == 1:
            return f"The {self.people[0].last_name} household"
        return _joined(_once(" ".join(part for part in (person.title, person.first_name, person.last_name) if part)
                             for person in self.people))

    @property
    def salutation(self) -> str:
        """"Dear John", "Dear John and Ann": the names they like to be called."""
        return "Dear " + _joined(_once(person.display_name for person in self.people))

    @cached_property
    def lines(self) -> list[str]:
        """Address lines 1 to 5 (the town, county, postcode and country have their own columns)."""
        address = self.address
        lines = [*street_lines(address.address_house, address.address_street), address.address_locality]
        lines = [line for line in lines if line][:ADDRESS_LINES]
        return lines + [""] * (ADDRESS_LINES - len(lines))

    @property
    def references(self) -> str:
        return "; ".join(person.reference for person in self.people)


class MailHouseExport(Exporter):
    """The file a mail house prints and posts from: one line per household
    address (supporters whose consent, record and address allow a letter; see
    selectors.postal_mailing_supporters), addressed jointly, with the
    references of everyone it reaches. Read in address order and grouped as it
    goes, so a file of any size holds one household in memory at a time."""

    name = "mail_house"
    label = "Mail-house file"
    permission = "supporters.export_supporter_list"
    columns = [
        Column("Addressee", "addressee"),
        Column("Salutation", "salutation"),
        *[Column(f"Address {number}", lambda household, index=number - 1: household.lines[index])
          for number in range(1, ADDRESS_LINES + 1)],
        Column("Town", "address.address_town"),
        Column("County", "address.address_county"),
        Column("Postcode", "address.postcode"),
        Column("Country", lambda household: household.address.country.name),
        Column("References", "references"),
        Column("People", lambda household: len(household.people)),
    ]

    def items(self):
        supporters = selectors.postal_mailing_supporters().iterator(chunk_size=self.chunk_size)
        for _address, people in itertools.groupby(supporters, key=attrgetter("household")):
            yield Household(list(people))

    def filename(self) -> str:
        return f"mail-house-{timezone.localdate().isoformat()}"

    def describe(self) -> str:
        return "the mail-house file (postal consent, one line per household)"
