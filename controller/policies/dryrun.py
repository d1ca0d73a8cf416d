"""Dry runs: what a (new or edited) policy would do now, and would have done over a past period.

Both run the real engine core on the policy alone, so a dry run and the live engine cannot
disagree. "Now" evaluates once against the current states (and the live memory of a policy
with the same id, so an edited quota keeps its baselines). "Past period" replays readings from
history in time order on a fixed step, assumes every command succeeds at once, and adds up how
long each point was held: "would have cut 37 rooms for 212 hours last month".
"""

from __future__ import annotations

import datetime as dt
import heapq
import zoneinfo
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from controller.config.profile import PointKind
from controller.core.events import State, Value

from .base import Policy
from .core import EngineCore
from .model import Alarm, PlannedCommand
from .scope import SiteIndex
from .settings import EngineSettings

__all__ = [
    "DryRunReport",
    "HistoryReader",
    "SyncHistory",
    "SyncHistoryReader",
    "dry_run_history",
    "dry_run_now",
    "samples_from",
]

_CONTEXT_KINDS = (
    PointKind.RELAY,
    PointKind.POWER_SWITCH,
    PointKind.VALVE_STATE,
    PointKind.VALVE_DELAY,
    PointKind.SETPOINT,
    PointKind.AC_MODE,
)
"""Points a replay needs besides the watched ones: what the policy would switch."""


class HistoryReader(Protocol):
    """Where past readings come from (the recorder's history, or anything else)."""

    async def read(
        self, entity_ids: Sequence[str], start: float, end: float
    ) -> Mapping[str, Sequence[tuple[float, Value]]]:
        """Readings per entity in [start, end) oldest first, preceded by the last one before
        ``start`` when known (so the replay starts from the state at ``start``)."""
        ...


class SyncHistory(Protocol):
    """The recorder's SQLite ``History``: ``readings(entity, start, end)`` oldest first."""

    def readings(self, entity_id: str, start: float, end: float) -> Sequence[Any]: ...


class SyncHistoryReader:
    """Adapts a ``History`` (rows with ``timestamp`` and ``value``) to ``HistoryReader``.

    Open a separate ``History`` on the recorder's file for this (SQLite allows several
    readers); ``lookback_s`` bounds the search for the reading before ``start``.
    """

    def __init__(self, history: SyncHistory, lookback_s: float = 86_400.0) -> None:
        self.history = history
        self.lookback_s = lookback_s

    async def read(
        self, entity_ids: Sequence[str], start: float, end: float
    ) -> dict[str, list[tuple[float, Value]]]:
        since = start - self.lookback_s
        return {
            entity: samples_from(self.history.readings(entity, since, end), start)
            for entity in entity_ids
        }


def samples_from(rows: Sequence[Any], start: float) -> list[tuple[float, Value]]:
    """Stored rows (``timestamp``, ``value``, oldest first, some before ``start``) → the
    replay's samples from ``start``: the last one before it first, moved to ``start``."""
    before = [r for r in rows if r.timestamp < start]
    samples = [(float(r.timestamp), r.value) for r in rows if r.timestamp >= start]
    if before:
        samples.insert(0, (start, before[-1].value))
    return samples


@dataclass
class DryRunReport:
    """What a policy would do (now) or would have done (over ``start``–``end``)."""

    policy_id: str
    policy_type: str
    units: int
    start: float
    end: float | None = None
    commands: list[PlannedCommand] = field(default_factory=list)
    command_count: int = 0
    alarms: list[Alarm] = field(default_factory=list)
    held_seconds: dict[str, float] = field(default_factory=dict)
    held_units: set[str] = field(default_factory=set)
    readings: int = 0

    @property
    def hours_held(self) -> float:
        return sum(self.held_seconds.values()) / 3600

    def summary(self, lang: str = "en") -> str:
        units = len(self.held_units)
        alarms = len(self.alarms)
        if self.end is None:
            if lang.startswith("zh"):
                count = len(self.commands)
                return f"现在会执行 {count} 条命令，涉及 {units} 个对象，{alarms} 条告警"
            return f"would send {len(self.commands)} commands now to {units} units, {alarms} alarms"
        hours = self.hours_held
        if lang.startswith("zh"):
            return (
                f"期间会控制 {units} 个对象共 {hours:.0f} 小时"
                f"（{self.command_count} 条命令，{alarms} 条告警）"
            )
        return (
            f"would have acted on {units} units for {hours:.0f} hours "
            f"({self.command_count} commands, {alarms} alarms)"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "policy_id": self.policy_id,
            "type": self.policy_type,
            "units": self.units,
            "start": self.start,
            "end": self.end,
            "summary_en": self.summary("en"),
            "summary_zh": self.summary("zh"),
            "commands": [
                {
                    "entity_id": c.entity_id,
                    "command_entity": c.command_entity,
                    "value": c.value,
                    "reason": c.reason,
                }
                for c in self.commands
            ],
            "command_count": self.command_count,
            "alarms": [
                {"key": a.key, "kind": a.kind, "message_en": a.message_en} for a in self.alarms
            ],
            "units_affected": len(self.held_units),
            "hours_held": round(self.hours_held, 3),
            "readings": self.readings,
        }


def dry_run_now(
    policy: Policy[Any, Any],
    now: dt.datetime,
    states: Any,
    *,
    memory: Mapping[str, Any] | None = None,
    settings: EngineSettings | None = None,
    started: float | None = None,
) -> DryRunReport:
    """What ``policy`` would command and alarm right now, given ``states``."""
    core = EngineCore([policy], settings, now.timestamp() if started is None else started)
    for key, mem in (memory or {}).items():
        core.adopt_memory(policy.id, key, mem)
    out = core.evaluate(now, states)
    report = DryRunReport(policy.id, policy.type_name, len(policy.units), now.timestamp())
    report.commands = list(out.commands)
    report.command_count = len(out.commands)
    report.alarms = [a.alarm for a in out.raised]
    report.held_units = {unit for _, unit in core.held_units().values()}
    return report


def replay_entities(policy: Policy[Any, Any], index: SiteIndex) -> list[str]:
    """The entities a replay of ``policy`` needs from history."""
    wanted: set[str] = set()
    for unit in policy.units:
        wanted.update(unit.watch)
        for device_id in unit.devices:
            device = index.devices.get(device_id)
            if device is not None:
                wanted.update(device.entity(p) for p in device.points_of(*_CONTEXT_KINDS))
    return sorted(wanted)


def bool_entities(index: SiteIndex, entities: Iterable[str]) -> set[str]:
    """Entities whose history stores booleans as 0/1 (coils and bitfields)."""
    out = set()
    for entity in entities:
        device_id, _, key = entity.rpartition(".")
        device = index.devices.get(device_id)
        point = device.point(key) if device else None
        if point and point.is_binary:
            out.add(entity)
    return out


async def dry_run_history(
    policy: Policy[Any, Any],
    reader: HistoryReader,
    index: SiteIndex,
    start: dt.datetime,
    end: dt.datetime,
    *,
    step_s: float = 60.0,
    settings: EngineSettings | None = None,
) -> DryRunReport:
    """Replay ``start``–``end`` from history through ``policy`` alone."""
    if end <= start:
        raise ValueError("end must be after start")
    if step_s <= 0:
        raise ValueError("step_s must be positive")
    tz = start.tzinfo if isinstance(start.tzinfo, zoneinfo.ZoneInfo) else zoneinfo.ZoneInfo("UTC")
    t0, t1 = start.timestamp(), end.timestamp()
    entities = replay_entities(policy, index)
    booleans = bool_entities(index, entities)
    history = await reader.read(entities, t0, t1)
    samples = list(
        heapq.merge(*(_tagged(entity, rows) for entity, rows in history.items()), key=_first)
    )
    report = DryRunReport(policy.id, policy.type_name, len(policy.units), t0, t1)
    report.readings = len(samples)
    core = EngineCore([policy], settings, t0)
    states: dict[str, State] = {}
    held_since: dict[str, float] = {}
    i, t = 0, t0
    while t <= t1:
        while i < len(samples) and samples[i][0] <= t:
            ts, entity, value = samples[i]
            if entity in booleans and isinstance(value, int | float):
                value = bool(value)
            states[entity] = State(value, ts)
            core.state_changed(entity)
            i += 1
        _replay_step(core, dt.datetime.fromtimestamp(t, tz), states, report, held_since)
        t += step_s
    for entity, since in held_since.items():
        report.held_seconds[entity] = report.held_seconds.get(entity, 0.0) + (t1 - since)
    return report


def _tagged(entity: str, rows: Iterable[tuple[float, Value]]) -> Iterator[tuple[float, str, Value]]:
    for ts, value in rows:
        yield ts, entity, value


def _first(sample: tuple[float, str, Value]) -> float:
    return sample[0]


def _replay_step(
    core: EngineCore,
    now: dt.datetime,
    states: dict[str, State],
    report: DryRunReport,
    held_since: dict[str, float],
) -> None:
    """One evaluation of a replay; commands take effect at once."""
    ts = now.timestamp()
    out = core.evaluate(now, states)
    report.alarms.extend(a.alarm for a in out.raised)
    for command in out.commands:
        report.command_count += 1
        if len(report.commands) < 1000:
            report.commands.append(command)
        states[command.entity_id] = State(command.expect, ts)
        core.command_done(command, True, ts)
        core.state_changed(command.entity_id)
    held = core.held_units()
    for entity, (_, unit) in held.items():
        if entity not in held_since:
            held_since[entity] = ts
            report.held_units.add(unit)
    for entity in [e for e in held_since if e not in held]:
        report.held_seconds[entity] = (
            report.held_seconds.get(entity, 0.0) + ts - held_since.pop(entity)
        )
