"""``sanjie run``: the controller of a real site, the way a service manager runs it.

Everything the demo runs except the emulators, on the wall clock: the Modbus and MQTT
integrations (with a local broker for MQTT links that name no host), the recorder, the policy
engine with its audit log, the calendar watch and the HTTP API. State lives in SQLite files
under ``<data_dir>/var`` (see docs/operations.md for backups). SIGTERM (systemd's stop) and
Ctrl-C end the components in order and close the files; SIGHUP re-reads the holidays file.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass
from pathlib import Path

from controller.app import Controller
from controller.config import LoadedSite, load_site

__all__ = ["ServiceOptions", "run_service", "state_dir"]

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServiceOptions:
    """Where the site and the state files are, and where the API listens."""

    site: Path
    data_dir: Path = Path()
    api_host: str = "127.0.0.1"
    api_port: int = 8123


def state_dir(data_dir: Path) -> Path:
    """The folder of the service's SQLite files: history, outbox, policies, audit."""
    return data_dir / "var"


async def _add_components(
    controller: Controller, options: ServiceOptions, stack: contextlib.AsyncExitStack
) -> None:
    from controller.api import ApiServer
    from controller.audit import AuditLog
    from controller.backup import hold_lock
    from controller.broker import local_broker
    from controller.calendar_watch import CalendarWatch
    from controller.core.files import private_dir
    from controller.integrations.modbus import ModbusIntegration
    from controller.integrations.mqtt import mqtt_integrations, mqtt_links
    from controller.integrations.mqtt_export import export_link, mqtt_export
    from controller.policies.engine import PolicyEngine
    from controller.recorder import Recorder

    var = private_dir(state_dir(options.data_dir))  # 0700: audit log, outbox, policies
    stack.enter_context(hold_lock(var))  # `sanjie restore` refuses to run under us
    controller.add(ModbusIntegration(controller))
    links = mqtt_links(controller.site)
    exported = export_link(controller.site)
    broker = None
    if any(link.host is None for link in links) or (exported and exported.host is None):
        broker = await stack.enter_async_context(local_broker())
        _LOGGER.info("Local MQTT broker for links without a host: %s", broker)
    for integration in mqtt_integrations(
        controller,
        host=broker.host if broker else None,
        port=broker.port if broker else None,
        protocol=broker.protocol if broker else None,
    ):
        controller.add(integration)
    export = mqtt_export(
        controller, host=broker.host if broker else None, port=broker.port if broker else None
    )
    if export is not None:
        controller.add(export)
    controller.add(Recorder.from_site(controller, data_dir=options.data_dir))
    audit = AuditLog(var / "audit.sqlite3", controller.clock, controller.bus)
    stack.callback(audit.close)
    engine = PolicyEngine(controller, store_path=var / "policies.sqlite3", audit=audit)
    stack.callback(engine.close)
    controller.add(audit)
    controller.add(engine)
    controller.add(CalendarWatch(controller, engine.ctx.calendar))
    controller.add(ApiServer(controller, options.api_host, options.api_port))


async def run_service(
    options: ServiceOptions, stop: asyncio.Event | None = None, site: LoadedSite | None = None
) -> Controller:
    """Run until ``stop`` is set, SIGTERM arrives or the task is cancelled.

    ``site``: the already loaded ``options.site`` (a big campus takes a second to load).
    Raises ``ConfigError`` for an invalid site before anything starts.
    """
    site = site or load_site(options.site)
    controller = Controller(site)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError):  # no signals off the main thread
        loop.add_signal_handler(signal.SIGTERM, stop.set)
    try:
        async with contextlib.AsyncExitStack() as stack:
            await _add_components(controller, options, stack)
            names = ", ".join(component.name for component in controller.components)
            _LOGGER.info("Controller for %s starting: %s", site.campus.id, names)
            async with controller.running():
                await stop.wait()
            _LOGGER.info("Controller for %s stopping", site.campus.id)
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signal.SIGTERM)
    return controller
