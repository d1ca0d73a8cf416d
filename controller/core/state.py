"""The state store: the last value, time and quality of every entity, announced on the bus."""

from __future__ import annotations

import math
from collections.abc import Iterable

from .bus import EventBus
from .clock import Clock
from .entity import Quality
from .events import AvailabilityChanged, State, StateChanged, Value
from .registry import EntityRegistry

__all__ = ["StateStore"]


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
        if entity_id not in self.registry:
            raise KeyError(f"unknown entity {entity_id}")
        if isinstance(value, float) and not math.isfinite(value) and quality is Quality.GOOD:
            quality = Quality.BAD
        ts = self.clock.time() if timestamp is None else timestamp
        old = self._states.get(entity_id)
        new = State(value, ts, quality, True)
        self._states[entity_id] = new
        changed = old is None or (
            not _same(old.value, value) or old.quality is not quality or not old.available
        )
        self.bus.publish(StateChanged(entity_id, old, new, changed))
        return new

    def set_many(
        self, readings: Iterable[tuple[str, Value, Quality]], timestamp: float | None = None
    ) -> None:
        """Record a device's snapshot in one go, all with the same timestamp."""
        ts = self.clock.time() if timestamp is None else timestamp
        for entity_id, value, quality in readings:
            self.set(entity_id, value, ts, quality)

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
