"""Building limits: which buildings a thing touches, and what an account may see of a list.

A dorm manager's account is limited to their buildings. Every route asks here which
buildings an entity, device, room, override, policy, alarm or release target belongs to, and
:meth:`Caller.check_building` answers 403 for any outside the account's. Lists are filtered
with :func:`visible`, so a limited account never learns what another building holds. Something
that belongs to no building (a campus-wide figure) is visible to unrestricted accounts only.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from pydantic import ValidationError

from controller.app import Controller
from controller.config.policies import Scope
from controller.policies.alarms import ActiveAlarm
from controller.policies.engine import PolicyEngine
from controller.policies.scope import SiteIndex

from .auth import Caller

__all__ = [
    "alarm_buildings",
    "check_all",
    "device_buildings",
    "policy_buildings",
    "room_building",
    "scope_buildings",
    "target_buildings",
    "visible",
]

T = TypeVar("T")


def device_buildings(ctrl: Controller, devices: Iterable[str]) -> frozenset[str | None]:
    """The buildings of these devices (None for an unknown device: campus-wide)."""
    site = ctrl.site.devices
    return frozenset(site[d].building if d in site else None for d in devices)


def room_building(room: str) -> str | None:
    """``dorm-1/101`` → ``dorm-1``."""
    building, sep, _ = room.partition("/")
    return building if sep and building else None


_SCOPES: weakref.WeakKeyDictionary[SiteIndex, dict[str, frozenset[str | None]]] = (
    weakref.WeakKeyDictionary()
)
"""Buildings per scope, per site index: a dorm manager's policy list resolves a dozen scopes
over 40,000 devices, and the same ones again at every request."""


def scope_buildings(engine: PolicyEngine, scope: Mapping[str, Any]) -> frozenset[str | None]:
    """The buildings a policy or override scope selects (empty when it selects nothing or
    does not parse; the engine then answers 422 for it)."""
    index = engine.ctx.index
    known = _SCOPES.setdefault(index, {})
    key = json.dumps(scope, sort_keys=True, default=str)
    found = known.get(key)
    if found is None:
        try:
            parsed = Scope.model_validate(dict(scope))
        except ValidationError:
            return frozenset()
        found = frozenset(d.building for d in index.select(parsed))
        if len(known) > 1000:  # staff try many scopes; keep the memory bounded
            known.clear()
        known[key] = found
    return found


def policy_buildings(engine: PolicyEngine, config: Mapping[str, Any]) -> frozenset[str | None]:
    scope = config.get("scope")
    return scope_buildings(engine, scope) if isinstance(scope, Mapping) else frozenset([None])


def alarm_buildings(ctrl: Controller, alarm: ActiveAlarm) -> frozenset[str | None]:
    """Where an alarm is: its entity's building, else the device or building in its evidence."""
    a = alarm.alarm
    if a.entity_id is not None:
        entity = ctrl.registry.get(a.entity_id)
        if entity is not None:
            return frozenset([entity.building])
        return device_buildings(ctrl, [a.entity_id.rsplit(".", 1)[0]])
    evidence = a.evidence
    if isinstance(evidence.get("building"), str):
        return frozenset([evidence["building"]])
    if isinstance(evidence.get("device"), str):
        return device_buildings(ctrl, [evidence["device"]])
    if isinstance(evidence.get("room"), str):
        return frozenset([room_building(evidence["room"])])
    return frozenset([None])


def target_buildings(
    ctrl: Controller, engine: PolicyEngine, target: str, policy_id: str | None
) -> frozenset[str | None]:
    """The buildings of a release target: a device, or the devices of the units it names."""
    if target in ctrl.site.devices:
        return device_buildings(ctrl, [target])
    core = engine.core
    devices = [
        device
        for pi, ui in core.find_units(target, policy_id)
        for device in core.policies[pi].units[ui].devices
    ]
    return device_buildings(ctrl, devices) if devices else frozenset([room_building(target)])


def check_all(found: Caller, buildings: Iterable[str | None]) -> None:
    """403 unless the account may act on every one of ``buildings``."""
    for building in sorted(buildings, key=lambda b: b or ""):
        found.check_building(building)


def visible(
    found: Caller, items: Iterable[T], buildings: Callable[[T], Iterable[str | None]]
) -> list[T]:
    """The items whose buildings the account sees (all of them, for an unrestricted one)."""
    if found.account.buildings is None:
        return list(items)
    sees = found.account.sees
    return [item for item in items if all(sees(b) for b in buildings(item))]
