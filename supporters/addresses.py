import re

from django.core.exceptions import ValidationError
from localflavor.gb.forms import GBPostcodeField

# The UK, and the Crown dependencies whose postcodes follow the UK's format.
UK_POSTCODE_COUNTRIES = {"GB", "JE", "GG", "IM"}

_uk_postcode_field = GBPostcodeField(required=False)


def normalise_postcode(postcode: str, *, country: str) -> str:
    """'sw1a1aa' -> 'SW1A 1AA' for UK addresses; other countries' codes are kept as
    written, in capitals. Raises ValueError, with a message for a person, when a
    UK postcode is not one."""
    postcode = " ".join((postcode or "").split()).upper()
    if not postcode or country not in UK_POSTCODE_COUNTRIES:
        return postcode
    try:
        return _uk_postcode_field.clean(postcode)
    except ValidationError:
        raise ValueError(f"“{postcode}” is not a valid UK postcode (for example SW1A 1AA).") from None


# "12", "12A", "12-14": a house number, written before the street.
HOUSE_NUMBER = re.compile(r"\d+[A-Za-z]?(\s*[-/]\s*\d+[A-Za-z]?)?")


def street_lines(house: str, street: str) -> list[str]:
    """The first lines of an address as a letter shows them: a house number
    shares the street's line ("12 Mill Lane"), a house name has its own
    ("Rose Cottage" / "Mill Lane"). Empty parts are left out."""
    house, street = (house or "").strip(), (street or "").strip()
    if not house or HOUSE_NUMBER.fullmatch(house):
        return [line for line in (" ".join(part for part in (house, street) if part),) if line]
    return [line for line in (house, street) if line]
