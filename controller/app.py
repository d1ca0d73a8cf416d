"""The controller process: one site, one state core, and the components that run on it.

``Controller`` owns the registry, state store, event bus, command router and clock. Components
(driver integrations, recorder, policy engine, API) are added to it and run as named tasks in
one ``TaskGroup``, each under a ``Supervisor`` (``controller.supervise``): a component that
fails at run time is restarted with backoff while the others go on; an error at start-up still
stops them all and surfaces. Leaving the ``async with`` stops every component.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from typing import Any, Protocol, TypeVar, runtime_checkable

from controller.collector import long_lived
from controller.config import LoadedSite
from controller.core import Clock, EntityRegistry, EventBus, StateStore, SystemClock
from controller.core.commands import CommandRouter
from controller.gcfreeze import REFREEZE_AFTER_S, refreeze
from controller.redaction import register_secrets, site_secrets
from controller.supervise import SupervisionOptions, Supervisor

__all__ = ["Component", "Controller"]

_LOGGER = logging.getLogger(__name__)


@runtime_checkable
class Component(Protocol):
    """Something that runs inside the controller until cancelled."""

    name: str

    async def run(self) -> None:
        """Run until cancelled; clean up in ``finally``."""
        ...

    def status(self) -> dict[str, Any]:
        """Figures for the live view, metrics and the API (cheap to compute)."""
        ...


_C = TypeVar("_C")


class Controller:
    """The state core of one site plus its running components."""

    def __init__(
        self,
        site: LoadedSite,
        clock: Clock | None = None,
        *,
        supervision: SupervisionOptions | None = None,
        refreeze_after_s: Sequence[float] = REFREEZE_AFTER_S,
    ) -> None:
        self.site = site
        self.refreeze_after_s = tuple(refreeze_after_s)
        """Wall seconds after start at which what lasts is frozen again (``gcfreeze``)."""
        register_secrets(
            site_secrets(site.links) | site_secrets(site.sinks) | site_secrets(site.notify)
        )
        self.clock: Clock = clock or SystemClock(site.campus.timezone)
        self.registry = EntityRegistry.from_site(site)
        self.bus = EventBus()
        self.states = StateStore(self.registry, self.bus, self.clock)
        self.commands = CommandRouter(self.registry, self.bus, self.clock)
        self.supervision = supervision or SupervisionOptions()
        self.components: list[Component] = []
        self.supervisors: dict[str, Supervisor] = {}
        """Every supervised job by name: the components, and the jobs they supervise inside
        (one per Modbus bus)."""
        self._started = asyncio.Event()

    def add(self, component: Component) -> None:
        """Add a component; it starts (supervised) when ``running`` is entered.

        A component's ``device_ids`` (when it has them) are marked unavailable while it is down.
        """
        self.components.append(component)
        devices: Collection[str] = getattr(component, "device_ids", ())
        self.supervisor(component.name, component.run, devices)

    def supervisor(
        self, name: str, job: Callable[[], Awaitable[None]], devices: Collection[str] = ()
    ) -> Supervisor:
        """A supervisor for ``job`` (run by the caller), registered for ``health()``."""
        if name in self.supervisors:
            raise ValueError(f"two supervised jobs named {name!r}")
        supervisor = Supervisor(
            name,
            job,
            bus=self.bus,
            states=self.states,
            clock=self.clock,
            started=self._started,
            devices=devices,
            options=self.supervision,
        )
        self.supervisors[name] = supervisor
        return supervisor

    def find(self, kind: type[_C]) -> _C | None:
        """The component of ``kind`` (the first added), or None when this controller has none:
        pages and routes show what runs and say what does not."""
        return next((c for c in self.components if isinstance(c, kind)), None)

    def status(self) -> dict[str, dict[str, Any]]:
        return {c.name: c.status() for c in self.components}

    def health(self) -> dict[str, dict[str, Any]]:
        """Supervision figures per job: state, restarts, consecutive failures, last error."""
        return {name: s.status() for name, s in self.supervisors.items()}

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Controller]:
        """Run every component until the block exits; the bus closes last."""
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [
                    group.create_task(self.supervisors[c.name].run(), name=c.name)
                    for c in self.components
                ]
                # Let every component enter its ``run`` before the body can cancel it, so its
                # ``finally`` (the recorder's last flush, for one) always runs.
                await asyncio.sleep(0)
                # The site, registry and profiles live as long as the process: out of the
                # collector's sight, with full collections spaced out (controller/collector.py)
                # and what the first scans made frozen too (controller/gcfreeze.py).
                with long_lived():
                    if self.refreeze_after_s:
                        tasks.append(group.create_task(refreeze(self.refreeze_after_s), name="gc"))
                    self._started.set()
                    try:
                        yield self
                    finally:
                        for task in tasks:
                            task.cancel()
        finally:
            self.bus.close()
            _LOGGER.info("Controller for %s stopped", self.site.campus.id)

    async def wait_started(self) -> None:
        await self._started.wait()
