"""The site calendar as a running component: reload without a restart, alarm on a missing notice.

The State Council publishes next year's holidays and make-up working days (调休) late in the
year; until staff enter them in the holidays file, that year's days come from the provisional
layer (statutory holidays, no make-up days; see ``controller.calendar``). From ``lead_days``
ahead of the first date in such a year this component raises an alarm on the bus (the audit
log and alert sinks see it), lists it in its ``status()`` (the live view and ``/api/status``) and
in ``/api/calendar``. Entering the notice and adding the year to ``notice_years`` clears it at
the next reload (``POST /api/calendar/reload``, SIGHUP, or ``reload()``), with an
``AlarmCleared`` on the bus. The alarm service's calendar detector reports the same key from the
same calendar instance, so the one alarm list holds one alarm per year, whichever path is first.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import signal
from typing import Any

from controller.app import Controller
from controller.calendar import SiteCalendar
from controller.config import ConfigError
from controller.config.calendar import HolidaysFile
from controller.core import AlarmCleared, AlarmRaised

__all__ = ["LEAD_DAYS", "PROVISIONAL_KIND", "CalendarWatch", "ProvisionalYear"]

_LOGGER = logging.getLogger(__name__)

LEAD_DAYS = 60
"""How far ahead a provisional year raises its alarm (the notice usually comes in November)."""

PROVISIONAL_KIND = "calendar_provisional"
"""The alarm kind of a provisional year, whichever path (this watch or the alarm service's
calendar detector) reports it first."""


class ProvisionalYear:
    """The alarm for one year whose notice is missing."""

    def __init__(self, year: int, first_day: dt.date, holidays_file: str | None) -> None:
        self.year = year
        self.first_day = first_day
        self.key = f"calendar.provisional.{year}"
        where = holidays_file or "the calendar's holidays_file"
        self.message_zh = (
            f"{year} 年节假日安排尚未录入：调休上班日未知，周末按休息日处理。"
            f"请将国务院办公厅 {year} 年节假日通知录入 {where}，并把 {year} 加入 notice_years"
        )
        self.message_en = (
            f"No holiday notice for {year}: make-up working days are unknown and weekends are "
            f"treated as days off. Enter the State Council's {year} notice in {where} and add "
            f"{year} to notice_years"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "year": self.year,
            "first_day": self.first_day.isoformat(),
            "severity": "warning",
            "message_zh": self.message_zh,
            "message_en": self.message_en,
        }


class CalendarWatch:
    """Checks the coming ``lead_days`` for provisional years; reloads the holidays file."""

    name = "calendar"

    def __init__(
        self,
        controller: Controller,
        calendar: SiteCalendar,
        *,
        lead_days: int = LEAD_DAYS,
        check_every_s: float = 3600.0,
    ) -> None:
        self.controller = controller
        self.calendar = calendar
        self.lead_days = lead_days
        self.check_every_s = check_every_s
        self.alarms: dict[str, ProvisionalYear] = {}
        self.last_error: str | None = None
        self.sighup = False

    async def run(self) -> None:
        """Check now and then every ``check_every_s``; reload on SIGHUP (main thread only)."""
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGHUP, self._on_sighup)
            self.sighup = True
        try:
            while True:
                self.check()
                await self.controller.clock.sleep(self.check_every_s)
        finally:
            if self.sighup:
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    loop.remove_signal_handler(signal.SIGHUP)
                self.sighup = False

    def _on_sighup(self) -> None:
        _LOGGER.info("SIGHUP: reloading the holidays file")
        with contextlib.suppress(ConfigError):  # reload() has logged it and kept the old file
            self.reload()

    def reload(self) -> HolidaysFile:
        """Re-read the holidays file and check again; ``ConfigError`` keeps the old entries."""
        try:
            parsed = self.calendar.reload()
        except ConfigError as err:
            self.last_error = str(err)
            _LOGGER.error(  # noqa: TRY400 (the issues are the message; no traceback needed)
                "Holidays file not reloaded, the previous entries stay in use: %s", err
            )
            raise
        self.last_error = None
        self.check()
        return parsed

    def check(self) -> list[ProvisionalYear]:
        """Raise an alarm for each provisional year within ``lead_days``; drop entered years."""
        today = self.controller.clock.now().date()
        years = self.calendar.provisional_years(today, self.lead_days)
        path = self.calendar.holidays_path
        current: dict[str, ProvisionalYear] = {}
        for year in years:
            first = max(today, dt.date(year, 1, 1))
            alarm = self.alarms.get(f"calendar.provisional.{year}") or ProvisionalYear(
                year, first, str(path) if path else None
            )
            current[alarm.key] = alarm
            if alarm.key not in self.alarms:
                self._raise(alarm)
        for key in sorted(self.alarms.keys() - current.keys()):
            _LOGGER.info("Holiday notice entered: alarm %s cleared", key)
            gone = self.alarms[key]
            self.controller.bus.publish(
                AlarmCleared(
                    key,
                    self.controller.clock.time(),
                    f"已录入 {gone.year} 年节假日通知",
                    f"the {gone.year} holiday notice is entered",
                )
            )
        self.alarms = current
        return list(current.values())

    def _raise(self, alarm: ProvisionalYear) -> None:
        _LOGGER.warning("%s", alarm.message_en)
        self.controller.bus.publish(
            AlarmRaised(
                alarm.key,
                "warning",
                alarm.message_zh,
                alarm.message_en,
                self.controller.clock.time(),
                evidence={
                    "kind": PROVISIONAL_KIND,
                    "year": alarm.year,
                    "first_day": alarm.first_day.isoformat(),
                },
            )
        )

    def status(self) -> dict[str, Any]:
        cal = self.calendar
        return {
            "holidays_file": str(cal.holidays_path) if cal.holidays_path else "–",
            "notice_years": ", ".join(map(str, cal.file.notice_years)) or "–",
            "reloads": cal.reloads,
            "reload_error": self.last_error or "–",
            "provisional_years": ", ".join(str(a.year) for a in self.alarms.values()) or "–",
            "alarms": {
                key: {"severity": "warning", "year": a.year, "text": a.message_en}
                for key, a in self.alarms.items()
            },
        }
