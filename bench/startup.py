"""Start-up, memory and the overview page of a generated campus, without emulators.

Issue 18's start-up (< 10 s), RSS (< 1 GB) and web-page (< 300 ms) goals, measured in one
process so the machine's other load matters less than in ``bench/campus.py``: generate the
``--rooms`` campus with ``controller.sitegen`` (as ``campus.py`` does), load it, build the
controller with ``build_controller`` exactly as ``sanjie run`` does (state under
``DATA_DIR/var``, API and web app included), start it until the API answers, then fill the
state store with a plausible value for every entity and time the signed-in overview page.

Phases are timed by wrapping the functions ``build_controller`` calls (the wrappers add a
``perf_counter`` pair each and change nothing else); nested phases (``recorder.series_keys``
inside ``recorder``) are included in their parent's figure. RSS is sampled after each phase
(``psutil``); the peak is ``ru_maxrss``. No emulators: the Modbus and meter links point at a
closed local port, and each bus's supervised poll loop is swapped for an idle wait before the
controller starts, so no device is polled or marked unavailable and the states come from the
fill (as after one full scan of a healthy campus).

    .venv/bin/python bench/startup.py [--rooms 10000] [--requests 15]
        [--profile FILE] [--tracemalloc N]

Each phase has its wall time and its CPU time (``process_time``, all threads): on a loaded
machine the CPU figure is the one to compare. ``--profile FILE`` writes a cProfile of loading
and building (slower: compare phases inside one run only), and ``FILE.overview`` one of the
overview requests; ``--tracemalloc N`` prints the N biggest allocation sites after the build
(much slower, and RSS then includes tracemalloc's own bookkeeping).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import resource
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from controller.sitegen import SiteShape, write_site  # noqa: E402

_PROCESS = psutil.Process()


def note(text: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {text}", file=sys.stderr, flush=True)


def _rss_mb() -> float:
    return round(_PROCESS.memory_info().rss / 2**20, 1)


class Phases:
    """Seconds and RSS after each named phase, accumulated over calls."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self.rss_after: dict[str, float] = {}

    def add(self, name: str, seconds: float, cpu: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds
        self.cpu[name] = self.cpu.get(name, 0.0) + cpu
        self.rss_after[name] = _rss_mb()

    def wrap(self, owner: Any, attribute: str, name: str, *, static: bool = False) -> None:
        """Time every call of ``owner.attribute`` as phase ``name``."""
        original: Callable[..., Any] = getattr(owner, attribute)

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started, cpu = time.perf_counter(), time.process_time()
            try:
                return original(*args, **kwargs)
            finally:
                self.add(name, time.perf_counter() - started, time.process_time() - cpu)

        setattr(owner, attribute, staticmethod(timed) if static else timed)


def _instrument(phases: Phases) -> None:
    """Wrap what ``load_site`` and ``build_controller`` call, phase by phase."""
    import controller.alarms.build
    import controller.assemble
    import controller.billing
    import controller.config.loader as loader
    from controller.app import Controller
    from controller.core import EntityRegistry
    from controller.policies.engine import PolicyEngine
    from controller.recorder import Recorder
    from controller.recorder.lineproto import LineFormatter

    phases.wrap(loader, "load_yaml_file", "site.yaml")
    phases.wrap(loader, "_expand_buildings", "site.expand_rooms")
    phases.wrap(loader, "check_devices", "site.profiles_and_device_checks")
    phases.wrap(loader, "load_site", "site (load + validation, total)")
    phases.wrap(EntityRegistry, "from_site", "registry (entities)", static=True)
    phases.wrap(Controller, "__init__", "controller core (registry included)")
    phases.wrap(controller.assemble, "_bus_integrations", "bus integrations")
    phases.wrap(Recorder, "from_site", "recorder (series keys included)", static=True)
    phases.wrap(LineFormatter, "__init__", "recorder.series_keys")
    phases.wrap(PolicyEngine, "__init__", "policy engine")
    phases.wrap(controller.alarms.build, "build_alarms", "alarms")
    phases.wrap(controller.billing, "billing_component", "billing")
    phases.wrap(controller.assemble, "_api", "api and web app")


_TYPICAL = {
    "active_power": 60.0,
    "reactive_power": 5.0,
    "voltage": 221.5,
    "current": 0.3,
    "power_factor": 0.95,
    "frequency": 50.0,
    "flow": 0.0,
    "heat_power": 0.0,
    "temperature": 24.5,
    "setpoint": 26.0,
}
"""An idle room by day: no water flowing, a lamp and a charger on (nothing for a policy or an
alarm rule to act on, as on most of a healthy campus)."""


def plausible(entity: Any, point: Any, index: int) -> Any:
    """A value of the kind a quiet, healthy campus reports for this point."""
    if point is not None and point.values:
        return next(iter(point.values.values()))
    kind = entity.kind.value
    if kind in _TYPICAL:
        return _TYPICAL[kind]
    if entity.is_cumulative:
        return round(1000.0 + index % 997, 2)  # counters: some reading, each its own
    if kind in ("relay", "valve_state", "remote_lock") or point is None:
        return True
    low, _ = point.range or point.valid_range or (0.0, 1000.0)
    return float(low)


async def fill_states(ctrl: Any) -> int:
    """One snapshot per device, every entity with a plausible value (as a full poll would),
    a hundred devices at a time with the loop let run between them (the buses' polls arrive
    spread out too), then until every subscriber has taken its events in (at most 60 s)."""
    now = ctrl.clock.time()
    site = ctrl.site
    count = 0
    for n, device_id in enumerate(ctrl.registry.device_ids):
        if n % 100 == 0:
            await asyncio.sleep(0)
        profile = site.profiles[site.devices[device_id].profile]
        points = {p.key: p for p in profile.points}
        readings = []
        for entity in ctrl.registry.of_device(device_id):
            value = plausible(entity, points.get(entity.point_key), count)
            readings.append((entity.entity_id, value, _good()))
            count += 1
        ctrl.states.set_many(readings, now)
    deadline = time.perf_counter() + 60
    for _ in range(600):
        if not any(sub.depth for sub in ctrl.bus.stats()) or time.perf_counter() > deadline:
            break
        await asyncio.sleep(0.1)
    return count


def _good() -> Any:
    from controller.core import Quality

    return Quality.GOOD


def _idle_buses(assembly: Any) -> None:
    """Swap every bus's supervised poll loop for an idle wait (no emulators to poll)."""
    integrations = [assembly.modbus, *([assembly.meters] if assembly.meters else [])]
    for integration in integrations:
        for supervisor in integration._buses.values():
            supervisor._job = asyncio.Event().wait


def _closed_port() -> int:
    """A local port nobody listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _until_api(port: int) -> None:
    async with httpx.AsyncClient() as client:
        while True:
            with contextlib.suppress(httpx.HTTPError):
                await client.get(f"http://127.0.0.1:{port}/api/health", timeout=2)
                return
            await asyncio.sleep(0.05)


async def _overview_ms(port: int, password: str, requests: int) -> dict[str, Any]:
    """The signed-in overview page over real HTTP: first fetch, then the median of the rest."""
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        reply = await client.post(
            "/login", data={"name": "bench-admin", "password": password, "next": "/"}
        )
        if reply.status_code not in (200, 303):
            raise RuntimeError(f"sign-in: {reply.status_code}")
        samples = []
        for _ in range(requests + 1):
            started = time.perf_counter()
            page = await client.get("/")
            samples.append((time.perf_counter() - started) * 1000)
            if page.status_code != 200:
                raise RuntimeError(f"/: {page.status_code} {page.text[:200]}")
    rest = samples[1:]
    return {
        "first_ms": round(samples[0], 1),
        "median_ms": round(statistics.median(rest), 1),
        "max_ms": round(max(rest), 1),
        "bytes": len(page.content),
    }


async def run(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    from controller.accounts import Role
    from controller.assemble import ControllerOptions, build_controller
    from controller.config import loader
    from controller.service import state_dir

    phases = Phases()
    _instrument(phases)
    rss0 = _rss_mb()
    path = write_site(folder / "site", SiteShape(rooms=args.rooms), "bench")
    profiler = _profiler(args.profile)
    began = time.perf_counter()
    site = loader.load_site(path)
    site_s = phases.seconds.pop("site (load + validation, total)")
    site_cpu = phases.cpu.pop("site (load + validation, total)")
    closed = ("127.0.0.1", _closed_port())
    endpoints = dict.fromkeys(site.links, closed)
    data = folder / "data"
    api_port = _closed_port()
    options = ControllerOptions(
        data_dir=data,
        state_dir=state_dir(data),
        api_port=api_port,
        modbus_endpoints=endpoints,
        meter_endpoints=endpoints,
    )
    async with contextlib.AsyncExitStack() as stack:
        started, cpu = time.perf_counter(), time.process_time()
        assembly = await build_controller(site, options, stack)
        built, built_cpu = time.perf_counter() - started, time.process_time() - cpu
        note(f"built in {built:.1f} s")
        _profiled(profiler, args.profile)
        rss_built = _rss_mb()
        snapshot = _tracemalloc(args.tracemalloc)
        ctrl = assembly.controller
        assert assembly.api is not None
        assert assembly.api.accounts is not None
        password = "bench-password-not-secret"
        assembly.api.accounts.add("bench-admin", Role.ADMIN, password)
        _idle_buses(assembly)
        started, cpu = time.perf_counter(), time.process_time()
        async with ctrl.running():
            await assembly.recorder.wait_started()
            await _until_api(api_port)
            running, running_cpu = time.perf_counter() - started, time.process_time() - cpu
            ready = time.perf_counter() - began
            rss_running = _rss_mb()
            note(f"API up after {running:.1f} s; filling the state store")
            started = time.perf_counter()
            profiler = _profiler(args.profile)
            states = await fill_states(ctrl)
            _profiled(profiler, args.profile and args.profile + ".fill")
            fill_s = time.perf_counter() - started
            rss_states = _rss_mb()
            backlog = {sub.name: sub.depth for sub in ctrl.bus.stats() if sub.depth}
            note(f"{states} states in {fill_s:.1f} s; timing the overview")
            profiler = _profiler(args.profile)
            page = await _overview_ms(api_port, password, args.requests)
            _profiled(profiler, args.profile and args.profile + ".overview")
    entities = len(ctrl.registry)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "rooms": args.rooms,
        "devices": len(site.devices),
        "entities": entities,
        "phases_s": {k: round(v, 3) for k, v in phases.seconds.items()},
        "phases_cpu_s": {k: round(v, 3) for k, v in phases.cpu.items()},
        "site_total_s": round(site_s, 2),
        "build_controller_s": round(built, 2),
        "start_components_until_api_s": round(running, 2),
        "cpu_s": {
            "site": round(site_cpu, 2),
            "build_controller": round(built_cpu, 2),
            "start_until_api": round(running_cpu, 2),
            "total": round(site_cpu + built_cpu + running_cpu, 2),
        },
        "wall_load_to_api_s": round(ready, 2),
        "rss_mb": {
            "before_site": rss0,
            "after_phase": phases.rss_after,
            "built": rss_built,
            "running": rss_running,
            "states_filled": rss_states,
            "peak": round(peak, 1),
        },
        "rss_bytes_per_entity": round((rss_states - rss0) * 2**20 / entities),
        "states_filled": states,
        "fill_states_s": round(fill_s, 2),
        "bus_backlog_after_fill": backlog,
        "overview": page,
        "tracemalloc_top": snapshot,
    }


def _profiler(path: str | None) -> Any:
    if path is None:
        return None
    import cProfile

    profiler = cProfile.Profile()
    profiler.enable()
    return profiler


def _profiled(profiler: Any, path: str | None) -> None:
    if profiler is None or path is None:
        return
    import pstats

    profiler.disable()
    with open(path, "w", encoding="utf-8") as out:
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("tottime").print_stats(40)
        stats.sort_stats("cumulative").print_stats(80)


def _tracemalloc(top: int) -> list[str] | None:
    if not top:
        return None
    import tracemalloc

    stats = tracemalloc.take_snapshot().statistics("lineno")
    return [str(s) for s in stats[:top]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rooms", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=15)
    parser.add_argument("--profile", help="write a cProfile of load + build here")
    parser.add_argument("--tracemalloc", type=int, default=0, metavar="N")
    parser.add_argument(
        "--stacks", type=float, default=0, metavar="S", help="dump every thread's stack every S s"
    )
    args = parser.parse_args()
    if args.stacks:
        import faulthandler

        faulthandler.dump_traceback_later(args.stacks, repeat=True, file=sys.stderr)
    if args.tracemalloc:
        import tracemalloc

        tracemalloc.start()
    with tempfile.TemporaryDirectory(prefix="sanjie-bench-startup-") as folder:
        result = asyncio.run(run(args, Path(folder)))
    print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
