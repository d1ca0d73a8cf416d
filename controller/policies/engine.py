"""The policy engine as a controller component: readings in, commands and alarms out.

It feeds ``StateChanged`` events and scheduler wake-ups to the pure ``EngineCore``, carries
out its outcome (commands through ``controller.commands.send``, alarms on the bus, changes to
SQLite), vets every command other components send (``CommandGuard``), and offers staff
actions: overrides, lock-out and leak release, quota top-ups, policy edits, dry runs.

Time-based evaluations come from the scheduler (a cron job at every window edge, midnight for
days and months, a safety tick, and one job at the core's next deadline); event-based ones
from the bus. Everything runs on the controller's clock, so tests and the demo can move time.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
import uuid
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from controller.app import Controller
from controller.audit import AuditLog
from controller.calendar import SiteCalendar
from controller.core.bus import BusClosed, Overflow, Subscription
from controller.core.entity import Entity
from controller.core.events import (
    AlarmRaised,
    AvailabilityChanged,
    StateChanged,
    Value,
)
from controller.scheduler import CronTrigger, DateTrigger, Scheduler, every

from .alarms import ActiveAlarm
from .base import Policy
from .config import PolicyConfig, Scope, policy_adapter
from .core import EngineCore
from .dryrun import DryRunReport, HistoryReader, dry_run_history, dry_run_now
from .model import PlannedCommand
from .outcome import Outcome
from .overrides import Override
from .quota import Quota, QuotaBalance
from .scope import SiteIndex
from .settings import EngineSettings
from .store import PolicyStore
from .types import build_policy
from .valves import DelayValves, ValveStats

__all__ = ["PolicyEngine"]

_LOGGER = logging.getLogger(__name__)

_MAX_OVERRIDE_S = 180 * 86_400.0


class PolicyEngine:
    """Runs the site's policies; see the module docstring."""

    name = "policies"

    def __init__(
        self,
        controller: Controller,
        *,
        store_path: Path | str = "var/policies.sqlite3",
        audit: AuditLog | None = None,
        settings: EngineSettings | None = None,
        calendar: SiteCalendar | None = None,
    ) -> None:
        self.controller = controller
        self.clock = controller.clock
        self.settings = settings or EngineSettings()
        self.audit = audit
        self.calendar = calendar or SiteCalendar.from_site(controller.site)
        self.index = SiteIndex.from_site(controller.site)
        self.store = PolicyStore(store_path)
        stored = self.store.load()
        self.configs: dict[str, PolicyConfig] = {p.id: p for p in controller.site.policies}
        self.sources: dict[str, str] = dict.fromkeys(self.configs, "site")
        for edit in stored.policies:
            self._apply_stored_policy(edit.id, edit.config)
        self.core = EngineCore(self._bind(), self.settings, self.clock.time())
        for policy_id, unit, data in stored.memory:
            self.core.load_memory(policy_id, unit, data)
        for entity, data in stored.holds.items():
            if entity in controller.registry:
                self.core.load_hold(entity, data)
        for override in stored.overrides:
            self.core.overrides.add(override)
        for active in stored.alarms:
            self.core.load_alarm(active)
        self.scheduler = Scheduler(self.clock, name="policies.scheduler")
        self._wake = asyncio.Event()
        self._queue: asyncio.Queue[PlannedCommand] = asyncio.Queue()
        self._running = False
        self._deadline: float | None = None
        self.recent: deque[dict[str, Any]] = deque(maxlen=100)
        self.counters = {"evaluations": 0, "commands": 0, "failed": 0, "refused": 0}
        self.last_eval_ms = 0.0
        self._store_failing = False
        _LOGGER.info(
            "Policy engine: %d policies, %d units, %d overrides and %d alarms restored",
            len(self.core.policies),
            sum(len(p.units) for p in self.core.policies),
            len(stored.overrides),
            len(stored.alarms),
        )

    # ------------------------------------------------------------ policies

    def _apply_stored_policy(self, policy_id: str, data: dict[str, Any] | None) -> None:
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

    def _bind(self) -> list[Policy[Any, Any]]:
        return [
            build_policy(config, self.index, self.calendar)
            for config in self.configs.values()
            if config.enabled
        ]

    def _rebuild(self) -> None:
        self.core = self.core.successor(self._bind())
        self._install_jobs()
        self._wake.set()

    def policy(self, policy_id: str) -> Policy[Any, Any]:
        """A running policy; KeyError if there is none (unknown or disabled)."""
        for policy in self.core.policies:
            if policy.id == policy_id:
                return policy
        raise KeyError(policy_id)

    def upsert_policy(
        self, config: PolicyConfig | Mapping[str, Any], *, actor: str, reason: str
    ) -> PolicyConfig:
        """Create or replace a policy at run time (it survives restarts); audited.

        ``config`` may be raw data (pydantic's ValidationError if it is invalid).
        """
        _require(actor, reason)
        parsed = (
            config
            if not isinstance(config, Mapping)
            else policy_adapter().validate_python(dict(config))
        )
        old = self.configs.get(parsed.id)
        data = policy_adapter().dump_python(parsed, mode="json")
        self.store.save_policy(parsed.id, data, self.clock.time(), actor)
        self.configs[parsed.id] = parsed
        self.sources[parsed.id] = "runtime"
        self._audit(
            actor,
            "policy.update" if old else "policy.create",
            parsed.id,
            reason,
            details={
                "new": data,
                "old": None if old is None else policy_adapter().dump_python(old, mode="json"),
            },
        )
        self._rebuild()
        return parsed

    def delete_policy(self, policy_id: str, *, actor: str, reason: str) -> None:
        """Remove a policy (also one from the site file) until it is created again; audited."""
        _require(actor, reason)
        old = self.configs.get(policy_id)
        if old is None:
            raise KeyError(policy_id)
        self.store.save_policy(policy_id, None, self.clock.time(), actor)
        self.configs.pop(policy_id)
        self.sources[policy_id] = "deleted"
        self._audit(
            actor,
            "policy.delete",
            policy_id,
            reason,
            details={"old": policy_adapter().dump_python(old, mode="json")},
        )
        self._rebuild()

    def set_enabled(self, policy_id: str, enabled: bool, *, actor: str, reason: str) -> None:
        config = self.configs.get(policy_id)
        if config is None:
            raise KeyError(policy_id)
        self.upsert_policy(
            config.model_copy(update={"enabled": enabled}), actor=actor, reason=reason
        )

    def policies(self) -> list[dict[str, Any]]:
        """Every declared policy with where it comes from and how many units it drives."""
        units = {p.id: len(p.units) for p in self.core.policies}
        return [
            {
                "id": pid,
                "type": config.type,
                "enabled": config.enabled,
                "source": self.sources.get(pid, "site"),
                "units": units.get(pid, 0),
                "config": policy_adapter().dump_python(config, mode="json"),
            }
            for pid, config in self.configs.items()
        ]

    # ------------------------------------------------------------- run loop

    async def run(self) -> None:
        """Evaluate on readings and on time until cancelled."""
        bus = self.controller.bus
        sub = bus.subscribe(
            self.name,
            [StateChanged, AvailabilityChanged],
            maxsize=200_000,
            overflow=Overflow.DROP_OLDEST,
        )
        self.controller.commands.add_guard(self)
        self._install_jobs()
        self._wake.set()
        try:
            async with asyncio.TaskGroup() as group:
                self._running = True
                group.create_task(self._consume(sub), name="policies.events")
                group.create_task(self.scheduler.run(), name="policies.scheduler")
                group.create_task(self._evaluate_loop(), name="policies.evaluate")
                for n in range(self.settings.max_parallel_commands):
                    group.create_task(self._commander(), name=f"policies.commander-{n}")
        finally:
            self._running = False
            sub.close()
            self.controller.commands.remove_guard(self)

    def _install_jobs(self) -> None:
        """Cron jobs at every window edge, midnight and a safety tick."""
        for job in self.scheduler.jobs:
            if job.id.startswith("policies.edge."):
                self.scheduler.remove_job(job.id)
        edges: set[int] = {0}
        for policy in self.core.policies:
            edges |= policy.edges()
        tz = self.clock.tz
        for seconds in sorted(edges):
            hour, rest = divmod(seconds % 86_400, 3600)
            minute, second = divmod(rest, 60)
            self.scheduler.add_job(
                self._wake.set,
                CronTrigger(hour=hour, minute=minute, second=second, timezone=tz),
                id=f"policies.edge.{hour:02d}{minute:02d}{second:02d}",
            )
        if self.scheduler.get_job("policies.tick") is None:
            self.scheduler.add_job(
                self._wake.set, every(self.clock, self.settings.tick_s), id="policies.tick"
            )

    async def _consume(self, sub: Subscription) -> None:
        core = self.core
        dropped = 0
        while True:
            try:
                batch = await sub.get_batch(10_000)
            except BusClosed:
                return
            core = self.core
            for event in batch:
                if isinstance(event, StateChanged):
                    core.state_changed(event.entity_id, event.changed)
                elif isinstance(event, AvailabilityChanged):
                    core.device_changed(event.device_id)
            if sub.dropped != dropped:
                dropped = sub.dropped
                _LOGGER.warning("Policy engine lost readings: evaluating everything again")
                core.mark_all()
            self._wake.set()

    async def _evaluate_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            self.evaluate()
            if self.core.has_work():  # a sweep continues in chunks
                self._wake.set()
            await asyncio.sleep(0)  # let readings and command results in between evaluations

    def evaluate(self) -> Outcome:
        """Evaluate now and carry out the outcome (called by the loop; tests may call it)."""
        started = time.perf_counter()
        now = self.clock.now()
        outcome = self.core.evaluate(now, self.controller.states)
        self.counters["evaluations"] += 1
        self._carry_out(outcome, now.timestamp())
        self.last_eval_ms = (time.perf_counter() - started) * 1000
        self._schedule_deadline()
        return outcome

    def _schedule_deadline(self) -> None:
        deadline = self.core.next_deadline()
        if deadline == self._deadline:
            return
        self._deadline = deadline
        if deadline is None:
            self.scheduler.remove_job("policies.deadline")
            return
        when = dt.datetime.fromtimestamp(deadline, self.clock.tz)
        self.scheduler.add_job(self._wake.set, DateTrigger(run_date=when), id="policies.deadline")

    def _carry_out(self, out: Outcome, ts: float) -> None:
        self._persist(out, ts)
        for override in out.expired:
            self._audit("system", "override.expire", _override_target(override), override.reason)
        for active in out.raised:
            alarm = active.alarm
            self.controller.bus.publish(
                AlarmRaised(
                    alarm.key,
                    alarm.severity,
                    alarm.message_zh,
                    alarm.message_en,
                    active.raised_at,
                    alarm.entity_id,
                    dict(alarm.evidence),
                )
            )
            target = alarm.entity_id or alarm.key
            self._note("alarm", ts, target, alarm.severity, alarm.message_en)
        for active in out.cleared:
            alarm = active.alarm
            self._audit("system", "alarm.clear", alarm.entity_id or alarm.key, alarm.message_en)
            self._note(
                "cleared", ts, alarm.entity_id or alarm.key, alarm.severity, alarm.message_en
            )
        for command in out.commands:
            self._start(command)

    def _persist(self, out: Outcome, ts: float) -> None:
        try:
            self.store.save(ts, memory=out.memory, holds=out.holds, alarms=out.raised + out.cleared)
            for override in out.expired:
                self.store.end_override(override.id, ts, "system", "expired")
        except Exception:  # the disk is full or gone: keep controlling, complain once
            if not self._store_failing:
                self._store_failing = True
                _LOGGER.exception("Policy store %s cannot be written", self.store.path)
            return
        if self._store_failing:
            self._store_failing = False
            _LOGGER.info("Policy store %s writable again", self.store.path)

    def _start(self, command: PlannedCommand) -> None:
        if not self._running:  # evaluated outside run(): nothing can send it
            self.core.command_done(command, False, self.clock.time())
            return
        self._queue.put_nowait(command)

    async def _commander(self) -> None:
        """One of ``max_parallel_commands`` workers sending planned commands in turn."""
        while True:
            command = await self._queue.get()
            try:
                await self._execute(command)
            finally:
                self._queue.task_done()

    async def _execute(self, command: PlannedCommand) -> None:
        result = await self.controller.commands.send(
            command.command_entity,
            command.value,
            actor=f"policy:{command.policy_id}",
            reason=command.reason,
            source="policy",
        )
        ts = self.clock.time()
        self.core.command_done(command, result.ok, ts)
        self.counters["commands"] += 1
        if not result.ok:
            self.counters["failed"] += 1
        text = command.reason if result.ok else f"FAILED {result.error} ({command.reason})"
        self._note("command", ts, command.command_entity, command.value, text)
        self._wake.set()

    def _note(self, kind: str, ts: float, target: str, value: Any, text: str) -> None:
        """Remember an action for the live view (the audit log has the full record)."""
        # The value as text: metrics turn numeric leaves of status() into gauges.
        self.recent.append(
            {"ts": ts, "kind": kind, "target": target, "value": str(value), "text": text}
        )

    def _audit(
        self,
        actor: str,
        action: str,
        target: str,
        reason: str,
        *,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        if self.audit is not None:
            self.audit.record(
                actor, action, target, reason=reason, source="policies", details=details
            )

    # ----------------------------------------------------------------- guard

    def check(self, entity: Entity, value: Value, actor: str, source: str) -> str | None:
        """``CommandGuard``: refuse commands that break a policy, unless staff override."""
        if source == "policy":
            return None
        now = self.clock.now()
        try:
            conflicts = self.core.conflicts(now, entity.entity_id, value, self.controller.states)
        except Exception:  # never break commands.send: let it through, complain loudly
            _LOGGER.exception("Policy guard failed on %s := %r", entity.entity_id, value)
            return None
        if not conflicts:
            return None
        if source in self.settings.override_sources:
            self._manual_override(entity, value, actor, [pid for pid, _ in conflicts])
            return None
        self.counters["refused"] += 1
        return "; ".join(f"{why} (policy {pid})" for pid, why in conflicts)

    def _manual_override(
        self, entity: Entity, value: Value, actor: str, policies: list[str]
    ) -> None:
        ts = self.clock.time()
        override = Override(
            id=uuid.uuid4().hex[:12],
            kind="manual",
            policies=frozenset(policies),
            devices=frozenset({entity.device_id}),
            reason=f"manual command {entity.entity_id} := {value!r}",
            actor=actor,
            created_at=ts,
            expires_at=ts + self.settings.manual_override_s,
            scope={"devices": [entity.device_id]},
            entity_id=entity.entity_id,
        )
        self.core.add_override(override)
        self.core.note_command(entity.entity_id, value, ts)
        self.store.save_override(override)
        self._audit(
            actor,
            "override.manual",
            entity.device_id,
            override.reason,
            details=override.to_json(),
        )
        self._note("override", ts, entity.device_id, actor, override.reason)
        self._wake.set()

    # ---------------------------------------------------------- staff actions

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
        """Exempt the devices in ``scope`` from ``policy_id`` (None: all) until a time; audited."""
        _require(actor, reason)
        ts = self.clock.time()
        expires = until if until is not None else ts + (duration_s or 0)
        if not ts < expires <= ts + _MAX_OVERRIDE_S:
            raise ValueError("an override must end in the future, within 180 days")
        if policy_id is not None and policy_id not in self.configs:
            raise KeyError(policy_id)
        parsed = scope if isinstance(scope, Scope) else Scope.model_validate(dict(scope))
        devices = frozenset(d.id for d in self.index.select(parsed))
        if not devices:
            raise ValueError("the scope matches no device")
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
        self.core.add_override(override)
        self.store.save_override(override)
        self._audit(
            actor, "override.grant", _override_target(override), reason, details=override.to_json()
        )
        self._note("override", ts, _override_target(override), actor, reason)
        self._wake.set()
        return override

    def end_override(self, override_id: str, *, actor: str, reason: str) -> Override:
        """End an override early; KeyError if it is not active."""
        _require(actor, reason)
        override = self.core.end_override(override_id)
        if override is None:
            raise KeyError(override_id)
        ts = self.clock.time()
        self.store.end_override(override_id, ts, actor, reason)
        self._audit(actor, "override.end", _override_target(override), reason)
        self._wake.set()
        return override

    def overrides(self) -> list[Override]:
        return self.core.overrides.active()

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
        _require(actor, reason)
        released = 0
        for ref in self.core.find_units(target, policy_id):
            policy = self.core.policies[ref[0]]
            unit = policy.units[ref[1]]
            memory = self.core.memory_of(ref)
            new = policy.release(unit, memory, what)
            if new is not memory:
                self.core.set_memory(ref, new)
                released += 1
                self._audit(
                    actor, f"release.{what}", unit.key, reason, details={"policy": policy.id}
                )
        if released:
            self._wake.set()
        return released

    def top_up(
        self, policy_id: str, room: str, amount: float, *, actor: str, reason: str
    ) -> QuotaBalance:
        """Add ``amount`` (kWh or m³) to a room's allowance this period; audited."""
        _require(actor, reason)
        if not amount > 0:
            raise ValueError("a top-up must be positive")
        policy = self.policy(policy_id)
        if not isinstance(policy, Quota):
            raise TypeError(f"policy {policy_id} is not a quota")
        ui = policy.unit_index.get(room)
        if ui is None:
            raise KeyError(room)
        ref = (self.core.policies.index(policy), ui)
        now = self.clock.now()
        tick = self.core.tick(policy, now)
        self.core.set_memory(ref, policy.top_up(tick, self.core.memory_of(ref), amount))
        self._audit(
            actor, "quota.top_up", room, reason, details={"policy": policy_id, "amount": amount}
        )
        self._wake.set()
        unit = policy.units[ui]
        return policy.balance(tick, unit, self.controller.states, self.core.memory_of(ref))

    def acknowledge(self, alarm_key: str, *, actor: str) -> ActiveAlarm:
        """Mark an active alarm as seen by ``actor``; KeyError if it is not active."""
        active = self.core.alarms[alarm_key]
        active.acked_by, active.acked_at = actor, self.clock.time()
        self.store.save(self.clock.time(), alarms=[active])
        self._audit(
            actor, "alarm.ack", active.alarm.entity_id or alarm_key, active.alarm.message_en
        )
        return active

    # --------------------------------------------------------------- queries

    def quota_balances(
        self, policy_id: str | None = None, room: str | None = None
    ) -> list[QuotaBalance]:
        now = self.clock.now()
        out = []
        for policy, unit, memory in self.core.units(policy_id):
            if isinstance(policy, Quota) and (room is None or unit.key == room):
                tick = self.core.tick(policy, now)
                out.append(policy.balance(tick, unit, self.controller.states, memory))
        return out

    def valve_stats(self, policy_id: str | None = None) -> list[ValveStats]:
        now = self.clock.now()
        out = []
        for policy, unit, memory in self.core.units(policy_id):
            if isinstance(policy, DelayValves):
                tick = self.core.tick(policy, now)
                out.append(policy.stats(tick, unit, self.controller.states, memory))
        return out

    def active_alarms(self) -> list[ActiveAlarm]:
        return sorted(self.core.alarms.values(), key=lambda a: a.raised_at, reverse=True)

    def alarm_history(self, limit: int = 100) -> list[ActiveAlarm]:
        return self.store.alarm_history(limit)

    def dry_run(self, config: PolicyConfig | Mapping[str, Any]) -> DryRunReport:
        """What a new or edited policy would do right now (nothing is sent)."""
        parsed = (
            config
            if not isinstance(config, Mapping)
            else policy_adapter().validate_python(dict(config))
        )
        policy = build_policy(parsed, self.index, self.calendar)
        memory = self._live_memory(policy)
        return dry_run_now(
            policy,
            self.clock.now(),
            self.controller.states,
            memory=memory,
            settings=self.settings,
            started=self.core.started,
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
        parsed = (
            config
            if not isinstance(config, Mapping)
            else policy_adapter().validate_python(dict(config))
        )
        policy = build_policy(parsed, self.index, self.calendar)
        return await dry_run_history(
            policy, reader, self.index, start, end, step_s=step_s, settings=self.settings
        )

    def _live_memory(self, policy: Policy[Any, Any]) -> dict[str, Any]:
        """Memory of the running policy with the same id and type (an edit keeps baselines)."""
        live = self.core.units(policy.id)
        if not live or type(live[0][0]) is not type(policy):
            return {}
        return {unit.key: memory for _, unit, memory in live if memory is not None}

    def status(self) -> dict[str, Any]:
        """Figures for the live view and the API: counts, recent actions and active alarms.

        ``actions`` and ``alarms`` are dicts of dicts (newest first), which the live view
        shows as tables.
        """
        alarms = self.active_alarms()
        return {
            "policies": len(self.core.policies),
            "units": sum(len(p.units) for p in self.core.policies),
            "holds": len(self.core.holds()),
            "overrides": len(self.core.overrides),
            "active_alarms": len(alarms),
            "last_eval_ms": round(self.last_eval_ms, 3),
            "queued_commands": self._queue.qsize(),
            "decide_failures": sum(self.core.failures.values()),
            **self.counters,
            **self.core.device_change_status(),
            "actions": {
                f"{self._local(n['ts'])} #{i}": {k: v for k, v in n.items() if k != "ts"}
                for i, n in reversed(list(enumerate(self.recent)))
                if i >= len(self.recent) - 8
            },
            "alarms": {
                a.alarm.key: {
                    "severity": a.alarm.severity,
                    "since": self._local(a.raised_at),
                    "text": a.alarm.message_en,
                }
                for a in alarms[:8]
            },
        }

    def _local(self, ts: float) -> str:
        return dt.datetime.fromtimestamp(ts, self.clock.tz).strftime("%m-%d %H:%M:%S")

    def close(self) -> None:
        """Close the store (after ``run`` has ended)."""
        self.store.close()


def _require(actor: str, reason: str) -> None:
    if not actor.strip():
        raise ValueError("who is acting (actor) is required")
    if not reason.strip():
        raise ValueError("a reason is required")


def _override_target(override: Override) -> str:
    devices = sorted(override.devices)
    return devices[0] if len(devices) == 1 else f"{len(devices)} devices"
