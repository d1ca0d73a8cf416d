"""Daily windows in local time: edges, midnight crossings, day rules, holidays, make-up days."""

from __future__ import annotations

import datetime as dt

import pytest

from controller.calendar import SiteCalendar
from controller.config.policies import Window
from controller.policies.schedule import edge_times, in_window

from .conftest import at

NIGHTS_BEFORE_WORKDAYS = Window.model_validate(
    {"start": "23:00", "end": "05:50", "days": {"include": ["workday"]}, "days_of": "end"}
)


@pytest.mark.parametrize(
    ("now", "inside"),
    [
        (at(2026, 3, 2, 22, 59, 59), False),  # Monday night, just before
        (at(2026, 3, 2, 23, 0), True),  # start is inclusive
        (at(2026, 3, 3, 0, 0), True),  # past midnight, Tuesday is a workday
        (at(2026, 3, 3, 5, 49, 59), True),
        (at(2026, 3, 3, 5, 50), False),  # end is exclusive
        (at(2026, 3, 6, 23, 30), False),  # Friday night: Saturday is a day off
        (at(2026, 3, 7, 2, 0), False),
        (at(2026, 3, 8, 23, 30), True),  # Sunday night: Monday is a workday
        (at(2026, 9, 30, 23, 30), False),  # the night before National Day
        (at(2026, 10, 9, 23, 30), True),  # Friday 9 October: Saturday 10th is a make-up workday
        (at(2026, 10, 11, 1, 0), False),  # Sunday 11 October after the make-up Saturday
    ],
)
def test_curfew_nights_before_working_days(
    calendar: SiteCalendar, now: dt.datetime, inside: bool
) -> None:
    assert in_window(NIGHTS_BEFORE_WORKDAYS, now, calendar) is inside


def test_weekday_rule_checks_the_start_date(calendar: SiteCalendar) -> None:
    window = Window.model_validate(
        {
            "start": "23:00",
            "end": "05:50",
            "days": {"weekdays": ["sun", "mon", "tue", "wed", "thu"]},
        }
    )
    assert in_window(window, at(2026, 3, 5, 23, 30), calendar)  # Thursday night
    assert in_window(window, at(2026, 3, 6, 3, 0), calendar)  # ... until Friday 05:50
    assert not in_window(window, at(2026, 3, 6, 23, 30), calendar)  # Friday night
    assert not in_window(window, at(2026, 3, 7, 3, 0), calendar)


def test_plain_and_full_day_windows(calendar: SiteCalendar) -> None:
    lunch = Window.model_validate({"start": "12:00", "end": "14:30"})
    assert in_window(lunch, at(2026, 3, 2, 12, 0), calendar)
    assert not in_window(lunch, at(2026, 3, 2, 14, 30), calendar)
    day = Window.model_validate(
        {"start": "00:00", "end": "24:00", "days": {"include": ["holiday"]}}
    )
    assert in_window(day, at(2026, 10, 1, 0, 0), calendar)
    assert in_window(day, at(2026, 10, 1, 23, 59, 59), calendar)
    assert not in_window(day, at(2026, 10, 8, 12, 0), calendar)


def test_exclude_and_vacation_rules(calendar: SiteCalendar) -> None:
    window = Window.model_validate(
        {
            "start": "08:00",
            "end": "18:00",
            "days": {"include": ["workday"], "exclude": ["vacation"]},
        }
    )
    assert in_window(window, at(2026, 3, 2, 9, 0), calendar)
    assert not in_window(window, at(2026, 7, 15, 9, 0), calendar)  # summer vacation


def test_edges_include_midnight() -> None:
    assert edge_times([NIGHTS_BEFORE_WORKDAYS]) == {0, 23 * 3600, 5 * 3600 + 50 * 60}
