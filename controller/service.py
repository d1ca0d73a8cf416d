"""``sanjie run``: the controller of a real site, the way a service manager runs it.

The components ``controller.assemble.build_controller`` builds (the same as the demo's, without
emulators), on the wall clock: the Modbus and MQTT integrations (with a local broker for MQTT
links that name no host), the MQTT export, the recorder, the policy engine with its audit log,
the calendar watch and the HTTP API. State lives in SQLite files under
``<data_dir>/var`` (see docs/operations.md for backups). SIGTERM (systemd's stop) and Ctrl-C
end the components in order and close the files; SIGHUP re-reads the holidays file.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass
from pathlib import Path

from controller.app import Controller
from controller.assemble import ControllerOptions, build_controller
from controller.config import LoadedSite, load_site
from controller.core import Clock
from controller.eventloop import running_loop_name

__all__ = ["ServiceOptions", "run_service", "state_dir"]

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServiceOptions:
    """Where the site and the state files are, and where the API listens."""

    site: Path
    data_dir: Path = Path()
    api_host: str = "127.0.0.1"
    api_port: int = 8123
    clock: Clock | None = None
    """None: the wall clock. A ``ScaledClock`` for rehearsals and tests (``sanjie run
    --speed``, hidden: a real site runs on the wall clock)."""


def state_dir(data_dir: Path) -> Path:
    """The folder of the service's SQLite files: history, outbox, policies, audit."""
    return data_dir / "var"


async def run_service(
    options: ServiceOptions, stop: asyncio.Event | None = None, site: LoadedSite | None = None
) -> Controller:
    """Run until ``stop`` is set, SIGTERM arrives or the task is cancelled.

    ``site``: the already loaded ``options.site`` (a big campus takes a second to load).
    Raises ``ConfigError`` for an invalid site before anything starts.
    """
    site = site or load_site(options.site)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError):  # no signals off the main thread
        loop.add_signal_handler(signal.SIGTERM, stop.set)
    try:
        async with contextlib.AsyncExitStack() as stack:
            assembly = await build_controller(
                site,
                ControllerOptions(
                    data_dir=options.data_dir,
                    state_dir=state_dir(options.data_dir),
                    api_host=options.api_host,
                    api_port=options.api_port,
                ),
                stack,
                clock=options.clock,
            )
            controller = assembly.controller
            names = ", ".join(component.name for component in controller.components)
            _LOGGER.info(
                "Controller for %s starting on %s: %s", site.campus.id, running_loop_name(), names
            )
            async with controller.running():
                await stop.wait()
            _LOGGER.info("Controller for %s stopping", site.campus.id)
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signal.SIGTERM)
    return controller
