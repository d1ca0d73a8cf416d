"""Electricity meters: power follows a load profile and room occupancy, energy integrates it.

One model serves every electricity meter on campus (room sockets with a relay, floor lighting,
building mains, canteen kitchen loads, smart plugs): what differs is the ``LoadProfile``.
Appliances are random switch-on events (hair dryer, kettle, compressor cycles) so that a
policy watching power steps and power factor has something real to detect.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field

from .base import CommandRejected, DeviceModel, ModelClock, ModelValue, number, switch
from .daily import CONSTANT, Shape

__all__ = ["Appliance", "ElectricityMeter", "LoadProfile"]


@dataclass(frozen=True, slots=True)
class Appliance:
    """A load that switches on at random times (Poisson) and runs for about ``minutes``."""

    name: str
    watts: float
    pf: float
    minutes: float
    per_day: float
    shape: Shape = CONSTANT
    per_person: bool = True
    prohibited: bool = False


@dataclass(frozen=True, slots=True)
class LoadProfile:
    """What a circuit draws: always-on base, a daily shape and random appliances.

    With ``people`` > 0 the shaped part is per present person (presence follows the dorm
    timetable); otherwise it is the circuit's own daily shape times ``variable_w``.
    """

    base_w: float = 0.0
    base_pf: float = 0.9
    variable_w: float = 0.0
    variable_pf: float = 0.9
    shape: Shape = CONSTANT
    people: int = 0
    appliances: tuple[Appliance, ...] = ()
    phases: int = 1
    noise: float = 0.05
    voltage: float = 225.0


@dataclass(slots=True)
class _Running:
    appliance: Appliance
    start: float
    end: float


@dataclass
class _MeterState:
    energy: float
    relay: bool = True
    balance: float = 100.0
    overload_trip: bool = False
    load_trip: bool = False
    reactive_energy: float = 0.0
    power: float = 0.0
    reactive: float = 0.0
    running: list[_Running] = field(default_factory=list)


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth); means here are small (events per minute-long step)."""
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


class ElectricityMeter(DeviceModel):
    """A single- or three-phase meter with an optional socket relay and prepaid balance.

    ``trip_w``: the meter opens its relay above this power (overload trip). ``detect_loads``:
    the meter itself trips on prohibited appliances (恶性负载识别); ``prepaid``: the balance
    falls with use, the relay opens at zero and students top up now and then. A controller may
    write the trip limit and up to two controlled ranges (``range<N>_min_w``, ``_max_w``,
    ``_min_pf``; 0 W is off): once a range is set, a running appliance trips the relay when its
    power and PF fall in one, whatever its ``prohibited`` flag says.
    """

    def __init__(
        self,
        clock: ModelClock,
        rng: random.Random,
        load: LoadProfile,
        *,
        energy: float | None = None,
        trip_w: float | None = None,
        detect_loads: bool = False,
        prepaid: bool = False,
        tz: str = "Asia/Shanghai",
    ) -> None:
        super().__init__(clock, rng, tz)
        self.load = load
        self.trip_w = trip_w
        self.detect_loads = detect_loads
        self.prepaid = prepaid
        self.ranges: list[list[float]] = [[0.0, 0.0, 1.0], [0.0, 0.0, 1.0]]
        """Per slot: [from W, to W, minimum PF]; a slot from 0 W is off."""
        start = rng.uniform(500, 5000) if energy is None else energy
        self.state = _MeterState(energy=start, balance=rng.uniform(30, 150))
        self._imbalance = tuple(rng.uniform(0.85, 1.15) for _ in range(3))
        self._phase = rng.uniform(0, 2 * math.pi)
        self._recompute(self._t)

    # -- physics --------------------------------------------------------------------------
    def _present(self, t: float) -> float:
        return self.load.people * self.presence(t)

    def _shaped_w(self, t: float) -> float:
        load = self.load
        level = load.shape.at(self.local_hour(t))
        if load.people:
            level *= self._present(t)
        return load.variable_w * level

    def _spawn(self, t: float, dt: float) -> None:
        hour = self.local_hour(t + dt / 2)
        present = self._present(t) if self.load.people else 1.0
        for app in self.load.appliances:
            rate = app.shape.per_hour(app.per_day, hour) * (present if app.per_person else 1.0)
            for _ in range(poisson(self.rng, rate * dt / 3600.0)):
                start = t + self.rng.uniform(0, dt)
                length = app.minutes * 60.0 * self.rng.uniform(0.5, 1.5)
                self.state.running.append(_Running(app, start, start + length))

    def _step(self, t: float, dt: float) -> None:
        st = self.state
        self._spawn(t, dt)
        end = t + dt
        if st.relay:
            mid = t + dt / 2
            shaped = self._shaped_w(mid)
            energy_ws = (self.load.base_w + shaped) * dt
            reactive_ws = (
                _q(self.load.base_w, self.load.base_pf) + _q(shaped, self.load.variable_pf)
            ) * dt
            for run in st.running:
                overlap = max(0.0, min(end, run.end) - max(t, run.start))
                energy_ws += run.appliance.watts * overlap
                reactive_ws += _q(run.appliance.watts, run.appliance.pf) * overlap
            kwh = energy_ws / 3.6e6
            st.energy += kwh
            st.reactive_energy += reactive_ws / 3.6e6
            if self.prepaid:
                st.balance -= kwh
        st.running = [r for r in st.running if r.end > end]
        self._recompute(end)
        self._protect(end, dt)

    def _recompute(self, t: float) -> None:
        """Instantaneous power and reactive power at ``t`` (what the meter displays)."""
        st = self.state
        if not st.relay:
            st.power = st.reactive = 0.0
            return
        load = self.load
        shaped = self._shaped_w(t)
        noise = 1.0 + self.rng.uniform(-load.noise, load.noise)
        power = (load.base_w + shaped) * noise
        reactive = (_q(load.base_w, load.base_pf) + _q(shaped, load.variable_pf)) * noise
        for run in st.running:
            if run.start <= t < run.end:
                power += run.appliance.watts
                reactive += _q(run.appliance.watts, run.appliance.pf)
        st.power, st.reactive = power, reactive

    def _protect(self, t: float, dt: float) -> None:
        st = self.state
        if not st.relay:
            return
        if self.trip_w is not None and st.power > self.trip_w:
            st.relay, st.overload_trip = False, True
        elif any(self._detects(r.appliance) and r.start <= t < r.end for r in st.running):
            st.relay, st.load_trip = False, True
        elif self.prepaid and st.balance <= 0:
            st.relay = False
        # A student tops up within 25 minutes on average (per time: the model steps on reads).
        if self.prepaid and st.balance < 2 and self.rng.random() < -math.expm1(-dt / 1500.0):
            st.balance += 50.0
        if not st.relay:
            st.power = st.reactive = 0.0

    def _detects(self, appliance: Appliance) -> bool:
        """Whether the meter's own detection trips on ``appliance``."""
        slots = [r for r in self.ranges if r[0] > 0]
        if slots:
            return any(lo <= appliance.watts <= hi and appliance.pf >= pf for lo, hi, pf in slots)
        return self.detect_loads and appliance.prohibited

    # -- interface ------------------------------------------------------------------------
    def _snapshot(self) -> Mapping[str, ModelValue]:
        st = self.state
        hour = self.local_hour(self._t)
        volts = self.load.voltage + 3.0 * math.sin(2 * math.pi * hour / 24 + self._phase)
        volts += self.rng.uniform(-0.5, 0.5) - min(st.power / 2000.0, 4.0)
        apparent = math.hypot(st.power, st.reactive)
        pf = st.power / apparent if apparent > 0.5 else 1.0
        phases = self.load.phases
        out: dict[str, ModelValue] = {
            "energy": round(st.energy, 4),
            "export_energy": 0.0,
            "reactive_energy": round(st.reactive_energy, 4),
            "power": round(st.power, 1),
            "reactive_power": round(st.reactive, 1),
            "power_factor": round(pf, 3),
            "frequency": round(50.0 + self.rng.uniform(-0.03, 0.03), 2),
            "voltage": round(volts, 1),
            "current": round(apparent / volts / phases, 3) if phases == 1 else 0.0,
            "relay": st.relay,
            "balance": round(st.balance, 2),
            "overload_trip": st.overload_trip,
            "load_trip": st.load_trip,
            "pt_ratio": 1,  # the ratios a meter shows on its own registers (direct-connected)
            "ct_ratio": 1,
            "trip_limit_w": round(self.trip_w or 0),
        }
        for i, (lo, hi, pf) in enumerate(self.ranges, start=1):
            out[f"range{i}_min_w"], out[f"range{i}_max_w"] = round(lo), round(hi)
            out[f"range{i}_min_pf"] = round(pf, 3)
        weights = self._imbalance if phases == 3 else (3.0, 0.0, 0.0)
        total = sum(weights)
        for name, w in zip("abc", weights, strict=True):
            v = round(volts * (0.99 + 0.02 * w / 3.0), 1) if phases == 3 else volts
            out[f"voltage_{name}"] = round(v, 1)
            out[f"current_{name}"] = round(apparent * w / total / v, 3) if v > 0 else 0.0
        if phases == 3:
            out["current"] = out["current_a"]
        return out

    def _apply(self, key: str, value: ModelValue) -> None:
        if key == "trip_limit_w":
            limit = number(key, value, 0.0, 13000.0)
            self.trip_w = limit or None
            return
        if key.startswith("range") and key[5:6] in ("1", "2") and key[6:] in _RANGE_FIELDS:
            field_index = _RANGE_FIELDS[key[6:]]
            top = 1.0 if field_index == 2 else 13000.0
            self.ranges[int(key[5]) - 1][field_index] = number(key, value, 0.0, top)
            return
        if key != "relay":
            raise CommandRejected(key, value, "not a writable point of an electricity meter")
        on = switch(key, value)
        st = self.state
        st.relay = on
        if on:
            st.overload_trip = st.load_trip = False
        self._recompute(self._t)


_RANGE_FIELDS = {"_min_w": 0, "_max_w": 1, "_min_pf": 2}


def _q(watts: float, pf: float) -> float:
    """Reactive power of a load of ``watts`` at power factor ``pf``."""
    if pf >= 1.0 or watts <= 0:
        return 0.0
    return watts * math.tan(math.acos(pf))
