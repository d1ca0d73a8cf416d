"""The shape every policy type shares: bind to units once, then decide per unit, purely.

``decide(tick, unit, states, memory)`` must not read the clock, the store or the bus: all it
knows comes from its arguments, so tests call it with explicit times and dict states. ``tick``
carries the evaluation time and the policy-wide facts computed once per evaluation (is the
curfew on, which month is it), so 10,000 units do not recompute them.
"""

from __future__ import annotations

import datetime as dt
import logging
import operator
from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from controller.calendar import SiteCalendar
from controller.config.policies import PolicyBase, Scope
from controller.config.profile import PointKind
from controller.core.events import Value
from controller.core.values import SwitchValues, is_on, switch_values, valve_values

from .model import IDLE, Decision, StateReader, Unit, Want
from .scope import DeviceInfo, SiteIndex

__all__ = [
    "Actuator",
    "Policy",
    "SwitchOffPolicy",
    "SwitchUnit",
    "Tick",
    "find_switch",
    "find_valve",
    "number",
    "switch_off_units",
]

_LOGGER = logging.getLogger(__name__)

C = TypeVar("C", bound=PolicyBase)
U = TypeVar("U", bound=Unit)


@dataclass(frozen=True, slots=True)
class Tick:
    """One evaluation's time: aware local ``now``, epoch ``ts``, the policy's ``phase``."""

    now: dt.datetime
    ts: float
    phase: Hashable = None
    started: float = 0.0


@dataclass(frozen=True, slots=True, eq=False)
class Actuator:
    """A two-state point: read ``entity``, write ``command_entity`` with ``values``."""

    entity: str
    command_entity: str
    values: SwitchValues

    def want(
        self,
        on: bool,
        *,
        policy_id: str,
        priority: int,
        reason: str,
        restore: bool,
    ) -> Want:
        """Want the point on (or off), restoring the opposite state on release if asked."""
        v = self.values
        value, command = (v.on_state, v.on_command) if on else (v.off_state, v.off_command)
        back, back_command = (v.off_state, v.off_command) if on else (v.on_state, v.on_command)
        return Want(
            self.entity,
            value,
            self.command_entity,
            command,
            policy_id,
            priority,
            reason,
            back if restore else None,
            back_command if restore else None,
        )


@dataclass(frozen=True, slots=True)
class SwitchUnit(Unit):
    """A unit that is one on/off point; ``held`` is its prebuilt "switch it off" decision."""

    actuator: Actuator
    held: Decision


def number(value: Value) -> float | None:
    """A reading as a float, or None for missing, text and booleans."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def find_switch(
    device: DeviceInfo, kinds: tuple[PointKind, ...] = (PointKind.RELAY, PointKind.POWER_SWITCH)
) -> Actuator | None:
    """The first writable on/off point of ``kinds`` on the device."""
    for kind in kinds:
        for point in device.points_of(kind, writable=True):
            values = switch_values(point)
            if values is not None:
                entity = device.entity(point)
                return Actuator(entity, entity, values)
    return None


def switch_off_units(
    policy: Policy[Any, SwitchUnit],
    devices: list[DeviceInfo],
    reason: str,
    *,
    restore: bool,
    kinds: tuple[PointKind, ...] = (PointKind.RELAY, PointKind.POWER_SWITCH),
) -> list[SwitchUnit]:
    """One unit per device with an on/off point of ``kinds``, holding it off while the policy
    is in force (curfews, AC windows, canteen hours differ only in *when*)."""
    units = []
    for device in devices:
        actuator = find_switch(device, kinds)
        if actuator is None:
            continue
        want = actuator.want(
            False, policy_id=policy.id, priority=policy.priority, reason=reason, restore=restore
        )
        units.append(SwitchUnit(device.id, (device.id,), (), actuator, Decision((want,))))
    return units


def find_valve(device: DeviceInfo) -> Actuator | None:
    """The valve of a device: a writable state point, or a read-only one plus a command point."""
    for state in device.points_of(PointKind.VALVE_STATE):
        if state.writable:
            values = valve_values(state, None)
            command_point = state
        else:
            commands = device.points_of(PointKind.VALVE_COMMAND, writable=True)
            if not commands:
                continue
            command_point = commands[0]
            values = valve_values(state, command_point)
        if values is not None:
            return Actuator(device.entity(state), device.entity(command_point), values)
    return None


class Policy(ABC, Generic[C, U]):
    """A declared policy bound to its units. Subclasses define one policy type each."""

    type_name: ClassVar[str]
    default_priority: ClassVar[int] = 50
    default_circuits: ClassVar[tuple[str, ...]] = ()
    memory_type: ClassVar[type[Any] | None] = None
    durable_fields: ClassVar[tuple[str, ...]] = ()
    """Memory fields that must survive a restart; the others are rebuilt from new readings."""
    _durable_getter: Callable[[Any], Any] | None = None

    def __init__(self, config: C, index: SiteIndex, calendar: SiteCalendar) -> None:
        self.config = config
        self.id = config.id
        self.priority = config.priority if config.priority is not None else self.default_priority
        self.calendar = calendar
        scope = config.scope
        if scope.is_empty:
            defaults = self.default_scope()
            scope = defaults.model_copy(update={"exclude": scope.exclude})
        self.units: list[U] = self.bind(index.select(scope, self.circuits()), index)
        self.unit_index = {unit.key: i for i, unit in enumerate(self.units)}

    def default_scope(self) -> Scope:
        """Where the policy applies when its scope is empty (the whole campus by default)."""
        return Scope()

    def circuits(self) -> tuple[str, ...]:
        """Circuits selected when the scope names none."""
        return self.default_circuits

    @abstractmethod
    def bind(self, devices: list[DeviceInfo], index: SiteIndex) -> list[U]:
        """Turn the devices in scope into units (called once)."""

    def phase(self, now: dt.datetime) -> Hashable:
        """Policy-wide facts that depend only on time; a change re-evaluates every unit."""
        return None

    def edges(self) -> set[int]:
        """Local times of day (seconds after midnight) at which ``phase`` can change."""
        return set()

    def tick(self, now: dt.datetime, started: float = 0.0) -> Tick:
        return Tick(now, now.timestamp(), self.phase(now), started)

    @abstractmethod
    def decide(self, tick: Tick, unit: U, states: StateReader, memory: Any) -> Decision:
        """Everything the policy wants of ``unit`` now. Pure: no clock, no I/O."""

    def vet(
        self, tick: Tick, unit: U, states: StateReader, entity_id: str, value: Value
    ) -> str | None:
        """Why a command to ``entity_id`` would break the policy now (None: it would not)."""
        return None

    def release(self, unit: U, memory: Any, what: str) -> Any:
        """Memory after staff release a latch (a lock-out, a leak); same object if nothing."""
        return memory

    def durable(self, memory: Any) -> Any:
        """The part of ``memory`` that must be stored (compared to decide whether to write)."""
        if memory is None:
            return None
        getter = self._durable_getter
        if getter is None:
            getter = self._durable_getter = operator.attrgetter(*self.durable_fields)
        return getter(memory)

    def encode(self, memory: Any) -> dict[str, Any] | None:
        """The durable part of a unit's memory as JSON-ready data."""
        if memory is None:
            return None
        return {name: getattr(memory, name) for name in self.durable_fields}

    def decode(self, data: Mapping[str, Any]) -> Any:
        """Memory from stored data; None (a fresh start) if it does not fit any more."""
        if self.memory_type is None:
            return None
        names = set(self.memory_type._fields)
        args = {
            k: tuple(v) if isinstance(v, list) else v
            for k, v in data.items()
            if k in names and k in self.durable_fields
        }
        try:
            return self.memory_type(**args)
        except TypeError as err:
            _LOGGER.warning("Policy %s: stored memory does not fit (%s); reset", self.id, err)
            return None

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type_name,
            "units": len(self.units),
            "priority": self.priority,
            "enabled": self.config.enabled,
        }


class SwitchOffPolicy(Policy[C, SwitchUnit]):
    """Holds on/off points off while ``phase`` is True (restricted) and refuses turning them on.

    Curfews, AC windows and canteen hours differ only in when they restrict (``phase``) and in
    the words of the refusal (``refusal``).
    """

    @abstractmethod
    def refusal(self) -> str:
        """Why a command to switch on is refused while restricted (for staff and the audit)."""

    def decide(self, tick: Tick, unit: SwitchUnit, states: StateReader, memory: object) -> Decision:
        return unit.held if tick.phase else IDLE

    def vet(
        self, tick: Tick, unit: SwitchUnit, states: StateReader, entity_id: str, value: Value
    ) -> str | None:
        if tick.phase and entity_id == unit.actuator.command_entity and is_on(value):
            return self.refusal()
        return None
