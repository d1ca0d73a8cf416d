"""Evaluating policy calendars: day rules and daily windows (also across midnight) in local time."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from controller.calendar import SiteCalendar
from controller.config.policies import DAY, WEEKDAYS, DayRule, Window

__all__ = ["day_matches", "edge_times", "in_any_window", "in_window", "seconds_of_day"]

_ONE_DAY = dt.timedelta(days=1)


def seconds_of_day(now: dt.datetime) -> float:
    return now.hour * 3600 + now.minute * 60 + now.second + now.microsecond / 1e6


def day_matches(rule: DayRule, date: dt.date, calendar: SiteCalendar) -> bool:
    """Whether ``date`` satisfies the weekday and day-type conditions of ``rule``."""
    if rule.weekdays and WEEKDAYS[date.weekday()] not in rule.weekdays:
        return False
    if not rule.include and not rule.exclude:
        return True
    types = calendar.day(date).types
    if rule.include and not any(t in types for t in rule.include):
        return False
    return not any(t in types for t in rule.exclude)


def in_window(window: Window, now: dt.datetime, calendar: SiteCalendar) -> bool:
    """Whether local time ``now`` falls inside ``window`` (start inclusive, end exclusive)."""
    sod = seconds_of_day(now)
    today = now.date()
    if not window.crosses_midnight:
        if not window.start <= sod < window.end:
            return False
        return window.days.is_any or day_matches(window.days, today, calendar)
    if sod >= window.start:
        started = today
    elif sod < window.end:
        started = today - _ONE_DAY
    else:
        return False
    if window.days.is_any:
        return True
    checked = started if window.days_of == "start" else started + _ONE_DAY
    return day_matches(window.days, checked, calendar)


def in_any_window(windows: Iterable[Window], now: dt.datetime, calendar: SiteCalendar) -> bool:
    return any(in_window(w, now, calendar) for w in windows)


def edge_times(windows: Iterable[Window]) -> set[int]:
    """Seconds after midnight at which membership in ``windows`` can change (midnight included,
    because day rules are checked per date)."""
    edges = {0}
    for window in windows:
        edges.add(window.start % DAY)
        edges.add(window.end % DAY)
    return edges
