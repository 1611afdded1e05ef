"""UK tax years (6 April to 5 April), as statements and Gift Aid count them."""

import dataclasses
import datetime

from django.utils import timezone


def tax_year_start(day: datetime.date) -> datetime.date:
    start = datetime.date(day.year, 4, 6)
    return start if day >= start else datetime.date(day.year - 1, 4, 6)


def tax_year_end_year(day: datetime.date) -> int:
    """The tax year a day falls in, named as HMRC's GASDS claim names it: by the year it ends (5 April)."""
    return tax_year_start(day).year + 1


@dataclasses.dataclass(frozen=True, order=True)
class TaxYear:
    """A UK tax year, named by the year it starts: TaxYear(2025) runs from
    6 April 2025 to 5 April 2026 and reads "2025–26"."""

    start_year: int

    @classmethod
    def containing(cls, day: datetime.date) -> "TaxYear":
        return cls(tax_year_start(day).year)

    @classmethod
    def last_complete(cls, today: datetime.date | None = None) -> "TaxYear":
        return cls(cls.containing(today or timezone.localdate()).start_year - 1)

    @property
    def first_day(self) -> datetime.date:
        return datetime.date(self.start_year, 4, 6)

    @property
    def last_day(self) -> datetime.date:
        return datetime.date(self.start_year + 1, 4, 5)

    @property
    def label(self) -> str:
        return f"{self.start_year}–{(self.start_year + 1) % 100:02d}"

    @property
    def period(self) -> str:
        return f"{self.first_day:%-d %B %Y} to {self.last_day:%-d %B %Y}"

    def __str__(self) -> str:
        return self.label
