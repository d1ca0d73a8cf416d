"""Routes of repair work orders (网上报修); alarms themselves are served at ``/api/alarms``.

``/api/workorders/...`` is staff work: reads need any account (``Viewer``), changes an
``Operator`` allowed on the order's building, and every change is kept in the order's history
under the authenticated account. ``/api/public/report/{token}`` is the one route a student
reaches, from the QR code on a room's door: no account, the per-room token in the link is the
anti-abuse check, and a flood from one room answers 429.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from controller.alarms.component import AlarmService, alarm_service
from controller.app import Controller
from controller.audit import AuditLog
from controller.workorders import (
    PhotoRefused,
    RateLimited,
    WorkOrder,
    WorkOrderError,
    WorkOrders,
)
from controller.workorders.photos import PHOTO_NAME

from .auth import Operator, Viewer
from .deps import component
from .errors import ApiError, FieldError, json_responses, responses
from .paging import Page, Paging, paginate
from .report_form import report_form_routes

__all__ = ["alarm_center_routes"]

Text = Annotated[str, Field(min_length=1, max_length=2000)]
Photo = Annotated[str, Field(max_length=500, description="A photo's URL or stored name.")]


class OpenOrder(BaseModel):
    model_config = ConfigDict(extra="forbid")

    room: str = Field(min_length=1, max_length=100, description="building/room, or a building.")
    category: str = Field(max_length=20)
    description: Text
    device: str | None = Field(default=None, max_length=200)
    photos: list[Photo] = Field(default_factory=list, max_length=4)
    alarm_key: str | None = Field(default=None, max_length=300)


class PublicReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: str = Field(max_length=20, description="electricity, water, ac, valve or other.")
    description: Text
    photos: list[Photo] = Field(default_factory=list, max_length=4)


class Assign(BaseModel):
    model_config = ConfigDict(extra="forbid")

    assignee: str = Field(min_length=1, max_length=100)


class Note(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(default="", max_length=2000)


class ReportLink(BaseModel):
    room: str
    token: str
    path: str = Field(description="The form page for people (the QR code's target).")
    api: str = Field(description="The same report as JSON, for apps.")


class Reported(BaseModel):
    id: int
    status: str


OrderId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The work order's number.")]
"""A work order's id: SQLite's integer range, so a huge number is a 422, not an overflow."""


def _orders(ctrl: Controller) -> WorkOrders:
    orders = component(ctrl, AlarmService).workorders
    if not isinstance(orders, WorkOrders):
        raise ApiError(503, "work orders are not configured: add a workorders: section")
    return orders


def _building(ctrl: Controller, room: str) -> str | None:
    head = room.split("/", 1)[0]
    return head if head in ctrl.site.buildings else None


def _call(fn: Callable[..., WorkOrder], *args: Any, **kw: Any) -> dict[str, Any]:
    """Work-order errors to the one error body: unknown → 404, flood → 429, else 422."""
    try:
        return fn(*args, **kw).to_json()
    except RateLimited as err:
        raise ApiError(429, str(err)) from err
    except PhotoRefused as err:
        raise ApiError(err.status, str(err)) from err
    except WorkOrderError as err:
        text = str(err)
        if text.endswith("not found") or "unknown room link" in text:
            raise ApiError(404, text) from err
        field, _, reason = text.partition(": ")
        errors = [FieldError(loc=["body", field], msg=reason, type="value_error")]
        raise ApiError(422, text, errors if field.isidentifier() else ()) from err


async def _body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it passes ``limit`` (never read whole)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"photo: larger than {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"photo: larger than {limit} bytes")
        chunks.append(chunk)
    if not size:
        raise ApiError(422, "photo: the request body is empty")
    return b"".join(chunks)


def _audited(ctrl: Controller, who: Operator, action: str, order: dict[str, Any]) -> dict[str, Any]:
    """A change made through the API, in the controller's audit log too (``workorder.*``,
    target the order's place, so the audit page's building filter finds it)."""
    log = ctrl.find(AuditLog)
    if log is not None:
        details = {"order": order["id"], "status": order["status"]}
        if order.get("assignee"):
            details["assignee"] = order["assignee"]
        log.record(who.actor, f"workorder.{action}", order["room"], source="api", details=details)
    return order


def alarm_center_routes(ctrl: Controller) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["workorders"])

    def running_orders() -> WorkOrders | None:
        service = alarm_service(ctrl.components)
        orders = service.workorders if service is not None else None
        return orders if isinstance(orders, WorkOrders) else None

    def visible(who: Viewer, order_id: OrderId) -> WorkOrders:
        orders = _orders(ctrl)
        order = orders.store.get(order_id)
        if order is None:
            raise ApiError(404, f"work order {order_id}: not found")
        who.check_building(_building(ctrl, order.room))
        return orders

    @router.get("/workorders", responses=responses(401, 403, 503))
    async def orders(
        who: Viewer,
        paging: Paging,
        status: Annotated[str | None, Query(max_length=20)] = None,
        room: Annotated[str | None, Query(max_length=100)] = None,
    ) -> Page[dict[str, Any]]:
        """Work orders, oldest first (only those of buildings the account sees)."""
        found = [
            o
            for o in _orders(ctrl).store.list(status, room)
            if who.account.sees(_building(ctrl, o.room))
        ]
        return paginate(found, paging, lambda o: o.to_json())

    @router.get("/workorders/figures", responses=responses(401, 403, 503))
    async def figures(who: Viewer) -> dict[str, Any]:
        """Counts and mean hours to close per category (for the campaign reports)."""
        return _orders(ctrl).figures()

    @router.get("/workorders/{order_id}", responses=responses(401, 403, 404, 503))
    async def order(order_id: OrderId, who: Viewer) -> dict[str, Any]:
        return _call(visible(who, order_id).get, order_id)

    @router.post("/workorders", status_code=201, responses=responses(401, 403, 404, 503))
    async def open_order(body: OpenOrder, who: Operator) -> dict[str, Any]:
        who.check_building(_building(ctrl, body.room))
        made = _call(
            _orders(ctrl).open,
            body.room,
            body.category,
            body.description,
            actor=who.actor,
            device=body.device,
            photos=body.photos,
            alarm_key=body.alarm_key,
        )
        return _audited(ctrl, who, "open", made)

    @router.post("/workorders/{order_id}/assign", responses=responses(401, 403, 404, 503))
    async def assign(order_id: OrderId, body: Assign, who: Operator) -> dict[str, Any]:
        made = _call(visible(who, order_id).assign, order_id, body.assignee, actor=who.actor)
        return _audited(ctrl, who, "assign", made)

    @router.post("/workorders/{order_id}/start", responses=responses(401, 403, 404, 503))
    async def start(order_id: OrderId, who: Operator) -> dict[str, Any]:
        return _audited(
            ctrl, who, "start", _call(visible(who, order_id).start, order_id, actor=who.actor)
        )

    @router.post("/workorders/{order_id}/done", responses=responses(401, 403, 404, 503))
    async def done(order_id: OrderId, body: Note, who: Operator) -> dict[str, Any]:
        made = _call(visible(who, order_id).done, order_id, actor=who.actor, note=body.note)
        return _audited(ctrl, who, "done", made)

    @router.post("/workorders/{order_id}/close", responses=responses(401, 403, 404, 503))
    async def close(order_id: OrderId, body: Note, who: Operator) -> dict[str, Any]:
        """Close with a note; an order about a device needs the device answering again."""
        made = _call(visible(who, order_id).close, order_id, actor=who.actor, note=body.note)
        return _audited(ctrl, who, "close", made)

    _photo_routes(router, ctrl, visible)

    @router.get("/workorders/report-link/{room:path}", responses=responses(401, 403, 404, 503))
    async def report_link(room: str, who: Operator) -> ReportLink:
        """The room's public-form link (staff print it as a QR code on the door)."""
        orders = _orders(ctrl)
        who.check_building(_building(ctrl, room))
        if orders.places is not None and room not in orders.places:
            raise ApiError(404, f"no room {room!r} in this site")
        token = orders.store.room_token(room)
        return ReportLink(
            room=room, token=token, path=f"/r/{token}", api=f"/api/public/report/{token}"
        )

    @router.post("/public/report/{token}", status_code=201, responses=responses(404, 429))
    async def public_report(
        token: Annotated[str, Path(max_length=64)], body: PublicReport
    ) -> Reported:
        """A student's repair report from a room's link (no account; rate-limited per room).

        Without work orders configured every link is unknown (404): a student's phone gets
        a plain answer, not a server error."""
        orders = running_orders()
        if orders is None:
            raise ApiError(404, "token: unknown room link")
        made = _call(orders.report, token, body.category, body.description, body.photos)
        return Reported(id=made["id"], status=made["status"])

    outer = APIRouter()
    outer.include_router(router)
    outer.include_router(report_form_routes(running_orders))  # /r/{token}: the QR code's page
    return outer


def _photo_routes(
    router: APIRouter, ctrl: Controller, visible: Callable[[Any, int], WorkOrders]
) -> None:
    """Uploading a photo to an order (the body is the image) and reading it back."""

    @router.post(
        "/workorders/{order_id}/photos",
        status_code=201,
        responses=responses(401, 403, 404, 413, 415, 503),
        openapi_extra={
            "requestBody": {
                "required": True,
                "description": "The image file itself; its type is read from its bytes, "
                "whatever Content-Type says.",
                "content": {
                    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
                },
            }
        },
    )
    async def upload_photo(order_id: OrderId, request: Request, who: Operator) -> dict[str, Any]:
        """A photo as the request body (JPEG, PNG or WebP by its bytes, at most
        ``workorders.photo_max_bytes``); kept with the order, served by the route below."""
        orders = visible(who, order_id)
        data = await _body(request, orders.photo_max_bytes)
        made = _call(orders.add_photo, order_id, data, actor=who.actor)
        return _audited(ctrl, who, "photo", made)

    @router.get(
        "/workorders/{order_id}/photos/{name}",
        responses={
            200: {
                "description": "The photo.",
                "content": {t: {} for t in ("image/jpeg", "image/png", "image/webp")},
            },
            **json_responses(401, 403, 404, 503),
        },
        response_class=Response,
    )
    async def photo(
        order_id: OrderId, name: Annotated[str, Path(pattern=PHOTO_NAME)], who: Viewer
    ) -> Response:
        """An uploaded photo, for accounts that see the order's building."""
        orders = visible(who, order_id)
        try:
            mime, data = orders.photo(order_id, name)
        except WorkOrderError as err:
            raise ApiError(404, str(err)) from err
        headers = {
            "Cache-Control": "private, max-age=86400",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'",
        }
        return Response(data, media_type=mime, headers=headers)
