"""The two public-holiday libraries behind the site calendar, one call each, with their limits.

``chinese-calendar`` copies each year's State Council notice (国务院办公厅关于安排节假日的通知),
holidays *and* make-up working days (调休), but only for years it has been released for: its
newest release stops at 2026. The ``holidays`` package (country CN) computes the statutory
holidays of any year from the law (全国年节及纪念日放假办法, lunar dates included) and moves a
holiday falling on a weekend to the next weekday; it cannot know the make-up working days,
which only the notice fixes. Its days are therefore *provisional*: good enough that the night
before Spring Festival is not treated as the night before a working day, not good enough to run
a year on. The site calendar layers them (see ``controller.calendar``).
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

import chinese_calendar
import holidays

__all__ = ["LibraryDay", "chinese_calendar_day", "chinese_calendar_knows", "statutory_cn"]

_CHINESE_NAMES = {h.value: h.chinese for h in chinese_calendar.Holiday}


@dataclass(frozen=True, slots=True)
class LibraryDay:
    """What chinese-calendar says of one date."""

    working: bool
    holiday: str | None
    """The holiday's Chinese name, on its days off and on the make-up days worked for it."""


@functools.cache
def chinese_calendar_knows(year: int) -> bool:
    """Whether chinese-calendar has the State Council notice of ``year``."""
    try:
        chinese_calendar.is_workday(dt.date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


def chinese_calendar_day(date: dt.date) -> LibraryDay | None:
    """chinese-calendar's classification of ``date``; None for a year it does not know."""
    if not chinese_calendar_knows(date.year):
        return None
    is_off, name = chinese_calendar.get_holiday_detail(date)
    holiday = _CHINESE_NAMES.get(name, name) if name else None
    return LibraryDay(working=not is_off, holiday=holiday)


@functools.cache
def statutory_cn(year: int) -> dict[dt.date, str]:
    """The statutory days off of ``year`` from the ``holidays`` package, Chinese names.

    Weekend holidays carried to the next weekday are included (named "…（补假）"); make-up
    working days are not known to it.
    """
    days = holidays.country_holidays("CN", years=year, language="zh_CN")
    return {day: str(name) for day, name in sorted(days.items())}
