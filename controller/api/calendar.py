"""Routes for the site calendar: a year's notable days with their sources, and reloading the file.

``POST /api/calendar/reload`` re-reads the holidays file without a restart (SIGHUP does the
same); an invalid file answers 422 naming each file:line:col issue and the old entries stay in
use. Reading takes any signed-in account, reloading the admin role (the calendar is policy).
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Query

from controller.app import Controller
from controller.audit import AuditLog
from controller.calendar_watch import CalendarWatch
from controller.config import ConfigError

from .auth import Admin, Viewer
from .deps import component
from .errors import ApiError, FieldError, responses

__all__ = ["calendar_routes"]

_LOGGER = logging.getLogger(__name__)


def calendar_routes(ctrl: Controller) -> APIRouter:
    router = APIRouter(
        prefix="/api/calendar", tags=["calendar"], responses=responses(401, 403, 503)
    )

    @router.get("")
    async def calendar(
        _who: Viewer,
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

    @router.post("/reload", responses=responses(422))
    async def reload(who: Admin) -> dict[str, Any]:
        """Re-read the holidays file; the new entries apply from the next policy evaluation."""
        watch = component(ctrl, CalendarWatch)
        try:
            parsed = watch.reload()
        except ConfigError as err:
            raise ApiError(
                422,
                f"holidays file not reloaded, the previous entries stay in use: {err.issues[0]}",
                [
                    FieldError(
                        loc=["file", str(i.position or ""), *([i.path] if i.path else [])],
                        msg=i.message,
                        type="config_error",
                    )
                    for i in err.issues[:20]
                ],
            ) from err
        _LOGGER.info("Holidays file reloaded by %s", who.actor)
        answer = {
            "reloaded_at": ctrl.clock.now().isoformat(),
            "notice_years": parsed.notice_years,
            "holidays": len(parsed.holiday_names()),
            "workdays": len(parsed.workday_dates()),
            "alarms": [a.to_json() for a in watch.alarms.values()],
        }
        log = ctrl.find(AuditLog)
        if log is not None:  # new day types change what every policy does from its next tick
            counts = {k: answer[k] for k in ("notice_years", "holidays", "workdays")}
            log.record(who.actor, "calendar.reload", "calendar", source="api", details=counts)
        return answer

    return router
