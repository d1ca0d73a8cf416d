"""Alarms read from the components' own figures: broker, database, outbox, calendar.

Each detector is a ``Source`` for ``AlarmManager.sync``: called every service tick, it answers
its whole active set, so recovery clears an alarm without a separate "cleared" path. A
condition must hold for ``grace_s`` before it counts (a broker reconnecting for two seconds is
not an alarm). Detectors read ``status()`` dicts and a few public attributes only; they import
no driver and change nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

from controller.calendar import SiteCalendar
from controller.calendar_watch import LEAD_DAYS, PROVISIONAL_KIND, ProvisionalYear
from controller.core import Clock

from .model import AlarmRecord, AlarmScope, Severity
from .notify.outbox import Outbox

__all__ = [
    "OUTBOX_KEY",
    "Source",
    "calendar_source",
    "delivery_source",
    "mqtt_source",
    "outbox_source",
    "recorder_source",
]

Source = Callable[[], tuple[str, list[AlarmRecord]]]

OUTBOX_KEY = "recorder.outbox_near_full"
"""The outbox alarm's key, the one the recorder's own warning event carries too."""


def _record(
    key: str,
    *,
    kind: str,
    severity: Severity,
    target: str,
    en: str,
    zh: str,
    now: float,
    evidence: dict[str, Any],
) -> AlarmRecord:
    return AlarmRecord(
        key, kind, severity, AlarmScope.SITE, target, zh, en, now, now, evidence=evidence
    )


class _Held:
    """Remembers since when each condition holds; ``due`` once it held ``grace_s``."""

    def __init__(self, clock: Clock, grace_s: float) -> None:
        self.clock, self.grace_s = clock, grace_s
        self._since: dict[str, float] = {}

    def due(self, key: str, holds: bool) -> float | None:
        """The start of a condition that held long enough, else None (and forget it)."""
        if not holds:
            self._since.pop(key, None)
            return None
        since = self._since.setdefault(key, self.clock.time())
        return since if self.clock.time() - since >= self.grace_s else None


def mqtt_source(integrations: Iterable[Any], clock: Clock, grace_s: float) -> Source:
    """One critical alarm per MQTT link whose broker connection is down past the grace."""
    items = list(integrations)
    held = _Held(clock, grace_s)

    def poll() -> tuple[str, list[AlarmRecord]]:
        out = []
        for integration in items:
            stats = integration.driver.stats()
            key = f"mqtt.{integration.name}"
            since = held.due(key, stats["state"] != "connected")
            if since is not None:
                broker = stats["broker"]
                out.append(
                    _record(
                        key,
                        kind="mqtt_unreachable",
                        severity=Severity.CRITICAL,
                        target=integration.name,
                        en=f"MQTT broker {broker} unreachable ({stats['state']}): "
                        f"{stats['devices']} devices get no data",
                        zh=f"MQTT 服务器 {broker} 无法连接，{stats['devices']} 台设备无数据",
                        now=clock.time(),
                        evidence={
                            "since": since,
                            "broker": broker,
                            "last_error": stats["last_error"],
                        },
                    )
                )
        return "mqtt", out

    return poll


def recorder_source(recorder: Any, clock: Clock, grace_s: float) -> Source:
    """InfluxDB not taking writes past the grace (the recorder's ``backend_up``)."""
    held = _Held(clock, grace_s)

    def poll() -> tuple[str, list[AlarmRecord]]:
        status = recorder.status()
        up = status.get("backend_up")
        since = held.due("recorder.influxdb", up is False)
        if since is None:
            return "recorder", []
        record = _record(
            "recorder.influxdb",
            kind="influxdb_unreachable",
            severity=Severity.CRITICAL,
            target=str(status["backend"]),
            en=f"InfluxDB unreachable: {status.get('last_error') or 'no answer'}; "
            f"{status.get('outbox_points', 0)} points wait in the outbox",
            zh=f"InfluxDB 无法写入，{status.get('outbox_points', 0)} 个数据点在缓存中等待",
            now=clock.time(),
            evidence={"since": since, "write_errors": status.get("write_errors", 0)},
        )
        return "recorder", [record]

    return poll


def outbox_source(recorder: Any, clock: Clock, warn_ratio: float) -> Source:
    """The recorder's disk outbox above ``warn_ratio`` of its bound; clears below 7/8 of it.

    Same key as the recorder's own warning event, so both are one alarm, and this one clears
    (``build_alarms`` has the manager ``claim`` the key for it).
    """
    raised = False

    def poll() -> tuple[str, list[AlarmRecord]]:
        nonlocal raised
        status = recorder.status()
        fill = float(status.get("outbox_fill") or 0.0)
        raised = fill >= warn_ratio or (raised and fill >= warn_ratio * 0.875)
        if not raised:
            return "outbox", []
        record = _record(
            OUTBOX_KEY,
            kind="outbox_near_full",
            severity=Severity.WARNING,
            target="recorder",
            en=f"Recorder outbox {fill:.0%} full (alarm at {warn_ratio:.0%}): InfluxDB is not "
            "taking writes; the oldest data is dropped when it is full",
            zh=f"数据缓存已用 {fill:.0%}（{warn_ratio:.0%} 告警），InfluxDB 无法写入",
            now=clock.time(),
            evidence={"fill": fill, "points": status.get("outbox_points", 0)},
        )
        return "outbox", [record]

    return poll


def calendar_source(calendar: SiteCalendar, clock: Clock, ahead_days: int = LEAD_DAYS) -> Source:
    """A provisional year (no State Council notice: neither chinese-calendar nor the holidays
    file's ``notice_years`` has it) among the next ``ahead_days`` days: its make-up working days
    are unknown. The same rule, lead and words as ``CalendarWatch``, which announces the same key
    on the bus: the two are one alarm. ``calendar`` must be the instance the watch reloads (the
    policy engine's), so entering the notice clears the alarm here too."""

    def poll() -> tuple[str, list[AlarmRecord]]:
        today = clock.now().date()
        path = str(calendar.holidays_path) if calendar.holidays_path else None
        out = []
        for year in calendar.provisional_years(today, ahead_days):
            alarm = ProvisionalYear(year, max(today, dt.date(year, 1, 1)), path)
            out.append(
                _record(
                    alarm.key,
                    kind=PROVISIONAL_KIND,
                    severity=Severity.WARNING,
                    target="calendar",
                    en=alarm.message_en,
                    zh=alarm.message_zh,
                    now=clock.time(),
                    evidence={"year": year, "first_day": alarm.first_day.isoformat()},
                )
            )
        return "calendar", out

    return poll


def delivery_source(outbox: Outbox) -> Source:
    """A channel that gave up on a delivery (``max_attempts`` spent): people are not being
    told. One alarm per channel, cleared once the channel delivers again — the alarm's own
    message to that channel is the probe that finds out."""

    def poll() -> tuple[str, list[AlarmRecord]]:
        out = [
            _record(
                f"notify.failed.{f.channel}",
                kind="notify.failed",
                severity=Severity.WARNING,
                target=f.channel,
                en=f"notification channel {f.channel} gave up on {f.failed} deliveries: "
                f"{f.last_error or 'no answer'}",
                zh=f"通知渠道 {f.channel} 有 {f.failed} 条通知发送失败，告警无法送达",
                now=f.last_at,
                evidence={
                    "channel": f.channel,
                    "failed": f.failed,
                    "since": f.since,
                    "last_error": f.last_error,
                },
            )
            for f in outbox.failing_channels()
        ]
        return "notify", out

    return poll
