"""Working days as the UK's banks keep them: Monday to Friday, less England
and Wales's bank holidays (from the well-kept `holidays` package)."""

import datetime
import functools

import holidays


@functools.cache
def _bank_holidays(year: int) -> frozenset[datetime.date]:
    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=year))


def is_working_day(day: datetime.date) -> bool:
    return day.weekday() < 5 and day not in _bank_holidays(day.year)


def add(day: datetime.date, working_days: int) -> datetime.date:
    """The day `working_days` working days after `day` (before, if negative);
    from a weekend or holiday, counting starts at the next working day."""
    step = 1 if working_days >= 0 else -1
    remaining = abs(working_days)
    while remaining:
        day += datetime.timedelta(days=step)
        if is_working_day(day):
            remaining -= 1
    return day
