"""Policy engine speed: one evaluation tick on a 10,000-room campus against an empty tick.

The campus is ``sanjie gen-site`` at 10,000 rooms (40,000 devices) with the example campus's
twelve policies. States are synthetic. A tick is an evaluation after the readings of a given
span have arrived: with sockets and ACs polled every 30 s and water meters every 60 s, 5 s of
readings come from 1/6 of the rooms' socket meters and 1/12 of their water meters (see
``Bench.readings`` for which values change; 30 s of readings means every room's socket meter).
Also measured: the first evaluation (every unit, cold), a full re-sweep, and the curfew edge at
23:00 (10,000 relays switched in one tick). Prints JSON; medians of ``--repeat`` runs.

A controller for 10,000 rooms holds a few million Python objects (states, entities, units), and
CPython's full garbage collections walk all of them: triggered by allocations, they land in
whatever code runs, evaluation included. The figures are taken after ``gc.freeze()`` (what a
long-running controller should do once started); ``tick_ms_without_gc_freeze`` shows the cost
without it. ``tick_cpu_ms`` is the CPU time of the same ticks: on a machine shared with other
work, wall time also counts the time the process waited for a core.

    .venv/bin/python bench/policies.py [--rooms 10000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import random
import statistics
import sys
import tempfile
import time
import zoneinfo
from pathlib import Path
from typing import Any

from controller.calendar import SiteCalendar
from controller.config import load_site
from controller.core.events import State
from controller.policies.core import EngineCore
from controller.policies.scope import SiteIndex
from controller.policies.settings import EngineSettings
from controller.policies.types import build_policy
from controller.sitegen import SiteShape, write_site

TZ = zoneinfo.ZoneInfo("Asia/Shanghai")
GOAL_MS = 50.0


def synthetic_states(index: SiteIndex, now: float, rng: random.Random) -> dict[str, State]:
    """Plausible readings for every point the policies look at."""
    states: dict[str, State] = {}
    for device in index.devices.values():
        for point in device.profile.points:
            entity = device.entity(point)
            kind = point.kind.value
            value: Any
            if kind == "relay":
                value = True if point.modbus else "on"
            elif kind == "power_switch":
                value = "on"
            elif kind == "ac_mode":
                value = "cool"
            elif kind == "setpoint":
                value = 26.0
            elif kind == "valve_state":
                value = (
                    "closed"
                    if device.circuit in ("shower",) or "handwash" in device.tags
                    else "open"
                )
            elif kind == "active_power":
                value = rng.uniform(50, 400)
            elif kind == "power_factor":
                value = 0.9
            elif kind in ("active_energy", "water_volume", "press_count"):
                value = rng.uniform(100, 1000)
            elif kind == "valve_delay":
                value = 7.0 if "handwash" in device.tags else 300.0
            elif kind == "config":
                value = 120.0
            else:
                value = 0.0
            states[entity] = State(value, now)
    return states


def room_entities(index: SiteIndex) -> list[tuple[list[str], list[str]]]:
    """Per room: (socket meter power/pf/energy entities, water flow/volume entities)."""
    rooms: dict[str, tuple[list[str], list[str]]] = {}
    for device in index.devices.values():
        if device.room_ref is None:
            continue
        sockets, water = rooms.setdefault(device.room_ref, ([], []))
        for point in device.profile.points:
            if device.circuit == "sockets" and point.key in ("power", "power_factor", "energy"):
                sockets.append(device.entity(point))
            elif device.circuit in ("cold_water", "hot_water") and point.key in ("flow", "volume"):
                water.append(device.entity(point))
    return list(rooms.values())


class Bench:
    def __init__(self, rooms: int, workdir: Path) -> None:
        started = time.perf_counter()
        site = load_site(write_site(workdir, SiteShape(rooms=rooms)))
        self.load_s = time.perf_counter() - started
        started = time.perf_counter()
        self.index = SiteIndex.from_site(site)
        calendar = SiteCalendar.from_site(site)
        self.policies = [build_policy(p, self.index, calendar) for p in site.policies]
        self.bind_s = time.perf_counter() - started
        self.devices = len(site.devices)
        self.rng = random.Random(6)
        self.now = dt.datetime(2026, 10, 13, 16, 0, tzinfo=TZ)  # a teaching Tuesday afternoon
        self.states = synthetic_states(self.index, self.now.timestamp(), self.rng)
        self.rooms = room_entities(self.index)
        self.core = EngineCore(self.policies, EngineSettings(), self.now.timestamp())
        self.commands = 0
        self.cpu_ms = 0.0
        self.energy: dict[str, float] = {}

    def tick(self, seconds: float = 1.0) -> float:
        """Advance ``seconds``, evaluate, apply the commands as confirmed; ms spent evaluating."""
        self.now += dt.timedelta(seconds=seconds)
        started, cpu = time.perf_counter(), time.thread_time()
        out = self.core.evaluate(self.now, self.states)
        elapsed = (time.perf_counter() - started) * 1000
        self.cpu_ms = (time.thread_time() - cpu) * 1000
        ts = self.now.timestamp()
        for command in out.commands:
            self.states[command.entity_id] = State(command.expect, ts)
            self.core.command_done(command, True, ts)
        self.commands = len(out.commands)
        return elapsed

    def sweep(self, seconds: float = 1.0) -> dict[str, Any]:
        """Evaluate until a whole-policy sweep is done: it runs in chunks of
        ``sweep_chunk`` units, one per evaluation, so the event loop breathes in between."""
        chunks = [self.tick(seconds)]
        commands = self.commands
        while self.core.has_work():
            chunks.append(self.tick(0))
            commands += self.commands
        return {
            "total_ms": round(sum(chunks), 1),
            "evaluations": len(chunks),
            "longest_evaluation_ms": round(max(chunks), 1),
            "commands": commands,
        }

    def readings(self, socket_share: float, water_share: float) -> None:
        """New readings for a share of the rooms, as the bus would deliver them.

        Like the real registers: power and PF change on every poll; the 0.01 kWh energy
        register only when a step is crossed; flow is 0 except for rooms in use (1 in 10),
        so most water readings are unchanged and trigger no evaluation.
        """
        ts = self.now.timestamp()
        for sockets, _ in self.rng.sample(self.rooms, int(len(self.rooms) * socket_share)):
            power = 0.0
            for entity in sockets:
                old = self.states[entity].value
                assert isinstance(old, float)
                if entity.endswith(".power"):
                    new = power = max(0.0, old + self.rng.uniform(-5, 5))
                elif entity.endswith(".power_factor"):
                    new = min(1.0, max(0.5, old + self.rng.uniform(-0.01, 0.01)))
                else:  # energy: 30 s at this power, on a 0.01 kWh register
                    exact = self.energy.get(entity, old) + power * 30 / 3.6e6
                    self.energy[entity] = exact
                    new = round(exact, 2)
                self.set(entity, new, ts)
        for _, water in self.rng.sample(self.rooms, int(len(self.rooms) * water_share)):
            in_use = self.rng.random() < 0.1
            for entity in water:
                old = self.states[entity].value
                assert isinstance(old, float)
                if entity.endswith(".flow"):
                    new = 0.3 if in_use else 0.0
                else:
                    new = old + 0.0025 if in_use else old
                self.set(entity, new, ts)

    def set(self, entity: str, value: float, ts: float) -> None:
        changed = value != self.states[entity].value
        self.states[entity] = State(value, ts)
        self.core.state_changed(entity, changed)


def median(samples: list[float]) -> float:
    return round(statistics.median(samples), 3)


SPANS = (("1s", 1 / 30, 1 / 60), ("5s", 1 / 6, 1 / 12), ("30s", 1.0, 0.5))


def ticks_after(bench: Bench, repeat: int) -> tuple[dict[str, float], dict[str, float]]:
    """Median wall and CPU milliseconds of a tick after each span of readings."""
    wall: dict[str, float] = {}
    cpu: dict[str, float] = {}
    for span, sockets, water in SPANS:
        walls, cpus = [], []
        for _ in range(repeat):
            bench.readings(sockets, water)
            walls.append(bench.tick(1))
            cpus.append(bench.cpu_ms)
        wall[span], cpu[span] = median(walls), median(cpus)
    return wall, cpu


def run(rooms: int, repeat: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        bench = Bench(rooms, Path(tmp))
    first = bench.sweep(0)
    bench.tick(1)  # confirmations of the first commands
    unfrozen, _ = ticks_after(bench, repeat)
    gc.collect()
    gc.freeze()
    empty = [bench.tick(1) for _ in range(repeat)]
    ticks, ticks_cpu = ticks_after(bench, repeat)
    sweeps = []
    for _ in range(repeat):
        bench.core.mark_all()
        sweeps.append(bench.sweep(1)["total_ms"])
    bench.now = bench.now.replace(hour=22, minute=59, second=59)
    bench.sweep(0)
    edge = bench.sweep(1)
    units = sum(len(p.units) for p in bench.policies)
    return {
        "bench": "policies",
        "rooms": rooms,
        "devices": bench.devices,
        "policies": len(bench.policies),
        "units": units,
        "load_site_s": round(bench.load_s, 2),
        "bind_s": round(bench.bind_s, 2),
        "empty_tick_ms": median(empty),
        "tick_ms": ticks,
        "tick_cpu_ms": ticks_cpu,
        "tick_note": "after 1 s / 5 s / 30 s of readings (sockets, AC 30 s; water 60 s)",
        "tick_ms_without_gc_freeze": unfrozen,
        "first_evaluation": first,
        "full_sweep_ms": median(sweeps),
        "curfew_edge": edge,
        "sweep_chunk_units": bench.core.settings.sweep_chunk,
        "goal_ms": GOAL_MS,
        "meets_goal_1s_tick": ticks["1s"] < GOAL_MS,
        "meets_goal_5s_tick": ticks["5s"] < GOAL_MS,
        "meets_goal_5s_tick_cpu": ticks_cpu["5s"] < GOAL_MS,
        "python": sys.version.split()[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rooms", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    print(json.dumps(run(args.rooms, args.repeat), indent=2))


if __name__ == "__main__":
    main()
