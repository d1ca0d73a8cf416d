"""Routes for policies, overrides, quotas, alarms, lock-outs and valves (the policy engine).

Every change names the acting user (``X-Sanjie-User``) and a reason, and is audited by the engine.
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

from .deps import Actor, Reason, component
from .errors import ApiError, EngineErrorRoute, responses
from .paging import Page, Paging, paginate
from .times import Instant

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
        prefix="/api", tags=["policies"], route_class=EngineErrorRoute, responses=responses(503)
    )

    @router.get("/policies")
    async def list_policies(paging: Paging) -> Page[dict[str, Any]]:
        return paginate(_engine(ctrl).admin.declared(), paging, _same)

    @router.put("/policies/{policy_id}", responses=responses(404))
    async def put_policy(policy_id: str, body: PolicyChange, actor: Actor) -> dict[str, Any]:
        config = {**body.config, "id": policy_id}
        saved = _engine(ctrl).admin.upsert(config, actor=actor, reason=body.reason)
        return {"id": saved.id, "type": saved.type, "enabled": saved.enabled}

    @router.delete("/policies/{policy_id}", responses=responses(404))
    async def delete_policy(policy_id: str, body: Reason, actor: Actor) -> dict[str, Any]:
        _engine(ctrl).admin.delete(policy_id, actor=actor, reason=body.reason)
        return {"id": policy_id, "deleted": True}

    @router.post("/policies/{policy_id}/enable", responses=responses(404))
    async def enable(policy_id: str, body: Reason, actor: Actor) -> dict[str, Any]:
        _engine(ctrl).admin.set_enabled(policy_id, True, actor=actor, reason=body.reason)
        return {"id": policy_id, "enabled": True}

    @router.post("/policies/{policy_id}/disable", responses=responses(404))
    async def disable(policy_id: str, body: Reason, actor: Actor) -> dict[str, Any]:
        _engine(ctrl).admin.set_enabled(policy_id, False, actor=actor, reason=body.reason)
        return {"id": policy_id, "enabled": False}

    @router.post("/policies/dry-run", responses=responses(404))
    async def dry_run(body: DryRunRequest) -> dict[str, Any]:
        """What a new or edited policy would do right now; nothing is sent."""
        return _engine(ctrl).views.dry_run(body.config).to_json()

    @router.get("/overrides")
    async def overrides(paging: Paging) -> Page[dict[str, Any]]:
        return paginate(_engine(ctrl).views.overrides(), paging, lambda o: o.to_json())

    @router.post("/overrides", status_code=201, responses=responses(404))
    async def grant(body: OverrideRequest, actor: Actor) -> dict[str, Any]:
        override = _engine(ctrl).staff.grant_override(
            body.scope,
            actor=actor,
            reason=body.reason,
            policy_id=body.policy_id,
            until=body.until,
            duration_s=body.duration_s,
        )
        return override.to_json()

    @router.delete("/overrides/{override_id}", responses=responses(404))
    async def end(override_id: str, body: Reason, actor: Actor) -> dict[str, Any]:
        staff = _engine(ctrl).staff
        return staff.end_override(override_id, actor=actor, reason=body.reason).to_json()

    @router.get("/quotas", responses=responses(404))
    async def quotas(
        paging: Paging, policy_id: str | None = None, room: str | None = None
    ) -> Page[dict[str, Any]]:
        """Quota balances this period (room ids are ``building/room``)."""
        balances = _engine(ctrl).views.quota_balances(policy_id, room)
        return paginate(balances, paging, _fields)

    @router.post("/quotas/{policy_id}/top-up", responses=responses(404))
    async def top_up(
        policy_id: str,
        body: TopUpRequest,
        actor: Actor,
        room: Annotated[str, Query(min_length=1, description="building/room")],
    ) -> dict[str, Any]:
        balance = _engine(ctrl).staff.top_up(
            policy_id, room, body.amount, actor=actor, reason=body.reason
        )
        return _fields(balance)

    @router.post("/releases", responses=responses(404))
    async def release(body: ReleaseRequest, actor: Actor) -> dict[str, Any]:
        count = _engine(ctrl).staff.release(
            body.target,
            actor=actor,
            reason=body.reason,
            what=body.what,
            policy_id=body.policy_id,
        )
        return {"target": body.target, "released": count}

    @router.get("/alarms")
    async def alarms(paging: Paging, history: bool = False) -> Page[dict[str, Any]]:
        """Active alarms, or with ``history`` the log (the last ``HISTORY_DEPTH`` entries).

        With the alarm service running, every alarm of the controller (policies, devices,
        buses, supervision, detectors, rules) in one list; else the policy engine's."""
        service = alarm_service(ctrl.components)
        if service is not None:
            records = service.alarms(history=history, limit=HISTORY_DEPTH)
            return paginate(records, paging, lambda r: r.to_json())
        views = _engine(ctrl).views
        found = views.alarm_history(HISTORY_DEPTH) if history else views.active_alarms()
        return paginate(found, paging, lambda a: a.to_json())

    @router.post("/alarms/{alarm_key}/ack", responses=responses(404))
    async def ack(alarm_key: str, actor: Actor) -> dict[str, Any]:
        service = alarm_service(ctrl.components)
        if service is None:
            return _engine(ctrl).staff.acknowledge(alarm_key, actor=actor).to_json()
        record = service.ack(alarm_key, actor)
        if record is None:
            raise ApiError(404, f"no active alarm {alarm_key!r}")
        return record.to_json()

    @router.get("/valves", responses=responses(404))
    async def valves(paging: Paging, policy_id: str | None = None) -> Page[dict[str, Any]]:
        """Today's presses and litres per press of each delayed-closing valve."""
        stats = _engine(ctrl).views.valve_stats(policy_id)
        return paginate(stats, paging, _fields)

    return router


def _same(item: dict[str, Any]) -> dict[str, Any]:
    return item


def _fields(obj: Any) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in obj.__slots__}
