"""Routes of the controller API. Read models come from the state core; commands are audited.

Errors are translated here, in one place: unknown ids → 404, invalid bodies → 422 (FastAPI),
refused commands → 409, devices that fail to confirm → 502, each with a reason people can read.
Handlers are ``async``: they read live controller state, which belongs to the event loop's thread.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, HTTPException, Query, Request
from fastapi.responses import PlainTextResponse

from controller import __version__
from controller.app import Controller
from controller.core import Entity

from .calendar import calendar_routes
from .deps import Actor
from .history import history_routes
from .metrics import render_metrics
from .policies import policy_routes
from .schemas import (
    BuildingOut,
    CommandRequest,
    CommandResponse,
    EntityOut,
    SiteOut,
    StateOut,
)

__all__ = ["create_api"]

Lang = Annotated[str, Query(pattern="^(zh|en)$", description="Language of names: zh or en.")]


def _entity_out(entity: Entity, lang: str) -> EntityOut:
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
    )


def _filter(entities: list[Entity], filters: dict[str, str | None]) -> list[Entity]:
    wanted = {k: v for k, v in filters.items() if v is not None}
    return [e for e in entities if all(e.tags.get(k) == v for k, v in wanted.items())]


def _routes(ctrl: Controller) -> APIRouter:
    router = APIRouter(prefix="/api")

    @router.get("/health")
    async def health() -> dict[str, Any]:
        return {"ok": True, "version": __version__, "time": ctrl.clock.time()}

    @router.get("/site")
    async def site(lang: Lang = "zh") -> SiteOut:
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
            ],
            devices=len(ctrl.site.devices),
            entities=len(ctrl.registry),
        )

    @router.get("/status")
    async def status() -> dict[str, Any]:
        """Each component's figures (outbox depth, polls, policies) and the bus queues."""
        return {
            "components": ctrl.status(),
            "bus": [dataclasses.asdict(s) for s in ctrl.bus.stats()],
            "unavailable_devices": sorted(ctrl.states.unavailable_devices),
        }

    @router.get("/metrics", response_class=PlainTextResponse)
    async def metrics() -> str:
        """Prometheus text format of every component's figures and the bus queues."""
        bus = {s.name: dataclasses.asdict(s) for s in ctrl.bus.stats()}
        return render_metrics(
            {
                **ctrl.status(),
                "bus": {"subscribers": bus, "published": ctrl.bus.published},
                "devices": {"unavailable": len(ctrl.states.unavailable_devices)},
            }
        )

    @router.get("/entities")
    async def entities(
        *,
        lang: Lang = "zh",
        building: str | None = None,
        room: str | None = None,
        device: str | None = None,
        kind: str | None = None,
        circuit: str | None = None,
        limit: Annotated[int, Query(ge=1, le=100_000)] = 1000,
    ) -> list[EntityOut]:
        found = _filter(
            list(ctrl.registry),
            {
                "building": building,
                "room": room,
                "device": device,
                "kind": kind,
                "circuit": circuit,
            },
        )
        return [_entity_out(e, lang) for e in found[:limit]]

    @router.get("/entities/{entity_id}")
    async def entity(entity_id: str, lang: Lang = "zh") -> EntityOut:
        found = ctrl.registry.get(entity_id)
        if found is None:
            raise HTTPException(404, f"unknown entity {entity_id!r}")
        return _entity_out(found, lang)

    @router.get("/states")
    async def states(
        *,
        building: str | None = None,
        room: str | None = None,
        device: str | None = None,
        kind: str | None = None,
        limit: Annotated[int, Query(ge=1, le=100_000)] = 1000,
    ) -> list[StateOut]:
        found = _filter(
            list(ctrl.registry),
            {"building": building, "room": room, "device": device, "kind": kind},
        )
        return [_state_out(ctrl, e.entity_id) for e in found[:limit]]

    @router.get("/states/{entity_id}")
    async def state(entity_id: str) -> StateOut:
        if entity_id not in ctrl.registry:
            raise HTTPException(404, f"unknown entity {entity_id!r}")
        return _state_out(ctrl, entity_id)

    @router.post("/commands")
    async def command(body: CommandRequest, actor: Actor) -> CommandResponse:
        entity = ctrl.registry.get(body.entity_id)
        if entity is None:
            raise HTTPException(404, f"unknown entity {body.entity_id!r}")
        if not entity.writable:
            raise HTTPException(409, f"{body.entity_id} is read-only / 只读，不能下发命令")
        result = await ctrl.commands.send(
            body.entity_id, body.value, actor=actor, reason=body.reason, source="api"
        )
        if not result.ok:
            raise HTTPException(502, f"command not confirmed: {result.error}")
        return CommandResponse(
            entity_id=result.entity_id,
            value=result.value,
            ok=result.ok,
            confirmed_value=result.confirmed_value,
            error=result.error,
        )

    return router


def _state_out(ctrl: Controller, entity_id: str) -> StateOut:
    current = ctrl.states.get(entity_id)
    if current is None:
        return StateOut(
            entity_id=entity_id, value=None, timestamp=None, quality=None, available=False
        )
    return StateOut(
        entity_id=entity_id,
        value=current.value,
        timestamp=current.timestamp,
        quality=current.quality.value,
        available=current.available,
    )


def create_api(ctrl: Controller) -> FastAPI:
    """The FastAPI application for one running controller."""
    api = FastAPI(
        title="sanjie 三节",
        version=__version__,
        description="Campus metering and savings controller API. Names default to Chinese.",
    )
    api.include_router(_routes(ctrl))
    api.include_router(policy_routes(ctrl))
    api.include_router(history_routes(ctrl))
    api.include_router(calendar_routes(ctrl))
    api.state.controller = ctrl

    @api.middleware("http")
    async def _no_store(request: Request, call_next: Any) -> Any:
        response = await call_next(request)
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    return api
