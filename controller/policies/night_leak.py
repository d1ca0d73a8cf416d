"""Leaks by volume: water used in every one of N consecutive night hours.

Pulse and CJ/T 188 meters report a running total and no flow, so the flow rule (``leak``)
cannot see a dripping cistern. At night nobody should use water for hours on end: a meter whose
consumption is above ``min_l_per_hour`` in each of ``hours`` consecutive night hours latches a
leak, closes the zone valve (its own, or one on the same circuit in the same room or area) and
raises the critical leak alarm with each hour's litres as evidence. Staff release the latch.

An hour's consumption is the total at the first reading of the next hour minus the total at the
first reading of the hour, so a 5-minute poll attributes a few minutes to the wrong hour, which
a threshold in litres per hour can afford. A reading gap spreads its consumption evenly over the
hours it spans; a total that goes backwards (a meter swap or reset) starts the count again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import NamedTuple

from controller.config.policies import NightLeakPolicy
from controller.config.profile import PointKind

from .base import Actuator, Policy, Tick, number
from .leak import VOLUME_TO_L, leak_valve, unit_factor, watches
from .model import Alarm, Decision, StateReader, Unit, Want, good_value
from .schedule import in_window
from .scope import DeviceInfo, SiteIndex

__all__ = ["NightLeak", "NightLeakMemory", "NightLeakUnit"]

_HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class NightLeakUnit(Unit):
    volume: str
    to_litres: float
    valve: Actuator | None
    close: tuple[Want, ...]


class NightLeakMemory(NamedTuple):
    """The hour being measured and its opening total; the night hours above the threshold so
    far (litres each, oldest first); the latch and when it was set."""

    hour: float | None = None
    total: float | None = None
    run: tuple[float, ...] = ()
    latched: bool = False
    latched_at: float | None = None


_CLEAR = NightLeakMemory()


class NightLeak(Policy[NightLeakPolicy, NightLeakUnit]):
    type_name = "night_leak"
    default_priority = 90
    default_circuits = ("cold_water", "hot_water", "shower")
    memory_type = NightLeakMemory
    durable_fields = ("hour", "total", "run", "latched", "latched_at")

    def bind(self, devices: list[DeviceInfo], index: SiteIndex) -> list[NightLeakUnit]:
        cfg = self.config
        units = []
        for device in devices:
            volumes = [p for p in device.points_of(PointKind.WATER_VOLUME) if p.is_cumulative]
            if not volumes or (cfg.only_without_flow and device.points_of(PointKind.FLOW)):
                continue
            if not watches(self, device, index):
                continue
            factor = unit_factor(self.id, device.id, volumes[0], VOLUME_TO_L)
            if factor is None:
                continue
            reason = f"leak: water used every night hour at {device.id}"
            valve, close, owners = leak_valve(self, device, index, reason, cfg.close_valve)
            volume = device.entity(volumes[0])
            units.append(NightLeakUnit(device.id, owners, (volume,), volume, factor, valve, close))
        return units

    def _is_night(self, tick: Tick, hour_start: float) -> bool:
        start = tick.now + dt.timedelta(seconds=hour_start - tick.ts)
        return in_window(self.config.night, start, self.calendar)

    def decide(
        self, tick: Tick, unit: NightLeakUnit, states: StateReader, memory: object
    ) -> Decision:
        mem = memory if isinstance(memory, NightLeakMemory) else _CLEAR
        if mem.latched:
            return Decision(unit.close, (self._alarm(unit, mem),), mem)
        total = number(good_value(states.get(unit.volume)))
        if total is None:
            return Decision(memory=mem)
        hour = tick.ts - tick.ts % _HOUR
        if mem.hour is None or mem.total is None or total < mem.total:
            return Decision(memory=NightLeakMemory(hour, total))
        if hour <= mem.hour:
            return Decision(memory=mem)
        run = self._count(tick, mem, hour, (total - mem.total) * unit.to_litres)
        if len(run) >= self.config.hours:
            latched = NightLeakMemory(hour, total, run, True, tick.ts)
            return Decision(unit.close, (self._alarm(unit, latched),), latched)
        return Decision(memory=NightLeakMemory(hour, total, run))

    def _count(
        self, tick: Tick, mem: NightLeakMemory, hour: float, litres: float
    ) -> tuple[float, ...]:
        """The run of night hours above the threshold after the hours from ``mem.hour`` to
        ``hour`` used ``litres`` between them."""
        assert mem.hour is not None
        spanned = round((hour - mem.hour) / _HOUR)
        each = litres / spanned
        run = mem.run
        for i in range(spanned):
            start = mem.hour + i * _HOUR
            if self._is_night(tick, start) and each >= self.config.min_l_per_hour:
                run = (*run, round(each, 1))
            else:
                run = ()
        return run

    def _alarm(self, unit: NightLeakUnit, mem: NightLeakMemory) -> Alarm:
        hours = len(mem.run)
        litres = "、".join(f"{v:g}" for v in mem.run)
        closed = "，已关闭阀门" if unit.close else "，无可关闭的阀门"
        closed_en = ", valve closed" if unit.close else ", no valve to close"
        return Alarm(
            f"{self.id}:leak:{unit.key}",
            "leak",
            "critical",
            f"{unit.key} 疑似漏水：夜间连续 {hours} 小时用水（每小时 {litres} 升）{closed}",
            f"Leak suspected at {unit.key}: water used in {hours} consecutive night hours "
            f"({', '.join(f'{v:g}' for v in mem.run)} L){closed_en}",
            self.id,
            unit.volume,
            {
                "litres_per_hour": list(mem.run),
                "min_l_per_hour": self.config.min_l_per_hour,
                "hours": hours,
                "latched_at": mem.latched_at,
                "valve": unit.valve.entity if unit.valve else None,
            },
        )

    def release(self, unit: NightLeakUnit, memory: object, what: str) -> object:
        if isinstance(memory, NightLeakMemory) and memory.latched and what in ("leak", "all"):
            return NightLeakMemory(memory.hour, memory.total)
        return memory
