"""The command guard: may a command from someone else than the engine go out now?

``commands.send`` asks ``PolicyGuard.check`` about every command. A command that breaks a
running policy is refused, unless it comes from staff (``EngineSettings.override_sources``):
then it goes out and becomes a manual override of those policies on that device for
``manual_override_s``, stored and audited, so the engine does not undo it at the next
evaluation. The engine's own commands (source ``policy``) are never vetted.
"""

from __future__ import annotations

import logging
import uuid

from controller.core.entity import Entity
from controller.core.events import Value

from .context import EngineContext
from .overrides import Override

__all__ = ["PolicyGuard"]

_LOGGER = logging.getLogger(__name__)


class PolicyGuard:
    """A ``CommandGuard`` over the engine's current policies; counts what it refused."""

    def __init__(self, ctx: EngineContext) -> None:
        self._ctx = ctx
        self.refused = 0

    def check(self, entity: Entity, value: Value, actor: str, source: str) -> str | None:
        """Why the command is refused (each conflicting policy), or None to let it through."""
        if source == "policy":
            return None
        ctx = self._ctx
        try:
            conflicts = ctx.core.conflicts(ctx.clock.now(), entity.entity_id, value, ctx.states)
        except Exception:  # never break commands.send: let it through, complain loudly
            _LOGGER.exception("Policy guard failed on %s := %r", entity.entity_id, value)
            return None
        if not conflicts:
            return None
        if source in ctx.settings.override_sources:
            self._manual_override(entity, value, actor, [pid for pid, _ in conflicts])
            return None
        self.refused += 1
        return "; ".join(f"{why} (policy {pid})" for pid, why in conflicts)

    def _manual_override(
        self, entity: Entity, value: Value, actor: str, policies: list[str]
    ) -> None:
        ctx = self._ctx
        ts = ctx.clock.time()
        override = Override(
            id=uuid.uuid4().hex[:12],
            kind="manual",
            policies=frozenset(policies),
            devices=frozenset({entity.device_id}),
            reason=f"manual command {entity.entity_id} := {value!r}",
            actor=actor,
            created_at=ts,
            expires_at=ts + ctx.settings.manual_override_s,
            scope={"devices": [entity.device_id]},
            entity_id=entity.entity_id,
        )
        ctx.core.add_override(override)
        ctx.core.note_command(entity.entity_id, value, ts)
        ctx.store.save_override(override)
        ctx.journal.audit(
            actor, "override.manual", entity.device_id, override.reason, details=override.to_json()
        )
        ctx.journal.note("override", ts, entity.device_id, actor, override.reason)
        ctx.wake()
