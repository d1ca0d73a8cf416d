"""Routes of the controller API. Read models come from the state core; commands are audited.

Errors are translated here, in one place: unknown ids → 404, invalid bodies or command values →
422 (before anything is sent), refused commands → 409, devices that fail to confirm → 502; every
error has the body ``errors.ErrorBody``. Lists page explicitly (``paging``); bodies and handler
time are bounded (``limits``).
Handlers are ``async``: they read live controller state, which belongs to the event loop's thread.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST

from controller import __version__
from controller.accounts import AccountStore
from controller.app import Controller
from controller.core import Entity
from controller.core.vocabulary import allowed, from_api, to_api
from controller.eventloop import running_loop_name

from .alarm_center import alarm_center_routes
from .auth import Caller, Operator, Viewer
from .calendar import calendar_routes
from .deps import known_query
from .diners import diner_routes
from .errors import ApiError, install_error_handlers, json_responses, responses
from .history import history_routes
from .limits import DEFAULT_MAX_BODY, DEFAULT_TIMEOUT, RequestLimits
from .metrics import render_metrics
from .paging import Page, Paging, paginate
from .places import place_routes
from .policies import policy_routes
from .records import record_routes
from .reports import report_routes
from .schemas import (
    BuildingOut,
    CommandRequest,
    CommandResponse,
    EntityOut,
    SiteOut,
    StateOut,
)
from .session import session_routes
from .states import check_filters, point_of, state_out
from .visibility import visible
from .writes import check_write

if TYPE_CHECKING:
    from controller.web import LiveHub

__all__ = ["STATIC_DIR", "create_api"]

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

COMMON_ERRORS = (413, 422, 500, 504)
"""Statuses any route can answer: body too large, bad query, a bug, no answer in time."""
AUTH_ERRORS = (401, 403)
"""Statuses of every route that needs an account: not signed in, not allowed."""

Lang = Annotated[str, Query(pattern="^(zh|en)$", description="Language of names: zh or en.")]


def _entity_out(ctrl: Controller, entity: Entity, lang: str) -> EntityOut:
    limits = allowed(point_of(ctrl, entity))
    return EntityOut(
        entity_id=entity.entity_id,
        device_id=entity.device_id,
        name=entity.name_en if lang == "en" else entity.name_zh,
        kind=entity.kind.value,
        unit=entity.unit,
        device_class=entity.device_class.value,
        state_class=entity.state_class.value,
        writable=entity.writable,
        tags=entity.tags,
        options=limits.options,
        write_options=limits.write_options,
        min=limits.minimum,
        max=limits.maximum,
    )


def _filter(found: Caller, entities: list[Entity], filters: dict[str, str | None]) -> list[Entity]:
    """The entities matching every given tag, in the account's buildings (403 for a building
    filter outside them)."""
    if filters.get("building") is not None:
        found.check_building(filters["building"])
    wanted = {k: v for k, v in filters.items() if v is not None}
    matching = [e for e in entities if all(e.tags.get(k) == v for k, v in wanted.items())]
    return visible(found, matching, lambda e: (e.building,))


def _entity(ctrl: Controller, found: Caller, entity_id: str) -> Entity:
    """The entity, 404 when unknown, 403 when in a building outside the account's."""
    entity = ctrl.registry.get(entity_id)
    if entity is None:
        raise HTTPException(404, f"unknown entity {entity_id!r}")
    found.check_building(entity.building)
    return entity


def _public_routes(ctrl: Controller) -> APIRouter:
    """The routes without an account: liveness, and the Prometheus scrape target."""
    router = APIRouter(prefix="/api")

    @router.get("/health")
    async def health() -> dict[str, Any]:
        """Liveness for service managers and proxies: no credentials, no site data."""
        return {"ok": True, "version": __version__, "time": ctrl.clock.time()}

    @router.get("/metrics", response_class=Response, responses=json_responses(*COMMON_ERRORS))
    async def metrics() -> Response:
        """Prometheus text format: counters, gauges and the bus cycle-time histograms."""
        return Response(render_metrics(ctrl), media_type=CONTENT_TYPE_LATEST)

    return router


def _routes(ctrl: Controller) -> APIRouter:
    router = APIRouter(prefix="/api", responses=responses(*AUTH_ERRORS))

    @router.get("/site")
    async def site(found: Viewer, lang: Lang = "zh") -> SiteOut:
        """The campus and the buildings the account may see."""
        devices = Counter(d.building for d in ctrl.site.devices.values())
        return SiteOut(
            campus=ctrl.site.campus.id,
            name=ctrl.site.campus.name.get(lang),
            timezone=ctrl.site.campus.timezone,
            buildings=[
                BuildingOut(
                    id=b.id,
                    kind=b.kind.value,
                    name=b.name.get(lang),
                    floors=b.floors,
                    rooms=len(b.rooms),
                    devices=devices[b.id],
                )
                for b in ctrl.site.buildings.values()
                if found.account.sees(b.id)
            ],
            devices=len(ctrl.site.devices),
            entities=len(ctrl.registry),
        )

    @router.get("/status")
    async def status(found: Viewer) -> dict[str, Any]:
        """Each component's figures (outbox depth, polls, policies), its supervision (state,
        restarts, consecutive failures, last error) and the bus queues (campus-wide:
        unrestricted accounts only)."""
        found.check_building(None)
        return {
            "components": ctrl.status(),
            "supervision": ctrl.health(),
            "bus": [dataclasses.asdict(s) for s in ctrl.bus.stats()],
            "unavailable_devices": sorted(ctrl.states.unavailable_devices),
            "event_loop": running_loop_name(),
        }

    @router.get("/entities")
    async def entities(
        *,
        found: Viewer,
        paging: Paging,
        lang: Lang = "zh",
        building: str | None = None,
        room: str | None = None,
        device: str | None = None,
        kind: str | None = None,
        circuit: str | None = None,
    ) -> Page[EntityOut]:
        check_filters(ctrl, building=building, room=room, device=device, kind=kind, circuit=circuit)
        matching = _filter(
            found,
            list(ctrl.registry),
            {
                "building": building,
                "room": room,
                "device": device,
                "kind": kind,
                "circuit": circuit,
            },
        )
        return paginate(matching, paging, lambda e: _entity_out(ctrl, e, lang))

    @router.get("/entities/{entity_id}", responses=responses(404))
    async def entity(entity_id: str, found: Viewer, lang: Lang = "zh") -> EntityOut:
        return _entity_out(ctrl, _entity(ctrl, found, entity_id), lang)

    @router.get("/states")
    async def states(
        *,
        found: Viewer,
        paging: Paging,
        lang: Lang = "zh",
        building: str | None = None,
        room: str | None = None,
        device: str | None = None,
        kind: str | None = None,
    ) -> Page[StateOut]:
        check_filters(ctrl, building=building, room=room, device=device, kind=kind)
        matching = _filter(
            found,
            list(ctrl.registry),
            {"building": building, "room": room, "device": device, "kind": kind},
        )
        return paginate(matching, paging, lambda e: state_out(ctrl, e, lang))

    @router.get("/states/{entity_id}", responses=responses(404))
    async def state(entity_id: str, found: Viewer, lang: Lang = "zh") -> StateOut:
        return state_out(ctrl, _entity(ctrl, found, entity_id), lang)

    @router.post("/commands", responses=responses(404, 409, 502))
    async def command(body: CommandRequest, found: Operator) -> CommandResponse:
        """Write a point, confirmed by read-back, audited under the signed-in account. The
        value is checked against the point's declared range, words or type first (422);
        502: refused by a guard or not confirmed by the device (the reason says which). A
        staff command that goes against a running policy goes out and becomes a manual
        override of it (``policies.guard``)."""
        entity = _entity(ctrl, found, body.entity_id)
        if not entity.writable:
            raise HTTPException(409, f"{body.entity_id} is read-only / 只读，不能下发命令")
        point = point_of(ctrl, entity)
        value = from_api(point, body.value)
        if (problem := check_write(point, value)) is not None:
            raise ApiError(422, f"{body.entity_id}: {problem.msg}", [problem])
        assert isinstance(value, float | int | str | bool)
        result = await ctrl.commands.send(
            body.entity_id, value, actor=found.actor, reason=body.reason, source="api"
        )
        if not result.ok:
            raise HTTPException(502, f"command not confirmed: {result.error}")
        return CommandResponse(
            entity_id=result.entity_id,
            value=to_api(point, result.value),
            ok=result.ok,
            confirmed_value=to_api(point, result.confirmed_value),
            error=result.error,
        )

    return router


def create_api(
    ctrl: Controller,
    *,
    accounts: AccountStore | None = None,
    live: LiveHub | None = None,
    max_body: int = DEFAULT_MAX_BODY,
    timeout: float = DEFAULT_TIMEOUT,
) -> FastAPI:
    """The FastAPI application for one running controller.

    With ``accounts`` it also serves sign-in and the staff web app (``live`` pushes its
    values). ``max_body``: bytes a request body may have (413 above); ``timeout``: seconds a
    handler may take (504 after).
    """
    api = FastAPI(
        title="sanjie 三节",
        version=__version__,
        description="Campus metering and savings controller API. Names default to Chinese.",
        # FastAPI's own /docs and /redoc load their scripts from a CDN, which a campus intranet
        # (or any network inside mainland China that blocks it) does not reach: serve our own.
        docs_url=None,
        redoc_url=None,
        responses=responses(*COMMON_ERRORS),
        dependencies=[Depends(known_query)],
    )
    install_error_handlers(api)
    _mount_docs(api)
    api.include_router(_public_routes(ctrl))
    api.include_router(_routes(ctrl))
    api.include_router(policy_routes(ctrl))
    api.include_router(history_routes(ctrl))
    api.include_router(calendar_routes(ctrl))
    api.include_router(alarm_center_routes(ctrl))
    api.include_router(place_routes(ctrl))
    api.include_router(record_routes(ctrl))
    api.include_router(report_routes(ctrl))
    api.include_router(diner_routes(ctrl))
    _include_billing(api, ctrl)
    api.state.controller = ctrl
    if accounts is not None:
        api.state.accounts = accounts
        api.include_router(session_routes(accounts))
        # imported here: the web app's pages use this package's sign-in (controller.api.auth),
        # so a module-level import made ``import controller.web`` on its own circular
        from controller.web import web_routes

        api.include_router(web_routes(ctrl, accounts, live))

    @api.middleware("http")
    async def _no_store(request: Request, call_next: Any) -> Any:
        response = await call_next(request)
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    api.add_middleware(RequestLimits, max_body=max_body, timeout=timeout)

    return api


def _include_billing(api: FastAPI, ctrl: Controller) -> None:
    """Prepaid billing's routes, when the controller runs billing (they use accounts auth)."""
    from controller.billing import BillingComponent

    from .billing import billing_routes

    for candidate in ctrl.components:
        if isinstance(candidate, BillingComponent):
            api.include_router(billing_routes(candidate))


def _mount_docs(api: FastAPI) -> None:
    """Swagger UI at ``/docs`` from the assets vendored in the package (no CDN)."""
    api.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @api.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="sanjie 三节 API",
            swagger_js_url="/static/vendor/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/static/vendor/swagger-ui/swagger-ui.css",
            swagger_favicon_url="/static/vendor/swagger-ui/favicon-32x32.png",
        )
