"""Closed months. Once Finance has closed a month's books, gifts and refunds
dated in it can no longer be recorded or changed, whichever path tries
(a form, an import, a paying-in batch): donations' own services refuse. A
refund made after the close is dated the day it is made, so it is booked in
the month still open.

Finance (above donations) keeps which months are closed and registers how to
ask, at start-up (finance.apps)."""

import datetime
from collections.abc import Callable

from config.errors import ApplicationError

_checks: list[Callable[[datetime.date], bool]] = []


def register_closed_month_check(check: Callable[[datetime.date], bool]) -> None:
    if check not in _checks:
        _checks.append(check)


def month_is_closed(day: datetime.date) -> bool:
    return any(check(day) for check in _checks)


def refuse_if_month_closed(day: datetime.date, *, what: str, field: str | None = None) -> None:
    """ApplicationError if `day` falls in a closed month, naming what was refused."""
    if month_is_closed(day):
        raise ApplicationError(
            f"{day:%B %Y} is closed in the books, so {what} dated {day:%d/%m/%Y} cannot be recorded or changed. "
            f"Date it in an open month, or ask Finance to reopen {day:%B %Y} (they give a reason).", field=field)
