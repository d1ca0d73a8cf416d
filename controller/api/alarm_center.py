"""Routes of the alarm service and of repair work orders (a self-contained router).

``/api/alarm-center/...`` is the alarm manager (every source, with scope, count, first/last
seen); ``/api/alarms`` keeps serving the policy engine's shape. ``/api/workorders/...`` is staff
work; ``/api/public/report/{token}`` is the one route a student reaches, from a room's QR code.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field

from controller.alarms.component import AlarmService
from controller.app import Controller
from controller.workorders import RateLimited, WorkOrderError, WorkOrders

from .deps import Actor, component

__all__ = ["alarm_center_routes"]


class OpenOrder(BaseModel):
    model_config = ConfigDict(extra="forbid")

    room: str = Field(min_length=1, max_length=100)
    category: str
    description: str = Field(min_length=1, max_length=2000)
    device: str | None = None
    photos: list[str] = Field(default_factory=list, max_length=4)
    alarm_key: str | None = None


class PublicReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: str
    description: str = Field(min_length=1, max_length=2000)
    photos: list[str] = Field(default_factory=list, max_length=4)


class Assign(BaseModel):
    model_config = ConfigDict(extra="forbid")

    assignee: str = Field(min_length=1, max_length=100)


class Note(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(default="", max_length=2000)


def _service(ctrl: Controller) -> AlarmService:
    return component(ctrl, AlarmService)


def _orders(ctrl: Controller) -> WorkOrders:
    orders = _service(ctrl).workorders
    if orders is None:
        raise HTTPException(503, "work orders are not configured in this controller")
    assert isinstance(orders, WorkOrders)
    return orders


def _call(fn: Any, *args: Any, **kw: Any) -> dict[str, Any]:
    try:
        result: dict[str, Any] = fn(*args, **kw).to_json()
    except RateLimited as err:
        raise HTTPException(429, str(err)) from err
    except WorkOrderError as err:
        status = 404 if "not found" in str(err) or "unknown room" in str(err) else 422
        raise HTTPException(status, str(err)) from err
    return result


def alarm_center_routes(ctrl: Controller) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["alarms", "workorders"])

    @router.get("/alarm-center/alarms")
    async def alarms(
        history: bool = False, limit: Annotated[int, Query(ge=1, le=10_000)] = 100
    ) -> list[dict[str, Any]]:
        m = _service(ctrl).manager
        found = m.store.history(limit) if history else m.active()[:limit]
        return [r.to_json() for r in found]

    @router.post("/alarm-center/alarms/{key}/ack")
    async def ack(key: str, actor: Actor) -> dict[str, Any]:
        record = _service(ctrl).manager.ack(key, actor=actor)
        if record is None:
            raise HTTPException(404, f"unknown active alarm {key}")
        return record.to_json()

    @router.get("/workorders")
    async def orders(status: str | None = None, room: str | None = None) -> list[dict[str, Any]]:
        return [o.to_json() for o in _orders(ctrl).store.list(status, room)]

    @router.get("/workorders/figures")
    async def figures() -> dict[str, Any]:
        return _orders(ctrl).figures()

    @router.get("/workorders/{order_id}")
    async def order(order_id: int) -> dict[str, Any]:
        return _call(_orders(ctrl).get, order_id)

    @router.post("/workorders", status_code=201)
    async def open_order(body: OpenOrder, actor: Actor) -> dict[str, Any]:
        return _call(
            _orders(ctrl).open,
            body.room,
            body.category,
            body.description,
            actor=actor,
            device=body.device,
            photos=body.photos,
            alarm_key=body.alarm_key,
        )

    @router.post("/workorders/{order_id}/assign")
    async def assign(order_id: int, body: Assign, actor: Actor) -> dict[str, Any]:
        return _call(_orders(ctrl).assign, order_id, body.assignee, actor=actor)

    @router.post("/workorders/{order_id}/start")
    async def start(order_id: int, actor: Actor) -> dict[str, Any]:
        return _call(_orders(ctrl).start, order_id, actor=actor)

    @router.post("/workorders/{order_id}/done")
    async def done(order_id: int, body: Note, actor: Actor) -> dict[str, Any]:
        return _call(_orders(ctrl).done, order_id, actor=actor, note=body.note)

    @router.post("/workorders/{order_id}/close")
    async def close(order_id: int, body: Note, actor: Actor) -> dict[str, Any]:
        return _call(_orders(ctrl).close, order_id, actor=actor, note=body.note)

    @router.get("/workorders/report-link/{room:path}")
    async def report_link(room: str, actor: Actor) -> dict[str, str]:
        """The room's public-form token (staff print it as a QR code on the door)."""
        token = _orders(ctrl).store.room_token(room)
        return {"room": room, "token": token, "path": f"/api/public/report/{token}"}

    @router.post("/public/report/{token}", status_code=201)
    async def public_report(token: str, body: PublicReport) -> dict[str, Any]:
        order = _call(_orders(ctrl).report, token, body.category, body.description, body.photos)
        return {"id": order["id"], "status": order["status"]}

    return router
