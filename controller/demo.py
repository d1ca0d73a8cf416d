"""``sanjie demo``: the example campus, emulated on loopback, with the controller running on it.

The controller is the one ``sanjie run`` runs: ``controller.assemble.build_controller`` builds
it, with the Modbus, DL/T 645 and CJ/T 188 links redirected to emulators, files in a temporary
folder and the demo's ``ScaledClock``. The demo only adds the emulators around it: every Modbus
device and meter before the controller is built (their endpoints replace the links'
addresses), the MQTT devices after
(they connect to the broker the assembly started for links without a host). Each component's
``status()`` shows up in the live view by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import tempfile
import threading
from asyncio import FIRST_COMPLETED
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from controller.app import Controller
from controller.assemble import Assembly, ControllerOptions, build_controller
from controller.config import LoadedSite, load_site
from controller.core import ScaledClock

__all__ = [
    "DemoOptions",
    "DemoRun",
    "meter_emulators",
    "modbus_emulators",
    "mqtt_emulators",
    "run_demo",
]

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoOptions:
    """``speed``: emulated seconds per wall second. ``duration``: wall seconds, then stop.

    ``free_ports``: emulators listen on free ports instead of the site's (two demos at once,
    tests). ``headless``: no live view; print the final state when done.
    """

    site: Path
    speed: float = 10.0
    duration: float | None = None
    seed: int = 0
    free_ports: bool = False
    headless: bool = False
    refresh: float = 0.5
    api_port: int | None = 8123
    """Where the HTTP API listens on 127.0.0.1; None: no API. With ``free_ports`` a free port."""


@dataclass
class DemoRun:
    """What the emulator steps share: the options, site, clock and the context stack."""

    options: DemoOptions
    site: LoadedSite
    clock: ScaledClock
    stack: contextlib.AsyncExitStack
    console: Console
    endpoints: dict[str, tuple[str, int]] = field(default_factory=dict)
    """Link id → (host, port) where an emulator serves it."""
    started: list[str] = field(default_factory=list)
    """One line per thing started, printed before the live view opens."""


async def modbus_emulators(run: DemoRun) -> None:
    """Every Modbus device of the site, emulated at RS-485 speed on its link's port."""
    from emulators.modbus import SiteEmulator

    emulator = SiteEmulator(
        run.site, run.clock, seed=run.options.seed, free_ports=run.options.free_ports
    )
    await run.stack.enter_async_context(emulator)
    for link_id, endpoint in emulator.endpoints.items():
        run.endpoints[link_id] = (endpoint.host, endpoint.port)
    run.started.append(
        f"Modbus emulators: {len(emulator.devices)} devices on {len(emulator.gateways)} "
        f"gateways, ports {min(e.port for e in emulator.endpoints.values())}–"
        f"{max(e.port for e in emulator.endpoints.values())}"
    )


async def meter_emulators(run: DemoRun) -> None:
    """Every DL/T 645 and CJ/T 188 meter of the site, emulated on its link's port (a serial
    link's meters on a pseudo-terminal)."""
    from emulators.meterbus.site import MeterSiteEmulator

    emulator = MeterSiteEmulator(
        run.site, run.clock, seed=run.options.seed, free_ports=run.options.free_ports
    )
    if not emulator.gateways:
        return
    await run.stack.enter_async_context(emulator)
    for link_id, endpoint in emulator.endpoints.items():
        run.endpoints[link_id] = (endpoint.host, endpoint.port)
    run.started.append(
        f"DL/T 645 and CJ/T 188 emulators: {len(emulator.devices)} meters on "
        f"{len(emulator.gateways)} buses"
    )


async def mqtt_emulators(run: DemoRun, assembly: Assembly) -> None:
    """The site's MQTT devices, emulated on the broker of their link (the demo's own local
    broker when the link names none)."""
    from emulators.mqtt import run_site

    for integration in assembly.mqtt:
        link = integration.link
        broker = assembly.brokers[link.id]  # every MQTT link with devices has one
        address = (broker.host, broker.port)
        emulated = await run.stack.enter_async_context(
            run_site(
                run.site,
                address[0],
                address[1],
                run.clock,
                seed=run.options.seed,
                device_ids=integration.device_ids,
                username=link.username,
                password=link.password,
            )
        )
        run.started.append(
            f"MQTT devices: {len(emulated.devices)} emulated on {address[0]}:{address[1]} "
            f"for link {link.id}"
        )


DEMO_ADMIN = "demo-admin"


def _demo_admin(assembly: Assembly) -> tuple[list[str], str]:
    """An admin account for this run, with a random password printed (and kept on the live
    view's second line): there is no default password, and the demo's accounts live in its
    temporary folder. The banner lines and the live view's line."""
    import secrets

    from controller.accounts import Role

    api = assembly.api
    if api is None or api.accounts is None:
        return [], ""
    password = secrets.token_urlsafe(12)
    api.accounts.add(DEMO_ADMIN, Role.ADMIN, password, display_name="演示管理员")
    url = f"http://{api.host}:{api.port}/"
    return (
        [f"Web app: {url} sign in as {DEMO_ADMIN} with password {password} (this run only)"],
        f"网页 Web {url}  {DEMO_ADMIN} / {password}",
    )


async def seed_month(assembly: Assembly, seed: int) -> None:
    """A month of made-up hourly consumption behind the demo's start (``demo_seed``), written
    through the recorder and marked as seeded; the live hours follow on from it."""
    from controller.calendar import SiteCalendar
    from controller.demo_seed import SEED_ID, SEED_NOTE, seeded_days
    from controller.recorder.stats import hour_start

    controller = assembly.controller
    clock = controller.clock
    calendar = SiteCalendar.from_site(controller.site)
    days = seeded_days(
        controller.registry,
        hour_start(clock.time(), clock.tz),
        clock.tz,
        seed=seed,
        workday=calendar.is_workday,
    )
    span = await assembly.recorder.seed_history(SEED_ID, days, SEED_NOTE)
    if span is not None:
        _LOGGER.info("Seeded %d hours of made-up consumption before the demo's start", span.rows)


def _relay_passwords(site: LoadedSite) -> int:
    """A random relay password for each DL/T 645 link the site gives none, shared by its
    emulated meters and the controller: without one the meters refuse the curfew's and
    billing's relay commands, and the site file keeps no default password. How many set."""
    import secrets

    from pydantic import SecretStr

    from controller.config.site import Dlt645Link

    made = 0
    for link_id, link in site.links.items():
        if isinstance(link, Dlt645Link) and link.relay_password is None:
            password = SecretStr(f"{secrets.randbelow(1_000_000):06d}")
            site.links[link_id] = link.model_copy(update={"relay_password": password})
            made += 1
    return made


STALE_WALL_S = 10.0
"""Wall seconds of silence before the demo's MQTT devices count as offline, whatever the speed."""


def _stale_windows(site: LoadedSite, speed: float) -> int:
    """Widen MQTT staleness windows to at least ``STALE_WALL_S`` of wall time. A window is
    counted on the emulated clock: at 600× a 120 s window is 0.2 s of wall time, and one slow
    event-loop turn on a busy laptop marked the shower valves offline. How many profiles changed."""
    from controller.config.site import MqttLink

    shortest: dict[str, float] = {}
    for device in site.devices.values():
        if not isinstance(site.links.get(device.link), MqttLink):
            continue
        interval = device.scan_interval or site.profiles[device.profile].mqtt.interval
        shortest[device.profile] = min(interval, shortest.get(device.profile, interval))
    changed = 0
    for profile_id, interval in shortest.items():
        options = site.profiles[profile_id].mqtt
        factor = STALE_WALL_S * speed / interval
        if options.stale_after < factor:
            site.profiles[profile_id] = site.profiles[profile_id].model_copy(
                update={"mqtt": options.model_copy(update={"stale_after": factor})}
            )
            changed += 1
    return changed


def _api_port(options: DemoOptions) -> int | None:
    if options.api_port is None or not options.free_ports:
        return options.api_port
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _until_stopped(work: Coroutine[Any, Any, None], duration: float | None) -> None:
    """Run ``work`` until ``duration`` passes or SIGHUP or SIGTERM arrives (a closed terminal,
    ``kill``): the same clean stop as Ctrl-C, so the local broker and emulators go too."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    handled: list[signal.Signals] = []
    # asyncio takes signal handlers in the main thread of a Unix process only (tests may run
    # the demo in a worker thread; Windows has no SIGHUP)
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "SIGHUP"):
        for sig in (signal.SIGHUP, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
            handled.append(sig)
    task = asyncio.ensure_future(work)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait([task, stopper], timeout=duration, return_when=FIRST_COMPLETED)
        if task.done():
            task.result()
        elif stop.is_set():
            _LOGGER.warning("Stopping the demo (signal received)")
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)
        for pending in (task, stopper):
            pending.cancel()
        await asyncio.gather(task, stopper, return_exceptions=True)


async def run_demo(options: DemoOptions, console: Console) -> Controller:
    """Run the demo until ``options.duration`` passes or the task is cancelled (Ctrl-C).

    Returns the controller (stopped) so callers and tests can inspect the final state.
    """
    from controller.liveview import LiveView

    site = load_site(options.site)
    _relay_passwords(site)
    _stale_windows(site, options.speed)
    clock = ScaledClock(options.speed, tz=site.campus.timezone)
    async with contextlib.AsyncExitStack() as stack:
        run = DemoRun(options, site, clock, stack, console)
        await modbus_emulators(run)
        await meter_emulators(run)
        data = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sanjie-demo-")))
        controller_options = ControllerOptions(
            data_dir=data,
            api_port=_api_port(options),
            modbus_endpoints=run.endpoints,
            meter_endpoints=run.endpoints,  # each integration picks its own links
            mqtt_free_ports=True,  # its own broker, apart from any `sanjie emulate` at 1883
        )
        assembly = await build_controller(site, controller_options, stack, clock=clock)
        await mqtt_emulators(run, assembly)
        run.started += assembly.describe()
        run.started.append(f"Files (history, policies, audit) in {data}")
        run.started.append(
            "History: a month of made-up hourly consumption before now is being seeded "
            "(marked seeded in the history, not measured)"
        )
        admin, banner = _demo_admin(assembly)
        run.started += admin
        for line in run.started:
            console.print(f"[green]started[/green] {line}")
        controller = assembly.controller
        view = LiveView(controller, speed=options.speed, banner=banner)
        drawn = None if options.headless else console
        async with controller.running():
            seeding = asyncio.create_task(seed_month(assembly, options.seed), name="demo.seed")
            try:
                await _until_stopped(view.run(drawn, options.refresh), options.duration)
            finally:
                seeding.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await seeding
        if options.headless:
            console.print(view.render())
    return controller
