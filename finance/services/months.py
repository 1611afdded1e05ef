"""Closing a month's books, and reopening one (recorded: who, when, why).

A closed month's gifts, refunds and batches can no longer be changed: donations'
services ask `month_is_closed` (registered in finance.apps) and refuse, and
finance's own batch services do the same."""

import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from config.errors import ApplicationError
from finance.models import ClosedMonth, MonthReopening


def month_is_closed(day: datetime.date) -> bool:
    return ClosedMonth.objects.filter(month=ClosedMonth.first_day(day)).exists()


def _first_day(month: datetime.date) -> datetime.date:
    if month.day != 1:
        raise ApplicationError("A month is named by its first day.", field="month")
    return month


def month_close(*, month: datetime.date, by=None, today: datetime.date | None = None) -> ClosedMonth:
    """Close the month's books. Only a month that is over can be closed;
    closing a closed month again changes nothing."""
    month = _first_day(month)
    today = today or timezone.localdate()
    next_month = (month + datetime.timedelta(days=32)).replace(day=1)
    if next_month > today:
        raise ApplicationError(f"{month:%B %Y} is not over yet: it can be closed from {next_month:%-d %B %Y}.",
                               field="month")
    try:
        with transaction.atomic():
            return ClosedMonth.objects.create(month=month, closed_by=by)
    except IntegrityError:  # already closed (perhaps by a colleague a moment ago)
        return ClosedMonth.objects.get(month=month)


@transaction.atomic
def month_reopen(*, month: datetime.date, reason: str, by=None) -> MonthReopening:
    """Reopen a closed month, saying why (kept for the auditors)."""
    month = _first_day(month)
    reason = " ".join((reason or "").split())
    if not reason:
        raise ApplicationError("Say why the month is reopened (e.g. “Cheque batch 41 keyed to the wrong month”).",
                               field="reason")
    closed = ClosedMonth.objects.select_for_update().filter(month=month).first()
    if closed is None:
        raise ApplicationError(f"{month:%B %Y} is not closed.", field="month")
    closed.delete()
    return MonthReopening.objects.create(month=month, reopened_by=by, reason=reason[:255])
