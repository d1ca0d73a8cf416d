"""The holidays file and the day types a policy calendar can name: pure configuration.

The runtime classification of dates (``controller.calendar.SiteCalendar``) builds on these;
policy declarations (``controller.config.policies``) name the day types, so they live here, on
the ground floor, where the loader can import them without reaching up.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import Field, ValidationError, model_validator

from .common import StrictModel
from .errors import ConfigError, ConfigIssue, issues_from_validation
from .yamlsrc import YamlSourceError, load_yaml_file

__all__ = ["DayType", "HolidaysFile", "load_holidays_file"]


class DayType(StrEnum):
    """Day categories a policy calendar can select (several apply to each date)."""

    WORKDAY = "workday"
    """An official working day: a weekday that is not a holiday, or a make-up working day."""
    RESTDAY = "restday"
    """Not a working day: a weekend or a public holiday."""
    WEEKEND = "weekend"
    """Saturday or Sunday, whether or not it is a make-up working day."""
    HOLIDAY = "holiday"
    """A public holiday (法定节假日 and the days off bridged to it)."""
    MAKEUP_WORKDAY = "makeup_workday"
    """A weekend day worked in exchange for a holiday bridge (调休上班)."""
    SEMESTER = "semester"
    VACATION = "vacation"
    TEACHING = "teaching"
    """A working day in a semester and not in a vacation."""


class _DayEntry(StrictModel):
    """One date or a range of dates in a holidays file, with an optional name."""

    date: dt.date | None = None
    start: dt.date | None = None
    end: dt.date | None = None
    name: str | None = None

    @model_validator(mode="after")
    def _one_form(self) -> _DayEntry:
        if (self.date is None) == (self.start is None or self.end is None):
            raise ValueError("give either 'date' or both 'start' and 'end'")
        if self.start is not None and self.end is not None and self.end < self.start:
            raise ValueError(f"ends {self.end} before it starts {self.start}")
        return self

    def dates(self) -> list[dt.date]:
        if self.date is not None:
            return [self.date]
        assert self.start is not None
        assert self.end is not None
        days = (self.end - self.start).days
        return [self.start + dt.timedelta(days=i) for i in range(days + 1)]


class HolidaysFile(StrictModel):
    """An editable list of days off and make-up working days; it wins over every other source."""

    notice_years: list[Annotated[int, Field(ge=2000, le=2100)]] = Field(
        default=[],
        description="Years whose State Council notice is entered here in full: no provisional "
        "days and no alarm for them.",
    )
    holidays: list[dt.date | _DayEntry] = []
    workdays: list[dt.date | _DayEntry] = []

    def holiday_names(self) -> dict[dt.date, str | None]:
        return _expand(self.holidays)

    def workday_names(self) -> dict[dt.date, str | None]:
        return _expand(self.workdays)

    def workday_dates(self) -> set[dt.date]:
        return set(_expand(self.workdays))


def _expand(entries: Iterable[dt.date | _DayEntry]) -> dict[dt.date, str | None]:
    out: dict[dt.date, str | None] = {}
    for entry in entries:
        if isinstance(entry, dt.date):
            out[entry] = None
        else:
            for day in entry.dates():
                out[day] = entry.name
    return out


def load_holidays_file(path: Path) -> HolidaysFile:
    """Load a holidays file; ConfigError with file:line:col when it is invalid."""
    try:
        data = load_yaml_file(path)
    except YamlSourceError as err:
        raise ConfigError([ConfigIssue(err.position, "", err.message)]) from err
    if data is None:
        return HolidaysFile()
    try:
        parsed = HolidaysFile.model_validate(data)
    except ValidationError as err:
        raise ConfigError(issues_from_validation(err, data)) from err
    clash = sorted(parsed.workday_dates() & set(parsed.holiday_names()))
    if clash:
        raise ConfigError(
            [ConfigIssue(None, str(path), f"dates both holiday and workday: {clash[:5]}")]
        )
    return parsed
