"""The cells of an import file as django-import-export fields and widgets: each
of our fields names what it holds, the headings other systems give it, and a
widget that reads a cell as a UK office writes it or says what is wrong.

A widget's clean() raises ValueError with a message for a person; the engine
puts it beside the row number and the file's own heading."""

import re

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django_countries import countries
from import_export import fields, widgets

from config.formats import parse_uk_date
from config.money import parse_pence
from supporters.addresses import UK_POSTCODE_COUNTRIES, normalise_postcode


class ImportField(fields.Field):
    """One of our fields: `label` and `help` for the mapping screen, `aliases`
    the headings that mean it in any file (compared without case, spaces or
    punctuation), `required` if a row is nothing without it."""

    def __init__(self, name: str, label: str, *, widget=None, required: bool = False, help: str = "",
                 aliases: tuple[str, ...] = ()):
        super().__init__(attribute=name, column_name=name, widget=widget or Text())
        self.name, self.label, self.required, self.help = name, label, required, help
        self.aliases = tuple({heading_key(name), heading_key(label), *(heading_key(a) for a in aliases)})

    def clean(self, row, **kwargs):
        value = row.get(self.column_name, "")
        if self.required and not value.strip():
            raise ValueError("This cell is empty, and the row needs it.")
        return self.widget.clean(value, row=row, **kwargs)


def heading_key(heading: str) -> str:
    """'Donor E-mail ' and 'donor_email' alike: how headings are compared."""
    return re.sub(r"[^a-z0-9]", "", heading.casefold())


def tidy(value: str) -> str:
    return " ".join(value.split())


class Remembered(widgets.Widget):
    """A widget that keeps its answer (or its complaint) for each value it reads,
    the last few thousand: a file repeats itself (a donor's email and postcode in
    each of their gifts, a year's few hundred dates, "Ireland" in every Irish
    row), and a postcode, a phone number or a country's name costs 10 µs to
    1 ms to check, most of an import's time in a file of 100,000 rows.
    Subclasses implement read(value, row); key() says what the answer depends on."""

    KEEP = 20_000  # answers kept, so that memory stays flat however long the file

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._known: dict = {}

    def key(self, value, row):
        return value

    def read(self, value, row):
        raise NotImplementedError

    def clean(self, value, row=None, **kwargs):
        key = self.key(value, row)
        known = self._known.get(key)
        if known is None:
            try:
                known = (True, self.read(value, row))
            except ValueError as error:
                known = (False, str(error))
            if len(self._known) >= self.KEEP:
                self._known.clear()
            self._known[key] = known
        ok, answer = known
        if not ok:
            raise ValueError(answer)
        return answer


class Text(widgets.Widget):
    def __init__(self, max_length: int = 200):
        super().__init__()
        self.max_length = max_length

    def clean(self, value, row=None, **kwargs):
        value = tidy(value)
        if len(value) > self.max_length:
            raise ValueError(f"This is {len(value)} characters long; it can be at most {self.max_length}.")
        return value


class _EmailValidator(EmailValidator):
    """Django's check, each domain's verdict remembered: a file's thousands of
    addresses share a few hundred domains."""

    def __init__(self):
        super().__init__()
        self._domains: dict[str, bool] = {}

    def validate_domain_part(self, domain_part):
        verdict = self._domains.get(domain_part)
        if verdict is None:
            if len(self._domains) >= Remembered.KEEP:
                self._domains.clear()
            verdict = self._domains[domain_part] = super().validate_domain_part(domain_part)
        return verdict


_email = _EmailValidator()


class Email(Remembered):
    def read(self, value, row):
        value = value.strip().lower()
        if value:
            try:
                _email(value)
            except ValidationError:
                raise ValueError(f"“{value}” is not an email address.") from None
        return value


class UKDate(Remembered):
    """DD/MM/YYYY (never month first), 5 Dec 2026 or 2026-12-05, a time allowed after it."""

    def read(self, value, row):
        value = value.strip()
        return parse_uk_date(value) if value else None


class Pounds(Remembered):
    """An amount in pounds as people write it (£1,250.00, 1250, 12.5) as integer pence."""

    def __init__(self, *, positive: bool = True):
        super().__init__()
        self.positive = positive

    def read(self, value, row):
        value = value.strip()
        if not value:
            return None
        pence = parse_pence(value)
        if self.positive and pence <= 0:
            raise ValueError(f"“{value}” is not an amount above nothing.")
        return pence


_YES = {"yes", "y", "true", "1", "ticked", "opted in", "optin", "x"}
_NO = {"no", "n", "false", "0", "opted out", "optout"}


class YesNo(widgets.Widget):
    """Yes or no, however a system writes it; blank is 'not said' (None)."""

    def clean(self, value, row=None, **kwargs):
        value = " ".join(value.split()).casefold()
        if not value:
            return None
        if value in _YES:
            return True
        if value in _NO:
            return False
        raise ValueError(f"“{value}” is not yes or no.")


_COUNTRY_ALIASES = {"UK": "GB", "UNITED KINGDOM": "GB", "GREAT BRITAIN": "GB", "ENGLAND": "GB", "SCOTLAND": "GB",
                    "WALES": "GB", "NORTHERN IRELAND": "GB", "GBR": "GB", "U.K.": "GB"}


def country_code(text: str) -> str:
    """GB unless given; a two-letter code or a country's name. ValueError if unknown."""
    text = tidy(text)
    if not text:
        return "GB"
    upper = text.upper()
    if upper in _COUNTRY_ALIASES:
        return _COUNTRY_ALIASES[upper]
    code = countries.alpha2(upper) or countries.by_name(text)
    if not code:
        raise ValueError(f"“{text}” is not a country we know: give its two-letter code (GB, IE, FR…) or its name.")
    return code


class Country(Remembered):
    def read(self, value, row):
        return country_code(value)


class Postcode(Remembered):
    """A UK postcode is checked and written SW1A 1AA; another country's is kept as
    written. Reads the row's country, so map both."""

    def key(self, value, row):
        return value, (row or {}).get("country", "")

    def read(self, value, row):
        try:
            country = country_code((row or {}).get("country", ""))
        except ValueError:
            country = "GB"  # the country's own cell reports that
        return normalise_postcode(value, country=country)


def is_uk(country: str) -> bool:
    return country in UK_POSTCODE_COUNTRIES


_HOUSE_NUMBER = re.compile(r"^(?P<house>\d+[A-Za-z]?(?:\s*-\s*\d+[A-Za-z]?)?|Flat \d+[A-Za-z]?),?\s+(?P<street>.+)$",
                           re.IGNORECASE)


def split_house(line_1: str, line_2: str = "") -> tuple[str, str, str]:
    """'12 High Street' -> house '12', street 'High Street'; 'Rose Cottage' with a
    second line 'Church Lane' -> house 'Rose Cottage', street 'Church Lane'.
    Returns (house, street, locality). HMRC wants the house on its own."""
    line_1, line_2 = tidy(line_1), tidy(line_2)
    if match := _HOUSE_NUMBER.match(line_1):
        return match["house"], match["street"], line_2
    if line_2 and not re.match(r"^\d", line_1):
        return line_1, line_2, ""
    return line_1, "", line_2


# Most numbers in a UK file are a mobile or a geographic number written plainly:
# 0 (or +44) and ten digits, spaced anyhow. For those, phonenumbers' answer (parsed
# for GB, possible, in E.164) is +44 and the ten digits: said here without its
# 80 µs parse, which is most of an import's time on a file with phone numbers
# (tests/supporters/test_import_fields.py holds the two to the same answers).
_PLAIN_UK_NUMBER = re.compile(r"(?:0|\+44)([1237]\d{9})")


class Phone(Remembered):
    """A phone number as written; UK numbers need no +44. Kept as written if it
    is a number, refused if it cannot be one."""

    def read(self, value, row):
        value = tidy(value)
        if not value:
            return ""
        if plain := _PLAIN_UK_NUMBER.fullmatch(value.replace(" ", "")):
            return "+44" + plain[1]
        try:
            number = phonenumbers.parse(value, "GB")
        except phonenumbers.NumberParseException:
            number = None
        if number is None or not phonenumbers.is_possible_number(number):
            raise ValueError(f"“{value}” is not a phone number.")
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
