"""What kind of day a date is: working day, public holiday, make-up working day, semester, vacation.

Chinese public holidays move every year and come with make-up working days (调休) on weekends,
announced each winter by the State Council. ``chinese-calendar`` knows the published years;
the site's ``calendar`` section and its editable ``holidays_file`` win over the library, so a
campus can add next year's dates (or its own days off) without waiting for a release. Years the
library does not know fall back to "Saturday and Sunday are days off", with a warning. The
holidays file and the day types are configuration (``controller.config.calendar``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import chinese_calendar

from controller.config.calendar import DayType, load_holidays_file
from controller.config.loader import LoadedSite
from controller.config.site import Calendar, DateSpan

__all__ = ["DayInfo", "SiteCalendar"]

_LOGGER = logging.getLogger(__name__)

_CHINESE_NAMES = {h.value: h.chinese for h in chinese_calendar.Holiday}


_Source = Literal["site", "library", "weekday"]


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

    def provisional(self, year: int) -> bool:
        """True when neither the site nor the holiday library knows ``year``'s public
        holidays, so the year runs on weekdays and weekends alone (an alarm says so)."""
        if any(d.year == year for d in self._holidays) or any(
            d.year == year for d in self._workdays
        ):
            return False
        if not self.use_library:
            return True
        try:
            chinese_calendar.get_holiday_detail(dt.date(year, 1, 1))
        except NotImplementedError:
            return True
        return False

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
