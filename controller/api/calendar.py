"""Routes for the site calendar: a year's notable days with their sources, and reloading the file.

``POST /api/calendar/reload`` re-reads the holidays file without a restart (SIGHUP does the
same); an invalid file answers 422 with its file:line:col issues and the old entries stay in use.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from controller.app import Controller
from controller.calendar_watch import CalendarWatch
from controller.config import ConfigError

from .deps import Actor, component

__all__ = ["calendar_routes"]

_LOGGER = logging.getLogger(__name__)


def calendar_routes(ctrl: Controller) -> APIRouter:
    router = APIRouter(prefix="/api/calendar", tags=["calendar"])

    @router.get("")
    async def calendar(
        year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    ) -> dict[str, Any]:
        """Every day of ``year`` (default: this year) that is not an ordinary weekday or
        weekend, with its type and source, and the provisional-year alarms."""
        watch = component(ctrl, CalendarWatch)
        year = year or ctrl.clock.now().year
        cal = watch.calendar
        return {
            "year": year,
            "provisional": cal.is_provisional_year(year),
            "days": [info.to_json() for info in cal.notable(year)],
            "alarms": [a.to_json() for a in watch.alarms.values()],
            "status": cal.status(),
        }

    @router.post("/reload")
    async def reload(actor: Actor) -> dict[str, Any]:
        """Re-read the holidays file; the new entries apply from the next policy evaluation."""
        watch = component(ctrl, CalendarWatch)
        try:
            parsed = watch.reload()
        except ConfigError as err:
            raise HTTPException(
                422,
                [
                    {"where": str(i.position or ""), "field": i.path, "msg": i.message}
                    for i in err.issues
                ],
            ) from err
        _LOGGER.info("Holidays file reloaded by %s", actor)
        return {
            "reloaded_at": ctrl.clock.now().isoformat(),
            "notice_years": parsed.notice_years,
            "holidays": len(parsed.holiday_names()),
            "workdays": len(parsed.workday_dates()),
            "alarms": [a.to_json() for a in watch.alarms.values()],
        }

    return router
