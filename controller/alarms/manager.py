"""The one place alarms are kept: raise, de-duplicate, suppress flapping, clear on recovery.

Sources feed it in three ways:

* ``AlarmRaised`` on the bus (policies, recorder, supervision). An event whose evidence says
  ``{"cleared": true}`` clears the alarm of that id, so a source without its own clear event can
  still clear through the existing event type.
* ``AvailabilityChanged`` on the bus: a device offline beyond ``grace_s`` raises a device alarm;
  when every device of a bus is offline the bus gets ONE alarm instead (its device alarms are
  folded into it), and recovery clears it.
* direct calls: ``raise_``/``clear`` (e.g. the provisional-calendar check) and ``sync`` (a
  source that reports its whole active set, like the policy engine's alarm book).

Every change is written to the ``AlarmStore`` and handed to the listeners (the notification
outbox). A key raised again within ``flap_window_s`` of its clear reopens the same record with a
higher ``count`` and does not notify again: a bouncing device is one alarm, not a storm.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from controller.core import AlarmRaised, Clock
from controller.core.events import AvailabilityChanged, Event, StateChanged

from .model import AlarmRecord, AlarmScope, Severity
from .rules import ThresholdRules
from .store import AlarmStore

__all__ = ["OWN_SOURCES", "AlarmManager", "Listener"]

SEEN_STORE_EVERY = 60.0
"""Seconds between stores of an active alarm whose refreshes change only ``last_seen`` (the
store's ``last_seen`` lags the live list by at most this; a change of evidence, severity or
state is stored at once)."""

_LOGGER = logging.getLogger(__name__)

Listener = Callable[[str, AlarmRecord], None]
"""Called with ``"raised"``, ``"cleared"`` or ``"acked"`` and the record after the change."""

NO_DEVICE_ANSWERS = "no device answers"

OWN_SOURCES = frozenset(
    {"availability", "rules", "aggregates", "mqtt", "recorder", "outbox", "calendar", "notify"}
)
"""``evidence["source"]`` of the alarms this layer detects itself (the rest come in from the
bus or the policy engine); the service announces these on the bus."""


class AlarmManager:
    """Keeps alarms; ``tick()`` (the service loop or a test with a fake clock) ages them."""

    def __init__(
        self,
        store: AlarmStore,
        clock: Clock,
        *,
        buses: Mapping[str, Sequence[str]] | None = None,
        buildings: Mapping[str, str] | None = None,
        grace_s: float = 120.0,
        flap_window_s: float = 600.0,
        rules: ThresholdRules | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.grace_s = grace_s
        self.flap_window_s = flap_window_s
        self.rules = rules
        self.listeners: list[Listener] = []
        self._buses = {bus: tuple(devs) for bus, devs in (buses or {}).items()}
        self._bus_of = {d: bus for bus, devs in self._buses.items() for d in devs}
        self._buildings = dict(buildings or {})
        self._offline_since: dict[str, float] = {}
        self._active: dict[str, AlarmRecord] = {r.key: r for r in store.active()}
        self._stored_seen: dict[str, float] = {r.key: r.last_seen for r in self._active.values()}
        self._claims: dict[str, str] = {}
        acks = store.acks_after(0)
        self._ack_row = acks[-1][0] if acks else 0

    # -- the core: raise, clear, acknowledge --------------------------------------------------

    def _put(self, record: AlarmRecord) -> None:
        self.store.put(record)
        self._stored_seen[record.key] = record.last_seen

    def raise_(
        self,
        key: str,
        *,
        kind: str,
        severity: Severity | str,
        scope: AlarmScope | str,
        target: str,
        message_en: str,
        message_zh: str = "",
        evidence: Mapping[str, Any] | None = None,
        ts: float | None = None,
    ) -> AlarmRecord:
        """Raise (or refresh) the alarm ``key``; listeners hear only of a new one."""
        now = self.clock.time() if ts is None else ts
        sev = severity if isinstance(severity, Severity) else Severity.parse(severity)
        record = self._active.get(key)
        if record is not None:
            record.last_seen = now
            owner = record.evidence.get("source")
            before = (record.evidence, record.severity)
            record.evidence = dict(evidence or record.evidence)
            if owner is not None:  # a bus event about a polled alarm keeps its owner
                record.evidence.setdefault("source", owner)
            if sev.rank > record.severity.rank:
                record.severity = sev
            # a refresh that changes nothing but last_seen is stored once a minute: polled
            # sources refresh every active alarm on every step
            stale = now - self._stored_seen.get(key, -math.inf) >= SEEN_STORE_EVERY
            if stale or (record.evidence, record.severity) != before:
                self._put(record)
            return record
        old = self.store.get(key)
        reopened = (
            old is not None
            and old.cleared_at is not None
            and now - old.cleared_at < self.flap_window_s
        )
        if old is not None and reopened:
            old.cleared_at = None
            old.last_seen = now
            old.count += 1
            old.severity = sev
            old.evidence = dict(evidence or {})
            record = old
        else:
            record = AlarmRecord(
                key=key,
                kind=kind,
                severity=sev,
                scope=AlarmScope(scope),
                target=target,
                message_zh=message_zh or message_en,
                message_en=message_en,
                first_seen=now,
                last_seen=now,
                evidence=dict(evidence or {}),
                building=self._building_of(target),
            )
        self._active[key] = record
        self._put(record)
        if not reopened:
            self._tell("raised", record)
        return record

    def clear(self, key: str, ts: float | None = None) -> AlarmRecord | None:
        """Clear ``key`` if active (recovery); listeners hear of it."""
        record = self._active.pop(key, None)
        if record is None:
            return None
        record.cleared_at = self.clock.time() if ts is None else ts
        self._stored_seen.pop(key, None)
        self.store.put(record)
        self._tell("cleared", record)
        return record

    def ack(self, key: str, actor: str, ts: float | None = None) -> AlarmRecord | None:
        """``actor`` (the authenticated account) has seen ``key``; None if it is not active.

        Acknowledging twice keeps the first acknowledgement (escalation stopped then)."""
        record = self._active.get(key)
        if record is None:
            return None
        if record.acked_at is None:
            now = self.clock.time() if ts is None else ts
            self.store.add_ack(key, record.first_seen, actor, now)
            self._apply_ack(record, actor, now)
        return record

    def _apply_ack(self, record: AlarmRecord, actor: str, ts: float) -> None:
        record.acked_by, record.acked_at = actor, ts
        self.store.put(record)
        self._tell("acked", record)

    def _pick_up_acks(self) -> None:
        """Acknowledgements another process (``sanjie alarms ack``) wrote into the store."""
        for row, key, first_seen, actor, ts in self.store.acks_after(self._ack_row):
            self._ack_row = row
            record = self._active.get(key)
            if record is not None and record.acked_at is None and record.first_seen == first_seen:
                self._apply_ack(record, actor, ts)

    def sync(self, source: str, active: Iterable[AlarmRecord], ts: float | None = None) -> None:
        """``source`` reports its whole active set: raise what is new, clear what is gone."""
        now = self.clock.time() if ts is None else ts
        keys = set()
        for rec in active:
            keys.add(rec.key)
            evidence = dict(rec.evidence)
            evidence["source"] = source
            self.raise_(
                rec.key,
                kind=rec.kind,
                severity=rec.severity,
                scope=rec.scope,
                target=rec.target,
                message_en=rec.message_en,
                message_zh=rec.message_zh,
                evidence=evidence,
                ts=now,
            )
            if rec.acked_by is not None:  # acknowledged at the source (the engine's own route)
                kept = self._active[rec.key]
                if kept.acked_at is None:
                    self.store.add_ack(kept.key, kept.first_seen, rec.acked_by, rec.acked_at or now)
                    self._apply_ack(kept, rec.acked_by, rec.acked_at or now)
        for key, rec in list(self._active.items()):
            if key in keys:
                continue
            owner = rec.evidence.get("source")
            if owner is None and self._claims.get(key) == source:
                rec.evidence["source"] = owner = source  # announced as ours, like a reported one
            if owner == source:
                self.clear(key, now)

    def claim(self, key: str, source: str) -> None:
        """``source`` answers for ``key`` also when a bus event raised it first.

        The recorder announces ``recorder.outbox_near_full`` on the bus, and the outbox
        detector reports the same key. An alarm raised by the event belongs to no source
        until the detector reports it; if the outbox drained before the detector's next poll
        (InfluxDB back within a round), nothing would ever clear it. A claimed key without an
        owner is cleared by the first ``sync`` of its claimant that does not report it."""
        self._claims[key] = source

    def active(self) -> list[AlarmRecord]:
        return sorted(self._active.values(), key=lambda r: (-r.severity.rank, r.first_seen))

    def get(self, key: str) -> AlarmRecord | None:
        return self._active.get(key) or self.store.get(key)

    # -- events -------------------------------------------------------------------------------

    def handle(self, event: Event) -> None:
        """One bus event (``run`` feeds them; tests may call it directly)."""
        if isinstance(event, AvailabilityChanged):
            self._availability(event)
        elif isinstance(event, AlarmRaised):
            self._alarm_event(event)
        elif isinstance(event, StateChanged) and self.rules is not None:
            for change in self.rules.feed(event.entity_id, event.new.value, event.new.timestamp):
                self._rule_change(change)

    def tick(self) -> None:
        """Age what waits on time: offline devices past their grace, rule durations."""
        self._pick_up_acks()
        now = self.clock.time()
        due = [d for d, since in self._offline_since.items() if now - since >= self.grace_s]
        for device in due:
            bus = self._bus_of.get(device)
            if bus is not None and self._bus_down(bus):
                self._raise_bus(bus, now)
            elif f"bus:{bus}" not in self._active:
                self.raise_(
                    f"device:{device}",
                    kind="device_unavailable",
                    severity=Severity.WARNING,
                    scope=AlarmScope.DEVICE,
                    target=device,
                    message_en=f"device {device} has not answered for {self.grace_s:.0f} s",
                    message_zh=f"设备 {device} 已 {self.grace_s:.0f} 秒无应答",
                    evidence={
                        "offline_since": self._offline_since[device],
                        "bus": bus,
                        "source": "availability",
                    },
                    ts=now,
                )
        if self.rules is not None:
            for change in self.rules.tick(now):
                self._rule_change(change)

    # -- internals ----------------------------------------------------------------------------

    def _tell(self, change: str, record: AlarmRecord) -> None:
        for listener in self.listeners:
            try:
                listener(change, record)
            except Exception:  # one bad listener must not stop the others
                _LOGGER.exception("alarm listener failed on %s %s", change, record.key)

    def _building_of(self, target: str) -> str | None:
        for prefix, building in self._buildings.items():
            if target == prefix or target.startswith((prefix + ".", prefix + "/")):
                return building
        return None

    def _bus_down(self, bus: str) -> bool:
        devices = self._buses.get(bus, ())
        return bool(devices) and all(d in self._offline_since for d in devices)

    def _raise_bus(self, bus: str, now: float) -> None:
        devices = self._buses[bus]
        for device in devices:  # folded into the one bus alarm (kept closed across restarts)
            folded = self._active.pop(f"device:{device}", None)
            if folded is not None:
                folded.cleared_at = now
                folded.evidence["folded_into"] = f"bus:{bus}"
                self.store.put(folded)
        self.raise_(
            f"bus:{bus}",
            kind="bus_down",
            severity=Severity.CRITICAL,
            scope=AlarmScope.BUS,
            target=bus,
            message_en=f"bus {bus}: {NO_DEVICE_ANSWERS}; {len(devices)} devices offline",
            message_zh=f"总线 {bus}：无设备应答，{len(devices)} 台设备离线",
            evidence={
                "devices": list(devices),
                "since": min(self._offline_since[d] for d in devices),
                "source": "availability",
            },
            ts=now,
        )

    def _availability(self, event: AvailabilityChanged) -> None:
        device = event.device_id
        if not event.available:
            self._offline_since.setdefault(device, event.timestamp)
            return
        self._offline_since.pop(device, None)
        self.clear(f"device:{device}", event.timestamp)
        bus = self._bus_of.get(device)
        if bus is not None and f"bus:{bus}" in self._active:
            self.clear(f"bus:{bus}", event.timestamp)
            # devices of that bus still offline get their own alarm on the next tick

    def _alarm_event(self, event: AlarmRaised) -> None:
        if event.evidence.get("cleared"):
            self.clear(event.alarm_id, event.timestamp)
            return
        target = event.entity_id or event.alarm_id
        self.raise_(
            event.alarm_id,
            kind=str(event.evidence.get("kind", event.alarm_id.split(":", 1)[0])),
            severity=event.severity,
            scope=AlarmScope.DEVICE if event.entity_id else AlarmScope.SITE,
            target=target,
            message_en=event.message_en,
            message_zh=event.message_zh,
            evidence=event.evidence,
            ts=event.timestamp,
        )

    def _rule_change(self, change: Any) -> None:
        rule, raised, value, ts = change
        key = f"rule:{rule.id}"
        if not raised:
            self.clear(key, ts)
            return
        self.raise_(
            key,
            kind="threshold",
            severity=rule.severity,
            scope=AlarmScope.DEVICE,
            target=rule.entity_id,
            message_en=f"{rule.entity_id} is {value} ({rule.describe()})",
            evidence={"value": value, "rule": rule.id, "source": "rules"},
            ts=ts,
        )
