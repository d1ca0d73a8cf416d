"""AC temperature limits: cooling setpoints not below 26 °C, heating not above 20 °C.

A unit found outside the limit is corrected as soon as its reading arrives (so within one poll
cycle), and commands that would break the limit are refused unless staff override.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable
from dataclasses import dataclass

from controller.config.policies import AcLimitsPolicy
from controller.config.profile import PointKind
from controller.core.events import Value
from controller.core.values import is_on

from .base import Policy, Tick, number
from .model import IDLE, Decision, StateReader, Unit, Want, good_value
from .schedule import edge_times, in_any_window
from .scope import DeviceInfo, SiteIndex

__all__ = ["AcLimits", "AcUnit"]

_EPS = 1e-6


@dataclass(frozen=True, slots=True)
class AcUnit(Unit):
    setpoint: str
    mode: str
    power: str | None


class AcLimits(Policy[AcLimitsPolicy, AcUnit]):
    type_name = "ac_limits"
    default_priority = 30

    def bind(self, devices: list[DeviceInfo], index: SiteIndex) -> list[AcUnit]:
        units = []
        for device in devices:
            setpoints = device.points_of(PointKind.SETPOINT, writable=True)
            modes = device.points_of(PointKind.AC_MODE)
            if not setpoints or not modes:
                continue
            powers = device.points_of(PointKind.POWER_SWITCH)
            setpoint = device.entity(setpoints[0])
            mode = device.entity(modes[0])
            power = device.entity(powers[0]) if powers else None
            watch = (setpoint, mode) if power is None else (setpoint, mode, power)
            units.append(AcUnit(device.id, (device.id,), watch, setpoint, mode, power))
        self._cooling = frozenset(self.config.cooling_modes)
        self._heating = frozenset(self.config.heating_modes)
        cfg = self.config
        self._limits = f"cooling ≥ {cfg.cool_min_c:g} °C, heating ≤ {cfg.heat_max_c:g} °C"
        return units

    def phase(self, now: dt.datetime) -> Hashable:
        schedule = self.config.schedule
        return not schedule or in_any_window(schedule, now, self.calendar)

    def edges(self) -> set[int]:
        return edge_times(self.config.schedule) if self.config.schedule else set()

    def _limit(self, mode: Value, setpoint: float) -> float | None:
        """The setpoint to enforce, or None when ``setpoint`` is within the limits."""
        cfg = self.config
        if mode in self._cooling and setpoint < cfg.cool_min_c - _EPS:
            return cfg.cool_min_c
        if mode in self._heating and setpoint > cfg.heat_max_c + _EPS:
            return cfg.heat_max_c
        return None

    def decide(self, tick: Tick, unit: AcUnit, states: StateReader, memory: object) -> Decision:
        if not tick.phase:
            return IDLE
        power = unit.power
        off = power is not None and is_on(good_value(states.get(power))) is not True
        if off and self.config.only_when_on:
            return IDLE
        setpoint = number(good_value(states.get(unit.setpoint)))
        if setpoint is None:
            return IDLE
        limit = self._limit(good_value(states.get(unit.mode)), setpoint)
        if limit is None:
            return IDLE
        mode = good_value(states.get(unit.mode))
        bound = "≥" if mode in self._cooling else "≤"
        reason = f"{mode} setpoint {setpoint:g} °C: must be {bound} {limit:g} °C"
        want = Want(unit.setpoint, limit, unit.setpoint, limit, self.id, self.priority, reason)
        return Decision((want,))

    def vet(
        self, tick: Tick, unit: AcUnit, states: StateReader, entity_id: str, value: Value
    ) -> str | None:
        if not tick.phase or entity_id != unit.setpoint:
            return None
        setpoint = number(value)
        if setpoint is None:
            return None
        if self._limit(good_value(states.get(unit.mode)), setpoint) is None:
            return None
        return f"setpoint {setpoint:g} °C breaks the AC limits ({self._limits})"
