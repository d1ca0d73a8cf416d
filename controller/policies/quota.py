"""Monthly quotas per room: electricity (kWh) or water (m³), per bed or per room.

Usage is the rise of the room's cumulative meters since the period started (the first reading
of the month is the baseline), so nothing is stored per reading; only the baselines and
top-ups are remembered, and they survive a restart. At ``warn_at`` fractions and at 100 % the
room gets an alarm (info, then warning); with ``action: cut`` its circuit is switched off
until the next period or a top-up lifts the balance again.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import NamedTuple

from controller.config.policies import QuotaPolicy
from controller.config.profile import PointKind

from .base import Actuator, Policy, Tick, find_switch, find_valve, number
from .model import Alarm, Decision, StateReader, Unit, Want, good_value
from .scope import DeviceInfo, SiteIndex

__all__ = ["Quota", "QuotaBalance", "QuotaMemory", "QuotaUnit", "period_of"]

_LOGGER = logging.getLogger(__name__)

_DEFAULT_METERS = {"electricity": ("sockets",), "water": ("cold_water", "hot_water")}
_DEFAULT_CUTS = {"electricity": ("sockets",), "water": ("hot_water",)}
_UNITS = {"electricity": "kWh", "water": "m³"}
_NAMES_ZH = {"electricity": "用电", "water": "用水"}


def period_of(now: dt.datetime) -> str:
    """The quota period containing local time ``now``: ``"2026-03"``."""
    return f"{now.year:04d}-{now.month:02d}"


@dataclass(frozen=True, slots=True)
class QuotaUnit(Unit):
    allowance: float
    meters: tuple[str, ...]
    cuts: tuple[Want, ...]


class QuotaMemory(NamedTuple):
    """Meter readings when the period started (None until first seen) and top-ups."""

    period: str
    baselines: tuple[float | None, ...]
    topup: float = 0.0


@dataclass(frozen=True, slots=True)
class QuotaBalance:
    """A room's quota in the current period, for the API and reports."""

    policy_id: str
    room: str
    resource: str
    unit: str
    period: str
    allowance: float
    topup: float
    used: float
    remaining: float
    fraction: float
    cut: bool


class Quota(Policy[QuotaPolicy, QuotaUnit]):
    type_name = "quota"
    default_priority = 70
    memory_type = QuotaMemory
    durable_fields = ("period", "baselines", "topup")

    def _meter_circuits(self) -> tuple[str, ...]:
        chosen = self.config.meter_circuits
        return tuple(c.value for c in chosen) if chosen else _DEFAULT_METERS[self.config.resource]

    def _cut_circuits(self) -> tuple[str, ...]:
        chosen = self.config.cut_circuits
        return tuple(c.value for c in chosen) if chosen else _DEFAULT_CUTS[self.config.resource]

    def circuits(self) -> tuple[str, ...]:
        return self._meter_circuits() + self._cut_circuits()

    def bind(self, devices: list[DeviceInfo], index: SiteIndex) -> list[QuotaUnit]:
        cfg = self.config
        self.unit_label = _UNITS[cfg.resource]
        rooms: dict[str, list[DeviceInfo]] = defaultdict(list)
        for device in devices:
            if device.room_ref is not None:
                rooms[device.room_ref].append(device)
        kind = PointKind.ACTIVE_ENERGY if cfg.resource == "electricity" else PointKind.WATER_VOLUME
        meter_circuits, cut_circuits = set(self._meter_circuits()), set(self._cut_circuits())
        units = []
        for room, members in rooms.items():
            capacity = members[0].capacity or 0
            allowance = cfg.per_room if cfg.per_room is not None else (cfg.per_bed or 0) * capacity
            meters = tuple(
                d.entity(p)
                for d in members
                if d.circuit in meter_circuits
                for p in d.points_of(kind)
                if p.is_cumulative
            )
            if not meters or allowance <= 0:
                continue
            cuts: list[Want] = []
            if cfg.action == "cut":
                for d in members:
                    if d.circuit in cut_circuits and (actuator := self._cut_point(d)) is not None:
                        cuts.append(self._cut_want(actuator, room))
            devices_of_room = tuple(d.id for d in members)
            units.append(QuotaUnit(room, devices_of_room, meters, allowance, meters, tuple(cuts)))
        return units

    def _cut_point(self, device: DeviceInfo) -> Actuator | None:
        if self.config.resource == "electricity":
            return find_switch(device, (PointKind.RELAY, PointKind.POWER_SWITCH))
        return find_valve(device)

    def _cut_want(self, actuator: Actuator, room: str) -> Want:
        return actuator.want(
            False,
            policy_id=self.id,
            priority=self.priority,
            reason=f"{self.config.resource} quota of {room} used up",
            restore=True,
        )

    def phase(self, now: dt.datetime) -> Hashable:
        return period_of(now)

    def edges(self) -> set[int]:
        return {0}

    def _memory(
        self, tick: Tick, unit: QuotaUnit, readings: list[float | None], memory: object
    ) -> QuotaMemory:
        period = str(tick.phase)
        if not isinstance(memory, QuotaMemory) or memory.period != period:
            return QuotaMemory(period, tuple(readings))
        baselines = memory.baselines
        if len(baselines) != len(readings):
            return QuotaMemory(period, tuple(readings), memory.topup)
        fixed = list(baselines)
        for i, (base, reading) in enumerate(zip(baselines, readings, strict=True)):
            if reading is None:
                continue
            if base is None:
                fixed[i] = reading
            elif reading < base - 1e-9:
                _LOGGER.info(
                    "Quota %s: meter %s of %s went back from %.3f to %.3f (replaced or reset); "
                    "counting from the new reading",
                    self.id,
                    unit.meters[i],
                    unit.key,
                    base,
                    reading,
                )
                fixed[i] = reading
        if fixed == list(baselines):
            return memory
        return memory._replace(baselines=tuple(fixed))

    def _readings(self, unit: QuotaUnit, states: StateReader) -> list[float | None]:
        return [number(good_value(states.get(m))) for m in unit.meters]

    @staticmethod
    def _used_fast(
        tick: Tick, unit: QuotaUnit, states: StateReader, memory: object
    ) -> float | None:
        """Usage when the memory fits the readings as they are (the common case), else None."""
        if not isinstance(memory, QuotaMemory) or memory.period != tick.phase:
            return None
        baselines = memory.baselines
        if len(baselines) != len(unit.meters):
            return None
        used = 0.0
        for meter, base in zip(unit.meters, baselines, strict=True):
            reading = number(good_value(states.get(meter)))
            if reading is None:
                continue
            if base is None or reading < base - 1e-9:
                return None
            used += reading - base
        return used

    @staticmethod
    def _used(memory: QuotaMemory, readings: list[float | None]) -> float:
        return sum(
            r - b
            for r, b in zip(readings, memory.baselines, strict=True)
            if r is not None and b is not None
        )

    def decide(self, tick: Tick, unit: QuotaUnit, states: StateReader, memory: object) -> Decision:
        used = self._used_fast(tick, unit, states, memory)
        if used is None:  # a new period, a first reading or a meter reset: rebuild the memory
            readings = self._readings(unit, states)
            mem = self._memory(tick, unit, readings, memory)
            used = self._used(mem, readings)
        else:
            assert isinstance(memory, QuotaMemory)
            mem = memory
        allowance = unit.allowance + mem.topup
        fraction = used / allowance if allowance > 0 else 1.0
        warn = self.config.warn_at
        if fraction < 1.0 and (not warn or fraction < min(warn)):
            return Decision(memory=mem)
        alarm = self._alarm(unit, fraction, used, allowance)
        wants = unit.cuts if fraction >= 1.0 else ()
        return Decision(wants, (alarm,), mem)

    def _alarm(self, unit: QuotaUnit, fraction: float, used: float, allowance: float) -> Alarm:
        res = self.config.resource
        label = self.unit_label
        evidence = {"used": round(used, 3), "allowance": round(allowance, 3), "unit": label}
        if fraction >= 1.0:
            return Alarm(
                f"{self.id}:exhausted:{unit.key}",
                "quota_exhausted",
                "warning",
                f"{unit.key} 本月{_NAMES_ZH[res]}配额已用完（{used:.2f}/{allowance:.2f} {label}）",
                f"{unit.key} used its monthly {res} quota ({used:.2f}/{allowance:.2f} {label})",
                self.id,
                unit.meters[0],
                evidence,
            )
        level = max(w for w in self.config.warn_at if w <= fraction)
        pct = round(level * 100)
        return Alarm(
            f"{self.id}:warn{pct}:{unit.key}",
            "quota_warning",
            "info",
            f"{unit.key} 本月{_NAMES_ZH[res]}已达配额 {pct}%（{used:.2f}/{allowance:.2f} {label}）",
            f"{unit.key} reached {pct}% of its {res} quota ({used:.2f}/{allowance:.2f} {label})",
            self.id,
            unit.meters[0],
            evidence,
        )

    def top_up(self, tick: Tick, memory: object, amount: float) -> QuotaMemory:
        """Memory after adding ``amount`` to this period's allowance."""
        period = str(tick.phase)
        if isinstance(memory, QuotaMemory) and memory.period == period:
            return memory._replace(topup=memory.topup + amount)
        return QuotaMemory(period, (), amount)

    def balance(
        self, tick: Tick, unit: QuotaUnit, states: StateReader, memory: object
    ) -> QuotaBalance:
        readings = self._readings(unit, states)
        mem = self._memory(tick, unit, readings, memory)
        allowance = unit.allowance + mem.topup
        used = self._used(mem, readings)
        fraction = used / allowance if allowance > 0 else 1.0
        return QuotaBalance(
            self.id,
            unit.key,
            self.config.resource,
            self.unit_label,
            mem.period,
            unit.allowance,
            mem.topup,
            round(used, 6),
            round(allowance - used, 6),
            round(fraction, 6),
            fraction >= 1.0 and bool(unit.cuts),
        )
