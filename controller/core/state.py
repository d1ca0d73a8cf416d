"""The state store: the last value, time and quality of every entity, announced on the bus."""

from __future__ import annotations

import math
from collections.abc import Iterable

from .bus import EventBus
from .clock import Clock
from .entity import Quality
from .events import AvailabilityChanged, Event, State, StateChanged, Value
from .registry import EntityRegistry

__all__ = ["StateStore"]

_GOOD = Quality.GOOD
_isfinite = math.isfinite


class StateStore:
    """Holds current states. Writers are drivers' integrations; readers are everyone else.

    Every reading publishes a ``StateChanged`` (with ``changed`` telling whether it differs),
    because the recorder keeps every reading, while policies usually act on changes only.
    """

    def __init__(self, registry: EntityRegistry, bus: EventBus, clock: Clock) -> None:
        self.registry = registry
        self.bus = bus
        self.clock = clock
        self._states: dict[str, State] = {}
        self._publish = bus.publish
        self._unavailable_devices: set[str] = set()

    def get(self, entity_id: str) -> State | None:
        return self._states.get(entity_id)

    def value(self, entity_id: str) -> Value:
        """The current good value, or None when unknown, bad or unavailable."""
        state = self._states.get(entity_id)
        if state is None or not state.available or state.quality is not Quality.GOOD:
            return None
        return state.value

    def all(self) -> dict[str, State]:
        return dict(self._states)

    def set(
        self,
        entity_id: str,
        value: Value,
        timestamp: float | None = None,
        quality: Quality = Quality.GOOD,
    ) -> State:
        """Record a reading; KeyError for an entity the registry does not know.

        A NaN or infinite number is never a good reading: it is stored with BAD quality.
        """
        ts = self.clock.time() if timestamp is None else timestamp
        event = self._apply(entity_id, value, ts, quality)
        self._publish(event)
        return event.new

    def set_many(
        self, readings: Iterable[tuple[str, Value, Quality]], timestamp: float | None = None
    ) -> None:
        """Record readings taken together (a device snapshot, one MQTT message), all with one
        timestamp, announced in order as one batch on the bus.

        KeyError for an unknown entity; the readings before it are recorded and announced.
        """
        ts = self.clock.time() if timestamp is None else timestamp
        apply = self._apply
        events: list[Event] = []
        try:
            for entity_id, value, quality in readings:
                events.append(apply(entity_id, value, ts, quality))
        finally:
            self.bus.publish_many(StateChanged, events)

    def _apply(self, entity_id: str, value: Value, ts: float, quality: Quality) -> StateChanged:
        """Store one reading and return its (unpublished) event. The hot path of ingest."""
        states = self._states
        old = states.get(entity_id)
        if old is None and entity_id not in self.registry:  # a known entity has a state
            raise KeyError(f"unknown entity {entity_id}")
        if quality is _GOOD and isinstance(value, float) and not _isfinite(value):
            quality = Quality.BAD
        new = State(value, ts, quality, True)
        states[entity_id] = new
        if old is None or old.quality is not quality or not old.available:
            changed = True
        else:
            was = old.value
            if was is value:
                changed = False
            elif was == value:
                changed = isinstance(was, bool) != isinstance(value, bool)
            else:
                changed = not _same(was, value)
        return StateChanged(entity_id, old, new, changed)

    def set_available(self, device_id: str, available: bool, reason: str = "") -> None:
        """Mark all of a device's entities (un)available; announced once per transition.

        KeyError for a device without entities. A device coming back is announced, but its
        entities stay unavailable until their next reading proves them alive.
        """
        entities = self.registry.of_device(device_id)
        if not entities:
            raise KeyError(f"unknown device {device_id}")
        was_available = device_id not in self._unavailable_devices
        if was_available == available:
            return
        ts = self.clock.time()
        if available:
            self._unavailable_devices.discard(device_id)
        else:
            self._unavailable_devices.add(device_id)
        self.bus.publish(AvailabilityChanged(device_id, available, ts, reason))
        for entity in entities:
            old = self._states.get(entity.entity_id)
            if old is None or available:
                continue  # a returning device proves itself with fresh readings
            new = State(old.value, old.timestamp, old.quality, False)
            self._states[entity.entity_id] = new
            self.bus.publish(StateChanged(entity.entity_id, old, new, True))

    def is_available(self, device_id: str) -> bool:
        return device_id not in self._unavailable_devices

    @property
    def unavailable_devices(self) -> frozenset[str]:
        return frozenset(self._unavailable_devices)


def _same(old: Value, new: Value) -> bool:
    """Equal readings: NaN equals NaN (a stuck bad reading is no change), True is not 1."""
    if old is new:
        return True
    if old != new:
        return old != old and new != new  # noqa: PLR0124 (both NaN)
    return isinstance(old, bool) == isinstance(new, bool)
