"""The decision engine: evaluate policies incrementally, then plan commands. No I/O.

``EngineCore.evaluate(now, states)`` is a function of the time, the current states and the
engine's own state (unit memories, holds, overrides, command bookkeeping); it returns the
commands to send, the alarms raised and cleared, and what must be persisted. The async
``PolicyEngine`` feeds it readings and command results and carries out its outcome; dry runs
feed it history instead. Arbitration, restore and anti-flapping live in ``planner``.

Incremental: a unit is decided again only when an entity it watches changes, when its own
wake-up time passes, when its policy's phase changes (a window opens, a month starts) or when
an override or a staff action touches it. A whole-policy re-evaluation runs in chunks, so a
campus of 10,000 rooms never blocks the event loop for long.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import logging
from collections import Counter
from collections.abc import Container, Hashable, Sequence
from typing import Any

from controller.core.events import Value
from controller.core.values import same_value

from .alarms import ActiveAlarm, AlarmBook
from .base import Policy, Tick
from .model import PlannedCommand, StateReader, Want
from .outcome import Outcome
from .overrides import Override, OverrideBook
from .planner import Planner, UnitRef, device_of, winner
from .settings import EngineSettings
from .store import StoredState
from .tally import GroupOf, HoldTally

__all__ = ["ActiveAlarm", "EngineCore", "EngineSettings", "Outcome", "device_of"]

_LOGGER = logging.getLogger(__name__)

_UNSET: Hashable = object()


class EngineCore:
    """Incremental evaluation of bound policies; the planner turns wants into commands."""

    def __init__(
        self,
        policies: Sequence[Policy[Any, Any]],
        settings: EngineSettings | None = None,
        started: float = 0.0,
        group_of: GroupOf | None = None,
    ) -> None:
        self.policies = list(policies)
        self.settings = settings or EngineSettings()
        self.started = started
        self.overrides = OverrideBook()
        self._book = AlarmBook()
        self.alarms: dict[str, ActiveAlarm] = self._book.active
        """Active alarms by key."""
        self._grace_end = started + self.settings.startup_grace_s
        self.planner = Planner(self.settings, self._book, self._grace_end, HoldTally(group_of))
        self._index = {p.id: i for i, p in enumerate(self.policies)}
        self._memory: list[list[Any]] = [[None] * len(p.units) for p in self.policies]
        self._wants: list[list[tuple[Want, ...]]] = [[()] * len(p.units) for p in self.policies]
        self._unit_alarms: list[list[tuple[Any, ...]]] = [
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
        self._heap: list[tuple[float, int, int, int]] = []
        self._seq = itertools.count()
        self._pending = Outcome()
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
        self.planner.reading(entity_id)

    def device_changed(self, device_id: str) -> None:
        """A device went offline or came back: look at its units again."""
        self._dirty.update(self._by_device.get(device_id, ()))

    def mark_all(self) -> None:
        """Re-evaluate everything (after lost events or a configuration change)."""
        self._all_dirty = [True] * len(self.policies)
        self._cursor = [0] * len(self.policies)
        self.planner.mark_all()

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
        self.planner.note_command(entity_id, value, ts)

    def command_done(self, command: PlannedCommand, ok: bool, ts: float) -> None:
        """A planned command finished (``ok``: confirmed by read-back)."""
        self.planner.command_done(command, ok, ts, self._pending)

    # --------------------------------------------------------------- restore

    def load_memory(self, policy_id: str, unit_key: str, data: dict[str, Any]) -> bool:
        """Restore a unit's memory from the store; False if the unit no longer exists."""
        ref = self._ref(policy_id, unit_key)
        if ref is None:
            return False
        self._memory[ref[0]][ref[1]] = self.policies[ref[0]].decode(data)
        return True

    def load_hold(self, entity_id: str, data: dict[str, Any]) -> None:
        """A point the engine held (or owed a restore) before the restart."""
        self.planner.load_hold(entity_id, data)

    def load_alarm(self, active: ActiveAlarm) -> None:
        """An alarm active before the restart: kept (not raised again) if still true."""
        self._book.load(active)

    def restore(self, stored: StoredState, entities: Container[str]) -> None:
        """Load what the store kept from the last run (holds only of ``entities`` still known)."""
        for policy_id, unit, data in stored.memory:
            self.load_memory(policy_id, unit, data)
        for entity, data in stored.holds.items():
            if entity in entities:
                self.load_hold(entity, data)
        for override in stored.overrides:
            self.overrides.add(override)
        for active in stored.alarms:
            self.load_alarm(active)

    def adopt_memory(self, policy_id: str, unit_key: str, memory: Any) -> bool:
        """Give a unit a memory object (from a predecessor core or a live engine)."""
        ref = self._ref(policy_id, unit_key)
        if ref is None:
            return False
        self._memory[ref[0]][ref[1]] = memory
        return True

    def _ref(self, policy_id: str, unit_key: str) -> UnitRef | None:
        pi = self._index.get(policy_id)
        ui = self.policies[pi].unit_index.get(unit_key) if pi is not None else None
        return None if pi is None or ui is None else (pi, ui)

    def successor(self, policies: Sequence[Policy[Any, Any]]) -> EngineCore:
        """A core for a changed set of policies that keeps what this one knows.

        Memories carry over to policies with the same id and type, restores owed and
        overrides carry over, and alarms are kept until the new core confirms or clears them.
        Rate-limit bookkeeping starts afresh.
        """
        new = EngineCore(policies, self.settings, self.started, self.planner.tally.group_of)
        for pi, policy in enumerate(self.policies):
            target = new._index.get(policy.id)
            if target is None or type(new.policies[target]) is not type(policy):
                continue
            for ui, unit in enumerate(policy.units):
                memory = self._memory[pi][ui]
                if memory is not None:
                    new.adopt_memory(policy.id, unit.key, memory)
        for entity, data in self.planner.persisted_holds():
            new.load_hold(entity, data)
        for override in self.overrides.active():
            new.overrides.add(override)
        for active in self.alarms.values():
            new.load_alarm(active)
        new.planner.device_changes = self.planner.device_changes
        return new

    def device_change_status(self, top: int = 8) -> dict[str, Any]:
        """Confirmed commands later changed at the device: the total and the top devices."""
        changes = self.planner.device_changes
        return {
            "changed_at_device": sum(changes.values()),
            "changed_at": {
                f"{device} ({policy})": {"count": count}
                for (device, policy), count in changes.most_common(top)
            },
        }

    # -------------------------------------------------------------- evaluate

    def evaluate(self, now: dt.datetime, states: StateReader) -> Outcome:
        """Decide what changed since the last call; see the module docstring."""
        ts = now.timestamp()
        out, self._pending = self._pending, Outcome()
        self.evaluations += 1
        for override in self.overrides.expire(ts):
            out.expired.append(override)
            self.touch_devices(tuple(override.devices), None)
        ticks = self._ticks(now, ts)
        self._pop_due(ts)
        self._sweep(ticks, states, out)
        dirty, self._dirty = self._dirty, set()
        for ref in dirty:
            self._apply(ref, ticks[ref[0]], states, out)
        out.evaluated += len(dirty)
        if self._book.unconfirmed and ts >= self._grace_end:
            self._book.clear_unconfirmed(ts, out.cleared)
        self.planner.pop_due(ts)
        self.planner.plan(ts, states, out)
        return out

    def _ticks(self, now: dt.datetime, ts: float) -> list[Tick]:
        """Each policy's tick; a phase change re-evaluates all of its units."""
        ticks = []
        for pi, policy in enumerate(self.policies):
            phase = policy.phase(now)
            if phase != self._phases[pi]:
                self._phases[pi] = phase
                self._all_dirty[pi] = True
                self._cursor[pi] = 0
            ticks.append(Tick(now, ts, phase, self.started))
        return ticks

    def _sweep(self, ticks: list[Tick], states: StateReader, out: Outcome) -> None:
        """Whole-policy re-evaluations, at most ``sweep_chunk`` units this time."""
        budget = self.settings.sweep_chunk
        for pi, policy in enumerate(self.policies):
            if not self._all_dirty[pi] or budget <= 0:
                continue
            start = self._cursor[pi]
            stop = min(len(policy.units), start + budget)
            for ui in range(start, stop):
                self._apply((pi, ui), ticks[pi], states, out)
            budget -= stop - start
            out.evaluated += stop - start
            self._cursor[pi] = stop
            if stop >= len(policy.units):
                self._all_dirty[pi] = False
                self._cursor[pi] = 0

    def _pop_due(self, ts: float) -> None:
        heap = self._heap
        while heap and heap[0][0] <= ts:
            when, _, pi, ui = heapq.heappop(heap)
            if self._wakes[pi][ui] == when:
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
            self.planner.update_wants(ref, old_wants, wants)
        row_alarms = self._unit_alarms[pi]
        old_alarms = row_alarms[ui]
        if alarms != old_alarms:
            row_alarms[ui] = alarms
            self._book.update(old_alarms, alarms, tick.ts, out.raised, out.cleared)
        wakes = self._wakes[pi]
        if wake != wakes[ui]:
            wakes[ui] = wake
            if wake is not None:
                heapq.heappush(self._heap, (wake, next(self._seq), pi, ui))

    # ----------------------------------------------------------------- query

    def next_deadline(self) -> float | None:
        """When ``evaluate`` next has timed work (a wake-up, a retry, an expiring override)."""
        heap = self._heap
        while heap:
            when, _, pi, ui = heap[0]
            if self._wakes[pi][ui] == when:
                break
            heapq.heappop(heap)
        grace = self._grace_end if self._book.unconfirmed else None
        candidates = (
            heap[0][0] if heap else None,
            self.planner.next_deadline(),
            self.overrides.next_expiry(),
            grace,
        )
        times = [t for t in candidates if t is not None]
        return min(times) if times else None

    def has_work(self) -> bool:
        return bool(
            self._dirty or self.planner.has_work or any(self._all_dirty) or not self._pending.empty
        )

    def winner(self, entity_id: str) -> Want | None:
        return self.planner.winner(entity_id)

    def hold_count(self) -> int:
        """How many points a policy holds now (``len(holds())`` without building it)."""
        return len(self.planner.tally)

    def acting(self) -> dict[str, Counter[str]]:
        """Group (building) → policy → points it wins now; read it, never change it."""
        return self.planner.tally.counts

    def holds(self) -> dict[str, Want]:
        """Every point a policy holds now, with the winning want."""
        return {entity: winner(h) for entity, h in self.planner.holders.items() if h}

    def held_units(self) -> dict[str, tuple[str, str]]:
        """Every held point → (policy id, unit key) of the winning want."""
        out = {}
        for entity, holders in self.planner.holders.items():
            if holders:
                want = winner(holders)
                pi, ui = next(ref for ref, w in holders.items() if w is want)
                out[entity] = (want.policy_id, self.policies[pi].units[ui].key)
        return out

    def is_actuated(self, entity_id: str) -> bool:
        return self.planner.is_actuated(entity_id)

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

    def tick(self, policy: Policy[Any, Any], now: dt.datetime) -> Tick:
        return Tick(now, now.timestamp(), policy.phase(now), self.started)
