"""Staff actions on the running policies: overrides, releases, quota top-ups, alarm acks.

A Python API for every caller that acts for a person or a system, not only the HTTP routes:
the web app, billing (a paid top-up) and the alarm desk (an acknowledgement) call these
methods directly. Each takes the acting account (``actor``, e.g. ``staff:li`` or
``billing:card``) explicitly, is stored where it must survive a restart, is audited, and
raises only ``PolicyError``s (``NotFound``, ``Invalid``, ``Refused``) for a caller's mistake.
Call from the event loop's thread: the engine and its SQLite store belong to it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from controller.config.policies import Scope

from .admin import PolicyAdmin
from .alarms import ActiveAlarm
from .context import EngineContext
from .errors import Invalid, NotFound, Refused
from .journal import override_target, require
from .overrides import Override
from .quota import Quota, QuotaBalance

__all__ = ["MAX_OVERRIDE_S", "StaffActions"]

MAX_OVERRIDE_S = 180 * 86_400.0
"""The longest exemption staff can grant at once (half a year: a term)."""


class StaffActions:
    """What staff may do to the running engine; see the module docstring."""

    def __init__(self, ctx: EngineContext, admin: PolicyAdmin) -> None:
        """``admin`` knows which policies are declared (a disabled one can be exempted)."""
        self._ctx = ctx
        self._admin = admin

    def grant_override(
        self,
        scope: Scope | Mapping[str, Any],
        *,
        actor: str,
        reason: str,
        policy_id: str | None = None,
        until: float | None = None,
        duration_s: float | None = None,
    ) -> Override:
        """Exempt the devices in ``scope`` from ``policy_id`` (None: all) until a time.

        ``until`` (epoch seconds) or ``duration_s`` from now, within 180 days. ``policy_id``
        must be declared (it may be disabled: the exemption then waits for it).
        """
        require(actor, reason)
        ctx = self._ctx
        ts = ctx.clock.time()
        expires = until if until is not None else ts + (duration_s or 0)
        if not ts < expires <= ts + MAX_OVERRIDE_S:
            field = "until" if until is not None else "duration_s"
            raise Invalid(field, "an override must end in the future, within 180 days")
        if policy_id is not None:
            self._admin.config(policy_id)  # NotFound unless declared
        parsed = _scope(scope)
        devices = frozenset(d.id for d in ctx.index.select(parsed))
        if not devices:
            raise Invalid("scope", "the scope matches no device")
        override = Override(
            id=uuid.uuid4().hex[:12],
            kind="exemption",
            policies=None if policy_id is None else frozenset({policy_id}),
            devices=devices,
            reason=reason,
            actor=actor,
            created_at=ts,
            expires_at=expires,
            scope=parsed.model_dump(mode="json", exclude_defaults=True),
        )
        ctx.core.add_override(override)
        ctx.store.save_override(override)
        target = override_target(override)
        ctx.journal.audit(actor, "override.grant", target, reason, details=override.to_json())
        ctx.journal.note("override", ts, target, actor, reason)
        ctx.wake()
        return override

    def end_override(self, override_id: str, *, actor: str, reason: str) -> Override:
        """End an active override early (``NotFound`` if it is not active)."""
        require(actor, reason)
        ctx = self._ctx
        override = ctx.core.end_override(override_id)
        if override is None:
            raise NotFound("override", override_id)
        ctx.store.end_override(override_id, ctx.clock.time(), actor, reason)
        ctx.journal.audit(actor, "override.end", override_target(override), reason)
        ctx.wake()
        return override

    def release(
        self,
        target: str,
        *,
        actor: str,
        reason: str,
        what: str = "all",
        policy_id: str | None = None,
    ) -> int:
        """Release latches (``lockout``, ``leak`` or ``all``) of a device or unit; audited.

        Returns how many units were released (0: nothing was latched).
        """
        require(actor, reason)
        if what not in ("lockout", "leak", "all"):
            raise Invalid("what", "is one of lockout, leak, all")
        core = self._ctx.core
        released = 0
        for ref in core.find_units(target, policy_id):
            policy = core.policies[ref[0]]
            unit = policy.units[ref[1]]
            memory = core.memory_of(ref)
            new = policy.release(unit, memory, what)
            if new is not memory:
                core.set_memory(ref, new)
                released += 1
                self._ctx.journal.audit(
                    actor, f"release.{what}", unit.key, reason, details={"policy": policy.id}
                )
        if released:
            self._ctx.wake()
        return released

    def top_up(
        self, policy_id: str, room: str, amount: float, *, actor: str, reason: str
    ) -> QuotaBalance:
        """Add ``amount`` (kWh or m³) to a room's allowance this period; the new balance.

        ``NotFound`` for an unknown policy or room, ``Invalid`` for a policy that is not a
        quota or an amount that is not positive, ``Refused`` while the quota is disabled.
        """
        require(actor, reason)
        if not amount > 0:
            raise Invalid("amount", "a top-up must be positive")
        ctx = self._ctx
        core = ctx.core
        self._admin.config(policy_id)  # NotFound unless declared
        policy = self._admin.running(policy_id)
        if policy is None:
            raise Refused(f"policy {policy_id} is disabled: enable it before a top-up")
        if not isinstance(policy, Quota):
            raise Invalid("policy_id", f"policy {policy_id} is not a quota")
        ui = policy.unit_index.get(room)
        if ui is None:
            raise NotFound("room", room)
        ref = (core.policies.index(policy), ui)
        tick = core.tick(policy, ctx.clock.now())
        core.set_memory(ref, policy.top_up(tick, core.memory_of(ref), amount))
        ctx.journal.audit(
            actor, "quota.top_up", room, reason, details={"policy": policy_id, "amount": amount}
        )
        ctx.wake()
        return policy.balance(tick, policy.units[ui], ctx.states, core.memory_of(ref))

    def acknowledge(self, alarm_key: str, *, actor: str) -> ActiveAlarm:
        """Mark an active alarm as seen by ``actor`` (``NotFound`` if it is not active)."""
        if not actor.strip():
            raise Invalid("actor", "who is acting (actor) is required")
        ctx = self._ctx
        active = ctx.core.alarms.get(alarm_key)
        if active is None:
            raise NotFound("alarm", alarm_key)
        active.acked_by, active.acked_at = actor, ctx.clock.time()
        ctx.store.save(ctx.clock.time(), alarms=[active])
        ctx.journal.audit(
            actor, "alarm.ack", active.alarm.entity_id or alarm_key, active.alarm.message_en
        )
        return active


def _scope(scope: Scope | Mapping[str, Any]) -> Scope:
    if isinstance(scope, Scope):
        return scope
    try:
        return Scope.model_validate(dict(scope))
    except ValidationError as err:
        raise Invalid.from_validation(err, "scope") from err
