"""Routes for policies, overrides, quotas, alarms, lock-outs and valves (the policy engine).

Every change is made by the signed-in account (``auth``: operators for overrides, releases,
top-ups and acknowledgements, admins for policies) with a reason, and is audited by the engine
under that account. A building-limited account sees and acts on its buildings only
(``visibility``).
The routes call the engine's Python API (``admin``, ``staff``, ``views``); its errors become
404/422/409 and anything else a logged 500 (``errors.EngineErrorRoute``).
Handlers are ``async`` on purpose: the engine and its SQLite store belong to the event loop's
thread, and FastAPI would run plain functions in a worker thread.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field, model_validator

from controller.alarms.component import alarm_service
from controller.app import Controller
from controller.policies.engine import PolicyEngine

from .auth import Admin, Caller, Operator, TopUp, Viewer
from .deps import Reason, component
from .errors import ApiError, EngineErrorRoute, responses
from .paging import Page, Paging, paginate
from .times import Instant
from .visibility import (
    alarm_buildings,
    check_all,
    device_buildings,
    policy_buildings,
    room_building,
    scope_buildings,
    target_buildings,
    visible,
)

__all__ = ["HISTORY_DEPTH", "policy_routes"]

HISTORY_DEPTH = 10_000
"""Alarm-log entries the history list pages through (the newest first)."""


class PolicyChange(BaseModel):
    """A new or edited policy: its full configuration (as in the site file) and a reason."""

    model_config = ConfigDict(extra="forbid")

    config: dict[str, Any]
    reason: str = Field(min_length=1, max_length=500)


class DryRunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    config: dict[str, Any]


class OverrideRequest(BaseModel):
    """A temporary exemption: where (scope), from which policy (all if omitted), until when."""

    model_config = ConfigDict(extra="forbid")

    scope: dict[str, Any]
    policy_id: str | None = None
    reason: str = Field(min_length=1, max_length=500)
    until: Instant | None = None
    duration_s: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _one_end(self) -> OverrideRequest:
        if (self.until is None) == (self.duration_s is None):
            raise ValueError("give exactly one of 'until' and 'duration_s'")
        return self


class ReleaseRequest(BaseModel):
    """Release a lock-out or leak latch of a device, room or unit."""

    model_config = ConfigDict(extra="forbid")

    target: str = Field(min_length=1)
    what: Annotated[str, Field(pattern="^(lockout|leak|all)$")] = "all"
    policy_id: str | None = None
    reason: str = Field(min_length=1, max_length=500)


class TopUpRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: float = Field(gt=0, description="kWh or m³, in the quota's unit.")
    reason: str = Field(min_length=1, max_length=500)


def _engine(ctrl: Controller) -> PolicyEngine:
    return component(ctrl, PolicyEngine)


def policy_routes(ctrl: Controller) -> APIRouter:
    router = APIRouter(
        prefix="/api",
        tags=["policies"],
        route_class=EngineErrorRoute,
        responses=responses(401, 403, 503),
    )

    _admin_routes(router, ctrl)
    _staff_routes(router, ctrl)
    return router


def _declared_policy(engine: PolicyEngine, found: Caller, policy_id: str) -> None:
    """403 unless the account may act on every building the declared policy covers."""
    config = {"scope": engine.admin.config(policy_id).scope.model_dump(mode="json")}
    check_all(found, policy_buildings(engine, config))


def _admin_routes(router: APIRouter, ctrl: Controller) -> None:
    @router.get("/policies")
    async def list_policies(found: Viewer, paging: Paging) -> Page[dict[str, Any]]:
        engine = _engine(ctrl)
        declared = visible(
            found, engine.admin.declared(), lambda p: policy_buildings(engine, p["config"])
        )
        return paginate(declared, paging, _same)

    @router.put("/policies/{policy_id}", responses=responses(404))
    async def put_policy(policy_id: str, body: PolicyChange, found: Admin) -> dict[str, Any]:
        engine = _engine(ctrl)
        config = {**body.config, "id": policy_id}
        if policy_id in engine.admin.configs:
            _declared_policy(engine, found, policy_id)
        check_all(found, policy_buildings(engine, config))
        saved = engine.admin.upsert(config, actor=found.actor, reason=body.reason)
        return {"id": saved.id, "type": saved.type, "enabled": saved.enabled}

    @router.delete("/policies/{policy_id}", responses=responses(404))
    async def delete_policy(policy_id: str, body: Reason, found: Admin) -> dict[str, Any]:
        engine = _engine(ctrl)
        _declared_policy(engine, found, policy_id)
        engine.admin.delete(policy_id, actor=found.actor, reason=body.reason)
        return {"id": policy_id, "deleted": True}

    @router.post("/policies/{policy_id}/enable", responses=responses(404))
    async def enable(policy_id: str, body: Reason, found: Admin) -> dict[str, Any]:
        engine = _engine(ctrl)
        _declared_policy(engine, found, policy_id)
        engine.admin.set_enabled(policy_id, True, actor=found.actor, reason=body.reason)
        return {"id": policy_id, "enabled": True}

    @router.post("/policies/{policy_id}/disable", responses=responses(404))
    async def disable(policy_id: str, body: Reason, found: Admin) -> dict[str, Any]:
        engine = _engine(ctrl)
        _declared_policy(engine, found, policy_id)
        engine.admin.set_enabled(policy_id, False, actor=found.actor, reason=body.reason)
        return {"id": policy_id, "enabled": False}

    @router.post("/policies/dry-run", responses=responses(404))
    async def dry_run(body: DryRunRequest, found: Admin) -> dict[str, Any]:
        """What a new or edited policy would do right now; nothing is sent."""
        engine = _engine(ctrl)
        check_all(found, policy_buildings(engine, body.config))
        return engine.views.dry_run(body.config).to_json()


def _staff_routes(router: APIRouter, ctrl: Controller) -> None:
    @router.get("/overrides")
    async def overrides(found: Viewer, paging: Paging) -> Page[dict[str, Any]]:
        active = visible(
            found, _engine(ctrl).views.overrides(), lambda o: device_buildings(ctrl, o.devices)
        )
        return paginate(active, paging, lambda o: o.to_json())

    @router.post("/overrides", status_code=201, responses=responses(404))
    async def grant(body: OverrideRequest, found: Operator) -> dict[str, Any]:
        engine = _engine(ctrl)
        check_all(found, scope_buildings(engine, body.scope))
        override = engine.staff.grant_override(
            body.scope,
            actor=found.actor,
            reason=body.reason,
            policy_id=body.policy_id,
            until=body.until,
            duration_s=body.duration_s,
        )
        return override.to_json()

    @router.delete("/overrides/{override_id}", responses=responses(404))
    async def end(override_id: str, body: Reason, found: Operator) -> dict[str, Any]:
        engine = _engine(ctrl)
        for active in engine.views.overrides():
            if active.id == override_id:
                check_all(found, device_buildings(ctrl, active.devices))
        ended = engine.staff.end_override(override_id, actor=found.actor, reason=body.reason)
        return ended.to_json()

    @router.get("/quotas", responses=responses(404))
    async def quotas(
        found: Viewer, paging: Paging, policy_id: str | None = None, room: str | None = None
    ) -> Page[dict[str, Any]]:
        """Quota balances this period (room ids are ``building/room``)."""
        if room is not None:
            found.check_building(room_building(room))
        balances = _engine(ctrl).views.quota_balances(policy_id, room)
        mine = visible(found, balances, lambda b: (room_building(b.room),))
        return paginate(mine, paging, _fields)

    @router.post("/quotas/{policy_id}/top-up", responses=responses(404))
    async def top_up(
        policy_id: str,
        body: TopUpRequest,
        found: TopUp,
        room: Annotated[str, Query(min_length=1, description="building/room")],
    ) -> dict[str, Any]:
        found.check_building(room_building(room))
        balance = _engine(ctrl).staff.top_up(
            policy_id, room, body.amount, actor=found.actor, reason=body.reason
        )
        return _fields(balance)

    @router.post("/releases", responses=responses(404))
    async def release(body: ReleaseRequest, found: Operator) -> dict[str, Any]:
        engine = _engine(ctrl)
        check_all(found, target_buildings(ctrl, engine, body.target, body.policy_id))
        count = engine.staff.release(
            body.target,
            actor=found.actor,
            reason=body.reason,
            what=body.what,
            policy_id=body.policy_id,
        )
        return {"target": body.target, "released": count}

    @router.get("/alarms")
    async def alarms(found: Viewer, paging: Paging, history: bool = False) -> Page[dict[str, Any]]:
        """Active alarms, or with ``history`` the log (the last ``HISTORY_DEPTH`` entries).

        With the alarm service running, every alarm of the controller (policies, devices,
        buses, supervision, detectors, rules) in one list; else the policy engine's. A
        building-limited account sees its buildings' alarms only."""
        service = alarm_service(ctrl.components)
        if service is not None:
            records = service.alarms(history=history, limit=HISTORY_DEPTH)
            theirs = visible(found, records, lambda r: (r.building,))
            return paginate(theirs, paging, lambda r: r.to_json())
        views = _engine(ctrl).views
        listed = views.alarm_history(HISTORY_DEPTH) if history else views.active_alarms()
        mine = visible(found, listed, lambda a: alarm_buildings(ctrl, a))
        return paginate(mine, paging, lambda a: a.to_json())

    @router.post("/alarms/{alarm_key}/ack", responses=responses(404))
    async def ack(alarm_key: str, found: Operator) -> dict[str, Any]:
        service = alarm_service(ctrl.components)
        if service is None:
            engine = _engine(ctrl)
            for active in engine.views.active_alarms():
                if active.alarm.key == alarm_key:
                    check_all(found, alarm_buildings(ctrl, active))
            return engine.staff.acknowledge(alarm_key, actor=found.actor).to_json()
        for record in service.alarms(history=False, limit=HISTORY_DEPTH):
            if record.key == alarm_key:
                found.check_building(record.building)
        acked = service.ack(alarm_key, found.actor)
        if acked is None:
            raise ApiError(404, f"no active alarm {alarm_key!r}")
        return acked.to_json()

    @router.get("/valves", responses=responses(404))
    async def valves(
        found: Viewer, paging: Paging, policy_id: str | None = None
    ) -> Page[dict[str, Any]]:
        """Today's presses and litres per press of each delayed-closing valve."""
        stats = _engine(ctrl).views.valve_stats(policy_id)
        mine = visible(found, stats, lambda v: device_buildings(ctrl, [v.device_id]))
        return paginate(mine, paging, _fields)


def _same(item: dict[str, Any]) -> dict[str, Any]:
    return item


def _fields(obj: Any) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in obj.__slots__}
