"""Delayed-closing (延时自闭) valves: closing delay, maximum-open guard, contact, usage counts.

Each valve gets its closing delay (per group through the policy scope, per valve through
``per_valve``) and, where the controller has one, its own maximum-open time. A valve that reads
open for longer than ``max_open_s`` without a new press (a busy row is pressed again and again,
which is use, not a fault) is forced closed with an alarm (stuck open); a valve that has
not reported for ``no_contact_s`` is reported. Presses and litres since local midnight are
counted from the valve's own counters (``stats``), so litres per press show worn or tampered
valves.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, NamedTuple

from controller.config.policies import DelayValvesPolicy
from controller.config.profile import PointKind
from controller.core.values import is_open, same_value

from .base import Actuator, Policy, Tick, find_valve, number
from .leak import VOLUME_TO_L
from .model import Alarm, Decision, StateReader, Unit, Want, good_value
from .scope import DeviceInfo, SiteIndex

__all__ = ["DelayValves", "ValveMemory", "ValveStats", "ValveUnit"]


@dataclass(frozen=True, slots=True)
class ValveUnit(Unit):
    valve: Actuator
    close: Want
    settings: tuple[Want, ...]
    presses: str | None
    volume: str | None
    to_litres: float


class ValveMemory(NamedTuple):
    """Counter readings at the start of the local day (durable); since when it reads open
    without a new press, and the press count then (volatile)."""

    day: str = ""
    presses0: float | None = None
    volume0: float | None = None
    open_since: float | None = None
    presses_seen: float | None = None


@dataclass(frozen=True, slots=True)
class ValveStats:
    """A valve's use today, for the API and reports."""

    device_id: str
    day: str
    presses: float | None
    litres: float | None
    litres_per_press: float | None
    open: bool | None
    last_seen: float | None


class DelayValves(Policy[DelayValvesPolicy, ValveUnit]):
    type_name = "delay_valves"
    default_priority = 20
    memory_type = ValveMemory
    durable_fields = ("day", "presses0", "volume0")

    def bind(self, devices: list[DeviceInfo], index: SiteIndex) -> list[ValveUnit]:
        cfg = self.config
        units = []
        for device in devices:
            delays = device.points_of(PointKind.VALVE_DELAY, writable=True)
            valve = find_valve(device)
            if not delays or valve is None:
                continue
            close = valve.want(
                False,
                policy_id=self.id,
                priority=self.priority,
                reason=f"valve open longer than {cfg.max_open_s:g} s (stuck open)",
                restore=False,
            )
            settings = self._settings(device, delays[0])
            presses = device.points_of(PointKind.PRESS_COUNT)
            volumes = [p for p in device.points_of(PointKind.WATER_VOLUME) if p.is_cumulative]
            watch = [valve.entity]
            watch += [device.entity(p) for p in (*presses[:1], *volumes[:1])]
            units.append(
                ValveUnit(
                    device.id,
                    (device.id,),
                    tuple(watch),
                    valve,
                    close,
                    settings,
                    device.entity(presses[0]) if presses else None,
                    device.entity(volumes[0]) if volumes else None,
                    VOLUME_TO_L.get(volumes[0].unit or "", 1.0) if volumes else 1.0,
                )
            )
        return units

    def _settings(self, device: DeviceInfo, delay_point: Any) -> tuple[Want, ...]:
        """Wants for the closing delay and the device's own maximum-open time, if it has one."""
        cfg = self.config
        wants = []
        delay = cfg.per_valve.get(device.id, cfg.delay_s)
        if delay is not None:
            entity = device.entity(delay_point)
            reason = f"closing delay {delay:g} s"
            wants.append(Want(entity, delay, entity, delay, self.id, self.priority, reason))
        guard = device.point("max_open")
        if guard is not None and guard.writable:
            low, high = guard.range or (0.0, float("inf"))
            if low <= cfg.max_open_s <= high:
                entity = device.entity(guard)
                reason = f"maximum open time {cfg.max_open_s:g} s"
                value = cfg.max_open_s
                wants.append(Want(entity, value, entity, value, self.id, self.priority, reason))
        return tuple(wants)

    def phase(self, now: dt.datetime) -> Hashable:
        return now.date().isoformat()

    def edges(self) -> set[int]:
        return {0}

    def _counters(self, unit: ValveUnit, states: StateReader) -> tuple[float | None, float | None]:
        presses = number(good_value(states.get(unit.presses))) if unit.presses else None
        volume = number(good_value(states.get(unit.volume))) if unit.volume else None
        return presses, volume

    def _memory(
        self, tick: Tick, unit: ValveUnit, states: StateReader, memory: object
    ) -> ValveMemory:
        m = memory if isinstance(memory, ValveMemory) else ValveMemory()
        if (
            m.day == tick.phase
            and (m.presses0 is not None or not unit.presses)
            and (m.volume0 is not None or not unit.volume)
        ):
            return m
        presses, volume = self._counters(unit, states)
        if m.day != tick.phase:
            return ValveMemory(str(tick.phase), presses, volume, m.open_since, m.presses_seen)
        return m._replace(
            presses0=m.presses0 if m.presses0 is not None else presses,
            volume0=m.volume0 if m.volume0 is not None else volume,
        )

    def decide(self, tick: Tick, unit: ValveUnit, states: StateReader, memory: object) -> Decision:
        cfg = self.config
        m = self._memory(tick, unit, states, memory)
        wants = [
            w
            for w in unit.settings
            if (v := good_value(states.get(w.entity_id))) is not None and not same_value(v, w.value)
        ]
        alarms: list[Alarm] = []
        state = states.get(unit.valve.entity)
        last_seen = state.timestamp if state is not None else tick.started
        wake = last_seen + cfg.no_contact_s
        if tick.ts >= wake:
            alarms.append(self._no_contact(unit, state.timestamp if state else None))
            wake = tick.ts + cfg.no_contact_s
        if state is not None and is_open(good_value(state)):
            presses = number(good_value(states.get(unit.presses))) if unit.presses else None
            since = m.open_since if m.open_since is not None else state.timestamp
            if presses is not None and m.presses_seen is not None and presses > m.presses_seen:
                since = state.timestamp  # pressed again: in use, not stuck
            if since != m.open_since or presses != m.presses_seen:
                m = m._replace(open_since=since, presses_seen=presses)
            if tick.ts - since >= cfg.max_open_s:
                wants.append(unit.close)
                alarms.append(self._stuck(unit, since, tick.ts))
            else:
                wake = min(wake, since + cfg.max_open_s)
        elif m.open_since is not None:
            m = m._replace(open_since=None, presses_seen=None)
        return Decision(tuple(wants), tuple(alarms), m, wake)

    def _no_contact(self, unit: ValveUnit, last_seen: float | None) -> Alarm:
        minutes = self.config.no_contact_s / 60
        return Alarm(
            f"{self.id}:no_contact:{unit.key}",
            "no_contact",
            "warning",
            f"{unit.key} 已超过 {minutes:g} 分钟无通信",
            f"{unit.key} has not reported for over {minutes:g} min",
            self.id,
            unit.valve.entity,
            {"last_seen": last_seen},
        )

    def _stuck(self, unit: ValveUnit, since: float, now: float) -> Alarm:
        return Alarm(
            f"{self.id}:stuck_open:{unit.key}",
            "stuck_open",
            "warning",
            f"{unit.key} 常开 {now - since:.0f} 秒，已强制关闭",
            f"{unit.key} open for {now - since:.0f} s: forced closed",
            self.id,
            unit.valve.entity,
            {"open_since": since, "max_open_s": self.config.max_open_s},
        )

    def stats(self, tick: Tick, unit: ValveUnit, states: StateReader, memory: object) -> ValveStats:
        m = self._memory(tick, unit, states, memory)
        presses, volume = self._counters(unit, states)
        pressed = presses - m.presses0 if presses is not None and m.presses0 is not None else None
        litres = (
            (volume - m.volume0) * unit.to_litres
            if volume is not None and m.volume0 is not None
            else None
        )
        per_press = litres / pressed if litres is not None and pressed else None
        state = states.get(unit.valve.entity)
        value = good_value(state)
        return ValveStats(
            unit.key,
            m.day,
            pressed,
            None if litres is None else round(litres, 3),
            None if per_press is None else round(per_press, 3),
            None if value is None else is_open(value),
            state.timestamp if state is not None else None,
        )
