"""Hourly consumption from cumulative counters: resets, rollovers, gaps and spikes handled.

Rules (``docs/recorder.md`` explains them with examples):

* The consumption between two readings is spread over the hours they span in proportion to
  time, so a device that was unreachable for hours fills those hours when it comes back; an hour
  is emitted once a reading at or after its end has been seen. Nothing is lost across a gap.
* A reading that does not plausibly continue the counter (a backwards step that is not a
  rollover, or a rise above ``max_per_hour`` × hours) is held as *pending*. The next reading
  decides: if it continues the old counter the pending one was a glitch and is dropped; if it
  continues the pending one, the change is confirmed: a backwards one is a meter swap (the new
  meter's first reading counts from 0 when plausible), an upward one is a jump held out of the
  consumption and reported.
* Staff meter-swap records give the old meter's final and the new meter's first reading; a
  record entered after the new readings were processed corrects the estimate made then.
* Emitted values are rounded to 1e-6 units; the remainder carries into the next hour so totals
  stay exact and every backend sums the same decimal numbers.

The engine is pure: it takes readings and returns statistics and events, and its state can be
exported and restored, so the recorder persists it with the data it has flushed.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .counters import CounterSpec, Step, next_step
from .errors import SwapRecordError

__all__ = [
    "Adjustment",
    "AnomalyKind",
    "ConsumptionAnomaly",
    "HourStat",
    "MeterSwap",
    "StatisticsEngine",
    "StatsOutput",
    "hour_start",
]

_LOGGER = logging.getLogger(__name__)

HOUR = 3600.0
DECIMALS = 6
SWAP_SKEW = 300.0
"""Seconds a staff meter-swap time may lie ahead of the controller's clock (clock skew)."""
MAX_BACKFILL_HOURS = 400 * 24
"""Most hours one staff record may fill (the history's default retention): without a bound, a
swap dated 2036 made 80,000 hourly points, one dated 4763 made 24 million."""


def hour_start(timestamp: float, tz: zoneinfo.ZoneInfo) -> float:
    """Epoch seconds of the start of the local hour containing ``timestamp``."""
    offset = dt.datetime.fromtimestamp(timestamp, tz).utcoffset()
    shift = offset.total_seconds() if offset is not None else 0.0
    return timestamp - ((timestamp + shift) % HOUR)


@dataclass(frozen=True, slots=True)
class HourStat:
    """Consumption of one entity in one local hour (``hour`` is its start, epoch seconds)."""

    entity_id: str
    hour: float
    consumption: float
    held_out: float = 0.0
    partial: bool = False
    """The hour is still running: what was counted so far, rewritten as it grows."""


@dataclass(frozen=True, slots=True)
class Adjustment:
    """A correction to an hour already emitted (from a late staff meter-swap record)."""

    entity_id: str
    hour: float
    consumption: float
    held_out: float


class AnomalyKind(StrEnum):
    IMPLAUSIBLE = "implausible"
    """A reading rose more than the point's ``max_per_hour`` allows; held until confirmed."""
    JUMP_HELD_OUT = "jump_held_out"
    """The next reading confirmed the jump: the counter moved on; the jump is held out."""
    GLITCH = "glitch"
    """A pending reading was contradicted by the next one and dropped."""


@dataclass(frozen=True, slots=True)
class ConsumptionAnomaly:
    entity_id: str
    kind: AnomalyKind
    timestamp: float
    previous: float
    value: float
    amount: float
    allowed: float | None = None


@dataclass(frozen=True, slots=True)
class MeterSwap:
    """A meter was replaced: detected from a counter reset, or recorded by staff."""

    entity_id: str
    timestamp: float
    old_value: float
    new_value: float
    counted: float
    held_out: float
    manual: bool
    actor: str = "system"


@dataclass(slots=True)
class StatsOutput:
    """What the engine produced since the last drain."""

    hours: list[HourStat] = field(default_factory=list)
    adjustments: list[Adjustment] = field(default_factory=list)
    anomalies: list[ConsumptionAnomaly] = field(default_factory=list)
    swaps: list[MeterSwap] = field(default_factory=list)
    partials: list[HourStat] = field(default_factory=list)
    """Running hours so far (``partial_hours``); not part of ``hours``, which are final."""

    def __bool__(self) -> bool:
        return bool(self.hours or self.adjustments or self.anomalies or self.swaps or self.partials)


@dataclass(slots=True)
class _Swap:
    before_ts: float
    before_value: float
    after_ts: float
    after_value: float
    counted: float
    held_out: float


@dataclass(slots=True)
class _Counter:
    """The running state of one cumulative entity."""

    spec: CounterSpec
    anchor_ts: float | None = None
    first_ts: float | None = None
    anchor_value: float = 0.0
    hour: float = 0.0
    amount: float = 0.0
    held: float = 0.0
    carry: float = 0.0
    pending: tuple[float, float] | None = None
    last_swap: _Swap | None = None
    partial: tuple[float, float, float] | None = None
    """The running hour last returned by ``partial_hours`` (hour, consumption, held out);
    not part of the exported state: after a restart every running hour is written once."""

    def export(self) -> dict[str, Any]:
        swap = self.last_swap
        return {
            "anchor_ts": self.anchor_ts,
            "first_ts": self.first_ts,
            "anchor_value": self.anchor_value,
            "hour": self.hour,
            "amount": self.amount,
            "held": self.held,
            "carry": self.carry,
            "pending": list(self.pending) if self.pending else None,
            "last_swap": None
            if swap is None
            else [
                swap.before_ts,
                swap.before_value,
                swap.after_ts,
                swap.after_value,
                swap.counted,
                swap.held_out,
            ],
        }

    def restore(self, data: dict[str, Any]) -> None:
        self.anchor_ts = data["anchor_ts"]
        first = data.get("first_ts", self.anchor_ts)  # states saved before first_ts existed
        self.first_ts = None if first is None else float(first)
        self.anchor_value = float(data["anchor_value"])
        self.hour = float(data["hour"])
        self.amount = float(data["amount"])
        self.held = float(data["held"])
        self.carry = float(data["carry"])
        pending = data.get("pending")
        self.pending = (float(pending[0]), float(pending[1])) if pending else None
        swap = data.get("last_swap")
        self.last_swap = _Swap(*(float(x) for x in swap)) if swap else None


class StatisticsEngine:
    """Turns readings of cumulative entities into hourly consumption and events."""

    def __init__(self, specs: Iterable[CounterSpec], tz: zoneinfo.ZoneInfo) -> None:
        self.tz = tz
        self._counters = {spec.entity_id: _Counter(spec) for spec in specs}
        self.entity_ids = frozenset(self._counters)
        """The cumulative entities this engine derives statistics for."""
        self._out = StatsOutput()
        self._dirty: set[str] = set()
        self._running: set[str] = set()
        self._hour_cache = (0.0, 0.0)
        self.rollovers = 0
        self.out_of_order = 0
        self.unchanged_partials = 0
        """Running hours ``partial_hours`` left out because they had not changed."""

    def __contains__(self, entity_id: object) -> bool:
        return entity_id in self._counters

    def __len__(self) -> int:
        return len(self._counters)

    # -- time ------------------------------------------------------------------------------

    def hour_of(self, timestamp: float) -> float:
        start, end = self._hour_cache
        if start <= timestamp < end:
            return start
        start = hour_start(timestamp, self.tz)
        self._hour_cache = (start, start + HOUR)
        return start

    # -- readings --------------------------------------------------------------------------

    def observe(self, entity_id: str, timestamp: float, value: float) -> None:
        """Feed one good reading. Readings of unknown entities and non-finite values are
        ignored."""
        counter = self._counters.get(entity_id)
        if counter is None or not math.isfinite(value):
            return
        self._dirty.add(entity_id)
        self._running.add(entity_id)
        if counter.anchor_ts is None:
            self._anchor(counter, timestamp, value)
            return
        latest = counter.pending[0] if counter.pending else counter.anchor_ts
        if timestamp <= latest:
            self.out_of_order += 1
            return
        spec = counter.spec
        step = next_step(spec, counter.anchor_value, counter.anchor_ts, value, timestamp)
        if step is not None:
            if counter.pending is not None:
                self._glitch(counter, *counter.pending)
            self._advance(counter, step, timestamp)
            return
        if counter.pending is not None:
            p_ts, p_value = counter.pending
            step = next_step(spec, p_value, p_ts, value, timestamp)
            if step is not None:
                self._confirm(counter, p_ts, p_value)
                self._advance(counter, step, timestamp)
                return
            self._glitch(counter, p_ts, p_value)
        self._suspect(counter, timestamp, value)

    def _anchor(self, counter: _Counter, timestamp: float, value: float) -> None:
        if counter.first_ts is None:
            counter.first_ts = timestamp
        counter.anchor_ts = timestamp
        counter.anchor_value = value
        counter.hour = self.hour_of(timestamp)

    def _advance(self, counter: _Counter, step: Step, timestamp: float) -> None:
        assert counter.anchor_ts is not None
        if step.rollover:
            self.rollovers += 1
            _LOGGER.info(
                "Counter %s rolled over (%s → %s)",
                counter.spec.entity_id,
                counter.anchor_value,
                step.anchor,
            )
        self._spread(counter, step.amount, counter.anchor_ts, timestamp)
        counter.anchor_ts = timestamp
        counter.anchor_value = step.anchor

    def _suspect(self, counter: _Counter, timestamp: float, value: float) -> None:
        """Hold a reading that does not continue the counter until the next one decides."""
        assert counter.anchor_ts is not None
        counter.pending = (timestamp, value)
        if value > counter.anchor_value:
            hours = (timestamp - counter.anchor_ts) / HOUR
            allowed = counter.spec.limit(hours, counter.anchor_value)
            self._out.anomalies.append(
                ConsumptionAnomaly(
                    counter.spec.entity_id,
                    AnomalyKind.IMPLAUSIBLE,
                    timestamp,
                    counter.anchor_value,
                    value,
                    value - counter.anchor_value,
                    allowed,
                )
            )

    def _glitch(self, counter: _Counter, timestamp: float, value: float) -> None:
        counter.pending = None
        self._out.anomalies.append(
            ConsumptionAnomaly(
                counter.spec.entity_id,
                AnomalyKind.GLITCH,
                timestamp,
                counter.anchor_value,
                value,
                0.0,
            )
        )

    def _confirm(self, counter: _Counter, timestamp: float, value: float) -> None:
        """The pending reading was real: re-anchor there (a meter swap, or a held-out jump)."""
        assert counter.anchor_ts is not None
        spec = counter.spec
        before_ts, before = counter.anchor_ts, counter.anchor_value
        counter.pending = None
        if value < before:
            hours = (timestamp - before_ts) / HOUR
            counted = value if 0.0 <= value <= spec.limit(hours, 0.0) else 0.0
            held = value - counted
            self._spread(counter, counted, before_ts, timestamp)
            counter.held += held
            counter.last_swap = _Swap(before_ts, before, timestamp, value, counted, held)
            self._out.swaps.append(
                MeterSwap(spec.entity_id, timestamp, before, value, counted, held, manual=False)
            )
        else:
            self._spread(counter, 0.0, before_ts, timestamp)
            counter.held += value - before
            self._out.anomalies.append(
                ConsumptionAnomaly(
                    spec.entity_id,
                    AnomalyKind.JUMP_HELD_OUT,
                    timestamp,
                    before,
                    value,
                    value - before,
                )
            )
        counter.anchor_ts = timestamp
        counter.anchor_value = value

    # -- hours -----------------------------------------------------------------------------

    def _spread(self, counter: _Counter, amount: float, t0: float, t1: float) -> None:
        """Add ``amount`` over [t0, t1] in proportion to time; close the hours it passes."""
        span = t1 - t0
        given = 0.0
        start = t0
        while True:
            end = counter.hour + HOUR
            if t1 < end:
                counter.amount += amount - given
                return
            portion = amount * (end - start) / span if span > 0 else 0.0
            counter.amount += portion
            given += portion
            self._close(counter)
            start = end

    def _close(self, counter: _Counter) -> None:
        total = counter.amount + counter.carry
        emitted = round(total, DECIMALS) + 0.0
        counter.carry = total - emitted
        self._out.hours.append(
            HourStat(
                counter.spec.entity_id,
                counter.hour,
                emitted,
                round(counter.held, DECIMALS) + 0.0,
            )
        )
        counter.hour = self.hour_of(counter.hour + HOUR)
        counter.amount = 0.0
        counter.held = 0.0

    # -- staff records ---------------------------------------------------------------------

    def record_swap(
        self,
        entity_id: str,
        at: float,
        old_final: float,
        new_start: float,
        actor: str = "staff",
        *,
        now: float,
    ) -> MeterSwap:
        """Apply a staff meter-swap record: old meter's final reading, new meter's first.

        Entered before the new meter's readings arrive, it re-anchors the counter exactly.
        Entered later, it corrects the estimate made when the reset was detected (the hour of
        the swap gets the difference). A record is bounded before anything changes: ``at``
        between the meter's first reading and ``now`` (+ ``SWAP_SKEW``), values finite,
        non-negative and below the register's wrap, the consumption it implies plausible,
        at most ``MAX_BACKFILL_HOURS`` filled. Anything else raises ``SwapRecordError``.
        """
        counter = self._counters.get(entity_id)
        if counter is None:
            raise SwapRecordError(entity_id, "not a cumulative point with statistics")
        _check_swap_bounds(counter, at, old_final, new_start, now)
        if counter.anchor_ts is not None and at >= counter.anchor_ts:
            _check_swap_ahead(counter, at, old_final)
        self._dirty.add(entity_id)
        if counter.anchor_ts is None:
            self._anchor(counter, at, new_start)
            swap = MeterSwap(entity_id, at, old_final, new_start, 0.0, 0.0, True, actor)
        elif at >= counter.anchor_ts:
            swap = self._swap_ahead(counter, at, old_final, new_start, actor)
        else:
            swap = self._swap_late(counter, at, old_final, new_start, actor)
        self._out.swaps.append(swap)
        return swap

    def _swap_ahead(
        self, counter: _Counter, at: float, old_final: float, new_start: float, actor: str
    ) -> MeterSwap:
        assert counter.anchor_ts is not None
        entity_id = counter.spec.entity_id
        amount = old_final - counter.anchor_value
        if amount < -counter.spec.tolerance(counter.anchor_value):
            raise SwapRecordError(
                entity_id,
                f"old meter's final reading {old_final} is below its last reading "
                f"{counter.anchor_value}",
            )
        pending = counter.pending
        counter.pending = None
        self._spread(counter, max(amount, 0.0), counter.anchor_ts, at)
        counter.anchor_ts = at
        counter.anchor_value = new_start
        counter.last_swap = None
        if pending is not None and pending[0] > at:
            self.observe(entity_id, *pending)
        return MeterSwap(entity_id, at, old_final, new_start, max(amount, 0.0), 0.0, True, actor)

    def _swap_late(
        self, counter: _Counter, at: float, old_final: float, new_start: float, actor: str
    ) -> MeterSwap:
        entity_id = counter.spec.entity_id
        swap = counter.last_swap
        if swap is None or not swap.before_ts <= at <= swap.after_ts:
            raise SwapRecordError(
                entity_id,
                "readings after this time were already processed and show no counter reset "
                "around it; enter swap records before the new meter reports",
            )
        if old_final < swap.before_value - counter.spec.tolerance(swap.before_value):
            raise SwapRecordError(
                entity_id,
                f"old meter's final reading is below its last reading {swap.before_value}",
            )
        true_amount = (old_final - swap.before_value) + (swap.after_value - new_start)
        hours = (swap.after_ts - swap.before_ts) / HOUR
        allowed = counter.spec.limit(hours, swap.before_value)
        if not -counter.spec.tolerance(swap.after_value) <= true_amount <= allowed:
            raise SwapRecordError(
                entity_id,
                f"the record implies {true_amount:g} consumed in {hours:.2f} h around the swap; "
                f"plausible is 0 to {allowed:g}",
                "old_final",
            )
        correction = true_amount - swap.counted
        hour = self.hour_of(at)
        if hour >= counter.hour:
            counter.amount += correction
            counter.held -= swap.held_out
        else:
            self._out.adjustments.append(Adjustment(entity_id, hour, correction, -swap.held_out))
        counter.last_swap = None
        return MeterSwap(entity_id, at, old_final, new_start, true_amount, 0.0, True, actor)

    # -- output and persistence ------------------------------------------------------------

    def partial_hours(self) -> list[HourStat]:
        """The running hour of every counter fed since the last call, as counted so far,
        when it differs from the figure the last call returned for that counter.

        Nothing changes in the engine: the hour is emitted again, complete, when it closes,
        and that row replaces these (same hour, same series). Rounded like closed hours, the
        carried remainder included. A figure equal to the one returned before is left out
        (``unchanged_partials`` counts them): at night most of a campus's 40,000 counters
        stand still, and rewriting their running hours every minute was most of what the
        recorder's database thread did. A caller that could not deliver the figures it got
        hands them back to ``forget_partials``.
        """
        running, self._running = self._running, set()
        out = []
        for entity_id in sorted(running):
            counter = self._counters[entity_id]
            if counter.anchor_ts is None:
                continue
            figure = (
                counter.hour,
                round(counter.amount + counter.carry, DECIMALS) + 0.0,
                round(counter.held, DECIMALS) + 0.0,
            )
            if figure == counter.partial:
                self.unchanged_partials += 1
                continue
            counter.partial = figure
            out.append(HourStat(entity_id, *figure, partial=True))
        return out

    def forget_partials(self, entity_ids: Iterable[str]) -> None:
        """The running hours last returned for ``entity_ids`` did not reach their store (a
        best-effort InfluxDB write failed): return them again at the next call, even
        unchanged."""
        for entity_id in entity_ids:
            counter = self._counters.get(entity_id)
            if counter is not None:
                counter.partial = None
                self._running.add(entity_id)

    def running_hour(self, entity_id: str) -> float | None:
        """The hour ``entity_id`` is counting now (None before its first reading): a running
        figure for any other hour is stale, its complete row is already on its way."""
        counter = self._counters.get(entity_id)
        if counter is None or counter.anchor_ts is None:
            return None
        return counter.hour

    def drain(self) -> StatsOutput:
        """Everything produced since the last drain."""
        out, self._out = self._out, StatsOutput()
        return out

    @property
    def dirty(self) -> bool:
        """Whether some counter changed since the last ``drain_dirty``."""
        return bool(self._dirty)

    def drain_dirty(self) -> dict[str, dict[str, Any]]:
        """The exported state of every entity changed since the last call."""
        dirty, self._dirty = self._dirty, set()
        return {eid: self._counters[eid].export() for eid in dirty}

    def restore(self, states: dict[str, dict[str, Any]]) -> int:
        """Restore exported states (unknown entities are skipped); returns how many applied.

        Every running hour counts as never written afterwards: a restarted recorder cannot
        tell which figures its last flushes delivered."""
        for each in self._counters.values():
            each.partial = None
        applied = 0
        for entity_id, data in states.items():
            counter = self._counters.get(entity_id)
            if counter is None:
                continue
            try:
                counter.restore(data)
            except (KeyError, TypeError, ValueError) as err:
                _LOGGER.warning("Ignoring saved statistics state of %s: %s", entity_id, err)
                self._counters[entity_id] = _Counter(counter.spec)
                continue
            applied += 1
        return applied

    def open_hours(self) -> dict[str, float]:
        """The hour each entity is accumulating now (for status and tests)."""
        return {eid: c.hour for eid, c in self._counters.items() if c.anchor_ts is not None}


def _check_swap_bounds(
    counter: _Counter, at: float, old_final: float, new_start: float, now: float
) -> None:
    """The limits every staff swap record must keep, whatever the readings so far."""
    spec = counter.spec
    entity_id = spec.entity_id
    for name, value in (("old_final", old_final), ("new_start", new_start)):
        if not math.isfinite(value) or value < 0:
            raise SwapRecordError(entity_id, f"{name} must be a finite, non-negative reading", name)
        if spec.modulus is not None and value >= spec.modulus:
            raise SwapRecordError(
                entity_id,
                f"{name} {value:g} is beyond the register's range (< {spec.modulus:g})",
                name,
            )
    if not math.isfinite(at) or at > now + SWAP_SKEW:
        raise SwapRecordError(entity_id, "the swap time lies in the future", "at")
    earliest = counter.first_ts if counter.first_ts is not None else now - MAX_BACKFILL_HOURS * HOUR
    if at < earliest:
        what = "the meter's first reading" if counter.first_ts is not None else "the backfill bound"
        when = dt.datetime.fromtimestamp(earliest, dt.UTC)
        raise SwapRecordError(
            entity_id, f"the swap time is before {what} ({when:%Y-%m-%d %H:%M} UTC)", "at"
        )


def _check_swap_ahead(counter: _Counter, at: float, old_final: float) -> None:
    """A record after the last reading: the old meter's consumption up to it is plausible and
    fills a bounded number of hours."""
    assert counter.anchor_ts is not None
    spec = counter.spec
    hours = (at - counter.anchor_ts) / HOUR
    if hours > MAX_BACKFILL_HOURS:
        raise SwapRecordError(
            spec.entity_id,
            f"the swap is {hours:.0f} h after the last reading; at most {MAX_BACKFILL_HOURS} h "
            "can be filled by one record",
            "at",
        )
    amount = old_final - counter.anchor_value
    allowed = spec.limit(hours, counter.anchor_value)
    if amount > allowed:
        raise SwapRecordError(
            spec.entity_id,
            f"old_final implies {amount:g} consumed in {hours:.2f} h since the last reading "
            f"{counter.anchor_value:g}; at most {allowed:g} is plausible",
            "old_final",
        )
