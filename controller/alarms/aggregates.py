"""Alarm rules on aggregates: a scope's consumption per completed hour or per daily window.

"Room 101's night consumption (00:00–06:00) above 2 kWh", "the bathhouse's water above 8 m³
per hour for 3 hours": the figures come from the recorder's hourly statistics through the
consumption query (``controller.recorder.query``), not from the reading stream, so a rule sees
exactly the numbers the reports print. A period is judged once it is complete: every meter has
closed its hours (none ``partial``), or ``settle_s`` after its end, whichever comes first; a
room whose meters sent nothing for the period is left as it was (no data neither raises nor
clears).

Inside a scope the building's main meter and its room meters count the same kWh, so each group
sums the meters of its lowest hierarchy level only (``level`` tag, 0 = top meters).

``evaluate`` answers the rules' whole active set, for ``AlarmManager.sync``: a recovered group
drops out and the manager clears it. On start-up the last ``periods`` periods are replayed from
the history, and alarms still active in the manager are taken as raised (``seed``), so a
restart inside the hysteresis band neither clears nor raises again.
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from controller.recorder.query import ConsumptionQuery, ConsumptionRow, ConsumptionSource, Period

from .model import AlarmRecord, AlarmScope, Severity

__all__ = ["AGGREGATE_SOURCE", "GROUPS", "UNITS", "AggregateRule", "AggregateRules"]

_LOGGER = logging.getLogger(__name__)

AGGREGATE_SOURCE = "aggregates"

GROUPS: dict[str, tuple[str, ...]] = {
    "scope": (),
    "building": ("building",),
    "floor": ("building", "floor"),
    "room": ("building", "room"),
    "device": ("device",),
}
"""``per`` → the recorder tags one group of a rule is keyed by."""

UNITS = {"active_energy": "kWh", "water_volume": "m³", "heat_energy": "kWh"}
_WHAT = {
    "active_energy": ("consumption", "用电"),
    "water_volume": ("water", "用水"),
    "heat_energy": ("heat", "用热"),
}


@dataclass(frozen=True, slots=True)
class AggregateRule:
    """One rule, resolved against the site: ``devices`` (None: every meter) and where it is."""

    id: str
    quantity: str
    per: str = "scope"
    devices: tuple[str, ...] | None = None
    above: float | None = None
    below: float | None = None
    hysteresis: float = 0.0
    periods: int = 1
    window: tuple[int, int] | None = None
    """Local start and end hour of a daily window (end ≤ start: the window wraps midnight)."""
    severity: Severity = Severity.WARNING
    target: str = ""
    """For ``per: scope``: what the alarm is about (a room ``b/r``, a building, or the rule)."""
    scope: AlarmScope = AlarmScope.SITE

    def violated(self, value: float) -> bool:
        return value > self.above if self.above is not None else value < (self.below or 0.0)

    def recovered(self, value: float) -> bool:
        if self.above is not None:
            return value <= self.above - self.hysteresis
        return value >= (self.below or 0.0) + self.hysteresis

    @property
    def threshold(self) -> float:
        return self.above if self.above is not None else self.below or 0.0

    def query(self, start: float, end: float, tz: zoneinfo.ZoneInfo) -> ConsumptionQuery:
        where: dict[str, str | Sequence[str]] = {"kind": self.quantity}
        if self.devices is not None:
            where["device"] = self.devices
        return ConsumptionQuery(
            dt.datetime.fromtimestamp(start, tz),
            dt.datetime.fromtimestamp(end, tz),
            Period.HOUR,
            (*GROUPS[self.per], "level"),
            where,
        )


@dataclass(slots=True)
class _GroupState:
    rule: AggregateRule
    group: tuple[str, ...]
    streak: int = 0
    raised: bool = False
    value: float = 0.0
    since: float | None = None
    period: tuple[float, float] = (0.0, 0.0)
    seen: list[float] = field(default_factory=list)
    """The values of the violating streak, oldest first (evidence)."""


@dataclass(slots=True)
class _Cursor:
    next_end: float | None = None
    retry_at: float = 0.0


class AggregateRules:
    """The aggregate rules of a site, judged through ``source`` (asked each time: the recorder's
    query exists only while it runs, so a ``RuntimeError`` from it means "not yet")."""

    def __init__(
        self,
        rules: Iterable[AggregateRule],
        source: Callable[[], ConsumptionSource],
        tz: zoneinfo.ZoneInfo,
        *,
        settle_s: float = 900.0,
        retry_s: float = 60.0,
    ) -> None:
        self.rules = list(rules)
        self._source = source
        self.tz = tz
        self.settle_s, self.retry_s = settle_s, retry_s
        self._cursor = {r.id: _Cursor() for r in self.rules}
        self._groups: dict[str, _GroupState] = {}
        self.evaluated = 0
        """Periods judged so far (all rules): tests and the status page read it."""

    @property
    def count(self) -> int:
        return len(self.rules)

    def seed(self, active: Iterable[AlarmRecord]) -> None:
        """Alarms the manager kept from before a restart are raised here too."""
        by_id = {r.id: r for r in self.rules}
        for record in active:
            rule = by_id.get(str(record.evidence.get("rule")))
            if record.evidence.get("source") != AGGREGATE_SOURCE or rule is None:
                continue
            group = tuple(str(g) for g in record.evidence.get("group", ()))
            state = self._groups.setdefault(record.key, _GroupState(rule, group))
            state.raised, state.streak = True, rule.periods
            state.value = float(record.evidence.get("value", 0.0))
            state.since = record.evidence.get("since")

    async def evaluate(self, now: float) -> list[AlarmRecord] | None:
        """Judge every period that completed since the last call; the active set, or None when
        nothing was judged (nothing new, or the source is not ready)."""
        judged = False
        for rule in self.rules:
            judged = await self._evaluate_rule(rule, now) or judged
        return self.active() if judged else None

    def active(self) -> list[AlarmRecord]:
        return [self._record(key, st) for key, st in self._groups.items() if st.raised]

    # -- periods ------------------------------------------------------------------------------

    def _hour_floor(self, ts: float) -> float:
        local = dt.datetime.fromtimestamp(ts, self.tz)
        return local.replace(minute=0, second=0, microsecond=0).timestamp()

    def _period_of(self, rule: AggregateRule, end: float) -> tuple[float, float]:
        """The period ending at ``end`` (a local hour, or the window's end on a day)."""
        if rule.window is None:
            return end - 3600.0, end
        start_h, _ = rule.window
        local_end = dt.datetime.fromtimestamp(end, self.tz)
        day = local_end.date() - dt.timedelta(days=1 if start_h >= local_end.hour else 0)
        start = dt.datetime.combine(day, dt.time(start_h), self.tz)
        return start.timestamp(), end

    def _next_end(self, rule: AggregateRule, end: float) -> float:
        if rule.window is None:
            return end + 3600.0
        return self._back(rule, end, -1)

    def _back(self, rule: AggregateRule, end: float, periods: int) -> float:
        """The end of the period ``periods`` before the one ending at ``end``."""
        if rule.window is None:
            return end - 3600.0 * periods
        local = dt.datetime.fromtimestamp(end, self.tz)
        day = local.date() - dt.timedelta(days=periods)
        return dt.datetime.combine(day, local.time(), self.tz).timestamp()

    def _last_end(self, rule: AggregateRule, now: float) -> float:
        """The end of the latest period that has ended by ``now``."""
        hour = self._hour_floor(now)
        if rule.window is None:
            return hour
        end_h = rule.window[1]
        local = dt.datetime.fromtimestamp(hour, self.tz)
        end = dt.datetime.combine(local.date(), dt.time(end_h), self.tz)
        if end.timestamp() > now:
            end = dt.datetime.combine(local.date() - dt.timedelta(days=1), dt.time(end_h), self.tz)
        return end.timestamp()

    async def _evaluate_rule(self, rule: AggregateRule, now: float) -> bool:
        cursor = self._cursor[rule.id]
        if cursor.next_end is None:  # first call: replay the periods a raise could rest on
            cursor.next_end = self._back(rule, self._last_end(rule, now), rule.periods - 1)
        if cursor.next_end > now or now < cursor.retry_at:
            return False
        first_start = self._period_of(rule, cursor.next_end)[0]
        last_end = self._last_end(rule, now)
        rows = await self._source().consumption(rule.query(first_start, last_end, self.tz))
        judged = False
        while cursor.next_end <= last_end:
            start, end = self._period_of(rule, cursor.next_end)
            inside = [r for r in rows if start <= r.period_start.timestamp() < end]
            if not self._complete(inside, end, now):
                cursor.retry_at = now + self.retry_s
                break
            self._judge(rule, (start, end), inside)
            judged = True
            cursor.next_end = self._next_end(rule, end)
        return judged

    def _complete(self, rows: list[ConsumptionRow], end: float, now: float) -> bool:
        if now >= end + self.settle_s:
            return True
        last_hour = end - 3600.0
        return any(r.period_start.timestamp() == last_hour for r in rows) and not any(
            r.partial for r in rows
        )

    # -- judging ------------------------------------------------------------------------------

    def _judge(
        self, rule: AggregateRule, period: tuple[float, float], rows: list[ConsumptionRow]
    ) -> None:
        self.evaluated += 1
        sums: dict[tuple[str, ...], dict[int, float]] = {}
        for row in rows:
            tags = row.tags
            group = tuple(tags[k] for k in GROUPS[rule.per])
            level = int(tags.get("level") or 0)
            per_level = sums.setdefault(group, {})
            per_level[level] = per_level.get(level, 0.0) + row.consumption
        for group, per_level in sums.items():
            value = round(per_level[min(per_level)], 6)
            key = self._key(rule, group)
            state = self._groups.setdefault(key, _GroupState(rule, group))
            state.rule, state.value, state.period = rule, value, period
            if rule.violated(value):
                state.streak += 1
                state.seen = [*state.seen, value][-rule.periods :]
                if state.since is None:
                    state.since = period[0]
                if not state.raised and state.streak >= rule.periods:
                    state.raised = True
                    _LOGGER.info("Aggregate rule %s raised for %s: %s", rule.id, key, value)
            elif not state.raised or rule.recovered(value):
                state.raised, state.streak, state.since, state.seen = False, 0, None, []
        for state in self._groups.values():  # no data this period: a streak is broken
            if state.rule.id == rule.id and state.group not in sums and not state.raised:
                state.streak, state.since, state.seen = 0, None, []

    @staticmethod
    def _key(rule: AggregateRule, group: tuple[str, ...]) -> str:
        return ":".join(["aggregate", rule.id, *group]) if group else f"aggregate:{rule.id}"

    def _where(self, rule: AggregateRule, group: tuple[str, ...]) -> tuple[AlarmScope, str]:
        if rule.per == "scope":
            return rule.scope, rule.target or rule.id
        if rule.per == "building":
            return AlarmScope.BUILDING, group[0]
        if rule.per == "floor":
            return AlarmScope.FLOOR, f"{group[0]}/floor-{group[1]}"
        if rule.per == "room":
            return AlarmScope.ROOM, f"{group[0]}/{group[1]}"
        return AlarmScope.DEVICE, group[0]

    def _record(self, key: str, st: _GroupState) -> AlarmRecord:
        rule = st.rule
        scope, target = self._where(rule, st.group)
        unit = UNITS.get(rule.quantity, "")
        what_en, what_zh = _WHAT.get(rule.quantity, (rule.quantity, rule.quantity))
        side_en, side_zh = ("above", "超过") if rule.above is not None else ("below", "低于")
        if rule.window is not None:
            span = f"{rule.window[0]:02d}:00–{rule.window[1]:02d}:00"
            when_en, when_zh = f"{span} {what_en}", f"{span} {what_zh}"
            run_en, run_zh = f"{rule.periods} day(s) in a row", f"连续 {rule.periods} 天"
        else:
            when_en, when_zh = f"hourly {what_en}", f"每小时{what_zh}"
            run_en, run_zh = f"{rule.periods} hour(s) in a row", f"连续 {rule.periods} 小时"
        figure = f"{st.value:g} {unit}"
        limit = f"{rule.threshold:g} {unit}"
        evidence: dict[str, Any] = {
            "source": AGGREGATE_SOURCE,
            "rule": rule.id,
            "group": list(st.group),
            "quantity": rule.quantity,
            "value": st.value,
            "unit": unit,
            "values": list(st.seen),
            "period_start": st.period[0],
            "period_end": st.period[1],
            "since": st.since,
        }
        return AlarmRecord(
            key=key,
            kind="aggregate",
            severity=rule.severity,
            scope=scope,
            target=target,
            message_zh=f"{target}：{when_zh} {figure}，{side_zh} {limit}（{run_zh}）",
            message_en=f"{target}: {when_en} {figure}, {side_en} {limit} ({run_en})",
            first_seen=st.period[1],
            last_seen=st.period[1],
            evidence=evidence,
        )
