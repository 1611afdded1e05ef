"""Mailing-list exports: only supporters whose current consent covers the channel
(written, escaped, by config.spreadsheets like every export)."""

from django.http import FileResponse
from django.utils import timezone
from import_export import fields, resources

from config.spreadsheets import spreadsheet_response
from supporters.models import Channel, Supporter

MAILING_CHANNELS = {Channel.EMAIL.value: "email", Channel.POST.value: "post", Channel.PHONE.value: "phone", Channel.SMS.value: "SMS"}


class MailingListResource(resources.Resource):
    reference = fields.Field(attribute="reference", column_name="Reference")
    title = fields.Field(attribute="title", column_name="Title")
    first_name = fields.Field(attribute="first_name", column_name="First name")
    last_name = fields.Field(attribute="last_name", column_name="Last name")
    preferred_name = fields.Field(attribute="preferred_name", column_name="Preferred name")
    email = fields.Field(attribute="email", column_name="Email")
    phone = fields.Field(column_name="Phone")
    address_house = fields.Field(attribute="address_house", column_name="House name or number")
    address_street = fields.Field(attribute="address_street", column_name="Street")
    address_locality = fields.Field(attribute="address_locality", column_name="Address line 2")
    address_town = fields.Field(attribute="address_town", column_name="Town")
    address_county = fields.Field(attribute="address_county", column_name="County")
    postcode = fields.Field(attribute="postcode", column_name="Postcode")
    country = fields.Field(column_name="Country")

    def dehydrate_phone(self, supporter):
        return supporter.phone.as_international if supporter.phone else ""

    def dehydrate_country(self, supporter):
        return supporter.country.name


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


def mailing_list_response(*, channel: str, file_format: str, user=None) -> FileResponse:
    dataset = MailingListResource().export(queryset=mailing_list_queryset(channel=channel))
    stamp = timezone.localdate().isoformat()
    return spreadsheet_response(rows=[dataset.headers, *dataset], filename=f"mailing-list-{channel}-{stamp}",
                                file_format="xlsx" if file_format == "xlsx" else "csv", user=user)
