"""Routes over imported canteen diner counts: import a card-system export (Operator), list
(Viewer). The CSV format is ``controller.reports.diners``'s; reports read what is stored."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from fastapi import APIRouter, Request

from controller.app import Controller
from controller.audit import AuditLog
from controller.reports.diners import DinerCount, DinerStore, parse_diner_csv
from controller.reports.errors import DinerCsvError
from controller.reports.service import ReportService
from controller.reports.sources import DINERS_NAME

from .auth import Operator, Viewer
from .deps import component
from .errors import ApiError, FieldError, responses

__all__ = ["diner_routes"]


def _bad_rows(err: DinerCsvError) -> ApiError:
    problems = [
        FieldError(loc=["body", line, field], msg=reason, type="value_error")
        for line, field, reason in err.problems
    ]
    return ApiError(422, str(err), problems)


def diner_routes(ctrl: Controller) -> APIRouter:
    router = APIRouter(prefix="/api/diners", tags=["reports"], responses=responses(401, 403, 503))

    def audit() -> AuditLog:
        """The reports' audit log: the counts live beside it (``var/``), where reports read."""
        return component(ctrl, ReportService).audit

    def store() -> DinerStore:
        return DinerStore(audit().path.parent / DINERS_NAME)

    @router.post("", responses=responses(413, 422))
    async def import_csv(request: Request, caller: Operator) -> dict[str, Any]:
        """A diner-count CSV (``canteen,date,meal,count``) as the body: every row or none; a
        row for a canteen, date and meal imported before replaces it."""
        try:
            text = (await request.body()).decode("utf-8-sig")
        except UnicodeDecodeError as err:
            problem = FieldError(loc=["body"], msg="not UTF-8 text", type="value_error")
            raise ApiError(422, "the body is not UTF-8 text", [problem]) from err
        try:
            rows = parse_diner_csv(text, ctrl.site)
        except DinerCsvError as err:
            raise _bad_rows(err) from err
        for canteen in sorted({r.canteen for r in rows}):
            caller.check_building(canteen)

        def put() -> dict[str, int]:
            diners = store()
            try:
                done = diners.put(rows, source="api", now=ctrl.clock.time())
            finally:
                diners.close()
            return {
                "rows": done.rows,
                "added": done.added,
                "changed": done.changed,
                "unchanged": done.unchanged,
            }

        result = await asyncio.to_thread(put)
        audit().record(caller.actor, "diners.import", "csv", source="api", details=result)
        return result

    @router.get("", responses=responses(422))
    async def listing(caller: Viewer, start: dt.date, end: dt.date) -> list[dict[str, Any]]:
        """Imported counts of the days start..end the caller may see."""
        if end < start:
            problem = FieldError(loc=["query", "end"], msg="before start", type="value_error")
            raise ApiError(422, "end is before start", [problem])

        def read() -> list[DinerCount]:
            diners = store()
            try:
                return diners.between(start, end)
            finally:
                diners.close()

        found = await asyncio.to_thread(read)
        return [
            {"canteen": r.canteen, "date": r.date.isoformat(), "meal": r.meal, "count": r.count}
            for r in found
            if caller.account.sees(r.canteen)
        ]

    return router
