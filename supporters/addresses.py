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
