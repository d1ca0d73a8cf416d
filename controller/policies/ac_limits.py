"""AC temperature limits: cooling setpoints not below 26 °C, heating not above 20 °C.

A unit found outside the limit is corrected as soon as its reading arrives (so within one poll
cycle), and commands that would break the limit are refused unless staff override.

What a unit *does* decides which limit holds, not only the mode it was set to: a unit in
``auto`` cools or heats as it sees fit. Its action is read from the gateway's effective mode
(``ac_effective_mode``, e.g. Intesis register 37 on Panasonic units), else from the season (a
summer that allows only cooling modes), else from the room temperature against the setpoint.
An auto unit outside that action's limit is set to the explicit mode (``cool``/``heat``) at the
limit: one setpoint cannot hold an auto unit to both limits (it would cool to it or heat to it
as the room drifts), and a correction that left it in auto would be undone by the unit itself.

Seasons lock modes per month and building kind (cooling only June–September); limits can differ
per building kind, and exempt scopes (a clinic, a lab) are left alone. Where the gateway has a
remote lock, ``lock_remote_s`` locks it while a unit is out of limits and for that long after
the last correction, so occupants cannot undo it a minute later.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Literal, NamedTuple, cast

from controller.config.policies import AcLimitsPolicy, AcSeason, Scope
from controller.config.profile import PointKind
from controller.config.site import BuildingKind
from controller.core.events import Value
from controller.core.values import is_on

from .base import Actuator, Policy, Tick, find_switch, number
from .model import IDLE, Decision, StateReader, Unit, Want, good_value
from .remote import find_remote_lock
from .schedule import edge_times, in_any_window
from .scope import DeviceInfo, SiteIndex

__all__ = ["AcLimits", "AcMemory", "AcUnit"]

_EPS = 1e-6
Action = Literal["cool", "heat"]


class AcMemory(NamedTuple):
    """Until when the unit's remote stays locked (epoch seconds)."""

    locked_until: float = float("-inf")


@dataclass(frozen=True, slots=True)
class AcUnit(Unit):
    setpoint: str
    mode: str
    power: str | None
    switch: Actuator | None
    effective: str | None
    """The gateway's effective mode (what an ``auto`` unit is doing), if it reports one."""
    room: str | None
    remote: Actuator | None
    mode_labels: frozenset[Value]
    cool_min_c: float
    heat_max_c: float
    seasons: tuple[AcSeason, ...]

    def season(self, month: int) -> AcSeason | None:
        for season in self.seasons:
            if month in season.months:
                return season
        return None


def _phase(tick: Tick) -> tuple[bool, int]:
    """(the limits apply now, the month), as ``AcLimits.phase`` put it."""
    active, month = cast("tuple[bool, int]", tick.phase)
    return active, month


class AcLimits(Policy[AcLimitsPolicy, AcUnit]):
    type_name = "ac_limits"
    default_priority = 30
    memory_type = AcMemory
    durable_fields = ("locked_until",)

    def bind(self, devices: list[DeviceInfo], index: SiteIndex) -> list[AcUnit]:
        cfg = self.config
        exempt = {
            d.id for f in cfg.exempt for d in index.select(Scope.model_validate(f.model_dump()))
        }
        units = []
        for device in devices:
            setpoints = device.points_of(PointKind.SETPOINT, writable=True)
            modes = device.points_of(PointKind.AC_MODE)
            if not setpoints or not modes or device.id in exempt:
                continue
            units.append(self._unit(device, setpoints[0].key, modes[0].key))
        self._cooling = frozenset(cfg.cooling_modes)
        self._heating = frozenset(cfg.heating_modes)
        self._auto = frozenset(cfg.auto_modes)
        self._limits = f"cooling ≥ {cfg.cool_min_c:g} °C, heating ≤ {cfg.heat_max_c:g} °C"
        return units

    def _unit(self, device: DeviceInfo, setpoint_key: str, mode_key: str) -> AcUnit:
        cfg = self.config

        def entity(kind: PointKind) -> str | None:
            points = device.points_of(kind)
            return device.entity(points[0]) if points else None

        mode_point = device.point(mode_key)
        assert mode_point is not None
        kind_limits = cfg.by_kind.get(BuildingKind(device.building_kind))
        cool_min = kind_limits.cool_min_c if kind_limits else None
        heat_max = kind_limits.heat_max_c if kind_limits else None
        power = entity(PointKind.POWER_SWITCH)
        effective = entity(PointKind.AC_EFFECTIVE_MODE)
        room = entity(PointKind.TEMPERATURE)
        setpoint = f"{device.id}.{setpoint_key}"
        mode = f"{device.id}.{mode_key}"
        watch = tuple(e for e in (setpoint, mode, power, effective, room) if e is not None)
        return AcUnit(
            device.id,
            (device.id,),
            watch,
            setpoint,
            mode,
            power,
            find_switch(device, (PointKind.POWER_SWITCH,)),
            effective,
            room,
            find_remote_lock(device) if cfg.lock_remote_s is not None else None,
            frozenset(mode_point.values.values())
            if mode_point.writable and mode_point.values
            else frozenset(),
            cfg.cool_min_c if cool_min is None else cool_min,
            cfg.heat_max_c if heat_max is None else heat_max,
            tuple(
                s
                for s in cfg.seasons
                if not s.building_kinds or device.building_kind in s.building_kinds
            ),
        )

    def phase(self, now: dt.datetime) -> Hashable:
        """(the limits apply now, the month: seasons change at midnight on the 1st)."""
        schedule = self.config.schedule
        return (not schedule or in_any_window(schedule, now, self.calendar), now.month)

    def edges(self) -> set[int]:
        edges = edge_times(self.config.schedule) if self.config.schedule else set()
        return edges | {0} if self.config.seasons else edges

    # ------------------------------------------------------------------ what it does

    def _action(
        self,
        unit: AcUnit,
        mode: Value,
        states: StateReader,
        season: AcSeason | None,
        setpoint: float | None = None,
    ) -> Action | None:
        """Whether the unit cools or heats now (None: neither, or it cannot be told);
        ``setpoint``: the one to judge by, when not the current one (a command being vetted)."""
        if mode in self._cooling:
            return "cool"
        if mode in self._heating:
            return "heat"
        if mode not in self._auto:
            return None
        return self._auto_action(unit, states, season, setpoint)

    def _auto_action(
        self, unit: AcUnit, states: StateReader, season: AcSeason | None, setpoint: float | None
    ) -> Action | None:
        """An auto unit's action: the gateway's effective mode, the season, the room."""
        if unit.effective is not None:
            effective = good_value(states.get(unit.effective))
            if effective is not None and effective not in self._auto:
                return self._action(unit, effective, states, None, setpoint)
        if season is not None:
            cools = any(m in self._cooling for m in season.modes)
            heats = any(m in self._heating for m in season.modes)
            if cools != heats:
                return "cool" if cools else "heat"
        if setpoint is None:
            setpoint = number(good_value(states.get(unit.setpoint)))
        room = number(good_value(states.get(unit.room))) if unit.room else None
        if setpoint is None or room is None or abs(room - setpoint) < _EPS:
            return None
        return "cool" if room > setpoint else "heat"

    def _limit(self, unit: AcUnit, action: Action | None, setpoint: float) -> float | None:
        """The setpoint to enforce, or None when ``setpoint`` is within the action's limit."""
        if action == "cool" and setpoint < unit.cool_min_c - _EPS:
            return unit.cool_min_c
        if action == "heat" and setpoint > unit.heat_max_c + _EPS:
            return unit.heat_max_c
        return None

    def _explicit_mode(self, unit: AcUnit, action: Action) -> Value:
        """The first mode label of ``action`` the unit's mode point accepts."""
        for label in self.config.cooling_modes if action == "cool" else self.config.heating_modes:
            if label in unit.mode_labels:
                return label
        return None

    def _running(self, unit: AcUnit, mode: Value, states: StateReader) -> Value:
        """The mode the unit runs in: an auto unit's effective mode when the gateway says."""
        if mode in self._auto and unit.effective is not None:
            effective = good_value(states.get(unit.effective))
            if effective is not None and effective not in self._auto:
                return effective
        return mode

    # ------------------------------------------------------------------ decide

    def decide(self, tick: Tick, unit: AcUnit, states: StateReader, memory: object) -> Decision:
        active, month = _phase(tick)
        if not active:
            return IDLE
        wants: list[Want] = []
        power = unit.power
        off = power is not None and is_on(good_value(states.get(power))) is not True
        if not (off and self.config.only_when_on):
            wants = self._corrections(unit, states, unit.season(month))
        return self._with_remote_lock(tick, unit, wants, memory)

    def _corrections(
        self, unit: AcUnit, states: StateReader, season: AcSeason | None
    ) -> list[Want]:
        mode = good_value(states.get(unit.mode))
        if mode is None:
            return []
        if season is not None and self._running(unit, mode, states) not in season.modes:
            want = self._season_want(unit, mode, season)
            return [want] if want is not None else []
        setpoint = number(good_value(states.get(unit.setpoint)))
        if setpoint is None:
            return []
        action = self._action(unit, mode, states, season, setpoint)
        limit = self._limit(unit, action, setpoint)
        if action is None or limit is None:
            return []
        bound = "≥" if action == "cool" else "≤"
        what = f"{mode} ({action}ing)" if mode in self._auto else str(mode)
        reason = f"{what} setpoint {setpoint:g} °C: must be {bound} {limit:g} °C"
        wants = [Want(unit.setpoint, limit, unit.setpoint, limit, self.id, self.priority, reason)]
        explicit = self._explicit_mode(unit, action) if mode in self._auto else None
        if explicit is not None:
            wants.append(
                Want(unit.mode, explicit, unit.mode, explicit, self.id, self.priority, reason)
            )
        return wants

    def _season_want(self, unit: AcUnit, mode: Value, season: AcSeason) -> Want | None:
        """Set the season's mode, else switch the unit off (None: it can do neither)."""
        label = season.name or f"months {', '.join(str(m) for m in season.months)}"
        reason = f"{mode} is not allowed in {label} (only {', '.join(season.modes)})"
        target = season.set_mode
        if target is not None and target in unit.mode_labels:
            return Want(unit.mode, target, unit.mode, target, self.id, self.priority, reason)
        if unit.switch is None:
            return None
        return unit.switch.want(
            False, policy_id=self.id, priority=self.priority, reason=reason, restore=False
        )

    def _with_remote_lock(
        self, tick: Tick, unit: AcUnit, wants: list[Want], memory: object
    ) -> Decision:
        hold = self.config.lock_remote_s
        if unit.remote is None or hold is None:
            return Decision(tuple(wants)) if wants else IDLE
        until = memory.locked_until if isinstance(memory, AcMemory) else float("-inf")
        if wants:
            until = tick.ts + hold
        new_memory = AcMemory(until) if until != float("-inf") else None
        if tick.ts >= until:
            return Decision(tuple(wants), memory=new_memory)
        reason = (
            f"remote locked until {self._local(tick, until)}: " + wants[0].reason
            if wants
            else f"remote locked until {self._local(tick, until)} after a correction"
        )
        lock = unit.remote.want(
            True, policy_id=self.id, priority=self.priority, reason=reason, restore=True
        )
        return Decision((*wants, lock), memory=new_memory, wake_at=until)

    @staticmethod
    def _local(tick: Tick, ts: float) -> str:
        return (tick.now + dt.timedelta(seconds=ts - tick.ts)).strftime("%H:%M")

    # ------------------------------------------------------------------ vet

    def vet(
        self, tick: Tick, unit: AcUnit, states: StateReader, entity_id: str, value: Value
    ) -> str | None:
        active, month = _phase(tick)
        if not active:
            return None
        season = unit.season(month)
        if entity_id == unit.mode and season is not None and value not in season.modes:
            return f"mode {value} is not allowed now (only {', '.join(season.modes)})"
        if entity_id != unit.setpoint:
            return None
        setpoint = number(value)
        if setpoint is None:
            return None
        mode = good_value(states.get(unit.mode))
        action = self._action(unit, mode, states, season, setpoint)
        if self._limit(unit, action, setpoint) is None:
            return None
        return f"setpoint {setpoint:g} °C breaks the AC limits ({self._limits})"
