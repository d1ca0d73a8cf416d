"""Overload and prohibited-appliance cut-off (恶性负载识别) on room socket circuits.

Two triggers trip the socket relay: power above the room's limit for ``over_for_s`` seconds,
or a resistive-load signature — a rise of at least ``step_w`` between two readings whose own
power factor (the PF of the added load, computed from P and PF before and after) is at least
``min_pf``, that persists for ``persist_s`` and matches no whitelisted appliance. A trip
recloses after ``reclose_after_s``; the ``lockout_after``-th trip of a local day locks the
relay off until staff release it. Alarms carry the evidence (power before/after, PF).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Hashable
from dataclasses import dataclass
from typing import NamedTuple

from controller.config.policies import OverloadPolicy
from controller.config.profile import Point, PointKind

from .base import Policy, Tick, find_switch, number
from .meter_trips import MeterDetection, meter_detection
from .model import Alarm, Decision, StateReader, Unit, Want, good_value
from .scope import DeviceInfo, SiteIndex

__all__ = ["Overload", "OverloadMemory", "OverloadUnit", "step_power_factor"]


def _totals_first(points: list[Point], total_key: str) -> list[Point]:
    """The device total (its conventional key) ahead of per-phase points of the same kind."""
    return sorted(points, key=lambda p: p.key != total_key)


def step_power_factor(p1: float, pf1: float, p2: float, pf2: float) -> float:
    """Power factor of the load added between two readings (P in W, PF as read).

    Reactive power follows from P and PF (Q = P·tan(acos PF), assumed inductive); the added
    load's PF is ΔP / |ΔP + jΔQ|. A kettle added to a laptop reads ≈1.0; a fan or a charger
    with a poor PF reads lower, even when the total PF barely moves.
    """

    def reactive(p: float, pf: float) -> float:
        pf = min(1.0, max(0.01, abs(pf)))
        return p * math.tan(math.acos(pf))

    dp = p2 - p1
    dq = reactive(p2, pf2) - reactive(p1, pf1)
    size = math.hypot(dp, dq)
    return dp / size if size > 0 else 0.0


@dataclass(frozen=True, slots=True)
class OverloadUnit(Unit):
    power: str
    pf: str | None
    limit_w: float | None
    trip: tuple[Want, ...]
    meter: MeterDetection | None = None
    """Set when the meter detects by itself (``detection: meter``)."""


class OverloadMemory(NamedTuple):
    """Trips of the day and the last trip's evidence (durable), detection state (volatile)."""

    day: str = ""
    trips: int = 0
    tripped_at: float | None = None
    locked: bool = False
    cause: str | None = None
    before_w: float | None = None
    after_w: float | None = None
    pf: float | None = None
    step_pf: float | None = None
    over_since: float | None = None
    base_w: float | None = None
    base_pf: float | None = None
    step_since: float | None = None
    step_base_w: float | None = None
    step_pf_now: float | None = None
    step_min_w: float | None = None
    flagged: bool = False
    """A meter's own trip flag was seen set (``detection: meter``)."""
    reopened_at: float | None = None
    """When the controller switched a meter-tripped relay back on (``detection: meter``)."""

    def with_base(self, power: float, pf: float | None) -> OverloadMemory:
        """A new baseline reading (the hot path: built positionally, not with ``replace``)."""
        return OverloadMemory(
            self.day,
            self.trips,
            self.tripped_at,
            self.locked,
            self.cause,
            self.before_w,
            self.after_w,
            self.pf,
            self.step_pf,
            self.over_since,
            power,
            pf,
            self.step_since,
            self.step_base_w,
            self.step_pf_now,
            self.step_min_w,
            self.flagged,
            self.reopened_at,
        )


class Overload(Policy[OverloadPolicy, OverloadUnit]):
    type_name = "overload"
    default_priority = 80
    default_circuits = ("sockets",)
    memory_type = OverloadMemory
    durable_fields = (
        "day",
        "trips",
        "tripped_at",
        "locked",
        "cause",
        "before_w",
        "after_w",
        "pf",
        "step_pf",
        "flagged",
    )

    def bind(self, devices: list[DeviceInfo], index: SiteIndex) -> list[OverloadUnit]:
        cfg = self.config
        units = []
        for device in devices:
            powers = _totals_first(device.points_of(PointKind.ACTIVE_POWER), "power")
            relay = find_switch(device, (PointKind.RELAY, PointKind.POWER_SWITCH))
            if not powers or relay is None:
                continue
            # The total power factor, not phase L1's (a three-phase meter lists both).
            pfs = _totals_first(device.points_of(PointKind.POWER_FACTOR), "power_factor")
            limit = cfg.limit_w
            if limit is None and cfg.per_bed_w is not None and device.capacity:
                limit = cfg.per_bed_w * device.capacity
            trip: tuple[Want, ...] = ()
            if cfg.action == "trip":
                want = relay.want(
                    False,
                    policy_id=self.id,
                    priority=self.priority,
                    reason=f"overload / prohibited appliance at {device.id}",
                    restore=True,
                )
                trip = (want,)
            power = device.entity(powers[0])
            pf = device.entity(pfs[0]) if pfs else None
            watch = (power,) if pf is None else (power, pf)
            meter = None
            if cfg.detection == "meter":
                meter = meter_detection(
                    cfg, device, relay, limit, policy_id=self.id, priority=self.priority
                )
                if meter is None:
                    continue  # the meter cannot detect: not this policy's unit
                watch = (*watch, *(entity for entity, _ in meter.flags))
            units.append(
                OverloadUnit(device.id, (device.id,), watch, power, pf, limit, trip, meter)
            )
        sig = cfg.signature
        self._ranges = sig.controlled() if sig is not None else []
        self._smallest = min((r.min_w for r in self._ranges), default=0.0)
        return units

    def phase(self, now: dt.datetime) -> Hashable:
        """The local date: trips are counted per day."""
        return now.date().isoformat()

    def edges(self) -> set[int]:
        return {0}

    def decide(
        self, tick: Tick, unit: OverloadUnit, states: StateReader, memory: object
    ) -> Decision:
        m = memory if isinstance(memory, OverloadMemory) else _FRESH
        if m.day != tick.phase:
            m = m._replace(day=str(tick.phase), trips=0)
        if unit.meter is not None:
            return self._decide_meter(tick, unit, unit.meter, states, m)
        return self._decide_own(tick, unit, states, m)

    def _decide_own(
        self, tick: Tick, unit: OverloadUnit, states: StateReader, m: OverloadMemory
    ) -> Decision:
        """The controller's own detection: the power limit, then the signature."""
        if m.locked:
            return Decision(unit.trip, (self._alarm(unit, m),), m)
        if m.tripped_at is not None:
            until = m.tripped_at + self.config.reclose_after_s
            if tick.ts < until:
                return Decision(unit.trip, (self._alarm(unit, m),), m, until)
            m = m._replace(tripped_at=None, over_since=None, base_w=None, step_since=None)
        state = states.get(unit.power)
        power = number(good_value(state))
        if power is None or state is None:
            return Decision(memory=m)
        pf = number(good_value(states.get(unit.pf))) if unit.pf else None
        reading = _Reading(power, pf, state.timestamp)
        tripped, m, wake = self._check_limit(tick, unit, m, reading)
        if tripped is not None:
            return tripped
        if self.config.signature is None:
            if m.over_since is None and (m.base_w != power or m.base_pf != pf):
                m = m.with_base(power, pf)
            return Decision(memory=m, wake_at=wake)
        return self._check_signature(tick, unit, m, reading, wake)

    def _decide_meter(
        self,
        tick: Tick,
        unit: OverloadUnit,
        meter: MeterDetection,
        states: StateReader,
        m: OverloadMemory,
    ) -> Decision:
        """The meter's own trips: hold its settings, count and restore its trips."""
        held = meter.settings
        cause = meter.cause(states)
        if m.locked:
            return Decision((*held, *unit.trip), (self._alarm(unit, m),), m)
        if m.tripped_at is not None:
            until = m.tripped_at + self.config.reclose_after_s
            if tick.ts < until:
                return Decision((*held, *unit.trip), (self._alarm(unit, m),), m, until)
            reopened = m.reopened_at if m.reopened_at is not None else tick.ts
            m = m._replace(reopened_at=reopened)
            relay = states.get(meter.reopen.entity_id)
            if relay is None or relay.timestamp <= reopened:
                return Decision((*held, meter.reopen), memory=m)  # switch it back on
            # The relay was read after it was switched on: restored, or tripped again at once.
            m = m._replace(tripped_at=None, flagged=False, base_w=None, reopened_at=None)
        if cause is not None and not m.flagged:
            pf = number(good_value(states.get(unit.pf))) if unit.pf else None
            before = m.base_w if m.base_w is not None else 0.0
            decision = self._trip(tick, unit, m, cause=cause, before=m.base_w, after=before, pf=pf)
            mem = decision.memory._replace(flagged=True)
            return Decision((*held, *decision.wants), decision.alarms, mem, decision.wake_at)
        if cause is None and m.flagged:
            m = m._replace(flagged=False)
        power = number(good_value(states.get(unit.power)))
        if cause is None and power is not None and power > 0 and m.base_w != power:
            m = m.with_base(power, None)
        return Decision(held, memory=m)

    def _check_limit(
        self, tick: Tick, unit: OverloadUnit, m: OverloadMemory, r: _Reading
    ) -> tuple[Decision | None, OverloadMemory, float | None]:
        """Power above the limit for ``over_for_s``: (trip decision or None, memory, wake-up)."""
        cfg = self.config
        limit = unit.limit_w
        if limit is None:
            return None, m, None
        if r.power > limit:
            since = m.over_since if m.over_since is not None else r.seen
            if tick.ts - since >= cfg.over_for_s:
                trip = self._trip(
                    tick, unit, m, cause="overload", before=m.base_w, after=r.power, pf=r.pf
                )
                return trip, m, None
            if since != m.over_since:
                m = m._replace(over_since=since)
            return None, m, since + cfg.over_for_s
        if m.over_since is None:
            return None, m, None
        if r.power <= limit * (1 - cfg.hysteresis):
            return None, m._replace(over_since=None), None
        return None, m, m.over_since + cfg.over_for_s

    def _check_signature(
        self, tick: Tick, unit: OverloadUnit, m: OverloadMemory, r: _Reading, wake: float | None
    ) -> Decision:
        """A persistent resistive step that no whitelisted appliance explains."""
        cfg = self.config
        sig = cfg.signature
        assert sig is not None
        if m.step_since is not None and m.step_base_w is not None:
            step_min = m.step_min_w if m.step_min_w is not None else sig.step_w
            if r.power >= m.step_base_w + step_min * (1 - cfg.hysteresis):
                end = m.step_since + sig.persist_s
                if tick.ts >= end:
                    return self._trip(
                        tick,
                        unit,
                        m,
                        cause="appliance",
                        before=m.step_base_w,
                        after=r.power,
                        pf=r.pf,
                        step_pf=m.step_pf_now,
                    )
                return Decision(memory=m, wake_at=_earliest(wake, end))
            m = m._replace(step_since=None, step_base_w=None, step_pf_now=None, step_min_w=None)
        elif m.base_w is not None and m.base_pf is not None and r.pf is not None:
            added = r.power - m.base_w
            if added >= self._smallest and not any(
                e.min_w <= added <= e.max_w for e in sig.whitelist
            ):
                step_pf = step_power_factor(m.base_w, m.base_pf, r.power, r.pf)
                hit = next((c for c in self._ranges if c.holds(added, step_pf)), None)
                if hit is not None:
                    m = m._replace(
                        step_since=r.seen,
                        step_base_w=m.base_w,
                        step_pf_now=round(step_pf, 4),
                        step_min_w=hit.min_w,
                    )
                    return Decision(memory=m, wake_at=_earliest(wake, r.seen + sig.persist_s))
        if m.over_since is None and (m.base_w != r.power or m.base_pf != r.pf):
            m = m.with_base(r.power, r.pf)
        return Decision(memory=m, wake_at=wake)

    def _trip(
        self,
        tick: Tick,
        unit: OverloadUnit,
        m: OverloadMemory,
        *,
        cause: str,
        before: float | None,
        after: float,
        pf: float | None,
        step_pf: float | None = None,
    ) -> Decision:
        cfg = self.config
        trips = m.trips + 1
        locked = cfg.action == "trip" and trips > cfg.restores_per_day
        m = m._replace(
            trips=trips,
            tripped_at=tick.ts,
            locked=locked,
            cause=cause,
            before_w=None if before is None else round(before, 1),
            after_w=round(after, 1),
            pf=pf,
            step_pf=step_pf,
            over_since=None,
            step_since=None,
            step_base_w=None,
            step_pf_now=None,
            step_min_w=None,
            base_w=None,
        )
        wake = None if locked else tick.ts + cfg.reclose_after_s
        return Decision(unit.trip, (self._alarm(unit, m),), m, wake)

    def _alarm(self, unit: OverloadUnit, m: OverloadMemory) -> Alarm:
        cfg = self.config
        overload = m.cause is not None and m.cause.endswith("overload")
        what_zh = "功率超限" if overload else "疑似违规电器（阻性负载）"
        what_en = "power over the limit" if overload else "prohibited appliance"
        if m.cause is not None and m.cause.startswith("meter_"):
            what_zh, what_en = f"电表判定{what_zh}", f"{what_en}, detected by the meter"
        evidence = {
            "cause": m.cause,
            "before_w": m.before_w,
            "after_w": m.after_w,
            "pf": m.pf,
            "step_pf": m.step_pf,
            "limit_w": unit.limit_w,
            "trips_today": m.trips,
            "tripped_at": m.tripped_at,
        }
        if m.locked:
            return Alarm(
                f"{self.id}:lockout:{unit.key}",
                "lockout",
                "critical",
                f"{unit.key} 当日第 {m.trips} 次跳闸（{what_zh}），已锁定，需管理员解除",
                f"{unit.key} tripped {m.trips} times today ({what_en}): locked out until released",
                self.id,
                unit.power,
                evidence,
            )
        action_zh = "已跳闸" if cfg.action == "trip" else "仅告警"
        action_en = "relay tripped" if cfg.action == "trip" else "alarm only"
        return Alarm(
            f"{self.id}:trip:{unit.key}",
            "overload" if overload else "prohibited_appliance",
            "warning",
            f"{unit.key} {what_zh}：{m.before_w} W → {m.after_w} W，PF {m.pf}（{action_zh}）",
            f"{unit.key} {what_en}: {m.before_w} W → {m.after_w} W, PF {m.pf} ({action_en})",
            self.id,
            unit.power,
            evidence,
        )

    def release(self, unit: OverloadUnit, memory: object, what: str) -> object:
        if isinstance(memory, OverloadMemory) and memory.locked and what in ("lockout", "all"):
            return memory._replace(locked=False, tripped_at=None, trips=0, base_w=None)
        return memory


_FRESH = OverloadMemory()


@dataclass(frozen=True, slots=True)
class _Reading:
    power: float
    pf: float | None
    seen: float


def _earliest(a: float | None, b: float) -> float:
    return b if a is None else min(a, b)
