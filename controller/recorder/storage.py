"""The recorder's files, written together at each flush from the database thread.

With InfluxDB configured a flush appends one outbox batch (readings plus hourly statistics as line
protocol) and then commits the hourly statistics, meter events and statistics state to the
history. The outbox goes first: if the process dies between the two, the restart recomputes the
same hours from the older state and writes them again, which InfluxDB treats as overwrites.
Without InfluxDB everything goes to the history in one transaction.

Running hours ("today so far") are not put in the outbox: the sender sends live batches before
an outage's backlog, so a stale running figure could land after the hour's complete one and
overwrite it. They are written to the history, and handed back to be written to InfluxDB
directly, best effort; the complete hour follows through the outbox as always.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from controller.core.events import Value

from .history import History
from .lineproto import LineFormatter
from .outbox import Batch, Outbox, OutboxStats, encode_batch
from .stats import HourStat, StatsOutput

__all__ = ["Chunk", "Persisted", "Storage"]

_LOGGER = logging.getLogger(__name__)


@dataclass(slots=True)
class Chunk:
    """What one flush hands to the database thread."""

    created: float
    lines: list[str] = field(default_factory=list)
    readings: list[tuple[str, float, Value]] = field(default_factory=list)
    stats: StatsOutput = field(default_factory=StatsOutput)
    states: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.lines or self.readings or self.stats or self.states)


@dataclass(frozen=True, slots=True)
class Persisted:
    readings: int
    batch: Batch | None
    hours: list[HourStat]
    outbox: OutboxStats | None
    partial_lines: list[tuple[str, float, str]] = field(default_factory=list)
    """Running hours as ``(entity_id, hour, line)``: written straight to InfluxDB (not through
    the outbox) while that hour is still the entity's running one."""


class Storage:
    """History and (with InfluxDB) outbox; every method runs on the database thread."""

    def __init__(
        self,
        history: History,
        outbox: Outbox | None,
        formatter: LineFormatter,
        gzip_level: int = 1,
    ) -> None:
        self.history = history
        self.outbox = outbox
        self.formatter = formatter
        self.gzip_level = gzip_level

    def persist(self, chunk: Chunk) -> Persisted:
        stats = chunk.stats
        hours = [*stats.hours, *self.history.adjusted(stats.adjustments)]
        batch = None
        if self.outbox is not None:
            lines = list(chunk.lines)
            consumption = self.formatter.consumption
            lines.extend(
                line
                for h in hours
                if (line := consumption(h.entity_id, h.hour, h.consumption, h.held_out))
            )
            if lines:
                body = encode_batch(lines, self.gzip_level)
                batch = self.outbox.append(body, len(lines), chunk.created)
        partial_lines: list[tuple[str, float, str]] = []
        if self.outbox is not None:
            consumption = self.formatter.consumption
            partial_lines = [
                (h.entity_id, h.hour, line)
                for h in stats.partials
                if (line := consumption(h.entity_id, h.hour, h.consumption, h.held_out, True))
            ]
        # running hours first: a final row of the same hour (none expected) must win
        stored = self.history.commit(
            chunk.readings, [*stats.partials, *hours], stats.swaps, stats.anomalies, chunk.states
        )
        return Persisted(
            len(chunk.lines) if self.outbox is not None else stored,
            batch,
            hours,
            self.outbox.stats() if self.outbox is not None else None,
            partial_lines,
        )

    def close(self) -> None:
        if self.outbox is not None:
            self.outbox.close()
        self.history.close()
