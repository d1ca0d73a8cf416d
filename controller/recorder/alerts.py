"""What the recorder tells staff: meter swaps, implausible jumps, an outbox near its bound.

Events go on the bus (``MeterSwapped``, ``AlarmRaised``) for the audit log, the API and the live
view. Outbox warnings follow "loud once, then quiet": one warning and alarm when the outbox
passes ``warn_fill`` (re-armed below 7/8 of it), one error and critical alarm when it first
drops data.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

from controller.core import AlarmRaised, Clock, EventBus

from .events import MeterSwapped
from .outbox import OutboxStats
from .stats import AnomalyKind, ConsumptionAnomaly, MeterSwap, StatsOutput

__all__ = ["Alerts"]

_LOGGER = logging.getLogger(__name__)


class Alerts:
    """Publishes the recorder's events and alarms; counts them for the status."""

    def __init__(
        self, bus: EventBus, clock: Clock, outbox_path: Path | None, warn_fill: float = 0.8
    ) -> None:
        self.bus = bus
        self.clock = clock
        self.outbox_path = outbox_path
        self.warn_fill = warn_fill
        self.swaps = 0
        self.anomalies = 0
        self._fill_warned = False
        self._dropped_seen = 0

    def statistics(self, out: StatsOutput) -> None:
        for swap in out.swaps:
            self.swaps += 1
            self.bus.publish(_swapped(swap))
            _LOGGER.info(
                "Meter swap %s on %s at %s: %s → %s, counted %s",
                "recorded" if swap.manual else "detected",
                swap.entity_id,
                dt.datetime.fromtimestamp(swap.timestamp, self.clock.tz).isoformat(),
                swap.old_value,
                swap.new_value,
                swap.counted,
            )
        for anomaly in out.anomalies:
            self.anomalies += 1
            if anomaly.kind is AnomalyKind.GLITCH:
                _LOGGER.info(
                    "Dropped reading %s of %s (contradicted by the next one)",
                    anomaly.value,
                    anomaly.entity_id,
                )
            else:
                self.bus.publish(_jump_alarm(anomaly))

    def outbox(self, stats: OutboxStats) -> None:
        """Warn loudly once when the outbox nears its bound, again when it starts dropping."""
        now = self.clock.time()
        if stats.fill >= self.warn_fill and not self._fill_warned:
            self._fill_warned = True
            _LOGGER.warning(
                "Recorder outbox %s is %.0f%% full (%d batches, %d points): InfluxDB has been "
                "unreachable; the oldest data is dropped when it is full",
                self.outbox_path,
                stats.fill * 100,
                stats.batches,
                stats.points,
            )
            self.bus.publish(
                AlarmRaised(
                    "recorder.outbox_near_full",
                    "warning",
                    f"数据缓存已用 {stats.fill:.0%}，InfluxDB 无法写入",
                    f"Recorder outbox {stats.fill:.0%} full: InfluxDB is not taking writes",
                    now,
                    evidence={"batches": stats.batches, "points": stats.points},
                )
            )
        elif stats.fill < self.warn_fill * 0.875:
            self._fill_warned = False
        if stats.dropped_points > self._dropped_seen:
            first = self._dropped_seen == 0
            self._dropped_seen = stats.dropped_points
            (_LOGGER.error if first else _LOGGER.debug)(
                "Recorder outbox is full: dropped the oldest batches, %d points lost so far",
                stats.dropped_points,
            )
            if first:
                self.bus.publish(
                    AlarmRaised(
                        "recorder.outbox_full",
                        "critical",
                        "数据缓存已满，最早的数据被丢弃",
                        "Recorder outbox full: the oldest data is being dropped",
                        now,
                        evidence={"dropped_points": stats.dropped_points},
                    )
                )


def _swapped(swap: MeterSwap) -> MeterSwapped:
    return MeterSwapped(
        swap.entity_id,
        swap.timestamp,
        swap.old_value,
        swap.new_value,
        swap.counted,
        swap.held_out,
        swap.manual,
        swap.actor,
    )


def _jump_alarm(anomaly: ConsumptionAnomaly) -> AlarmRaised:
    held = anomaly.kind is AnomalyKind.JUMP_HELD_OUT
    return AlarmRaised(
        alarm_id=f"recorder.{anomaly.kind.value}.{anomaly.entity_id}",
        severity="warning",
        message_zh=(
            f"{anomaly.entity_id} 读数跳变 {anomaly.amount:g}，"
            + ("已确认，未计入用量" if held else "超出合理范围，暂不计入用量")
        ),
        message_en=(
            f"{anomaly.entity_id} jumped by {anomaly.amount:g}; "
            + (
                "confirmed and held out of consumption"
                if held
                else "implausible, held until the next reading"
            )
        ),
        timestamp=anomaly.timestamp,
        entity_id=anomaly.entity_id,
        evidence={
            "previous": anomaly.previous,
            "value": anomaly.value,
            "amount": anomaly.amount,
            "allowed": anomaly.allowed,
        },
    )
