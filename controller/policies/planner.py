"""From wants to commands: arbitration, restore, anti-flapping, confirmation and retries.

Each point may be wanted by several units (of one or more policies); the highest priority
wins. When the engine first takes hold of a point that does not already read the wanted value,
it remembers what to write back, and restores it once nobody wants the point any more.

No flapping: one command in flight per point; at most one command per point every
``min_interval_s`` and ``max_per_device_hour`` per device; a point switched on (off) is not
switched off (on) again within ``min_on_s`` (``min_off_s``) unless a safety policy demands it;
a confirmed command is not repeated until a newer reading contradicts it (or ``settle_s``
passes without one); failures retry with exponential backoff and raise an alarm after
``alarm_after_failures`` attempts. No I/O: the engine sends what ``plan`` returns.

A confirmed command that a later reading contradicts was *changed at the device* (an occupant's
remote, a local button): that is no failed command. It is counted per device and policy
(``device_changes``) and the point is re-asserted within the same anti-flap limits.
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from controller.core.events import Value
from controller.core.values import is_on, same_value

from .alarms import AlarmBook
from .model import Alarm, PlannedCommand, StateReader, Want, good_value
from .outcome import Outcome
from .settings import EngineSettings
from .tally import HoldTally

__all__ = ["Planner", "UnitRef", "device_of", "winner"]

_HOUR = 3600.0

UnitRef = tuple[int, int]
"""(policy index, unit index) in the engine core."""


def device_of(entity_id: str) -> str:
    """``dorm-1.101.elec.relay`` → ``dorm-1.101.elec`` (point keys have no dots)."""
    return entity_id.rpartition(".")[0]


def winner(holders: dict[UnitRef, Want]) -> Want:
    """The want that decides a point: highest priority, then the first policy and unit."""
    best: Want | None = None
    best_key: tuple[int, int, int] = (0, 0, 0)
    for (pi, ui), want in holders.items():
        key = (want.priority, -pi, -ui)
        if best is None or key > best_key:
            best, best_key = want, key
    assert best is not None
    return best


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
    change_seen_at: float = float("-inf")
    """``last_at`` of the confirmed command whose later contradiction was last counted."""

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


class Planner:
    """The points policies want, and the commands that get them there."""

    def __init__(
        self,
        settings: EngineSettings,
        alarms: AlarmBook,
        grace_end: float,
        tally: HoldTally | None = None,
    ) -> None:
        self.settings = settings
        self.alarms = alarms
        self.grace_end = grace_end
        self.holders: dict[str, dict[UnitRef, Want]] = {}
        self.tally = tally if tally is not None else HoldTally()
        """The winning policy of every held point, counted per group as ``holders`` changes
        (the web overview's policies acting per building, without walking the holds)."""
        self._command_targets: dict[str, str] = {}
        self._acts: dict[str, _Actuation] = {}
        self._dirty: set[str] = set()
        self._device_cmds: dict[str, deque[float]] = {}
        self._heap: list[tuple[float, int, str]] = []
        self._seq = itertools.count()
        self.device_changes: Counter[tuple[str, str]] = Counter()
        """(device, policy) → confirmed commands later changed at the device."""

    # ----------------------------------------------------------------- inputs

    def update_wants(self, ref: UnitRef, old: tuple[Want, ...], new: tuple[Want, ...]) -> None:
        """A unit's wants went from ``old`` to ``new``."""
        new_by_entity = {w.entity_id: w for w in new}
        tally = self.tally
        for want in old:
            if want.entity_id not in new_by_entity:
                holders = self.holders.get(want.entity_id)
                if holders is not None:
                    holders.pop(ref, None)
                    if not holders:
                        del self.holders[want.entity_id]
                    tally.won(want.entity_id, winner(holders).policy_id if holders else None)
                self._dirty.add(want.entity_id)
        old_by_entity = {w.entity_id: w for w in old}
        for entity, want in new_by_entity.items():
            if old_by_entity.get(entity) != want:
                holders = self.holders.setdefault(entity, {})
                holders[ref] = want
                tally.won(entity, winner(holders).policy_id)
                self._command_targets[want.command_entity] = entity
                if entity not in self._acts:
                    self._acts[entity] = _Actuation(entity)
                self._dirty.add(entity)

    def reading(self, entity_id: str) -> None:
        """A point we drive (or drove) has a new reading."""
        if entity_id in self._acts:
            self._dirty.add(entity_id)

    def mark_all(self) -> None:
        self._dirty.update(self._acts)

    def note_command(self, entity_id: str, value: Value, ts: float) -> None:
        """Someone else (staff) commanded a point we drive: wait for its reading first."""
        target = self._command_targets.get(entity_id, entity_id)
        act = self._acts.get(target)
        if act is not None:
            act.last_value, act.last_at, act.last_ok = value, ts, True
            self._dirty.add(target)

    def command_done(self, command: PlannedCommand, ok: bool, ts: float, out: Outcome) -> None:
        """A planned command finished (``ok``: confirmed by read-back)."""
        act = self._acts.get(command.entity_id)
        if act is None:
            return
        s = self.settings
        act.in_flight = False
        act.last_value, act.last_at, act.last_ok = command.value, ts, ok
        if ok:
            if act.failures:
                self.alarms.clear(f"command:{command.entity_id}", ts, out.cleared)
            act.failures = 0
            act.next_try = 0.0
            on = is_on(command.value)
            if on is not None:
                act.switch_on, act.switch_at = on, ts
        else:
            act.failures += 1
            act.next_try = ts + min(s.retry_max_s, s.retry_base_s * 2 ** (act.failures - 1))
            if act.failures == s.alarm_after_failures:
                self.alarms.raise_(_command_alarm(command, act.failures), ts, out.raised)
        self._dirty.add(command.entity_id)

    def load_hold(self, entity_id: str, data: dict[str, Any]) -> None:
        """A point the engine held (or owed a restore) before the restart."""
        act = self._acts.setdefault(entity_id, _Actuation(entity_id))
        act.pending_restore = bool(data.get("pending"))
        act.held = not act.pending_restore
        act.restore = data.get("restore")
        act.restore_command = data.get("restore_command", act.restore)
        act.restore_entity = str(data.get("restore_entity") or entity_id)
        act.restore_policy = str(data.get("policy", ""))
        self._dirty.add(entity_id)

    def persisted_holds(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for entity, act in self._acts.items():
            data = act.persisted()
            if data is not None:
                yield entity, data

    # ------------------------------------------------------------------ plan

    def pop_due(self, ts: float) -> None:
        heap = self._heap
        while heap and heap[0][0] <= ts:
            when, _, entity = heapq.heappop(heap)
            act = self._acts.get(entity)
            if act is not None and act.wake_at == when:
                act.wake_at = None
                self._dirty.add(entity)

    def plan(self, ts: float, states: StateReader, out: Outcome) -> None:
        """Commands for the points that changed, at most ``sweep_chunk`` of them this time."""
        entities = sorted(self._dirty)  # a stable order: reports and logs read the same
        if len(entities) > self.settings.sweep_chunk:
            entities = entities[: self.settings.sweep_chunk]
            self._dirty.difference_update(entities)
        else:
            self._dirty = set()
        for entity in entities:
            self._plan(entity, ts, states, out)

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
        self._note_device_change(act, target, state.timestamp)
        if target.restore and ts < self.grace_end:
            not_before = self.grace_end  # after a start, a policy may still take it back
        else:
            not_before = self._not_before(act, target, state.timestamp, ts)
        if not_before > ts:
            self._wake(act, not_before)
            return
        act.in_flight = True
        act.wake_at = None
        out.commands.append(target)
        self._device_cmds.setdefault(device_of(target.command_entity), deque()).append(ts)

    def _target(
        self, act: _Actuation, states: StateReader, ts: float, out: Outcome
    ) -> PlannedCommand | None:
        """What the point should read now: the winning want, a restore owed, or nothing."""
        holders = self.holders.get(act.entity_id)
        if holders:
            want = winner(holders)
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

    def _note_device_change(self, act: _Actuation, target: PlannedCommand, seen: float) -> None:
        """Count a reading newer than a confirmed command that no longer shows its value."""
        if (
            act.last_ok
            and seen > act.last_at > act.change_seen_at
            and same_value(act.last_value, target.value)
        ):
            act.change_seen_at = act.last_at
            self.device_changes[(device_of(act.entity_id), target.policy_id)] += 1

    def _wake(self, act: _Actuation, when: float) -> None:
        if act.wake_at != when:
            act.wake_at = when
            heapq.heappush(self._heap, (when, next(self._seq), act.entity_id))

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
        holders = self.holders.get(entity)
        return winner(holders).priority if holders else 0

    def _settled(self, act: _Actuation, ts: float, out: Outcome) -> None:
        act.wake_at = None
        if act.failures:
            act.failures = 0
            self.alarms.clear(f"command:{act.entity_id}", ts, out.cleared)

    # ----------------------------------------------------------------- query

    def next_deadline(self) -> float | None:
        heap = self._heap
        while heap:
            when, _, entity = heap[0]
            act = self._acts.get(entity)
            if act is not None and act.wake_at == when:
                return when
            heapq.heappop(heap)
        return None

    @property
    def has_work(self) -> bool:
        return bool(self._dirty)

    def winner(self, entity_id: str) -> Want | None:
        """The want deciding ``entity_id`` (a state point or the command point of one)."""
        holders = self.holders.get(self._command_targets.get(entity_id, entity_id))
        return winner(holders) if holders else None

    def is_actuated(self, entity_id: str) -> bool:
        return entity_id in self._acts


def _command_alarm(command: PlannedCommand, failures: int) -> Alarm:
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
