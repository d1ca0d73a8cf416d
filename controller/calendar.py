"""What kind of day a date is: working day, public holiday, make-up working day, semester, vacation.

Chinese public holidays move every year and come with make-up working days (调休) on weekends,
announced each winter by the State Council. ``chinese-calendar`` knows the published years;
the site's ``calendar`` section and its editable ``holidays_file`` win over the library, so a
campus can add next year's dates (or its own days off) without waiting for a release. Years the
library does not know fall back to "Saturday and Sunday are days off", with a warning.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import chinese_calendar
from pydantic import ValidationError, model_validator

from controller.config.common import StrictModel
from controller.config.errors import ConfigError, ConfigIssue, issues_from_validation
from controller.config.site import Calendar, DateSpan
from controller.config.yamlsrc import YamlSourceError, load_yaml_file

if TYPE_CHECKING:
    from controller.config.loader import LoadedSite

__all__ = [
    "DayInfo",
    "DayType",
    "HolidaysFile",
    "SiteCalendar",
    "load_holidays_file",
]

_LOGGER = logging.getLogger(__name__)

_CHINESE_NAMES = {h.value: h.chinese for h in chinese_calendar.Holiday}


_Source = Literal["site", "library", "weekday"]


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


@dataclass(frozen=True, slots=True)
class DayInfo:
    """Everything the calendar knows about one date."""

    date: dt.date
    types: frozenset[DayType]
    holiday: str | None = None
    semester: str | None = None
    vacation: str | None = None
    source: _Source = "weekday"

    def is_(self, day_type: DayType) -> bool:
        return day_type in self.types


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
    """An editable list of days off and make-up working days; it wins over the library."""

    holidays: list[dt.date | _DayEntry] = []
    workdays: list[dt.date | _DayEntry] = []

    def holiday_names(self) -> dict[dt.date, str | None]:
        return _expand(self.holidays)

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


class SiteCalendar:
    """Classifies dates for policy calendars. Results are cached per date."""

    def __init__(
        self,
        *,
        semesters: Sequence[DateSpan] = (),
        vacations: Sequence[DateSpan] = (),
        holidays: Mapping[dt.date, str | None] | Iterable[dt.date] = (),
        workdays: Iterable[dt.date] = (),
        use_library: bool = True,
    ) -> None:
        self.semesters = tuple(semesters)
        self.vacations = tuple(vacations)
        if isinstance(holidays, Mapping):
            self._holidays: dict[dt.date, str | None] = dict(holidays)
        else:
            self._holidays = dict.fromkeys(holidays)
        self._workdays = set(workdays)
        clash = sorted(self._workdays & set(self._holidays))
        if clash:
            raise ValueError(f"dates both holiday and workday: {clash[:5]}")
        self.use_library = use_library
        self._cache: dict[dt.date, DayInfo] = {}
        self.unknown_years: set[int] = set()

    @classmethod
    def from_config(cls, calendar: Calendar, base_dir: Path) -> SiteCalendar:
        """The site's calendar section plus its holidays file (site entries win on clashes)."""
        holidays: dict[dt.date, str | None] = {}
        workdays: set[dt.date] = set()
        if calendar.holidays_file:
            parsed = load_holidays_file(base_dir / calendar.holidays_file)
            holidays.update(parsed.holiday_names())
            workdays.update(parsed.workday_dates())
        for day in calendar.holidays:
            workdays.discard(day)
            holidays[day] = holidays.get(day)
        for day in calendar.workdays:
            holidays.pop(day, None)
            workdays.add(day)
        return cls(
            semesters=calendar.semesters,
            vacations=calendar.vacations,
            holidays=holidays,
            workdays=workdays,
        )

    @classmethod
    def from_site(cls, site: LoadedSite) -> SiteCalendar:
        return cls.from_config(site.calendar, site.source.parent)

    def day(self, date: dt.date) -> DayInfo:
        """The classification of ``date`` (cached)."""
        info = self._cache.get(date)
        if info is None:
            info = self._classify(date)
            if len(self._cache) > 4000:
                self._cache.clear()
            self._cache[date] = info
        return info

    def is_workday(self, date: dt.date) -> bool:
        return DayType.WORKDAY in self.day(date).types

    def is_holiday(self, date: dt.date) -> bool:
        return DayType.HOLIDAY in self.day(date).types

    def _official(self, date: dt.date) -> tuple[bool, str | None, _Source]:
        """(is a working day, holiday name, where that came from)."""
        if date in self._workdays:
            return True, None, "site"
        if date in self._holidays:
            return False, self._holidays[date] or "假日", "site"
        if self.use_library:
            try:
                is_off, name = chinese_calendar.get_holiday_detail(date)
            except NotImplementedError:
                if date.year not in self.unknown_years:
                    self.unknown_years.add(date.year)
                    _LOGGER.warning(
                        "No public holiday data for %d in chinese-calendar: weekends only; add "
                        "the year's holidays and make-up days to the calendar's holidays_file",
                        date.year,
                    )
            else:
                holiday = _CHINESE_NAMES.get(name, name) if is_off and name else None
                return not is_off, holiday, "library"
        return date.weekday() < 5, None, "weekday"

    def _classify(self, date: dt.date) -> DayInfo:
        working, holiday, source = self._official(date)
        types: set[DayType] = set()
        weekend = date.weekday() >= 5
        if weekend:
            types.add(DayType.WEEKEND)
        types.add(DayType.WORKDAY if working else DayType.RESTDAY)
        if working and weekend:
            types.add(DayType.MAKEUP_WORKDAY)
        if holiday is not None and not working:
            types.add(DayType.HOLIDAY)
        semester = _span_name(self.semesters, date)
        vacation = _span_name(self.vacations, date)
        if semester is not None:
            types.add(DayType.SEMESTER)
        if vacation is not None:
            types.add(DayType.VACATION)
        if working and semester is not None and vacation is None:
            types.add(DayType.TEACHING)
        return DayInfo(date, frozenset(types), holiday, semester, vacation, source)

    def status(self) -> dict[str, Any]:
        return {
            "semesters": len(self.semesters),
            "vacations": len(self.vacations),
            "site_holidays": len(self._holidays),
            "site_workdays": len(self._workdays),
            "years_without_holiday_data": sorted(self.unknown_years),
        }


def _span_name(spans: Sequence[DateSpan], date: dt.date) -> str | None:
    for span in spans:
        if span.start <= date <= span.end:
            return span.name
    return None
