"""``sanjie demo``: the example campus, emulated on loopback, with the controller running on it.

The demo is a list of steps (``STEPS``), run in order before the controller starts. A step
gets the ``DemoRun`` and may start emulators or servers as async contexts on ``run.stack``
(closed after the controller stops, in reverse order), record where they listen in
``run.endpoints``, and add components with ``run.controller.add``. Each component's
``status()`` shows up in the live view by itself. To add a part (MQTT broker and devices,
recorder, policies), write a step and insert it in ``STEPS``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from controller.app import Controller
from controller.config import LoadedSite, load_site
from controller.core import ScaledClock

__all__ = ["STEPS", "DemoOptions", "DemoRun", "Step", "run_demo"]

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
    """What steps share: the options, site, clock, controller and the context stack."""

    options: DemoOptions
    site: LoadedSite
    clock: ScaledClock
    controller: Controller
    stack: contextlib.AsyncExitStack
    console: Console
    endpoints: dict[str, tuple[str, int]] = field(default_factory=dict)
    """Link id → (host, port) where an emulator serves it."""
    started: list[str] = field(default_factory=list)
    """One line per thing started, printed before the live view opens."""


Step = Callable[[DemoRun], Awaitable[None]]


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


async def modbus_integration(run: DemoRun) -> None:
    """The controller polling every Modbus link of the site."""
    from controller.integrations.modbus import ModbusIntegration

    integration = ModbusIntegration(run.controller, endpoints=run.endpoints)
    run.controller.add(integration)
    run.started.append(f"Modbus integration: {len(integration.pollers)} buses polled")


async def mqtt_devices(run: DemoRun) -> None:
    """The site's MQTT devices: a local broker when a link names none, emulators, the driver.

    One step because the broker decides the MQTT version the others must speak (amqtt, the
    fallback when mosquitto is missing, knows only 3.1.1).
    """
    from controller.broker import local_broker
    from controller.integrations.mqtt import mqtt_integrations, mqtt_links
    from emulators.mqtt import run_site

    links = mqtt_links(run.site)
    if not links:
        return
    broker = None
    if any(link.host is None for link in links):
        broker = await run.stack.enter_async_context(local_broker())
        run.started.append(f"MQTT broker: {broker}")
    integrations = mqtt_integrations(
        run.controller,
        host=broker.host if broker else None,
        port=broker.port if broker else None,
        protocol=broker.protocol if broker else None,
    )
    for link, integration in zip(links, integrations, strict=True):
        if link.host:
            address = (link.host, link.port)
        else:
            assert broker is not None
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
        run.controller.add(integration)
        run.started.append(
            f"MQTT devices: {len(emulated.devices)} emulated on {address[0]}:{address[1]}, "
            f"link {link.id} subscribed with {len(integration.driver.filters)} filters"
        )


async def recorder(run: DemoRun) -> None:
    """Readings and hourly consumption: into InfluxDB when the site configures one, else the
    embedded SQLite history, both kept in a temporary folder for this run."""
    import tempfile

    from controller.recorder import Recorder

    data = Path(run.stack.enter_context(tempfile.TemporaryDirectory(prefix="sanjie-demo-")))
    component = Recorder.from_site(run.controller, data_dir=data)
    run.controller.add(component)
    run.started.append(f"Recorder: {component.backend}, files in {data}")


async def policies(run: DemoRun) -> None:
    """The site's savings policies on the demo clock (curfews and windows play out at
    ``--speed``), with their state and audit log in a temporary folder for this run."""
    import tempfile

    from controller.audit import AuditLog
    from controller.calendar_watch import CalendarWatch
    from controller.policies.engine import PolicyEngine

    data = Path(run.stack.enter_context(tempfile.TemporaryDirectory(prefix="sanjie-policies-")))
    audit = AuditLog(data / "audit.sqlite3", run.clock, run.controller.bus)
    run.stack.callback(audit.close)
    engine = PolicyEngine(run.controller, store_path=data / "policies.sqlite3", audit=audit)
    run.stack.callback(engine.close)
    run.controller.add(audit)
    run.controller.add(engine)
    run.controller.add(CalendarWatch(run.controller, engine.ctx.calendar))
    units = sum(len(p.units) for p in engine.core.policies)
    run.started.append(
        f"Policies: {len(engine.core.policies)} policies on {units} units, audit log in {data}"
    )


async def api(run: DemoRun) -> None:
    """The HTTP API (what the web app and staff tools talk to) on 127.0.0.1."""
    import socket

    from controller.api import ApiServer

    port = run.options.api_port
    if port is None:
        return
    if run.options.free_ports:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
    server = ApiServer(run.controller, "127.0.0.1", port)
    run.controller.add(server)
    run.endpoints["api"] = ("127.0.0.1", port)
    run.started.append(f"API: http://127.0.0.1:{port}/docs (OpenAPI), /api/site, /api/metrics")


STEPS: list[Step] = [
    modbus_emulators,
    modbus_integration,
    mqtt_devices,
    recorder,
    policies,
    api,
]
"""In order. Emulators and servers before the integrations that connect to them."""


async def run_demo(options: DemoOptions, console: Console) -> Controller:
    """Run the demo until ``options.duration`` passes or the task is cancelled (Ctrl-C).

    Returns the controller (stopped) so callers and tests can inspect the final state.
    """
    from controller.liveview import LiveView

    site = load_site(options.site)
    clock = ScaledClock(options.speed, tz=site.campus.timezone)
    controller = Controller(site, clock)
    async with contextlib.AsyncExitStack() as stack:
        run = DemoRun(options, site, clock, controller, stack, console)
        for step in STEPS:
            await step(run)
        for line in run.started:
            console.print(f"[green]started[/green] {line}")
        view = LiveView(controller, speed=options.speed)
        drawn = None if options.headless else console
        async with controller.running():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(view.run(drawn, options.refresh), options.duration)
        if options.headless:
            console.print(view.render())
    return controller
