"""Policy administration: create, edit, enable, disable and delete policies at run time.

The site file declares policies; staff edits are stored (they survive restarts, and override
the site file's declaration of the same id) and audited with the old and the new configuration.
Every change rebinds the policies and hands the running component a successor core, which keeps
what the old one knew (memories, holds, overrides, alarms).

A Python API for the web app as much as for the HTTP routes: every change takes the acting
account (``actor``) and a ``reason`` explicitly, and raises only ``PolicyError``s.
Call from the event loop's thread: the engine and its SQLite store belong to it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from controller.config.policies import PolicyConfig, policy_adapter

from .base import Policy
from .context import EngineContext
from .errors import Invalid, NotFound
from .journal import require
from .store import StoredPolicy
from .types import build_policy

__all__ = ["PolicyAdmin", "parse_policy"]

_LOGGER = logging.getLogger(__name__)


def parse_policy(config: PolicyConfig | Mapping[str, Any]) -> PolicyConfig:
    """A policy configuration from raw data (``Invalid`` with the field) or as given."""
    if not isinstance(config, Mapping):
        return config
    try:
        return policy_adapter().validate_python(dict(config))
    except ValidationError as err:
        raise Invalid.from_validation(err) from err


def _dump(config: PolicyConfig) -> dict[str, Any]:
    data: dict[str, Any] = policy_adapter().dump_python(config, mode="json")
    return data


class PolicyAdmin:
    """The declared policies (site file plus stored edits) and the changes staff make to them."""

    def __init__(
        self,
        ctx: EngineContext,
        declared: Iterable[PolicyConfig],
        stored: Iterable[StoredPolicy],
        *,
        on_change: Callable[[], None],
    ) -> None:
        """Restore stored edits over ``declared`` and bind them into ``ctx.core``.

        ``on_change`` is called after every later change (the running component reinstalls
        its scheduler jobs and evaluates).
        """
        self._ctx = ctx
        self._on_change = on_change
        self.configs: dict[str, PolicyConfig] = {p.id: p for p in declared}
        self.sources: dict[str, str] = dict.fromkeys(self.configs, "site")
        """Where each policy comes from: ``site``, ``runtime`` (a stored edit) or ``deleted``."""
        for edit in stored:
            self._restore(edit.id, edit.config)
        ctx.core = ctx.core.successor(self.bind())

    def _restore(self, policy_id: str, data: dict[str, Any] | None) -> None:
        if data is None:
            self.configs.pop(policy_id, None)
            self.sources[policy_id] = "deleted"
            return
        try:
            self.configs[policy_id] = policy_adapter().validate_python(data)
        except ValidationError as err:
            _LOGGER.error(  # noqa: TRY400 (the reason is the message; no traceback needed)
                "Stored policy %s is no longer valid and is ignored: %s", policy_id, err
            )
            return
        self.sources[policy_id] = "runtime"

    def bind(self) -> list[Policy[Any, Any]]:
        """The enabled policies bound to the site's devices and calendar."""
        return [
            build_policy(config, self._ctx.index, self._ctx.calendar)
            for config in self.configs.values()
            if config.enabled
        ]

    def _changed(self) -> None:
        self._ctx.core = self._ctx.core.successor(self.bind())
        self._on_change()

    def config(self, policy_id: str) -> PolicyConfig:
        """A declared policy's configuration, enabled or not (``NotFound`` otherwise)."""
        found = self.configs.get(policy_id)
        if found is None:
            raise NotFound("policy", policy_id)
        return found

    def running(self, policy_id: str) -> Policy[Any, Any] | None:
        """The bound policy with this id, or None when it is unknown or disabled."""
        for policy in self._ctx.core.policies:
            if policy.id == policy_id:
                return policy
        return None

    def declared(self) -> list[dict[str, Any]]:
        """Every declared policy with where it comes from and how many units it drives."""
        units = {p.id: len(p.units) for p in self._ctx.core.policies}
        return [
            {
                "id": pid,
                "type": config.type,
                "enabled": config.enabled,
                "source": self.sources.get(pid, "site"),
                "units": units.get(pid, 0),
                "config": _dump(config),
            }
            for pid, config in self.configs.items()
        ]

    def upsert(
        self, config: PolicyConfig | Mapping[str, Any], *, actor: str, reason: str
    ) -> PolicyConfig:
        """Create or replace a policy (raw data is validated: ``Invalid``); stored, audited."""
        require(actor, reason)
        parsed = parse_policy(config)
        old = self.configs.get(parsed.id)
        data = _dump(parsed)
        self._ctx.store.save_policy(parsed.id, data, self._ctx.clock.time(), actor)
        self.configs[parsed.id] = parsed
        self.sources[parsed.id] = "runtime"
        self._ctx.journal.audit(
            actor,
            "policy.update" if old else "policy.create",
            parsed.id,
            reason,
            details={"new": data, "old": None if old is None else _dump(old)},
        )
        self._changed()
        return parsed

    def delete(self, policy_id: str, *, actor: str, reason: str) -> None:
        """Remove a policy (also one from the site file) until it is created again; audited."""
        require(actor, reason)
        old = self.config(policy_id)
        self._ctx.store.save_policy(policy_id, None, self._ctx.clock.time(), actor)
        self.configs.pop(policy_id)
        self.sources[policy_id] = "deleted"
        self._ctx.journal.audit(
            actor, "policy.delete", policy_id, reason, details={"old": _dump(old)}
        )
        self._changed()

    def set_enabled(self, policy_id: str, enabled: bool, *, actor: str, reason: str) -> None:
        """Enable or disable a declared policy (a stored, audited edit of ``enabled``)."""
        config = self.config(policy_id)
        self.upsert(config.model_copy(update={"enabled": enabled}), actor=actor, reason=reason)
