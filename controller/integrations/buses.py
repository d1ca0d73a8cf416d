"""What the polled-bus integrations share (Modbus; DL/T 645 and CJ/T 188): once their pollers
are built, the index of devices to buses, command registration and one supervisor per bus;
then, as the pollers' listener, readings into the state store under entity ids computed once,
availability, and confirmed writes with every driver failure turned into a ``CommandError``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from controller.app import Controller
from controller.core import Quality, entity_id
from controller.core.commands import CommandError
from controller.core.events import Value
from controller.supervise import Supervisor
from drivers.errors import DriverError
from drivers.link.readings import Reading

__all__ = ["PolledBuses", "bus_line", "bus_totals", "entity_ids_of"]


NO_DEVICE_ANSWERS = "connected (no device answers)"


def bus_line(bus: dict[str, Any]) -> dict[str, Any]:
    """A bus's status in one short line (the full dict is the poller's ``status()``).

    A gateway that accepts the connection while every meter behind it is silent (RS-485 side
    cut, gateway hung) is not "connected" to anyone who reads this line."""
    state = bus["state"]
    if state == "connected" and bus["devices"] and not bus["available"]:
        state = NO_DEVICE_ANSWERS
    return {
        "state": state,
        "online": f"{bus['available']}/{bus['devices']}",
        "requests": bus["requests"],
        "errors": sum(bus["errors"].values()),
        "timeouts": bus["timeouts"],
        "busy": f"{bus['utilisation']:.0%}",
        "cycle_s": bus["cycle_seconds"],
        "last_error": bus["last_error"],
    }


def bus_totals(buses: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The figures an integration's ``status()`` sums over its buses' ``status()`` dicts."""
    return {
        "links": len(buses),
        "links_connected": sum(1 for b in buses if b["state"] == "connected"),
        "devices": sum(b["devices"] for b in buses),
        "available": sum(b["available"] for b in buses),
        "requests": sum(b["requests"] for b in buses),
        "errors": sum(sum(b["errors"].values()) for b in buses),
        "timeouts": sum(b["timeouts"] for b in buses),
        "internal_errors": sum(b["internal_errors"] for b in buses),
    }


class _Poller(Protocol):
    """One bus's poller, as the integrations use it."""

    @property
    def devices(self) -> Mapping[str, Any]: ...

    async def run(self) -> None: ...

    async def write(self, device_id: str, key: str, value: Value, /) -> Value: ...


P = TypeVar("P", bound=_Poller)


def entity_ids_of(controller: Controller, device_id: str, keys: Iterable[str]) -> dict[str, str]:
    """Point key → entity id of a device's polled points, holding the registry's own id
    strings: a campus has half a million entities, and a second copy of each id is ~60 MB."""
    known = {e.point_key: e.entity_id for e in controller.registry.of_device(device_id)}
    return {key: known.get(key) or entity_id(device_id, key) for key in keys}


class PolledBuses(Generic[P]):
    """Base of an integration whose devices sit on polled buses.

    Subclasses build ``pollers`` (link id → poller, the integration itself as listener) and
    ``_entity_ids`` (device id → point key → entity id), then call ``_register``. ``what``
    names their devices in the error for a command to a device they do not poll.
    """

    what: ClassVar[str] = "device"
    controller: Controller
    pollers: Mapping[str, P]
    _entity_ids: dict[str, dict[str, str]]

    def _register(self, supervisor_name: Mapping[str, str]) -> None:
        """Index devices by bus, handle their commands, supervise each bus alone (a bus
        whose poll loop fails is restarted with its devices unavailable meanwhile, while the
        other buses keep polling). ``supervisor_name``: link id → the supervisor's name."""
        self._poller_of: dict[str, P] = {d: p for p in self.pollers.values() for d in p.devices}
        self.device_ids = tuple(self._poller_of)
        for device_id in self._poller_of:
            self.controller.commands.register(device_id, self)
        self._buses: dict[str, Supervisor] = {
            link_id: self.controller.supervisor(
                supervisor_name[link_id], poller.run, poller.devices
            )
            for link_id, poller in self.pollers.items()
        }

    # -- PollListener ---------------------------------------------------------------------
    def snapshot(self, device_id: str, readings: Sequence[Reading], timestamp: float) -> None:
        ids = self._entity_ids[device_id]
        good, bad = Quality.GOOD, Quality.BAD
        self.controller.states.set_many(
            [(ids[key], value, good if ok else bad) for key, value, ok in readings], timestamp
        )

    def availability(self, device_id: str, available: bool, reason: str) -> None:
        self.controller.states.set_available(device_id, available, reason)

    # -- CommandHandler -------------------------------------------------------------------
    async def write(self, device_id: str, point_key: str, value: Value) -> Value:
        """Write and confirm by read-back; every driver failure becomes a CommandError."""
        poller = self._poller_of.get(device_id)
        if poller is None:
            raise CommandError(f"{device_id} is not a {self.what} of this controller")
        try:
            return await poller.write(device_id, point_key, value)
        except DriverError as err:
            raise CommandError(str(err)) from err
