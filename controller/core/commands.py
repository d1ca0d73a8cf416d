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
from .entity import Entity
from .events import CommandCompleted, Value
from .registry import EntityRegistry

__all__ = ["CommandError", "CommandGuard", "CommandHandler", "CommandResult", "CommandRouter"]

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


class CommandGuard(Protocol):
    """Vets commands before they reach a driver (the policy engine refuses policy breaches)."""

    def check(self, entity: Entity, value: Value, actor: str, source: str) -> str | None:
        """Why the command is refused, or None to let it through."""
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
        self._guards: list[CommandGuard] = []

    def register(self, device_id: str, handler: CommandHandler) -> None:
        self._handlers[device_id] = handler

    def add_guard(self, guard: CommandGuard) -> None:
        """Ask ``guard`` about every command; the first refusal wins."""
        self._guards.append(guard)

    def remove_guard(self, guard: CommandGuard) -> None:
        if guard in self._guards:
            self._guards.remove(guard)

    def _refusal(self, entity: Entity, value: Value, actor: str, source: str) -> str | None:
        for guard in self._guards:
            refusal = guard.check(entity, value, actor, source)
            if refusal is not None:
                return refusal
        return None

    async def send(
        self,
        entity_id: str,
        value: Value,
        *,
        actor: str = "system",
        reason: str = "",
        source: str = "manual",
    ) -> CommandResult:
        """Write ``value`` to ``entity_id``; failures come back in the result, never raised.

        Refused (unknown or read-only entity, vetoed by a guard, no driver), unconfirmed
        (``CommandError``) and crashed handlers all end in a ``CommandCompleted`` with
        ``ok=False``. Cancellation propagates.
        """
        entity = self.registry.get(entity_id)
        error: str | None = None
        confirmed: Value = None
        if entity is None:
            error = f"unknown entity {entity_id}"
        elif not entity.writable:
            error = f"{entity_id} is not writable"
        elif (refusal := self._refusal(entity, value, actor, source)) is not None:
            error = refusal
        elif (handler := self._handlers.get(entity.device_id)) is None:
            error = f"no driver handles device {entity.device_id}"
        else:
            try:
                confirmed = await handler.write(entity.device_id, entity.point_key, value)
            except CommandError as err:
                error = err.reason
            except Exception as err:  # the boundary: a driver bug is a failed command
                _LOGGER.exception(
                    "Handler of %s failed on %s := %r", entity.device_id, entity_id, value
                )
                error = f"driver error: {type(err).__name__}: {err}"
        ok = error is None
        if not ok:
            _LOGGER.warning(
                "Command %s := %r by %s failed: %s",
                entity_id,
                value,
                actor,
                error,
                extra={"device": entity.device_id} if entity is not None else None,
            )
        self.bus.publish(
            CommandCompleted(entity_id, value, ok, actor, reason, self.clock.time(), error, source)
        )
        return CommandResult(entity_id, value, ok, confirmed, error)
