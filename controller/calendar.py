"""What kind of day a date is: working day, public holiday, make-up working day, semester, vacation.

Chinese public holidays move every year and come with make-up working days (调休) on weekends,
announced each winter by the State Council. Each date's type comes from the first of these
layers that knows it, and the day is tagged with that source:

1. the site's editable holidays file (``holidays_file``), where staff enter the year's notice;
2. the ``calendar`` section of the site file (``site``);
3. ``chinese-calendar`` (``chinese_calendar``), which copies the notices of the years it was
   released for (up to 2026 today);
4. for the years it does not know, the statutory holidays computed by the ``holidays`` package
   (``holidays_cn``), marked *provisional*: its make-up working days are unknown, so those
   weekends stay days off;
5. Saturday and Sunday are days off (``weekday``).

Without layer 4, 1 January 2027 was a working day and the dorm curfew ("nights before a working
day") cut sockets on New Year's Eve. The file is re-read at run time (``reload``) so a campus can
enter the notice the day it is published; ``CalendarWatch`` raises an alarm from 60 days ahead
of a provisional year until it has been entered. The holidays file and the day types are
configuration (``controller.config.calendar``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from controller.calendar_sources import chinese_calendar_day, chinese_calendar_knows, statutory_cn
from controller.config.calendar import DayType, HolidaysFile, load_holidays_file
from controller.config.site import Calendar, DateSpan

if TYPE_CHECKING:
    from controller.config.loader import LoadedSite

__all__ = ["DayInfo", "DaySource", "SiteCalendar"]

_LOGGER = logging.getLogger(__name__)

DaySource = Literal["holidays_file", "site", "chinese_calendar", "holidays_cn", "weekday"]
"""Where a day's type came from, first layer first (see the module docstring)."""


@dataclass(frozen=True, slots=True)
class DayInfo:
    """Everything the calendar knows about one date."""

    date: dt.date
    types: frozenset[DayType]
    holiday: str | None = None
    semester: str | None = None
    vacation: str | None = None
    source: DaySource = "weekday"
    provisional: bool = False
    """The year's State Council notice is not known: make-up working days are missing."""
    label: str | None = None
    """The source's name for the day: the holiday, or the holiday a make-up day is worked for."""

    def is_(self, day_type: DayType) -> bool:
        return day_type in self.types

    @property
    def kind(self) -> str:
        """The one type a person would name: holiday, makeup_workday, restday or workday."""
        for day_type in (DayType.HOLIDAY, DayType.MAKEUP_WORKDAY, DayType.RESTDAY):
            if day_type in self.types:
                return day_type.value
        return DayType.WORKDAY.value

    def to_json(self) -> dict[str, Any]:
        return {
            "date": self.date.isoformat(),
            "weekday": self.date.isoweekday(),
            "kind": self.kind,
            "types": sorted(t.value for t in self.types),
            "name": self.label,
            "source": self.source,
            "provisional": self.provisional,
            "semester": self.semester,
            "vacation": self.vacation,
        }


@dataclass(frozen=True, slots=True)
class _Official:
    """One layer's answer for a date."""

    working: bool
    name: str | None
    source: DaySource
    provisional: bool = False


class SiteCalendar:
    """Classifies dates for policy calendars. Results are cached per date until a reload."""

    def __init__(
        self,
        *,
        semesters: Sequence[DateSpan] = (),
        vacations: Sequence[DateSpan] = (),
        holidays: Mapping[dt.date, str | None] | Iterable[dt.date] = (),
        workdays: Iterable[dt.date] = (),
        use_library: bool = True,
        holidays_path: Path | None = None,
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
        self.holidays_path = holidays_path
        self.file = HolidaysFile()
        self._file_holidays: dict[dt.date, str | None] = {}
        self._file_workdays: dict[dt.date, str | None] = {}
        self._cache: dict[dt.date, DayInfo] = {}
        self.unknown_years: set[int] = set()
        self.reloads = 0
        if holidays_path is not None:
            self.reload()

    @classmethod
    def from_config(cls, calendar: Calendar, base_dir: Path) -> SiteCalendar:
        """The site's calendar section plus its holidays file (the file wins on clashes)."""
        path = base_dir / calendar.holidays_file if calendar.holidays_file else None
        return cls(
            semesters=calendar.semesters,
            vacations=calendar.vacations,
            holidays=calendar.holidays,
            workdays=[d for d in calendar.workdays if d not in set(calendar.holidays)],
            holidays_path=path,
        )

    @classmethod
    def from_site(cls, site: LoadedSite) -> SiteCalendar:
        return cls.from_config(site.calendar, site.source.parent)

    def reload(self) -> HolidaysFile:
        """Read the holidays file again; the new entries apply from the next evaluation.

        Raises ``ConfigError`` (file:line:col) for an invalid file and keeps the entries in use.
        """
        if self.holidays_path is None:
            return self.file
        parsed = load_holidays_file(self.holidays_path)
        self.file = parsed
        self._file_holidays = parsed.holiday_names()
        self._file_workdays = parsed.workday_names()
        self._cache.clear()
        self.reloads += 1
        _LOGGER.info(
            "Holidays file %s: %d days off, %d make-up working days, notices for %s",
            self.holidays_path,
            len(self._file_holidays),
            len(self._file_workdays),
            parsed.notice_years or "no year",
        )
        return parsed

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

    def is_provisional_year(self, year: int) -> bool:
        """No notice for ``year``: neither chinese-calendar nor the holidays file has it."""
        return (
            self.use_library
            and year not in self.file.notice_years
            and not chinese_calendar_knows(year)
        )

    def provisional_years(self, start: dt.date, days: int) -> list[int]:
        """The provisional years among the ``days`` days from ``start`` (inclusive)."""
        last = start + dt.timedelta(days=days)
        return [y for y in range(start.year, last.year + 1) if self.is_provisional_year(y)]

    def year(self, year: int) -> list[DayInfo]:
        """Every date of ``year``, classified."""
        first = dt.date(year, 1, 1)
        count = (dt.date(year + 1, 1, 1) - first).days
        return [self.day(first + dt.timedelta(days=i)) for i in range(count)]

    def notable(self, year: int) -> list[DayInfo]:
        """The days of ``year`` that are not ordinary weekdays or weekends."""
        return [info for info in self.year(year) if _is_notable(info)]

    def _official(self, date: dt.date) -> _Official:
        """The first layer that knows ``date`` (see the module docstring)."""
        return (
            self._from_entries(date)
            or self._from_library(date)
            or _Official(date.weekday() < 5, None, "weekday")
        )

    def _from_entries(self, date: dt.date) -> _Official | None:
        if date in self._file_workdays:
            return _Official(True, self._file_workdays[date], "holidays_file")
        if date in self._file_holidays:
            return _Official(False, self._file_holidays[date] or "假日", "holidays_file")
        if date in self._workdays:
            return _Official(True, None, "site")
        if date in self._holidays:
            return _Official(False, self._holidays[date] or "假日", "site")
        return None

    def _from_library(self, date: dt.date) -> _Official | None:
        if not self.use_library:
            return None
        known = chinese_calendar_day(date)
        if known is not None:
            return _Official(known.working, known.holiday, "chinese_calendar")
        if date.year in self.file.notice_years:
            return None  # the notice is in the file: days it does not list are ordinary
        self._warn_provisional(date.year)
        name = statutory_cn(date.year).get(date)
        if name is not None:
            return _Official(False, name, "holidays_cn", provisional=True)
        return _Official(date.weekday() < 5, None, "weekday", provisional=True)

    def _warn_provisional(self, year: int) -> None:
        if year in self.unknown_years:
            return
        self.unknown_years.add(year)
        _LOGGER.warning(
            "No State Council holiday notice for %d (chinese-calendar stops at an earlier "
            "year): using the statutory holidays without make-up working days; enter the "
            "notice in the calendar's holidays_file%s",
            year,
            f" ({self.holidays_path})" if self.holidays_path else "",
        )

    def _classify(self, date: dt.date) -> DayInfo:
        official = self._official(date)
        working, holiday = official.working, official.name
        types: set[DayType] = set()
        weekend = date.weekday() >= 5
        if weekend:
            types.add(DayType.WEEKEND)
        types.add(DayType.WORKDAY if working else DayType.RESTDAY)
        if working and weekend:
            types.add(DayType.MAKEUP_WORKDAY)
        label = holiday
        if holiday is not None and not working:
            types.add(DayType.HOLIDAY)
        else:
            holiday = None
        semester = _span_name(self.semesters, date)
        vacation = _span_name(self.vacations, date)
        if semester is not None:
            types.add(DayType.SEMESTER)
        if vacation is not None:
            types.add(DayType.VACATION)
        if working and semester is not None and vacation is None:
            types.add(DayType.TEACHING)
        return DayInfo(
            date,
            frozenset(types),
            holiday,
            semester,
            vacation,
            official.source,
            official.provisional,
            label,
        )

    def status(self) -> dict[str, Any]:
        return {
            "semesters": len(self.semesters),
            "vacations": len(self.vacations),
            "holidays_file": str(self.holidays_path) if self.holidays_path else None,
            "file_holidays": len(self._file_holidays),
            "file_workdays": len(self._file_workdays),
            "notice_years": list(self.file.notice_years),
            "site_holidays": len(self._holidays),
            "site_workdays": len(self._workdays),
            "years_without_holiday_data": sorted(self.unknown_years),
        }


def _is_notable(info: DayInfo) -> bool:
    weekend = info.is_(DayType.WEEKEND)
    working = info.is_(DayType.WORKDAY)
    return (
        info.holiday is not None
        or working == weekend
        or info.source in ("holidays_file", "site", "holidays_cn")
    )


def _span_name(spans: Sequence[DateSpan], date: dt.date) -> str | None:
    for span in spans:
        if span.start <= date <= span.end:
            return span.name
    return None
