"""The import widgets' shortcuts give the answers of what they stand in for:
a plain UK phone number read without phonenumbers' parse, an email's domain
checked once, an answer remembered for a value seen before."""

import random

import phonenumbers
import pytest
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator

from supporters.imports.fields import Email, Phone, Postcode, UKDate


def _phonenumbers(value: str) -> str | None:
    """What Phone gave before its shortcut: E.164, or None for 'not a phone number'."""
    try:
        number = phonenumbers.parse(" ".join(value.split()), "GB")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _written(rng: random.Random, digits: str) -> str:
    """Ten digits after 0 or +44, spaced as people space them."""
    start = rng.choice(("0", "+44", "+44 ", "0"))
    cuts = sorted(rng.sample(range(1, 10), rng.randint(0, 3)))
    parts = [digits[a:b] for a, b in zip([0, *cuts], [*cuts, 10])]
    return start + rng.choice((" ", "")).join(parts)


def test_a_plain_uk_number_reads_as_phonenumbers_reads_it():
    rng = random.Random(16)
    values = []
    for first in "0123456789":
        for _ in range(400):
            values.append(_written(rng, first + "".join(rng.choice("0123456789") for _ in range(9))))
    values += ["07700 900123", "+44 7700 900123", "020 7946 0000", "0113 496 0999", "03001234567", "0800 123 4567",
               "0044 7700 900123", "+44 (0)7700 900123", "07700-900123", "7700 900123", "+1 202 555 0100", "999",
               "+353 1 234 5678", "0 7 7 0 0 9 0 0 1 2 3", "+447700900123", "0770090012", "077009001234"]
    phone = Phone()
    for value in values:
        try:
            read = phone.clean(value)
        except ValueError:
            read = None
        assert read == _phonenumbers(value), value


def test_an_email_is_judged_as_django_judges_it():
    django_email = EmailValidator()
    email = Email()
    values = ["ann@example.org", "Ann.O'Neill@Example.Co.UK", "bad@", "@example.org", "a@b", "x@localhost",
              "x@[127.0.0.1]", "x@[999.1.1.1]", "two@@example.org", "sp ace@example.org", "ann@exa_mple.org",
              "zoë@example.org", "ann@ex-ample.org", "ann@-example.org", "ann@example.org."] * 2
    for value in values:
        try:
            django_email(value.strip().lower())
            expected = value.strip().lower()
        except ValidationError:
            expected = None
        try:
            got = email.clean(value)
        except ValueError:
            got = None
        assert got == expected, value


@pytest.mark.parametrize("widget, value, row", [
    (Postcode(), "sw1a1aa", {"country": ""}), (Postcode(), "NOT A CODE", {"country": "GB"}),
    (Postcode(), "NOT A CODE", {"country": "France"}), (UKDate(), "03/04/2026 10:15", None),
    (UKDate(), "31/02/2026", None), (Phone(), "12", None),
])
def test_a_value_seen_again_gets_the_same_answer_or_the_same_complaint(widget, value, row):
    def read():
        try:
            return "ok", widget.clean(value, row=row)
        except ValueError as error:
            return "problem", str(error)

    assert read() == read() == read()
