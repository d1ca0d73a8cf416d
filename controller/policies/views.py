"""Read-only answers about the running policies: balances, valve figures, alarms, dry runs.

Nothing here changes the engine's state or sends a command, so any caller (the API, the web
app, reports) may ask at any time. A dry run binds a new or edited configuration and asks it
what it would do now, or would have done over a stretch of history.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from controller.config.policies import PolicyConfig

from .admin import parse_policy
from .alarms import ActiveAlarm
from .base import Policy
from .context import EngineContext
from .dryrun import DryRunReport, HistoryReader, dry_run_history, dry_run_now
from .overrides import Override
from .quota import Quota, QuotaBalance
from .types import build_policy
from .valves import DelayValves, ValveStats

__all__ = ["PolicyViews"]


class PolicyViews:
    """Queries over the engine's current core and store; see the module docstring."""

    def __init__(self, ctx: EngineContext) -> None:
        self._ctx = ctx

    def overrides(self) -> list[Override]:
        """Active overrides (exemptions and manual ones)."""
        return self._ctx.core.overrides.active()

    def quota_balances(
        self, policy_id: str | None = None, room: str | None = None
    ) -> list[QuotaBalance]:
        """This period's balance of every quota room (or those of one policy or room)."""
        ctx = self._ctx
        now = ctx.clock.now()
        out = []
        core = ctx.core
        units = (
            core.units(policy_id)
            if room is None  # one room: its units by key, not a walk over the campus's
            else [
                (core.policies[pi], core.policies[pi].units[ui], core.memory_of((pi, ui)))
                for pi, ui in core.find_units(room, policy_id)
            ]
        )
        for policy, unit, memory in units:
            if isinstance(policy, Quota) and (room is None or unit.key == room):
                tick = ctx.core.tick(policy, now)
                out.append(policy.balance(tick, unit, ctx.states, memory))
        return out

    def valve_stats(self, policy_id: str | None = None) -> list[ValveStats]:
        """Today's presses and litres per press of each delayed-closing valve."""
        ctx = self._ctx
        now = ctx.clock.now()
        out = []
        for policy, unit, memory in ctx.core.units(policy_id):
            if isinstance(policy, DelayValves):
                tick = ctx.core.tick(policy, now)
                out.append(policy.stats(tick, unit, ctx.states, memory))
        return out

    def active_alarms(self) -> list[ActiveAlarm]:
        """Active alarms, newest first."""
        return sorted(self._ctx.core.alarms.values(), key=lambda a: a.raised_at, reverse=True)

    def alarm_history(self, limit: int = 100) -> list[ActiveAlarm]:
        """Raised and cleared alarms from the store, newest first."""
        return self._ctx.store.alarm_history(limit)

    def dry_run(self, config: PolicyConfig | Mapping[str, Any]) -> DryRunReport:
        """What a new or edited policy would do right now (raw data: ``Invalid`` if bad)."""
        ctx = self._ctx
        policy = build_policy(parse_policy(config), ctx.index, ctx.calendar)
        return dry_run_now(
            policy,
            ctx.clock.now(),
            ctx.states,
            memory=self._live_memory(policy),
            settings=ctx.settings,
            started=ctx.core.started,
        )

    async def dry_run_history(
        self,
        config: PolicyConfig | Mapping[str, Any],
        reader: HistoryReader,
        start: dt.datetime,
        end: dt.datetime,
        *,
        step_s: float = 60.0,
    ) -> DryRunReport:
        """What a policy would have done from ``start`` to ``end``, replayed from history."""
        ctx = self._ctx
        policy = build_policy(parse_policy(config), ctx.index, ctx.calendar)
        return await dry_run_history(
            policy, reader, ctx.index, start, end, step_s=step_s, settings=ctx.settings
        )

    def _live_memory(self, policy: Policy[Any, Any]) -> dict[str, Any]:
        """Memory of the running policy with the same id and type (an edit keeps baselines)."""
        live = self._ctx.core.units(policy.id)
        if not live or type(live[0][0]) is not type(policy):
            return {}
        return {unit.key: memory for _, unit, memory in live if memory is not None}
