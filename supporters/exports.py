"""Supporters' downloads: the mailing list for a channel, only supporters whose
current consent covers it (an exporter: see config.exports)."""

from django.utils import timezone

from config.exports import Column, Exporter
from supporters.models import Channel, Supporter

MAILING_CHANNELS = {Channel.EMAIL.value: "email", Channel.POST.value: "post", Channel.PHONE.value: "phone", Channel.SMS.value: "SMS"}


def mailing_list_queryset(*, channel: str):
    """Live supporters whose current consent covers `channel`, with what that channel needs."""
    queryset = Supporter.objects.filter(erased_at__isnull=True, **{f"consent_{channel}": True})
    if channel == Channel.EMAIL:
        queryset = queryset.exclude(email="")
    elif channel == Channel.POST:
        queryset = queryset.exclude(address_street="", address_house="")
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
