"""The site calendar: library holidays, make-up working days, the editable file, semesters."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from controller.calendar import SiteCalendar
from controller.config import ConfigError
from controller.config.calendar import DayType, load_holidays_file
from controller.config.site import Calendar, DateSpan

D = dt.date


@pytest.fixture
def calendar() -> SiteCalendar:
    return SiteCalendar(
        semesters=[DateSpan(name="2026 秋", start=D(2026, 9, 1), end=D(2027, 1, 15))],
        vacations=[DateSpan(name="2026 暑假", start=D(2026, 7, 4), end=D(2026, 8, 31))],
    )


@pytest.mark.parametrize(
    ("date", "has", "lacks"),
    [
        # An ordinary Monday and Saturday.
        (D(2026, 3, 2), {DayType.WORKDAY}, {DayType.RESTDAY, DayType.WEEKEND}),
        (D(2026, 3, 7), {DayType.RESTDAY, DayType.WEEKEND}, {DayType.WORKDAY}),
        # National Day 2026 (Thursday) and its bridging days off.
        (D(2026, 10, 1), {DayType.HOLIDAY, DayType.RESTDAY}, {DayType.WORKDAY}),
        (D(2026, 10, 7), {DayType.HOLIDAY, DayType.RESTDAY}, {DayType.WORKDAY}),
        # Saturday 10 October 2026 is worked in exchange (调休上班).
        (
            D(2026, 10, 10),
            {DayType.WORKDAY, DayType.MAKEUP_WORKDAY, DayType.WEEKEND},
            {DayType.RESTDAY},
        ),
        # Semester, teaching day and vacation.
        (D(2026, 9, 2), {DayType.SEMESTER, DayType.TEACHING}, {DayType.VACATION}),
        (D(2026, 10, 1), {DayType.SEMESTER}, {DayType.TEACHING}),
        (D(2026, 7, 15), {DayType.VACATION, DayType.WORKDAY}, {DayType.TEACHING, DayType.SEMESTER}),
    ],
)
def test_day_types(
    calendar: SiteCalendar, date: dt.date, has: set[DayType], lacks: set[DayType]
) -> None:
    types = calendar.day(date).types
    assert has <= types
    assert not (lacks & types)


def test_library_holiday_names_are_chinese(calendar: SiteCalendar) -> None:
    info = calendar.day(D(2026, 10, 1))
    assert info.holiday == "国庆节"
    assert info.source == "library"


def test_site_entries_win_over_the_library() -> None:
    calendar = SiteCalendar(holidays={D(2026, 3, 2): "校庆"}, workdays=[D(2026, 10, 1)])
    assert calendar.day(D(2026, 3, 2)).holiday == "校庆"
    assert not calendar.is_workday(D(2026, 3, 2))
    assert calendar.is_workday(D(2026, 10, 1))
    assert calendar.day(D(2026, 10, 1)).source == "site"


def test_year_unknown_to_the_library_falls_back_to_weekends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calendar = SiteCalendar()
    assert calendar.is_workday(D(2031, 1, 1))  # a Wednesday; the library knows no 2031 holidays
    assert not calendar.is_workday(D(2031, 1, 4))  # Saturday
    assert calendar.unknown_years == {2031}
    assert sum("2031" in r.message for r in caplog.records) == 1  # warned once


def test_holidays_file_wins_and_supports_ranges(tmp_path: Path) -> None:
    (tmp_path / "holidays.yaml").write_text(
        "holidays:\n"
        "  - {start: 2031-01-01, end: 2031-01-03, name: 元旦}\n"
        "  - 2031-02-10\n"
        "workdays:\n"
        "  - 2031-01-04\n",
        encoding="utf-8",
    )
    calendar = SiteCalendar.from_config(
        Calendar(holidays_file="holidays.yaml", holidays=[D(2031, 3, 3)]), tmp_path
    )
    assert calendar.day(D(2031, 1, 2)).holiday == "元旦"
    assert DayType.HOLIDAY in calendar.day(D(2031, 2, 10)).types
    assert DayType.MAKEUP_WORKDAY in calendar.day(D(2031, 1, 4)).types
    assert not calendar.is_workday(D(2031, 3, 3))


def test_invalid_holidays_file_reports_the_position(tmp_path: Path) -> None:
    path = tmp_path / "holidays.yaml"
    path.write_text("holidays:\n  - {date: 2031-02-30}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_holidays_file(path)
    assert "holidays.yaml:2" in str(err.value)


def test_a_date_cannot_be_both_holiday_and_workday(tmp_path: Path) -> None:
    path = tmp_path / "holidays.yaml"
    path.write_text("holidays: [2031-01-04]\nworkdays: [2031-01-04]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="both holiday and workday"):
        load_holidays_file(path)
