"""Leak detection: flow that never stops.

A meter whose flow stays above the threshold for longer than the duration (a stricter pair
applies at night and in vacations, when nobody should be using water) latches a leak: the zone
valve closes and a critical alarm carries the evidence. The latch holds until staff release it,
then the valve reopens. Flow units are converted to L/min from the profile's unit.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, NamedTuple

from controller.config.calendar import DayType
from controller.config.policies import LeakPolicy
from controller.config.profile import Point, PointKind

from .base import Actuator, Policy, Tick, find_valve, number
from .model import Alarm, Decision, StateReader, Unit, Want, good_value
from .schedule import edge_times, in_any_window
from .scope import DeviceInfo, SiteIndex

__all__ = [
    "FLOW_TO_LPM",
    "VOLUME_TO_L",
    "Leak",
    "LeakMemory",
    "LeakUnit",
    "leak_valve",
    "unit_factor",
    "zone_valve",
]

_LOGGER = logging.getLogger(__name__)

FLOW_TO_LPM = {
    "L/min": 1.0,
    "l/min": 1.0,
    "L/h": 1 / 60,
    "l/h": 1 / 60,
    "L/s": 60.0,
    "l/s": 60.0,
    "m³/h": 1000 / 60,
    "m3/h": 1000 / 60,
    "m³/s": 60_000.0,
    "m3/s": 60_000.0,
}
"""Factors from a flow point's unit to litres per minute."""

VOLUME_TO_L = {"m³": 1000.0, "m3": 1000.0, "L": 1.0, "l": 1.0}
"""Factors from a volume point's unit to litres."""


def unit_factor(
    policy_id: str, device_id: str, point: Point, factors: dict[str, float]
) -> float | None:
    """The factor for ``point``'s unit; None (and a warning: the device is skipped) without."""
    factor = factors.get(point.unit or "")
    if factor is None:
        _LOGGER.warning(
            "Policy %s skips %s: unknown unit %r of %s", policy_id, device_id, point.unit, point.key
        )
    return factor


def watches(policy: Policy[Any, Any], device: DeviceInfo, index: SiteIndex) -> bool:
    """Whether a leak rule watches ``device``: not a main meter other meters hang below (a
    bathhouse's hot-water main flows for hours while people shower, and its sub-meters are
    watched themselves) unless the scope names it in ``devices``."""
    return device.id not in index.parents or device.id in policy.config.scope.devices


def leak_valve(
    policy: Policy[Any, Any], device: DeviceInfo, index: SiteIndex, reason: str, close: bool
) -> tuple[Actuator | None, tuple[Want, ...], tuple[str, ...]]:
    """A leak unit's zone valve, the want that closes it (restored on release; none unless
    ``close``) and the devices an override must cover (the meter and the valve's device)."""
    valve = zone_valve(device, index)
    if valve is None:
        return None, (), (device.id,)
    wants: tuple[Want, ...] = ()
    if close:
        wants = (
            valve.want(
                False, policy_id=policy.id, priority=policy.priority, reason=reason, restore=True
            ),
        )
    return valve, wants, (device.id, valve.entity.rpartition(".")[0])


def zone_valve(device: DeviceInfo, index: SiteIndex) -> Actuator | None:
    """The meter's own valve, else a valve on the same circuit in the same room or area."""
    own = find_valve(device)
    if own is not None:
        return own
    place = device.room_ref or device.area_ref
    if place is None:
        return None
    for other in index.in_place(place):
        if other.id != device.id and other.circuit == device.circuit:
            valve = find_valve(other)
            if valve is not None:
                return valve
    return None


@dataclass(frozen=True, slots=True)
class LeakUnit(Unit):
    flow: str
    to_lpm: float
    valve: Actuator | None
    close: tuple[Want, ...]


class LeakMemory(NamedTuple):
    """``above_since``: first reading above the threshold; the rest is the latched evidence."""

    above_since: float | None = None
    latched: bool = False
    latched_at: float | None = None
    flow_lpm: float | None = None
    threshold_lpm: float | None = None
    minutes: float | None = None


_CLEAR = LeakMemory()
_QUIET = Decision(memory=_CLEAR)


class Leak(Policy[LeakPolicy, LeakUnit]):
    type_name = "leak"
    default_priority = 90
    default_circuits = ("cold_water", "hot_water", "shower")
    memory_type = LeakMemory
    durable_fields = ("latched", "latched_at", "flow_lpm", "threshold_lpm", "minutes")

    def bind(self, devices: list[DeviceInfo], index: SiteIndex) -> list[LeakUnit]:
        units = []
        for device in devices:
            flows = device.points_of(PointKind.FLOW)
            if not flows or not watches(self, device, index):
                continue
            factor = unit_factor(self.id, device.id, flows[0], FLOW_TO_LPM)
            if factor is None:
                continue
            reason = f"leak: continuous flow at {device.id}"
            valve, close, owners = leak_valve(self, device, index, reason, self.config.close_valve)
            flow = device.entity(flows[0])
            units.append(LeakUnit(device.id, owners, (flow,), flow, factor, valve, close))
        return units

    def phase(self, now: dt.datetime) -> Hashable:
        """True while the strict rule applies (night windows, or a vacation day)."""
        strict = self.config.strict
        if strict is None:
            return False
        if strict.vacation and DayType.VACATION in self.calendar.day(now.date()).types:
            return True
        return in_any_window(strict.windows, now, self.calendar)

    def edges(self) -> set[int]:
        strict = self.config.strict
        return edge_times(strict.windows) if strict else set()

    def _rule(self, strict: bool) -> tuple[float, float]:
        cfg = self.config
        if strict and cfg.strict is not None:
            return cfg.strict.threshold_lpm, cfg.strict.duration_min
        return cfg.threshold_lpm, cfg.duration_min

    def decide(self, tick: Tick, unit: LeakUnit, states: StateReader, memory: object) -> Decision:
        mem = memory if isinstance(memory, LeakMemory) else _CLEAR
        if mem.latched:
            return Decision(unit.close, (self._alarm(unit, mem),), mem)
        state = states.get(unit.flow)
        flow = number(good_value(state))
        if flow is None or state is None:
            return _QUIET if mem is _CLEAR else Decision(memory=mem)
        threshold, minutes = self._rule(bool(tick.phase))
        lpm = flow * unit.to_lpm
        if lpm > threshold:
            since = mem.above_since if mem.above_since is not None else state.timestamp
            if tick.ts - since >= minutes * 60:
                latched = LeakMemory(None, True, tick.ts, round(lpm, 3), threshold, minutes)
                return Decision(unit.close, (self._alarm(unit, latched),), latched)
            if since != mem.above_since:
                mem = LeakMemory(since)
            return Decision(memory=mem, wake_at=since + minutes * 60)
        if mem.above_since is None or lpm <= threshold * (1 - self.config.hysteresis):
            return _QUIET
        return Decision(memory=mem, wake_at=mem.above_since + minutes * 60)

    def _alarm(self, unit: LeakUnit, mem: LeakMemory) -> Alarm:
        closed = "，已关闭阀门" if unit.close else "，无可关闭的阀门"
        closed_en = ", valve closed" if unit.close else ", no valve to close"
        return Alarm(
            f"{self.id}:leak:{unit.key}",
            "leak",
            "critical",
            f"{unit.key} 疑似漏水：流量 {mem.flow_lpm} L/min 持续超过 {mem.minutes:g} 分钟{closed}",
            f"Leak suspected at {unit.key}: {mem.flow_lpm} L/min, {mem.minutes:g}+ min{closed_en}",
            self.id,
            unit.flow,
            {
                "flow_lpm": mem.flow_lpm,
                "threshold_lpm": mem.threshold_lpm,
                "minutes": mem.minutes,
                "latched_at": mem.latched_at,
                "valve": unit.valve.entity if unit.valve else None,
            },
        )

    def release(self, unit: LeakUnit, memory: object, what: str) -> object:
        if isinstance(memory, LeakMemory) and memory.latched and what in ("leak", "all"):
            return _CLEAR
        return memory
