"""The decision engine: evaluate policies incrementally, arbitrate, plan commands. No I/O.

``EngineCore.evaluate(now, states)`` is a function of the time, the current states and the
engine's own state (unit memories, holds, overrides, command bookkeeping); it returns the
commands to send, the alarms raised and cleared, and what must be persisted. The async
``PolicyEngine`` feeds it readings and command results and carries out its outcome; dry runs
feed it history instead.

Incremental: a unit is decided again only when an entity it watches changes, when its own
wake-up time passes, when its policy's phase changes (a window opens, a month starts) or when
an override or a staff action touches it. A campus of 10,000 rooms thus costs little per tick.

Arbitration: each point may be wanted by several policies; the highest priority wins (a leak
closing a valve beats a supply window opening it). When the last want goes, the point is
restored to what it read before the engine first took hold of it, if the policy asked for that.

No flapping: one command in flight per point; at most one command per point every
``min_interval_s``; at most ``max_per_device_hour`` per device; a point switched on (off) is not
switched off (on) again within ``min_on_s`` (``min_off_s``) unless a safety policy demands it;
a confirmed command is not repeated until a newer reading contradicts it; failures retry with
exponential backoff and raise an alarm after ``alarm_after_failures`` attempts.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import logging
from collections import deque
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from controller.core.events import Value
from controller.core.values import is_on, same_value

from .base import Policy, Tick
from .model import Alarm, PlannedCommand, StateReader, Want, good_value
from .overrides import Override, OverrideBook

__all__ = ["ActiveAlarm", "EngineCore", "EngineSettings", "Outcome", "device_of"]

_LOGGER = logging.getLogger(__name__)

_UNSET: Hashable = object()
_HOUR = 3600.0

UnitRef = tuple[int, int]


def device_of(entity_id: str) -> str:
    """``dorm-1.101.elec.relay`` → ``dorm-1.101.elec`` (point keys have no dots)."""
    return entity_id.rpartition(".")[0]


@dataclass(frozen=True)
class EngineSettings:
    """Actuation limits and timings shared by all policies."""

    tick_s: float = 30.0
    min_interval_s: float = 10.0
    max_per_device_hour: int = 30
    min_on_s: float = 60.0
    min_off_s: float = 60.0
    settle_s: float = 120.0
    retry_base_s: float = 15.0
    retry_max_s: float = 900.0
    alarm_after_failures: int = 3
    manual_override_s: float = 3600.0
    override_sources: frozenset[str] = frozenset({"manual", "api"})
    """Command sources that are staff: against a policy they become a manual override.
    Commands from any other source (a student app, a card system) that break a policy are
    refused; the engine's own commands use source ``policy``."""
    safety_priority: int = 80
    max_parallel_commands: int = 16
    startup_grace_s: float = 120.0
    """After a start, readings trickle in: restores and clearing old alarms wait this long."""
    sweep_chunk: int = 5000
    """Units one evaluation decides when a whole policy is re-evaluated (a window opens): the
    rest follow in the next evaluations, so the event loop is never blocked for long."""


@dataclass(slots=True)
class ActiveAlarm:
    """An alarm with its lifecycle: raised, possibly acknowledged, cleared."""

    alarm: Alarm
    raised_at: float
    cleared_at: float | None = None
    acked_by: str | None = None
    acked_at: float | None = None

    def to_json(self) -> dict[str, Any]:
        a = self.alarm
        return {
            "key": a.key,
            "kind": a.kind,
            "severity": a.severity,
            "message_zh": a.message_zh,
            "message_en": a.message_en,
            "policy_id": a.policy_id,
            "entity_id": a.entity_id,
            "evidence": dict(a.evidence),
            "raised_at": self.raised_at,
            "cleared_at": self.cleared_at,
            "acked_by": self.acked_by,
            "acked_at": self.acked_at,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ActiveAlarm:
        alarm = Alarm(
            key=str(data["key"]),
            kind=str(data["kind"]),
            severity=data.get("severity", "warning"),
            message_zh=str(data.get("message_zh", "")),
            message_en=str(data.get("message_en", "")),
            policy_id=str(data.get("policy_id", "")),
            entity_id=data.get("entity_id"),
            evidence=dict(data.get("evidence") or {}),
        )
        return cls(
            alarm,
            float(data["raised_at"]),
            data.get("cleared_at"),
            data.get("acked_by"),
            data.get("acked_at"),
        )


@dataclass(slots=True)
class _Actuation:
    """What the engine knows about one point it drives."""

    entity_id: str
    held: bool = False
    pending_restore: bool = False
    restore: Value = None
    restore_command: Value = None
    restore_entity: str = ""
    restore_policy: str = ""
    in_flight: bool = False
    last_value: Value = None
    last_at: float = float("-inf")
    last_ok: bool = False
    failures: int = 0
    next_try: float = 0.0
    switch_on: bool | None = None
    switch_at: float = float("-inf")
    wake_at: float | None = None

    def persisted(self) -> dict[str, Any] | None:
        """What must survive a restart: a restore owed to this point."""
        if self.restore is None or not (self.held or self.pending_restore):
            return None
        return {
            "restore": self.restore,
            "restore_command": self.restore_command,
            "restore_entity": self.restore_entity,
            "policy": self.restore_policy,
            "pending": self.pending_restore,
        }


@dataclass(slots=True)
class Outcome:
    """The result of one evaluation."""

    commands: list[PlannedCommand] = field(default_factory=list)
    raised: list[ActiveAlarm] = field(default_factory=list)
    cleared: list[ActiveAlarm] = field(default_factory=list)
    memory: dict[tuple[str, str], dict[str, Any] | None] = field(default_factory=dict)
    holds: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    expired: list[Override] = field(default_factory=list)
    evaluated: int = 0

    @property
    def empty(self) -> bool:
        return not (
            self.commands
            or self.raised
            or self.cleared
            or self.memory
            or self.holds
            or self.expired
        )


def _winner(holders: dict[UnitRef, Want]) -> Want:
    best: Want | None = None
    best_key: tuple[int, int, int] = (0, 0, 0)
    for (pi, ui), want in holders.items():
        key = (want.priority, -pi, -ui)
        if best is None or key > best_key:
            best, best_key = want, key
    assert best is not None
    return best


class EngineCore:
    """Incremental evaluation of bound policies, with arbitration and command planning."""

    def __init__(
        self,
        policies: Sequence[Policy[Any, Any]],
        settings: EngineSettings | None = None,
        started: float = 0.0,
    ) -> None:
        self.policies = list(policies)
        self.settings = settings or EngineSettings()
        self.started = started
        self.overrides = OverrideBook()
        self.alarms: dict[str, ActiveAlarm] = {}
        self._index = {p.id: i for i, p in enumerate(self.policies)}
        self._memory: list[list[Any]] = [[None] * len(p.units) for p in self.policies]
        self._wants: list[list[tuple[Want, ...]]] = [[()] * len(p.units) for p in self.policies]
        self._unit_alarms: list[list[tuple[Alarm, ...]]] = [
            [()] * len(p.units) for p in self.policies
        ]
        self._wakes: list[list[float | None]] = [[None] * len(p.units) for p in self.policies]
        self._phases: list[Hashable] = [_UNSET] * len(self.policies)
        self._all_dirty = [True] * len(self.policies)
        self._cursor = [0] * len(self.policies)
        self._dirty: set[UnitRef] = set()
        self._watch: dict[str, list[UnitRef]] = {}
        self._by_device: dict[str, list[UnitRef]] = {}
        for pi, policy in enumerate(self.policies):
            for ui, unit in enumerate(policy.units):
                for entity in unit.watch:
                    self._watch.setdefault(entity, []).append((pi, ui))
                for device in unit.devices:
                    self._by_device.setdefault(device, []).append((pi, ui))
        self._holders: dict[str, dict[UnitRef, Want]] = {}
        self._command_targets: dict[str, str] = {}
        self._acts: dict[str, _Actuation] = {}
        self._dirty_acts: set[str] = set()
        self._device_cmds: dict[str, deque[float]] = {}
        self._heap: list[tuple[float, int, int, int, str]] = []
        self._seq = itertools.count()
        self._pending = Outcome()
        self._unconfirmed: set[str] = set()
        self._grace_end = started + self.settings.startup_grace_s
        self.evaluations = 0
        self.failures: dict[str, int] = {}
        """Failed decisions per policy id."""

    # ----------------------------------------------------------------- inputs

    def state_changed(self, entity_id: str, changed: bool = True) -> None:
        """A reading arrived; ``changed`` when its value, quality or availability differ."""
        if changed:
            refs = self._watch.get(entity_id)
            if refs:
                self._dirty.update(refs)
        if entity_id in self._acts:
            self._dirty_acts.add(entity_id)

    def device_changed(self, device_id: str) -> None:
        """A device went offline or came back: look at its units again."""
        self._dirty.update(self._by_device.get(device_id, ()))

    def mark_all(self) -> None:
        """Re-evaluate everything (after lost events or a configuration change)."""
        self._all_dirty = [True] * len(self.policies)
        self._cursor = [0] * len(self.policies)
        self._dirty_acts.update(self._acts)

    def touch_devices(self, devices: Sequence[str] | frozenset[str], policy_id: str | None) -> None:
        for device in devices:
            for pi, ui in self._by_device.get(device, ()):
                if policy_id is None or self.policies[pi].id == policy_id:
                    self._dirty.add((pi, ui))

    def add_override(self, override: Override) -> None:
        self.overrides.add(override)
        self.touch_devices(tuple(override.devices), None)

    def end_override(self, override_id: str) -> Override | None:
        override = self.overrides.remove(override_id)
        if override is not None:
            self.touch_devices(tuple(override.devices), None)
        return override

    def note_command(self, entity_id: str, value: Value, ts: float) -> None:
        """Someone else (staff) commanded a point we drive: wait for its reading first."""
        target = self._command_targets.get(entity_id, entity_id)
        act = self._acts.get(target)
        if act is not None:
            act.last_value, act.last_at, act.last_ok = value, ts, True
            self._dirty_acts.add(target)

    def command_done(self, command: PlannedCommand, ok: bool, ts: float) -> None:
        """A planned command finished (``ok``: confirmed by read-back)."""
        act = self._acts.get(command.entity_id)
        if act is None:
            return
        s = self.settings
        act.in_flight = False
        act.last_value, act.last_at, act.last_ok = command.value, ts, ok
        if ok:
            if act.failures:
                self._clear(f"command:{command.entity_id}", ts, self._pending)
            act.failures = 0
            act.next_try = 0.0
            on = is_on(command.value)
            if on is not None:
                act.switch_on, act.switch_at = on, ts
        else:
            act.failures += 1
            act.next_try = ts + min(s.retry_max_s, s.retry_base_s * 2 ** (act.failures - 1))
            if act.failures == s.alarm_after_failures:
                self._raise(self._command_alarm(command, act.failures), ts, self._pending)
        self._dirty_acts.add(command.entity_id)

    # --------------------------------------------------------------- restore

    def load_memory(self, policy_id: str, unit_key: str, data: dict[str, Any]) -> bool:
        """Restore a unit's memory from the store; False if the unit no longer exists."""
        pi = self._index.get(policy_id)
        if pi is None:
            return False
        policy = self.policies[pi]
        ui = policy.unit_index.get(unit_key)
        if ui is None:
            return False
        self._memory[pi][ui] = policy.decode(data)
        return True

    def load_hold(self, entity_id: str, data: dict[str, Any]) -> None:
        """A point the engine held (or owed a restore) before the restart."""
        act = self._acts.setdefault(entity_id, _Actuation(entity_id))
        act.pending_restore = bool(data.get("pending"))
        act.held = not act.pending_restore
        act.restore = data.get("restore")
        act.restore_command = data.get("restore_command", act.restore)
        act.restore_entity = str(data.get("restore_entity") or entity_id)
        act.restore_policy = str(data.get("policy", ""))
        self._dirty_acts.add(entity_id)

    def load_alarm(self, active: ActiveAlarm) -> None:
        """An alarm active before the restart: kept (not raised again) if still true."""
        self.alarms[active.alarm.key] = active
        self._unconfirmed.add(active.alarm.key)

    # -------------------------------------------------------------- evaluate

    def evaluate(self, now: dt.datetime, states: StateReader) -> Outcome:
        """Decide what changed since the last call; see the module docstring."""
        ts = now.timestamp()
        out, self._pending = self._pending, Outcome()
        self.evaluations += 1
        for override in self.overrides.expire(ts):
            out.expired.append(override)
            self.touch_devices(tuple(override.devices), None)
        ticks = []
        for pi, policy in enumerate(self.policies):
            phase = policy.phase(now)
            if phase != self._phases[pi]:
                self._phases[pi] = phase
                self._all_dirty[pi] = True
                self._cursor[pi] = 0
            ticks.append(Tick(now, ts, phase, self.started))
        self._pop_due(ts)
        budget = self.settings.sweep_chunk
        for pi, policy in enumerate(self.policies):
            if not self._all_dirty[pi] or budget <= 0:
                continue
            tick = ticks[pi]
            start = self._cursor[pi]
            stop = min(len(policy.units), start + budget)
            for ui in range(start, stop):
                self._apply((pi, ui), tick, states, out)
            budget -= stop - start
            out.evaluated += stop - start
            self._cursor[pi] = stop
            if stop >= len(policy.units):
                self._all_dirty[pi] = False
                self._cursor[pi] = 0
        dirty, self._dirty = self._dirty, set()
        for ref in dirty:
            self._apply(ref, ticks[ref[0]], states, out)
        out.evaluated += len(dirty)
        if self._unconfirmed and ts >= self._grace_end:
            for key in sorted(self._unconfirmed):
                self._clear(key, ts, out)
            self._unconfirmed.clear()
        acts, self._dirty_acts = self._dirty_acts, set()
        for entity in sorted(acts):  # a stable order: reports and logs read the same each time
            self._plan(entity, ts, states, out)
        return out

    def _pop_due(self, ts: float) -> None:
        heap = self._heap
        while heap and heap[0][0] <= ts:
            when, _, pi, ui, entity = heapq.heappop(heap)
            if pi < 0:
                act = self._acts.get(entity)
                if act is not None and act.wake_at == when:
                    act.wake_at = None
                    self._dirty_acts.add(entity)
            elif self._wakes[pi][ui] == when:
                self._wakes[pi][ui] = None
                self._dirty.add((pi, ui))

    def _apply(self, ref: UnitRef, tick: Tick, states: StateReader, out: Outcome) -> None:
        """Decide one unit and record what changed (the hot path: keep it lean)."""
        pi, ui = ref
        policy = self.policies[pi]
        unit = policy.units[ui]
        memories = self._memory[pi]
        memory = memories[ui]
        try:
            wants, alarms, new_memory, wake = policy.decide(tick, unit, states, memory)
        except Exception:  # a bug or an unexpected reading in one unit: keep the rest going
            failures = self.failures[policy.id] = self.failures.get(policy.id, 0) + 1
            if failures == 1:  # loudly once, then quietly
                _LOGGER.exception("Policy %s failed to decide unit %s", policy.id, unit.key)
            else:
                _LOGGER.debug("Policy %s failed on %s", policy.id, unit.key, exc_info=True)
            return
        if wants and self.overrides and self.overrides.covers(policy.id, unit.devices, tick.ts):
            wants = ()
        if new_memory is not memory:
            memories[ui] = new_memory
            durable = policy.durable
            if durable(new_memory) != durable(memory):
                out.memory[(policy.id, unit.key)] = policy.encode(new_memory)
        row = self._wants[pi]
        old_wants = row[ui]
        if wants != old_wants:
            row[ui] = wants
            self._update_wants(ref, old_wants, wants)
        row_alarms = self._unit_alarms[pi]
        old_alarms = row_alarms[ui]
        if alarms != old_alarms:
            row_alarms[ui] = alarms
            self._update_alarms(old_alarms, alarms, tick.ts, out)
        wakes = self._wakes[pi]
        if wake != wakes[ui]:
            wakes[ui] = wake
            if wake is not None:
                heapq.heappush(self._heap, (wake, next(self._seq), pi, ui, ""))

    def _update_wants(self, ref: UnitRef, old: tuple[Want, ...], new: tuple[Want, ...]) -> None:
        new_by_entity = {w.entity_id: w for w in new}
        for want in old:
            if want.entity_id not in new_by_entity:
                holders = self._holders.get(want.entity_id)
                if holders is not None:
                    holders.pop(ref, None)
                    if not holders:
                        del self._holders[want.entity_id]
                self._dirty_acts.add(want.entity_id)
        old_by_entity = {w.entity_id: w for w in old}
        for entity, want in new_by_entity.items():
            if old_by_entity.get(entity) != want:
                self._holders.setdefault(entity, {})[ref] = want
                self._command_targets[want.command_entity] = entity
                if entity not in self._acts:
                    self._acts[entity] = _Actuation(entity)
                self._dirty_acts.add(entity)

    def _update_alarms(
        self, old: tuple[Alarm, ...], new: tuple[Alarm, ...], ts: float, out: Outcome
    ) -> None:
        new_keys = {a.key for a in new}
        for alarm in old:
            if alarm.key not in new_keys:
                self._clear(alarm.key, ts, out)
        for alarm in new:
            active = self.alarms.get(alarm.key)
            if active is None:
                self._raise(alarm, ts, out)
            else:
                active.alarm = alarm
                self._unconfirmed.discard(alarm.key)

    def _raise(self, alarm: Alarm, ts: float, out: Outcome) -> None:
        if alarm.key in self.alarms:
            return
        active = ActiveAlarm(alarm, ts)
        self.alarms[alarm.key] = active
        out.raised.append(active)

    def _clear(self, key: str, ts: float, out: Outcome) -> None:
        active = self.alarms.pop(key, None)
        if active is not None:
            active.cleared_at = ts
            out.cleared.append(active)

    # ------------------------------------------------------------------ plan

    def _plan(self, entity: str, ts: float, states: StateReader, out: Outcome) -> None:
        act = self._acts.get(entity)
        if act is None:
            return
        target = self._target(act, states, ts, out)
        if target is None:
            return
        state = states.get(entity)
        current = good_value(state)
        if current is None or state is None:
            return  # unknown or offline: wait for a reading
        if same_value(current, target.expect):
            if target.restore:
                act.pending_restore = False
                act.restore = None
                out.holds[entity] = None
            self._settled(act, ts, out)
            return
        if act.in_flight:
            return
        if target.restore and ts < self._grace_end:
            not_before = self._grace_end  # after a start, a policy may still take it back
        else:
            not_before = self._not_before(act, target, state.timestamp, ts)
        if not_before > ts:
            self._wake_act(act, not_before)
            return
        act.in_flight = True
        act.wake_at = None
        out.commands.append(target)
        self._device_cmds.setdefault(device_of(target.command_entity), deque()).append(ts)

    def _target(
        self, act: _Actuation, states: StateReader, ts: float, out: Outcome
    ) -> PlannedCommand | None:
        """What the point should read now: the winning want, a restore owed, or nothing."""
        holders = self._holders.get(act.entity_id)
        if holders:
            want = _winner(holders)
            if not act.held:
                self._take_hold(act, want, states, out)
            return PlannedCommand(
                act.entity_id,
                want.command_entity,
                want.command,
                want.policy_id,
                want.reason,
                False,
                want.value,
            )
        if act.held:
            act.held = False
            act.pending_restore = act.restore is not None
            out.holds[act.entity_id] = act.persisted()
        if not act.pending_restore:
            self._settled(act, ts, out)
            return None
        return PlannedCommand(
            act.entity_id,
            act.restore_entity,
            act.restore_command,
            act.restore_policy,
            f"restore after {act.restore_policy}",
            True,
            act.restore,
        )

    def _wake_act(self, act: _Actuation, when: float) -> None:
        if act.wake_at != when:
            act.wake_at = when
            heapq.heappush(self._heap, (when, next(self._seq), -1, 0, act.entity_id))

    def _take_hold(self, act: _Actuation, want: Want, states: StateReader, out: Outcome) -> None:
        """First want on a point: remember what to restore, unless it already read the value.

        A restore still owed (the point was released and taken again before it was restored)
        is kept: the point reads the held value because of us.
        """
        act.held = True
        if act.pending_restore:
            act.pending_restore = False
            out.holds[act.entity_id] = act.persisted()
            return
        current = good_value(states.get(act.entity_id))
        if want.restore is not None and (current is None or not same_value(current, want.value)):
            act.restore = want.restore
            act.restore_command = (
                want.restore_command if want.restore_command is not None else want.restore
            )
            act.restore_entity = want.command_entity
            act.restore_policy = want.policy_id
        else:
            act.restore = None
        out.holds[act.entity_id] = act.persisted()

    def _not_before(self, act: _Actuation, target: PlannedCommand, seen: float, ts: float) -> float:
        """The earliest time the next command to this point may go out."""
        s = self.settings
        command = target.value
        t = max(act.next_try, act.last_at + s.min_interval_s)
        if act.last_ok and same_value(act.last_value, command) and seen <= act.last_at:
            t = max(t, act.last_at + s.settle_s)  # confirmed: wait for a reading to show it
        on = is_on(command)
        if on is not None and act.switch_on is not None and on != act.switch_on:
            if on:
                t = max(t, act.switch_at + s.min_off_s)
            elif target.restore or self._priority(act.entity_id) < s.safety_priority:
                t = max(t, act.switch_at + s.min_on_s)
        sent = self._device_cmds.get(device_of(act.entity_id))
        if sent:
            while sent and sent[0] <= ts - _HOUR:
                sent.popleft()
            if len(sent) >= s.max_per_device_hour:
                t = max(t, sent[0] + _HOUR)
        return t

    def _priority(self, entity: str) -> int:
        holders = self._holders.get(entity)
        return _winner(holders).priority if holders else 0

    def _settled(self, act: _Actuation, ts: float, out: Outcome) -> None:
        act.wake_at = None
        if act.failures:
            act.failures = 0
            self._clear(f"command:{act.entity_id}", ts, out)

    def _command_alarm(self, command: PlannedCommand, failures: int) -> Alarm:
        return Alarm(
            f"command:{command.entity_id}",
            "command_failed",
            "warning",
            f"{command.entity_id} 连续 {failures} 次执行 {command.value!r} 失败，将继续重试",
            f"{command.entity_id}: {failures} failed attempts to set {command.value!r}; retrying",
            command.policy_id,
            command.entity_id,
            {"value": command.value, "failures": failures, "reason": command.reason},
        )

    # ----------------------------------------------------------------- query

    def next_deadline(self) -> float | None:
        """When ``evaluate`` next has timed work (a wake-up, a retry, an expiring override)."""
        heap = self._heap
        while heap:
            when, _, pi, ui, entity = heap[0]
            if pi < 0:
                act = self._acts.get(entity)
                valid = act is not None and act.wake_at == when
            else:
                valid = self._wakes[pi][ui] == when
            if valid:
                break
            heapq.heappop(heap)
        grace = self._grace_end if self._unconfirmed else None
        candidates = (heap[0][0] if heap else None, self.overrides.next_expiry(), grace)
        times = [t for t in candidates if t is not None]
        return min(times) if times else None

    def has_work(self) -> bool:
        return bool(
            self._dirty or self._dirty_acts or any(self._all_dirty) or not self._pending.empty
        )

    def winner(self, entity_id: str) -> Want | None:
        holders = self._holders.get(self._command_targets.get(entity_id, entity_id))
        return _winner(holders) if holders else None

    def holds(self) -> dict[str, Want]:
        """Every point a policy holds now, with the winning want."""
        return {entity: _winner(h) for entity, h in self._holders.items() if h}

    def is_actuated(self, entity_id: str) -> bool:
        return entity_id in self._acts

    def conflicts(
        self, now: dt.datetime, entity_id: str, value: Value, states: StateReader
    ) -> list[tuple[str, str]]:
        """Policies a command ``entity_id := value`` would go against: (policy id, why)."""
        found: list[tuple[str, str]] = []
        want = self.winner(entity_id)
        against = want is not None and want.command_entity == entity_id
        if want is not None and against and not same_value(value, want.command):
            found.append((want.policy_id, want.reason))
        ts = now.timestamp()
        for pi, ui in self._by_device.get(device_of(entity_id), ()):
            policy = self.policies[pi]
            unit = policy.units[ui]
            if any(pid == policy.id for pid, _ in found):
                continue
            if self.overrides and self.overrides.covers(policy.id, unit.devices, ts):
                continue
            tick = Tick(now, ts, policy.phase(now), self.started)
            why = policy.vet(tick, unit, states, entity_id, value)
            if why:
                found.append((policy.id, why))
        return found

    def units(self, policy_id: str | None = None) -> list[tuple[Policy[Any, Any], Any, Any]]:
        """(policy, unit, memory) for every unit, or those of one policy."""
        out: list[tuple[Policy[Any, Any], Any, Any]] = []
        for pi, policy in enumerate(self.policies):
            if policy_id is None or policy.id == policy_id:
                out.extend(
                    (policy, unit, self._memory[pi][ui]) for ui, unit in enumerate(policy.units)
                )
        return out

    def find_units(self, target: str, policy_id: str | None = None) -> list[UnitRef]:
        """Units whose key is ``target`` or which cover device ``target``."""
        refs = set(self._by_device.get(target, ()))
        for pi, policy in enumerate(self.policies):
            ui = policy.unit_index.get(target)
            if ui is not None:
                refs.add((pi, ui))
        return sorted(r for r in refs if policy_id is None or self.policies[r[0]].id == policy_id)

    def memory_of(self, ref: UnitRef) -> Any:
        return self._memory[ref[0]][ref[1]]

    def set_memory(self, ref: UnitRef, memory: Any) -> None:
        """Replace a unit's memory (a staff action) and decide the unit again."""
        pi, ui = ref
        policy = self.policies[pi]
        self._memory[pi][ui] = memory
        self._pending.memory[(policy.id, policy.units[ui].key)] = policy.encode(memory)
        self._dirty.add(ref)

    def held_units(self) -> dict[str, tuple[str, str]]:
        """Every held point → (policy id, unit key) of the winning want."""
        out = {}
        for entity, holders in self._holders.items():
            if holders:
                want = _winner(holders)
                pi, ui = next(ref for ref, w in holders.items() if w is want)
                out[entity] = (want.policy_id, self.policies[pi].units[ui].key)
        return out

    def adopt_memory(self, policy_id: str, unit_key: str, memory: Any) -> bool:
        """Give a unit a memory object (from a predecessor core or a live engine)."""
        pi = self._index.get(policy_id)
        ui = self.policies[pi].unit_index.get(unit_key) if pi is not None else None
        if pi is None or ui is None:
            return False
        self._memory[pi][ui] = memory
        return True

    def successor(self, policies: Sequence[Policy[Any, Any]]) -> EngineCore:
        """A core for a changed set of policies that keeps what this one knows.

        Memories carry over to policies with the same id and type, restores owed and
        overrides carry over, and alarms are kept until the new core confirms or clears them.
        Rate-limit bookkeeping starts afresh.
        """
        new = EngineCore(policies, self.settings, self.started)
        for pi, policy in enumerate(self.policies):
            target = new._index.get(policy.id)
            if target is None or type(new.policies[target]) is not type(policy):
                continue
            for ui, unit in enumerate(policy.units):
                memory = self._memory[pi][ui]
                if memory is not None:
                    new.adopt_memory(policy.id, unit.key, memory)
        for entity, act in self._acts.items():
            data = act.persisted()
            if data is not None:
                new.load_hold(entity, data)
        for override in self.overrides.active():
            new.overrides.add(override)
        for active in self.alarms.values():
            new.load_alarm(active)
        return new

    def tick(self, policy: Policy[Any, Any], now: dt.datetime) -> Tick:
        return Tick(now, now.timestamp(), policy.phase(now), self.started)
