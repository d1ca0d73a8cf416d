"""Routes over the recorder: consumption per group and period, and staff meter-swap records.

Reports and the web app read consumption only through this query (the embedded history always
holds the hourly statistics, whichever InfluxDB is configured). A building-limited account
gets its buildings' rows only: the query is narrowed to them before it runs.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field

from controller.app import Controller
from controller.audit import AuditLog
from controller.recorder import (
    ConsumptionQuery,
    HistoryConsumption,
    Period,
    Recorder,
    SwapRecordError,
    unmetered,
)

from .auth import Caller, Operator, Viewer
from .deps import component, translate_errors
from .errors import ApiError, FieldError, responses
from .paging import Page, Paging, paginate

__all__ = ["history_routes"]


class MeterSwapRequest(BaseModel):
    """A meter was replaced: the old meter's last reading and the new one's first."""

    model_config = ConfigDict(extra="forbid")

    entity_id: str = Field(min_length=1)
    at: dt.datetime = Field(description="When the swap happened (ISO 8601 with zone).")
    old_final: float = Field(ge=0, allow_inf_nan=False, description="Old meter's last reading.")
    new_start: float = Field(ge=0, allow_inf_nan=False, description="New meter's first reading.")


def _filters(where: list[str]) -> dict[str, list[str]]:
    """``["circuit=sockets", "building=dorm-1"]`` → ``{"circuit": ["sockets"], ...}``."""
    out: dict[str, list[str]] = {}
    for item in where:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise HTTPException(422, f"filter {item!r} is not tag=value")
        out.setdefault(key, []).append(value)
    return out


def _narrow(found: Caller, where: dict[str, list[str]]) -> dict[str, list[str]]:
    """The filters, limited to the account's buildings (403 for a building outside them)."""
    limit = found.account.buildings
    if limit is None:
        return where
    asked = where.get("building")
    for building in asked or ():
        found.check_building(building)
    return {**where, "building": list(asked) if asked else sorted(limit)}


def _source(recorder: Recorder) -> HistoryConsumption:
    try:
        return recorder.consumption
    except RuntimeError as err:
        raise HTTPException(503, str(err)) from err


def history_routes(ctrl: Controller) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["history"], responses=responses(401, 403, 503))

    @router.get("/consumption")
    async def consumption(
        *,
        found: Viewer,
        paging: Paging,
        start: dt.datetime,
        end: dt.datetime,
        period: Period = Period.DAY,
        group_by: Annotated[list[str], Query()] = ["building"],  # noqa: B006 (FastAPI default)
        where: Annotated[list[str], Query(description="tag=value, repeatable")] = [],  # noqa: B006
    ) -> Page[dict[str, Any]]:
        """Consumption in [start, end) per period and group (filter or group by ``kind``)."""
        tz = ctrl.clock.tz
        with translate_errors("tag"):
            query = ConsumptionQuery(
                start=start if start.tzinfo else start.replace(tzinfo=tz),
                end=end if end.tzinfo else end.replace(tzinfo=tz),
                period=period,
                group_by=tuple(group_by),
                where=_narrow(found, _filters(where)),
            )
        rows = await _source(component(ctrl, Recorder)).consumption(query)
        return paginate(
            rows,
            paging,
            lambda row: {
                "period_start": row.period_start.isoformat(),
                "group": row.tags,
                "consumption": row.consumption,
                "held_out": row.held_out,
                "partial": row.partial,
            },
        )

    @router.get("/consumption/unmetered")
    async def consumption_unmetered(
        *,
        found: Viewer,
        paging: Paging,
        start: dt.datetime,
        end: dt.datetime,
        kind: str = "active_energy",
        period: Period = Period.DAY,
        where: Annotated[list[str], Query(description="tag=value, repeatable")] = [],  # noqa: B006
    ) -> Page[dict[str, Any]]:
        """Per parent meter and period: its consumption, its child meters' sum, and the
        unmetered remainder between them (losses, unmetered circuits, theft)."""
        tz = ctrl.clock.tz
        source = _source(component(ctrl, Recorder))
        with translate_errors("tag"):
            rows = await unmetered(
                source,
                start if start.tzinfo else start.replace(tzinfo=tz),
                end if end.tzinfo else end.replace(tzinfo=tz),
                kind,
                period=period,
                where=_narrow(found, _filters(where)),
            )
        return paginate(
            rows,
            paging,
            lambda row: {
                "period_start": row.period_start.isoformat(),
                "building": row.building,
                "device": row.device,
                "metered": row.metered,
                "children": row.children,
                "unmetered": row.unmetered,
                "share": row.share,
                "partial": row.partial,
            },
        )

    @router.post("/meter-swaps", status_code=201, responses=responses(404, 409))
    async def meter_swap(body: MeterSwapRequest, found: Operator) -> dict[str, Any]:
        """Record a meter replacement so consumption stays right across the counter reset."""
        entity = ctrl.registry.get(body.entity_id)
        if entity is None:
            raise HTTPException(404, f"unknown entity {body.entity_id!r}")
        found.check_building(entity.building)
        if not entity.is_cumulative:
            raise HTTPException(422, f"{body.entity_id} is not a cumulative meter reading")
        recorder = component(ctrl, Recorder)
        if not recorder.running:
            raise HTTPException(503, "the recorder is not running")
        try:
            swap = await recorder.record_meter_swap(
                body.entity_id, body.at, body.old_final, body.new_start, actor=found.actor
            )
        except SwapRecordError as err:
            if err.field is None:
                raise HTTPException(409, str(err)) from err
            problem = FieldError(loc=["body", err.field], msg=err.reason, type="out_of_bounds")
            raise ApiError(422, str(err), [problem]) from err
        record = {name: getattr(swap, name) for name in swap.__slots__}
        log = ctrl.find(AuditLog)
        if log is not None:  # the swap keeps its actor too; the audit log is where staff look
            log.record(found.actor, "meter.swap", body.entity_id, source="api", details=record)
        return record

    return router
