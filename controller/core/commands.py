"""Commands from staff, policies and the API to devices, routed to the driver that owns them.

Every command ends in a ``CommandCompleted`` event (confirmed, refused or failed), which the
audit log records; callers get the same result back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from .bus import EventBus
from .clock import Clock
from .events import CommandCompleted, Value
from .registry import EntityRegistry

__all__ = ["CommandError", "CommandHandler", "CommandResult", "CommandRouter"]

_LOGGER = logging.getLogger(__name__)


class CommandError(Exception):
    """A device refused or did not confirm a command. ``reason`` is for people."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class CommandHandler(Protocol):
    """What a driver integration offers: write a point and confirm it by reading it back."""

    async def write(self, device_id: str, point_key: str, value: Value) -> Value:
        """Return the read-back value once confirmed; raise CommandError otherwise."""
        ...


@dataclass(frozen=True, slots=True)
class CommandResult:
    entity_id: str
    value: Value
    ok: bool
    confirmed_value: Value = None
    error: str | None = None


class CommandRouter:
    """Finds the handler of a device and reports every outcome on the bus."""

    def __init__(self, registry: EntityRegistry, bus: EventBus, clock: Clock) -> None:
        self.registry = registry
        self.bus = bus
        self.clock = clock
        self._handlers: dict[str, CommandHandler] = {}

    def register(self, device_id: str, handler: CommandHandler) -> None:
        self._handlers[device_id] = handler

    async def send(
        self,
        entity_id: str,
        value: Value,
        *,
        actor: str = "system",
        reason: str = "",
        source: str = "manual",
    ) -> CommandResult:
        """Write ``value`` to ``entity_id``; never raises for device-side failures."""
        entity = self.registry.get(entity_id)
        error: str | None = None
        confirmed: Value = None
        if entity is None:
            error = f"unknown entity {entity_id}"
        elif not entity.writable:
            error = f"{entity_id} is not writable"
        elif (handler := self._handlers.get(entity.device_id)) is None:
            error = f"no driver handles device {entity.device_id}"
        else:
            try:
                confirmed = await handler.write(entity.device_id, entity.point_key, value)
            except CommandError as err:
                error = err.reason
        ok = error is None
        if not ok:
            _LOGGER.warning("Command %s := %r by %s failed: %s", entity_id, value, actor, error)
        self.bus.publish(
            CommandCompleted(entity_id, value, ok, actor, reason, self.clock.time(), error, source)
        )
        return CommandResult(entity_id, value, ok, confirmed, error)
