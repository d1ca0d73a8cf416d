"""Raw history and the audit log, read page by page.

``/api/history/{entity_id}`` answers the readings the embedded history kept (what was read, not
hourly sums: those are ``/api/consumption``); ``/api/audit`` answers who did what, newest
first. Times are epoch seconds or ISO 8601 (a time without a zone is campus time); every
answer gives both. Reads need a signed-in account; an account limited to some buildings reads
only entities and audit entries of those buildings.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel

from controller.app import Controller
from controller.audit import AuditEntry, AuditLog
from controller.config.profile import Point
from controller.core.events import Value
from controller.core.vocabulary import to_api
from controller.recorder import Recorder

from .auth import Caller, Viewer
from .deps import component
from .errors import ApiError, FieldError, responses
from .paging import Page, Paging, page
from .states import point_of
from .times import parse_instant

__all__ = ["record_routes"]

TimeQuery = Annotated[
    str | None,
    Query(
        max_length=40,
        description="Epoch seconds or ISO 8601 (2026-12-07T22:00:00+08:00; no zone: campus time).",
    ),
]
LIMITED_SCAN = 10_000
"""Audit entries scanned for an account limited to some buildings (filtered after reading)."""


class ReadingOut(BaseModel):
    ts: float
    time: str
    value: float | int | str | bool | None


class AuditOut(BaseModel):
    seq: int
    ts: float
    time: str
    actor: str
    action: str
    target: str
    reason: str
    result: str
    source: str
    details: dict[str, Any]


def record_routes(ctrl: Controller) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["history"], responses=responses(401, 403, 503))
    tz = ctrl.clock.tz

    def instant(name: str, value: str | None) -> float | None:
        if value is None:
            return None
        try:
            return parse_instant(value, tz)
        except ValueError as err:
            problem = FieldError(loc=["query", name], msg=str(err), type="datetime_parsing")
            raise ApiError(422, f"{name}: {err}", [problem]) from None

    def iso(ts: float) -> str:
        return dt.datetime.fromtimestamp(ts, tz).isoformat(timespec="milliseconds")

    def building_of_target(target: str) -> str | None:
        entity = ctrl.registry.get(target)
        if entity is not None:
            return entity.building
        device = ctrl.site.devices.get(target)
        if device is not None:
            return device.building
        return None  # a policy, an account, the campus: not one building's

    def audit_out(entry: AuditEntry) -> AuditOut:
        return AuditOut(**{**entry.to_json(), "time": iso(entry.ts)})

    @router.get("/history/{entity_id}", responses=responses(404))
    async def history(
        entity_id: str,
        *,
        caller: Viewer,
        paging: Paging,
        start: TimeQuery = None,
        end: TimeQuery = None,
    ) -> Page[ReadingOut]:
        """The entity's stored readings in [start, end), oldest first (default: the last
        24 hours). Booleans are stored as 0/1; on/off points answer "on"/"off"."""
        entity = ctrl.registry.get(entity_id)
        if entity is None:
            raise HTTPException(404, f"unknown entity {entity_id!r}")
        caller.check_building(entity.building)
        given_end, given_start = instant("end", end), instant("start", start)
        until = ctrl.clock.time() if given_end is None else given_end
        since = until - 86_400 if given_start is None else given_start
        if since >= until:
            problem = FieldError(
                loc=["query", "start"], msg="start is not before end", type="order"
            )
            raise ApiError(422, problem.msg, [problem])
        recorder = component(ctrl, Recorder)
        try:
            source = recorder.consumption
        except RuntimeError as err:
            raise HTTPException(503, str(err)) from err
        rows, total = await source.readings(entity_id, since, until, paging.limit, paging.offset)
        point = point_of(ctrl, entity)
        items = [
            ReadingOut(ts=r.timestamp, time=iso(r.timestamp), value=_shown(point, r.value))
            for r in rows
        ]
        return page(items, total, paging)

    @router.get("/audit")
    async def audit(
        *,
        caller: Viewer,
        paging: Paging,
        since: TimeQuery = None,
        until: TimeQuery = None,
        actor: Annotated[str | None, Query(max_length=200)] = None,
        action: Annotated[str | None, Query(max_length=100)] = None,
        target: Annotated[str | None, Query(max_length=200)] = None,
    ) -> Page[AuditOut]:
        """Audit entries, newest first; ``target`` also matches everything under it (a
        device's entities). ``actor`` is the account's label as shown (``王丽 (wangli)``)."""
        log = component(ctrl, AuditLog)
        filters: dict[str, Any] = {
            "since": instant("since", since),
            "until": instant("until", until),
            "actor": actor,
            "action": action,
            "target": target,
        }
        if caller.account.buildings is None:
            entries = log.query(**filters, limit=paging.limit, offset=paging.offset)
            total = log.count(**filters)
            return page([audit_out(e) for e in entries], total, paging)
        seen = _visible(log.query(**filters, limit=LIMITED_SCAN), caller, building_of_target)
        chosen = seen[paging.offset : paging.offset + paging.limit]
        return page([audit_out(e) for e in chosen], len(seen), paging)

    return router


def _visible(
    entries: list[AuditEntry], caller: Caller, building_of: Callable[[str], str | None]
) -> list[AuditEntry]:
    return [e for e in entries if caller.account.sees(building_of(e.target))]


def _shown(point: Point, value: Value) -> Value:
    # The history stores booleans as 0/1: an on/off point's 0/1 is its off/on.
    if isinstance(value, int | float) and not isinstance(value, bool) and value in (0, 1):
        shown = to_api(point, bool(value))
        if shown in ("on", "off"):
            return shown
    return to_api(point, value)
