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
    assert info.source == "chinese_calendar"


def test_site_entries_win_over_the_library() -> None:
    calendar = SiteCalendar(holidays={D(2026, 3, 2): "校庆"}, workdays=[D(2026, 10, 1)])
    assert calendar.day(D(2026, 3, 2)).holiday == "校庆"
    assert not calendar.is_workday(D(2026, 3, 2))
    assert calendar.is_workday(D(2026, 10, 1))
    assert calendar.day(D(2026, 10, 1)).source == "site"


def test_year_unknown_to_chinese_calendar_uses_provisional_statutory_holidays(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calendar = SiteCalendar()
    new_year = calendar.day(D(2027, 1, 1))  # a Friday; chinese-calendar stops at 2026
    assert new_year.is_(DayType.HOLIDAY)
    assert (new_year.source, new_year.provisional, new_year.holiday) == (
        "holidays_cn",
        True,
        "元旦",
    )
    # Spring Festival and National Day 2027 are days off, not working days.
    assert not calendar.is_workday(D(2027, 2, 8))
    assert not calendar.is_workday(D(2027, 10, 1))
    # An ordinary Monday stays a working day but is provisional (make-up days unknown).
    monday = calendar.day(D(2027, 3, 1))
    assert monday.is_(DayType.WORKDAY)
    assert (monday.source, monday.provisional) == ("weekday", True)
    assert not calendar.is_workday(D(2027, 3, 6))  # Saturday
    assert calendar.unknown_years == {2027}
    assert sum("2027" in r.message for r in caplog.records) == 1  # warned once


def test_known_years_are_not_provisional(calendar: SiteCalendar) -> None:
    assert not calendar.day(D(2026, 10, 1)).provisional
    assert not calendar.is_provisional_year(2026)
    assert calendar.is_provisional_year(2027)
    assert calendar.provisional_years(D(2026, 11, 1), 60) == []
    assert calendar.provisional_years(D(2026, 11, 2), 60) == [2027]


def test_without_the_libraries_only_weekends_are_days_off() -> None:
    calendar = SiteCalendar(use_library=False)
    assert calendar.is_workday(D(2027, 1, 1))
    assert calendar.day(D(2027, 1, 1)).source == "weekday"
    assert not calendar.is_provisional_year(2027)


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


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_a_file_entry_overrides_every_other_source(tmp_path: Path) -> None:
    _write(
        tmp_path / "holidays.yaml",
        "holidays:\n"
        "  - {date: 2026-03-02, name: 校庆}\n"  # an ordinary Monday (weekday rule)
        "  - {date: 2027-03-01, name: 校运会}\n"  # a provisional year's Monday
        "workdays:\n"
        "  - {date: 2026-10-01, name: 迎新}\n"  # chinese-calendar: National Day
        "  - {date: 2027-01-01, name: 补课}\n"  # holidays (CN): New Year's Day
        "  - 2026-05-06\n",  # the site section calls it a holiday
    )
    calendar = SiteCalendar.from_config(
        Calendar(holidays_file="holidays.yaml", holidays=[D(2026, 5, 6)]), tmp_path
    )
    for date, working in [
        (D(2026, 3, 2), False),
        (D(2027, 3, 1), False),
        (D(2026, 10, 1), True),
        (D(2027, 1, 1), True),
        (D(2026, 5, 6), True),
    ]:
        info = calendar.day(date)
        assert calendar.is_workday(date) is working, date
        assert info.source == "holidays_file", date
        assert not info.provisional, date
    assert calendar.day(D(2026, 3, 2)).holiday == "校庆"


def test_a_makeup_working_day_on_a_sunday_in_the_file_is_a_working_day(tmp_path: Path) -> None:
    _write(
        tmp_path / "holidays.yaml",
        "notice_years: [2027]\nworkdays:\n  - {date: 2027-02-14, name: 春节调休}\n",
    )
    calendar = SiteCalendar.from_config(Calendar(holidays_file="holidays.yaml"), tmp_path)
    sunday = calendar.day(D(2027, 2, 14))
    assert D(2027, 2, 14).weekday() == 6
    assert {DayType.WORKDAY, DayType.MAKEUP_WORKDAY, DayType.WEEKEND} <= sunday.types
    assert DayType.RESTDAY not in sunday.types
    assert (sunday.label, sunday.source) == ("春节调休", "holidays_file")


def test_notice_years_end_the_provisional_layer(tmp_path: Path) -> None:
    _write(
        tmp_path / "holidays.yaml",
        "notice_years: [2027]\nholidays:\n  - {start: 2027-02-05, end: 2027-02-11, name: 春节}\n",
    )
    calendar = SiteCalendar.from_config(Calendar(holidays_file="holidays.yaml"), tmp_path)
    assert not calendar.is_provisional_year(2027)
    assert calendar.provisional_years(D(2026, 12, 1), 60) == []
    # Days the notice does not list are ordinary, not the holidays package's guesses.
    assert calendar.is_workday(D(2027, 1, 1))
    assert calendar.day(D(2027, 1, 1)).source == "weekday"
    assert calendar.day(D(2027, 2, 11)).holiday == "春节"


def test_reload_picks_up_an_edited_file_and_keeps_the_old_one_when_invalid(
    tmp_path: Path,
) -> None:
    path = _write(tmp_path / "holidays.yaml", "holidays: []\n")
    calendar = SiteCalendar.from_config(Calendar(holidays_file="holidays.yaml"), tmp_path)
    assert calendar.is_workday(D(2027, 3, 1))
    _write(path, "holidays: [2027-03-01]\n")
    calendar.reload()
    assert not calendar.is_workday(D(2027, 3, 1))  # the cached answer was dropped
    _write(path, "holidays: [2027-03-32]\n")
    with pytest.raises(ConfigError, match=r"holidays\.yaml:1"):
        calendar.reload()
    assert not calendar.is_workday(D(2027, 3, 1))
    assert calendar.reloads == 2


def test_notable_days_list_holidays_and_makeup_days_with_their_source() -> None:
    days = {info.date: info for info in SiteCalendar().notable(2026)}
    assert days[D(2026, 1, 4)].is_(DayType.MAKEUP_WORKDAY)  # Sunday worked for New Year
    assert days[D(2026, 1, 4)].label == "元旦"
    assert days[D(2026, 10, 1)].source == "chinese_calendar"
    assert D(2026, 3, 2) not in days  # an ordinary Monday
    assert D(2026, 3, 7) not in days  # an ordinary Saturday


def test_the_example_holidays_file_is_the_2026_notice_as_chinese_calendar_has_it() -> None:
    from tests.conftest import EXAMPLE_SITE

    site_calendar = SiteCalendar.from_config(
        Calendar(holidays_file="holidays.yaml"), EXAMPLE_SITE.parent
    )
    library = SiteCalendar()
    for file_day, library_day in zip(site_calendar.year(2026), library.year(2026), strict=True):
        assert file_day.kind == library_day.kind, file_day.date
    assert site_calendar.file.notice_years == [2026]
    assert site_calendar.day(D(2026, 10, 10)).source == "holidays_file"


def test_cli_prints_a_years_notable_days_with_type_and_source() -> None:
    from typer.testing import CliRunner

    from controller.cli import app
    from tests.conftest import EXAMPLE_SITE

    result = CliRunner().invoke(
        app, ["calendar", str(EXAMPLE_SITE), "--year", "2027"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    line = next(row for row in result.output.splitlines() if "2027-01-01" in row)
    assert "holiday" in line
    assert "元旦" in line
    assert "holidays_cn (provisional)" in line
    assert "provisional" in result.output.splitlines()[-1] or "notice_years" in result.output
    assert "2027-03-01" not in result.output  # an ordinary Monday
