"""A generated campus end to end: every protocol, the policies, billing and a real InfluxDB.

Issue 18's scale run. ``controller.sitegen`` generates a campus of ``--rooms`` dorm rooms (four
devices a room: a prepaid socket meter, cold- and hot-water meters with valves, an AC gateway;
one RS-485 gateway per floor of 20 rooms; one floor of the first dorm on DL/T 645 meters; the
buildings' hot-water meters on CJ/T 188 buses; a canteen and a bathhouse with MQTT devices),
with the generator's policies and prepaid billing, and an InfluxDB 1.x sink.
Three processes besides InfluxDB and Mosquitto (both real, started here from ``tests.servers``):

* the **emulators** (Modbus gateways and DL/T 645 / CJ/T 188 buses with RS-485 line timing
  from each link's baud rate, the MQTT devices on the broker),
* the **controller** (``controller.assemble.build_controller``, as ``sanjie run`` builds it,
  with the API and web app), whose CPU is its own ``getrusage`` and nothing else,
* this process, which starts the others and times the web overview page while they run.

The devices' own scan intervals apply (30 s electricity and AC, 60 s water, 300 s CJ/T 188).
``--seconds`` is the emulated period; ``--speed N`` runs the clocks of the controller and the
emulators N× faster (scan intervals shrink in wall time, RS-485 line time does not), so a short
run can still see whole 60 s cycles. ``--at`` sets the campus time the run starts at (default a
teaching-day lunchtime, 2026-12-02 12:30 China time, the AC and hot-water windows open; ``now``
for the real clock): which policies act depends on it (at night the curfew opens ten thousand
socket relays in the first minutes), so runs at different hours are otherwise not alike. The
window starts once the policies' start-up commands are sent (``settled_before_window``: at most
``SETTLE_MAX_S``), so it measures the steady state, not the first sweep. Prints one JSON object:

* ``buses``: per protocol, the cycle time (emulated seconds; the link's counters: every healthy
  device polled once) against the bound it cannot beat: the longest scan interval on the bus,
  or its **floor**, the RS-485 line time of polling every device once (measured by the
  emulator: line time of all transactions ÷ polls × devices), whichever is longer.
* ``mqtt_messages_per_s``, ``recorder``: points/s acknowledged by InfluxDB, outbox depth.
* ``policy_tick_ms``: time of each policy evaluation (median, p95, max).
* ``controller``: CPU share of one core, CPU µs per value polled and recorded (all protocols),
  peak RSS, start-up time (process start → every bus connected and the API answering).
* ``web_overview_ms``: the signed-in overview page, fetched every ``--web-every`` seconds.

    .venv/bin/python bench/campus.py [--rooms 10000] [--seconds 120] [--speed 1] [--at now]

No baseline process here: the like-for-like baselines of these paths are in ``poll_record.py``
(bare pymodbus issuing the same requests at the same pace), ``mqtt_ingest.py`` and
``recorder.py``; this run shows what the whole campus costs together.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import resource
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from controller.sitegen import SiteShape, write_site  # noqa: E402
from tests.servers import InfluxServer, MosquittoServer  # noqa: E402

DATABASE = "campus"
AT = "2026-12-02T12:30"
SETTLE_MAX_S = 300.0
"""Longest wait for the policies' start-up commands before the measured window."""


def note(text: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {text}", file=sys.stderr, flush=True)


def _clock(speed: float, tz: str) -> Any:
    """The campus clock both children share: ``CAMPUS_CLOCK`` is "wall,campus" (the campus time
    ``campus`` at the wall time ``wall``), so the emulators and the controller, started seconds
    apart, agree on the time; unset means the real clock."""
    from controller.core import ScaledClock, SystemClock

    shared = os.environ.get("CAMPUS_CLOCK")
    if not shared:
        return SystemClock(tz) if speed == 1 else ScaledClock(speed, tz=tz)
    wall, campus = (float(part) for part in shared.split(","))
    return ScaledClock(speed, start=campus + (time.time() - wall) * speed, tz=tz)


def campus_start(at: str, tz: str) -> float | None:
    """``--at``: "now" (the real clock) or a local ISO time on the campus's time zone."""
    if at == "now":
        return None
    import datetime as dt
    import zoneinfo

    local = dt.datetime.fromisoformat(at)
    if local.tzinfo is None:
        local = local.replace(tzinfo=zoneinfo.ZoneInfo(tz))
    return local.timestamp()


# -- the site ------------------------------------------------------------------------------
def make_site(folder: Path, rooms: int, mqtt: tuple[str, int], influx_url: str) -> Path:
    """The generated campus (with the generator's prepaid billing), its MQTT link on our
    broker, and an InfluxDB sink."""
    site = write_site(folder, SiteShape(rooms=rooms), campus_id="bench")
    links_path = folder / "links.yaml"
    links = yaml.safe_load(links_path.read_text(encoding="utf-8"))
    for link in links:
        if link["type"] == "mqtt":
            link.update(host=mqtt[0], port=mqtt[1])
    links_path.write_text(yaml.safe_dump(links, allow_unicode=True, sort_keys=False), "utf-8")
    extra = {
        "sinks": {
            "influxdb": {
                "type": "influxdb_v1",
                "url": influx_url,
                "database": DATABASE,
                "flush_interval": 1,
            }
        },
    }
    with site.open("a", encoding="utf-8") as out:
        out.write(yaml.safe_dump(extra, allow_unicode=True, sort_keys=False))
    return site


# -- the emulator process ------------------------------------------------------------------
def emulate(site_path: str, speed: float, host: str, port: int) -> None:
    """Child: emulate every device; print where the buses are; on stdin's end print each
    gateway's line time and transactions, then stop."""
    from controller.config import load_site
    from emulators.meterbus.site import MeterSiteEmulator
    from emulators.modbus import SiteEmulator
    from emulators.mqtt import run_site

    line: dict[str, list[float]] = {}

    def metered(link_id: str, gateway: Any) -> None:
        bus_time = gateway._bus_time
        totals = line.setdefault(link_id, [0.0, 0.0])

        def timed(request_bytes: int, reply_bytes: int) -> float:
            took = float(bus_time(request_bytes, reply_bytes))
            totals[0] += took
            totals[1] += 1
            return took

        gateway._bus_time = timed

    async def main() -> None:
        site = load_site(site_path)
        clock = _clock(speed, site.campus.timezone)
        async with contextlib.AsyncExitStack() as stack:
            where: dict[str, list[Any]] = {}
            for kind in (SiteEmulator, MeterSiteEmulator):
                emulator = kind(site, clock, free_ports=True)
                if not emulator.gateways:
                    continue
                for link_id, gateway in emulator.gateways.items():
                    metered(link_id, gateway)
                await stack.enter_async_context(emulator)
                where.update({k: [e.host, e.port] for k, e in emulator.endpoints.items()})
            mqtt = await stack.enter_async_context(run_site(site, host, port, clock))
            print(json.dumps({"endpoints": where, "mqtt_devices": len(mqtt.devices)}), flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
            print(json.dumps({"line": line}), flush=True)

    asyncio.run(main())


# -- the controller process ----------------------------------------------------------------
def control(site_path: str, endpoints_path: str, speed: float, seconds: float, data: str) -> None:
    """Child: run the controller; print ``ready`` (API port, a fresh admin password), then,
    after ``seconds`` emulated, the figures measured inside (own CPU, RSS, counters)."""
    began = time.perf_counter()
    created = psutil.Process().create_time()
    endpoints = Path(endpoints_path).read_text(encoding="utf-8")
    from controller import eventloop

    loop = os.environ.get("CAMPUS_LOOP", "auto")
    assert loop in eventloop.LOOPS, loop
    eventloop.run(
        _control(site_path, endpoints, speed, seconds, Path(data), began, created),
        loop,  # type: ignore[arg-type]
    )


def _values(assembly: Any) -> dict[str, int]:
    """Values polled and delivered so far, per protocol (good readings only)."""
    mqtt = 0
    for integration in assembly.mqtt:
        mqtt += sum(row["readings"] for row in integration.status()["profiles"].values())
    return {"modbus": assembly.modbus.good_values, "meters": getattr(assembly, "meter_values", 0),
            "mqtt": mqtt}  # fmt: skip


def _count_good(integration: Any, attribute: str, holder: Any) -> None:
    """Count good readings handed to ``integration.snapshot`` on ``holder.<attribute>``."""
    setattr(holder, attribute, 0)
    passed_on = integration.snapshot

    def counted(device_id: str, readings: Any, timestamp: float) -> None:
        setattr(holder, attribute, getattr(holder, attribute) + sum(1 for r in readings if r[2]))
        passed_on(device_id, readings, timestamp)

    integration.snapshot = counted


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _control(
    site_path: str,
    endpoints_text: str,
    speed: float,
    seconds: float,
    data: Path,
    began: float,
    created: float,
) -> None:
    from controller.accounts import Role
    from controller.assemble import ControllerOptions, build_controller
    from controller.config import load_site

    site = load_site(site_path)
    loaded_s = time.perf_counter() - began
    clock = _clock(speed, site.campus.timezone)
    endpoints = {k: (v[0], v[1]) for k, v in json.loads(endpoints_text).items()}
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        api_port = int(probe.getsockname()[1])
    options = ControllerOptions(
        data_dir=data, api_port=api_port, modbus_endpoints=endpoints, meter_endpoints=endpoints
    )
    ticks: list[float] = []
    async with contextlib.AsyncExitStack() as stack:
        assembly = await build_controller(site, options, stack, clock=clock)
        _count_good(assembly.modbus, "good_values", assembly.modbus)
        if assembly.meters is not None:
            _count_good(assembly.meters, "meter_values", assembly)
        engine = assembly.engine
        evaluate = engine.evaluate

        def timed_evaluate() -> Any:
            started = time.perf_counter()
            try:
                return evaluate()
            finally:
                ticks.append(time.perf_counter() - started)

        engine.evaluate = timed_evaluate  # type: ignore[method-assign]
        password = secrets.token_urlsafe(12)
        assert assembly.api is not None
        assert assembly.api.accounts is not None
        assembly.api.accounts.add("bench-admin", Role.ADMIN, password)
        pollers: list[Any] = [*assembly.modbus.pollers.values()]
        if assembly.meters is not None:
            pollers += assembly.meters.pollers.values()
        async with assembly.controller.running():
            await assembly.recorder.wait_started()
            await asyncio.gather(*(p.link.wait_connected() for p in pollers))
            await _until_api(api_port)
            ready = time.perf_counter() - began
            startup = time.time() - created
            print(
                json.dumps({"ready": True, "api_port": api_port, "password": password}),
                flush=True,
            )
            await asyncio.sleep(min(2.0, seconds / speed / 10))  # connections settle
            # The policies' first sweep brings devices the emulators started in another state
            # (AC on outside its hours, valves open) to what they hold: a one-off burst of
            # commands at start-up, not the steady state the window measures.
            settle_began = time.perf_counter()
            commands0 = engine.status().get("commands", 0)
            quiet = 0  # consecutive seconds with nothing queued, once the engine has evaluated
            settle_max = float(os.environ.get("CAMPUS_SETTLE_MAX_S", SETTLE_MAX_S))
            while quiet < 3 and time.perf_counter() - settle_began < settle_max:
                await asyncio.sleep(1.0)
                status = engine.status()
                idle = status.get("evaluations", 0) and not status.get("queued_commands", 0)
                quiet = quiet + 1 if idle else 0
            settled = {
                "wall_s": round(time.perf_counter() - settle_began, 1),
                "commands": engine.status().get("commands", 0) - commands0,
                "still_queued": engine.status().get("queued_commands", 0),
            }
            values0, ticks0 = _values(assembly), len(ticks)
            mqtt0 = sum(i.driver.stats()["received"] for i in assembly.mqtt)
            written0 = assembly.recorder.status()["points_written"]
            profiler = _profiler()
            if os.environ.get("CAMPUS_GC") == "default":  # A/B: CPython's own thresholds
                gc.set_threshold(700, 10, 10)
            pauses = GcPauses()
            gc.callbacks.append(pauses)
            cpu0, t0 = _cpu(), time.perf_counter()
            outbox_max = 0
            deadline = t0 + seconds / speed
            while (left := deadline - time.perf_counter()) > 0:
                await asyncio.sleep(min(1.0, left))
                outbox_max = max(outbox_max, assembly.recorder.status().get("outbox_points", 0))
            cpu, elapsed = _cpu() - cpu0, time.perf_counter() - t0
            gc.callbacks.remove(pauses)
            _profiled(profiler)
            values1 = _values(assembly)
            mqtt = sum(i.driver.stats()["received"] for i in assembly.mqtt) - mqtt0
            status = assembly.recorder.status()
            written = status["points_written"] - written0
            buses = _buses(assembly)
            billing = assembly.billing.status() if assembly.billing is not None else None
            policies = {k: v for k, v in engine.status().items() if isinstance(v, int | float)}
            alarms = _alarm_kinds(assembly)
        window = ticks[ticks0:]
        values = {k: values1[k] - values0[k] for k in values1}
        total = sum(values.values())
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            json.dumps(
                {
                    "window_wall_s": elapsed,
                    "load_site_s": loaded_s,
                    "ready_s": ready,
                    "startup_s": startup,
                    "values": values,
                    "values_per_s": total / elapsed,
                    "cpu_share": cpu / elapsed,
                    "cpu_us_per_value": cpu / max(total, 1) * 1e6,
                    "peak_rss_mb": peak,
                    "mqtt_messages_per_s": mqtt / elapsed,
                    "points_written_per_s": written / elapsed,
                    "outbox_points_at_end": status.get("outbox_points", 0),
                    "outbox_points_max": outbox_max,
                    "policy_ticks": len(window),
                    "policy_tick_ms": _spread([t * 1000 for t in window]),
                    "buses": buses,
                    "policies": policies,
                    "settled_before_window": settled,
                    "gc": pauses.figures(),
                    "active_alarms": alarms,
                    "billing": billing,
                },
                default=str,
            ),
            flush=True,
        )


def _alarm_kinds(assembly: Any) -> dict[str, int]:
    """Active alarms by kind at the end (what the campus is complaining about)."""
    kinds: dict[str, int] = {}
    if assembly.alarms is not None:
        for record in assembly.alarms.manager.active():
            kinds[record.kind] = kinds.get(record.kind, 0) + 1
    return kinds


class GcPauses:
    """Time the interpreter spends in cyclic garbage collection, per generation, through
    ``gc.callbacks``: a full collection walks every tracked object (millions at 10,000 rooms)
    with the event loop stopped, which CPU shares and page latencies both feel."""

    def __init__(self) -> None:
        self.total = [0.0, 0.0, 0.0]
        self.count = [0, 0, 0]
        self.longest = 0.0
        self._began = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
            return
        took = time.perf_counter() - self._began
        generation = int(info["generation"])
        self.total[generation] += took
        self.count[generation] += 1
        self.longest = max(self.longest, took)

    def figures(self) -> dict[str, Any]:
        return {
            "seconds_by_generation": [round(t, 3) for t in self.total],
            "collections_by_generation": self.count,
            "longest_ms": round(self.longest * 1000, 1),
        }


def _profiler() -> Any:
    """cProfile for the measured window only, when ``--profile`` asks (start-up left out)."""
    if not os.environ.get("CAMPUS_PROFILE"):
        return None
    import cProfile

    profiler = cProfile.Profile()
    profiler.enable()
    return profiler


def _profiled(profiler: Any) -> None:
    if profiler is None:
        return
    import pstats

    profiler.disable()
    profiler.dump_stats(os.environ["CAMPUS_PROFILE"] + ".pstats")  # whole, for pstats queries
    with open(os.environ["CAMPUS_PROFILE"], "w", encoding="utf-8") as out:
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("tottime").print_stats(50)
        stats.sort_stats("cumulative").print_stats(60)


async def _until_api(port: int) -> None:
    import httpx

    async with httpx.AsyncClient(timeout=5) as client:
        for _ in range(300):
            with contextlib.suppress(httpx.TransportError):
                if (await client.get(f"http://127.0.0.1:{port}/login")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise RuntimeError("the API did not come up")


def _buses(assembly: Any) -> list[dict[str, Any]]:
    """Per bus: protocol, devices, polls so far, cycles and the last cycle, longest scan."""
    rows = []
    links = assembly.controller.site.links
    groups = [assembly.modbus.pollers]
    if assembly.meters is not None:
        groups.append(assembly.meters.pollers)
    for pollers in groups:
        for link_id, poller in pollers.items():
            kind = {"dlt645": "dlt645", "cjt188": "cjt188"}.get(links[link_id].type, "modbus")
            devices = poller.devices.values()
            counters = poller.link.counters
            rows.append(
                {
                    "link": link_id,
                    "kind": kind,
                    "devices": len(poller.devices),
                    "polls": sum(d.polls for d in devices),
                    "failed_polls": sum(d.failed_polls for d in devices),
                    "cycles": counters.cycles,
                    "last_cycle_s": counters.last_cycle,
                    "max_scan_s": max(d.spec.scan_interval for d in devices),
                }
            )
    return rows


def _spread(samples: list[float]) -> dict[str, float | None]:
    if not samples:
        return {"median": None, "p95": None, "max": None}
    ordered = sorted(samples)
    return {
        "median": round(statistics.median(ordered), 3),
        "p95": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))], 3),
        "max": round(ordered[-1], 3),
    }


# -- this process --------------------------------------------------------------------------
@contextlib.contextmanager
def child(*args: str) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [sys.executable, __file__, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        yield proc
    finally:
        if proc.stdin is not None and not proc.stdin.closed:
            proc.stdin.close()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _line(proc: subprocess.Popen[str], what: str) -> dict[str, Any]:
    assert proc.stdout is not None
    text = proc.stdout.readline()
    if not text:
        raise RuntimeError(f"the {what} process stopped")
    found: dict[str, Any] = json.loads(text)
    return found


async def web_latency(
    port: int, password: str, every: float, until: asyncio.Event, samples: list[float]
) -> None:
    """Sign in, then time the overview page into ``samples`` every ``every`` s until
    ``until`` is set."""
    import httpx

    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(timeout=30) as client:
        signed = await client.post(
            f"{base}/api/login", json={"name": "bench-admin", "password": password}
        )
        signed.raise_for_status()
        while not until.is_set():
            started = time.perf_counter()
            reply = await client.get(f"{base}/", follow_redirects=False)
            took = time.perf_counter() - started
            if reply.status_code != 200:
                raise RuntimeError(f"overview page: HTTP {reply.status_code}")
            samples.append(took * 1000)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(until.wait(), every)


async def watch(control_proc: subprocess.Popen[str], ready: dict[str, Any], every: float) -> Any:
    """Time the web page while waiting for the controller's figures."""
    import httpx

    done = asyncio.Event()
    samples: list[float] = []
    pages = asyncio.create_task(
        web_latency(ready["api_port"], ready["password"], every, done, samples)
    )
    figures = await asyncio.to_thread(_line, control_proc, "controller")
    done.set()
    # a page asked for as the controller stops after its figures finds nobody listening
    with contextlib.suppress(httpx.TransportError):
        await pages
    return figures, samples


def summarise(figures: dict[str, Any], line: dict[str, list[float]], speed: float) -> Any:
    """Per protocol: cycle ÷ bound, where the bound is max(longest scan, floor × speed)."""
    out: dict[str, Any] = {}
    for row in figures.pop("buses"):
        seconds, _transactions = line.get(row["link"], [0.0, 0.0])
        per_poll = seconds / row["polls"] if row["polls"] else 0.0
        # Line time per poll (each poll's transactions, retries included) × devices: one
        # back-to-back pass over the bus, in wall seconds; emulated: × speed.
        floor = per_poll * row["devices"]
        bound = max(row["max_scan_s"], floor * speed)
        group = out.setdefault(
            f"{row['kind']}", {"buses": 0, "devices": 0, "without_a_cycle": [], "rows": []}
        )
        group["buses"] += 1
        group["devices"] += row["devices"]
        # The first cycle runs from the bus's first poll: a one-device bus closes it at once.
        if not row["last_cycle_s"]:
            group["without_a_cycle"].append(row["link"])
        else:
            group["rows"].append((row["last_cycle_s"], floor, bound, row["failed_polls"]))
    for group in out.values():
        rows = group.pop("rows")
        group["without_a_cycle"] = len(group["without_a_cycle"])
        if not rows:
            continue
        group["cycle_s"] = _spread([r[0] for r in rows])
        group["floor_s"] = _spread([r[1] for r in rows])
        group["bound_s"] = _spread([r[2] for r in rows])
        group["cycle_over_bound"] = _spread([r[0] / r[2] for r in rows])
        group["failed_polls"] = sum(r[3] for r in rows)
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.profile:
        os.environ["CAMPUS_PROFILE"] = str(args.profile.resolve())
    os.environ["CAMPUS_SETTLE_MAX_S"] = str(args.settle_max)
    os.environ["CAMPUS_LOOP"] = args.loop
    start = campus_start(args.at, "Asia/Shanghai")
    if start is not None:
        os.environ["CAMPUS_CLOCK"] = f"{time.time()},{start}"
    with tempfile.TemporaryDirectory(prefix="sanjie-campus-") as tmp:
        folder = Path(tmp)
        influx = InfluxServer(folder / "influx")
        broker = MosquittoServer(folder / "mosquitto")
        influx.start()
        broker.start()
        try:
            influx.query(f'CREATE DATABASE "{DATABASE}"')
            note(f"generating {args.rooms} rooms")
            site = make_site(folder / "site", args.rooms, ("127.0.0.1", broker.port), influx.url)
            note("starting the emulators")
            emu_args = ("emulate", str(site), str(args.speed), "127.0.0.1", str(broker.port))
            with child(*emu_args) as emu:
                started = _line(emu, "emulator")
                (folder / "endpoints.json").write_text(json.dumps(started["endpoints"]))
                emu_cpu0 = sum(psutil.Process(emu.pid).cpu_times()[:2])
                note(f"{len(started['endpoints'])} buses emulated; starting the controller")
                (folder / "data").mkdir()
                ctl_args = (
                    "control",
                    str(site),
                    str(folder / "endpoints.json"),
                    str(args.speed),
                    str(args.seconds),
                    str(folder / "data"),
                )
                with child(*ctl_args) as ctl:
                    ready = _line(ctl, "controller")
                    note(f"controller ready; running {args.seconds} emulated s")
                    figures, pages = asyncio.run(watch(ctl, ready, args.web_every))
                emu_cpu = sum(psutil.Process(emu.pid).cpu_times()[:2]) - emu_cpu0
                assert emu.stdin is not None
                emu.stdin.close()
                line = _line(emu, "emulator")["line"]
        finally:
            broker.stop()
            influx.stop()
    buses = summarise(figures, line, args.speed)
    return {
        "rooms": args.rooms,
        "campus_start": args.at,
        "event_loop": args.loop,
        "mqtt_devices": started["mqtt_devices"],
        "emulated_s": args.seconds,
        "speed": args.speed,
        **figures,
        "buses": buses,
        "web_overview_ms": {**_spread(pages), "samples": len(pages)},
        "emulator_cpu_s": emu_cpu,
        "load_average": os.getloadavg(),
        "cpus": os.cpu_count(),
    }


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "emulate":
        emulate(sys.argv[2], float(sys.argv[3]), sys.argv[4], int(sys.argv[5]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "control":
        control(sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5]), sys.argv[6])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rooms", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=120.0, help="emulated period")
    parser.add_argument("--speed", type=float, default=1.0, help="emulated s per wall s")
    parser.add_argument("--web-every", type=float, default=2.0, help="wall s between pages")
    parser.add_argument(
        "--at",
        default=AT,
        help=f"campus local time the run starts at, or 'now' for the real clock (default {AT}:"
        " a teaching-day lunchtime, outside the curfew, so runs are alike whenever they run)",
    )
    parser.add_argument(
        "--loop",
        choices=["auto", "uvloop", "asyncio"],
        default="auto",
        help="the controller's event loop, as `sanjie run --loop` (auto: uvloop when installed)",
    )
    parser.add_argument(
        "--settle-max",
        type=float,
        default=SETTLE_MAX_S,
        help="longest wall wait for the policies' start-up commands before the window",
    )
    parser.add_argument(
        "--profile", type=Path, help="cProfile the controller process, top 60 into this file"
    )
    print(json.dumps(run(parser.parse_args()), indent=2, default=str))


if __name__ == "__main__":
    main()
