"""``sanjie calendar SITE --year N``: a year's non-ordinary days as staff check them.

One row per holiday, make-up working day or site entry, with the layer it came from, so staff
can compare the year against the State Council's notice before it governs curfews and quotas.
"""

from __future__ import annotations

from rich.table import Table

from controller.calendar import DayInfo, SiteCalendar

__all__ = ["year_table"]

_WEEKDAYS = "一二三四五六日"
_KINDS = {
    "holiday": "节假日 holiday",
    "makeup_workday": "调休上班 make-up working day",
    "restday": "休息日 day off",
    "workday": "工作日 working day",
}


def year_table(calendar: SiteCalendar, year: int) -> Table:
    """The notable days of ``year``; a caption warns when the year is provisional."""
    table = Table(title=f"{year} 日历 Calendar")
    for column in ("日期 Date", "星期", "类型 Type", "名称 Name", "来源 Source"):
        table.add_column(column)
    for info in calendar.notable(year):
        table.add_row(*_row(info))
    if calendar.is_provisional_year(year):
        table.caption = (
            f"{year} 为临时数据 provisional: make-up working days unknown, weekends are days off. "
            "Enter the State Council's notice in the holidays file and add the year to "
            "notice_years."
        )
    return table


def _row(info: DayInfo) -> tuple[str, str, str, str, str]:
    source = f"{info.source} (provisional)" if info.provisional else info.source
    return (
        info.date.isoformat(),
        _WEEKDAYS[info.date.weekday()],
        _KINDS[info.kind],
        info.label or "",
        source,
    )
