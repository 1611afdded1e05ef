"""Dates as the charity writes and reads them, and the start of a local day:
one place for what every app shows, reads or filters by."""

import datetime
import re

from django.utils import timezone
from django.utils.formats import date_format


def admin_datetime(value: datetime.datetime | None) -> str:
    """As on every admin list: "26 Nov 2026, 01:42" (a dash when empty)."""
    return date_format(timezone.localtime(value), "j M Y, H:i") if value else "—"


def long_date(day: datetime.date) -> str:
    """As in letters and emails: "8 December 2026"."""
    return f"{day.day} {day:%B %Y}"


def day_start(day: datetime.date) -> datetime.datetime:
    """Midnight at the start of `day`, local time (for filtering datetimes by date with an index)."""
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


_MONTHS = {name: number for number, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
_MONTH_NAMES = {*_MONTHS, "sept", *(datetime.date(2000, m, 1).strftime("%B").casefold() for m in range(1, 13))}
_TIME = r"(?:[T ]+\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
_DAY_FIRST = re.compile(r"(\d{1,2})([/.-])(\d{1,2})\2(\d{4}|\d{2})" + _TIME)
_DAY_MONTH_NAME = re.compile(r"(\d{1,2})[- ]([A-Za-z]{3,9})[- ](\d{4}|\d{2})" + _TIME)
_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[T ][\d:.]+(?:Z|[+-]\d{2}:?\d{2})?)?")


def parse_uk_date(text: str, date_format: str | None = None) -> datetime.date:
    """A date as UK banks and spreadsheets write it: 05/12/2026, 05/12/26,
    05-Dec-2026, 5 Dec 2026, or ISO 2026-12-05, with or without a time after it
    ("05/12/2026 14:30"); never month first. `date_format` (strptime's) reads a
    form mapped for one file instead."""
    if date_format:
        try:
            return datetime.datetime.strptime(text, date_format).date()
        except ValueError:
            raise ValueError(f"“{text}” is not a date like {datetime.date(2026, 12, 5).strftime(date_format)}, "
                             "the form mapped for this file.") from None
    if match := _DAY_FIRST.fullmatch(text):
        day, month, year = int(match.group(1)), int(match.group(3)), match.group(4)
    elif (match := _DAY_MONTH_NAME.fullmatch(text)) and match.group(2).casefold() in _MONTH_NAMES:
        day, month, year = int(match.group(1)), _MONTHS[match.group(2)[:3].casefold()], match.group(3)
    elif match := _ISO.fullmatch(text):
        year, month, day = match.group(1), int(match.group(2)), int(match.group(3))
    else:
        raise ValueError(f"“{text}” is not a date we can read; we expect a UK date such as 05/12/2026.")
    year = int(year) if len(year) == 4 else 2000 + int(year)
    try:
        return datetime.date(year, month, day)
    except ValueError:
        raise ValueError(f"“{text}” is not a real date.") from None
