"""The staff pages of repair work orders (网上报修): the list with filters and one order.

``GET /workorders`` (status, building, category; paged on the server) and
``GET /workorders/{id}``, each with its ``?format=json`` twin. Opening, assigning, starting,
finishing and closing go through ``/api/workorders`` with the session's CSRF token (the script
``workorders.js``), so the page and a script pass the same role and building checks, and the
order's history and the audit log name the signed-in account. Orders of buildings the
account may not see are neither listed nor shown (404, as if they did not exist).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from controller.accounts import Role
from controller.alarms.component import alarm_service
from controller.api.auth import Caller
from controller.app import Controller
from controller.workorders import Category, Status, WorkOrder, WorkOrders
from controller.workorders.model import TRANSITIONS
from controller.workorders.photos import PHOTO_PREFIX
from controller.workorders.service import MAX_PHOTOS

from .render import page, signed_in, to_login
from .staff_views import paged

__all__ = ["workorder_routes", "workorder_view", "workorders_view"]

Text = Annotated[str, Query(max_length=200)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
OrderId = Annotated[int, Path(ge=1, le=2**63 - 1)]
MAX_ALARMS = 200
"""Active alarms offered in the "open from an alarm" list (the worst and oldest first)."""

_ACTIONS = {
    Status.ASSIGNED: "assign",
    Status.IN_PROGRESS: "start",
    Status.DONE: "done",
    Status.CLOSED: "close",
}


def _orders(ctrl: Controller) -> WorkOrders | None:
    service = alarm_service(ctrl.components)
    orders = service.workorders if service is not None else None
    return orders if isinstance(orders, WorkOrders) else None


def building_of(ctrl: Controller, room: str) -> str | None:
    """The building of an order's place (``building/room``, ``building/area``, a building)."""
    head = room.split("/", 1)[0]
    return head if head in ctrl.site.buildings else None


def _item(ctrl: Controller, orders: WorkOrders, order: WorkOrder, now: float) -> dict[str, Any]:
    data = order.to_json()
    data.pop("history")
    sla = orders.sla_s.get(order.category)
    due = order.opened_at + sla if sla else None
    data["building"] = building_of(ctrl, order.room)
    data["due_at"] = due
    data["late"] = bool(due and order.status is not Status.CLOSED and now > due)
    return data


def workorders_view(
    ctrl: Controller,
    orders: WorkOrders,
    found: Caller,
    *,
    status: str,
    building: str,
    category: str,
    offset: int,
) -> dict[str, Any]:
    """Orders the account may see, newest first, filtered; with what the "new order" form
    offers (the account's buildings, the active alarms of those buildings)."""
    account = found.account
    now = ctrl.clock.time()
    mine = [o for o in orders.store.list() if account.sees(building_of(ctrl, o.room))]
    chosen = [
        o
        for o in reversed(mine)
        if (not status or o.status == status)
        and (not category or o.category == category)
        and (not building or building_of(ctrl, o.room) == building)
    ]
    service = alarm_service(ctrl.components)
    alarms = []
    if service is not None:
        for record in service.alarms()[:MAX_ALARMS]:
            if account.sees(record.building):
                alarms.append({"key": record.key, "zh": record.message_zh, "en": record.message_en})
    return {
        "filters": {"status": status, "building": building, "category": category},
        "statuses": [str(s) for s in Status],
        "categories": [str(c) for c in Category],
        "buildings": [b for b in ctrl.site.buildings if account.sees(b)],
        "alarms": alarms,
        "can_edit": account.at_least(Role.OPERATOR),
        "page": paged(chosen, offset, lambda o: _item(ctrl, orders, o, now)),
    }


def workorder_view(
    ctrl: Controller, orders: WorkOrders, found: Caller, order: WorkOrder
) -> dict[str, Any]:
    """One order with its history, its alarm (if it came from one), and the next steps."""
    data = _item(ctrl, orders, order, ctrl.clock.time())
    data["history"] = [c.to_json() for c in order.history]
    service = alarm_service(ctrl.components)
    alarm = None
    if order.alarm_key and service is not None:
        record = service.manager.get(order.alarm_key)
        if record is not None:
            alarm = {
                "key": record.key,
                "zh": record.message_zh,
                "en": record.message_en,
                "severity": str(record.severity),
                "active": record.active,
            }
    can_edit = found.account.at_least(Role.OPERATOR)
    steps = [_ACTIONS[s] for s in TRANSITIONS[order.status] if s in _ACTIONS]
    uploads = [p.removeprefix(PHOTO_PREFIX) for p in order.photos if p.startswith(PHOTO_PREFIX)]
    return {
        "order": data,
        "alarm": alarm,
        "can_edit": can_edit,
        "uploads": [{"name": n, "url": f"/api/workorders/{order.id}/photos/{n}"} for n in uploads],
        "references": [p for p in order.photos if not p.startswith(PHOTO_PREFIX)],
        "can_upload": can_edit
        and order.status is not Status.CLOSED
        and len(order.photos) < MAX_PHOTOS,
        "photo_max_mb": round(orders.photo_max_bytes / 1024 / 1024, 1),
        "actions": sorted(set(steps), key=list(_ACTIONS.values()).index) if can_edit else [],
    }


def workorder_routes(ctrl: Controller) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    async def opened(request: Request) -> tuple[Caller, WorkOrders] | Response:
        found = await signed_in(request)
        if found is None:
            return to_login(request)
        orders = _orders(ctrl)
        if orders is None:
            return page(request, "error.html", found, {"error": "workorders_off"}, status=503)
        return found, orders

    @router.get("/workorders")
    async def workorders_page(
        request: Request,
        *,
        status: Text = "",
        building: Text = "",
        category: Text = "",
        offset: Offset = 0,
    ) -> Response:
        got = await opened(request)
        if isinstance(got, Response):
            return got
        found, orders = got
        data = workorders_view(
            ctrl,
            orders,
            found,
            status=status,
            building=building,
            category=category,
            offset=offset,
        )
        return page(request, "workorders.html", found, data)

    @router.get("/workorders/{order_id}")
    async def workorder_page(request: Request, order_id: OrderId) -> Response:
        got = await opened(request)
        if isinstance(got, Response):
            return got
        found, orders = got
        order = orders.store.get(order_id)
        if order is None or not found.account.sees(building_of(ctrl, order.room)):
            return page(request, "error.html", found, {"error": "not_found"}, status=404)
        return page(request, "workorder.html", found, workorder_view(ctrl, orders, found, order))

    return router
