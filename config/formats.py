"""Dates as the charity writes them, and the start of a local day: one place
for what every app shows or filters by."""

import datetime

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
