"""What the statistics need to know about a cumulative point: its limits as a physical counter.

A register counter wraps at ``modulus`` (one raw step past its largest value, times the scale);
``quantum`` is one raw step, the finest change a reading can show; ``max_per_hour`` is the most one
device can add in an hour (from the profile). Together they decide whether a step between two
readings is ordinary consumption, a rollover, or implausible.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from controller.config import LoadedSite
from controller.config.profile import CUMULATIVE_KINDS, Point
from controller.core import EntityRegistry
from wire.modbus import DataType

__all__ = ["CounterSpec", "Step", "counter_specs", "next_step"]

_RANGE: dict[DataType, int] = {
    DataType.INT16: 2**16,
    DataType.UINT16: 2**16,
    DataType.INT32: 2**32,
    DataType.UINT32: 2**32,
    DataType.INT64: 2**64,
    DataType.UINT64: 2**64,
    DataType.BCD16: 10**4,
    DataType.BCD32: 10**8,
}
"""Raw values a register type can count through before it wraps (signed types wrap too)."""

ROLLOVER_SHARE = 0.01
"""Without ``max_per_hour``, a backwards step is a rollover only if the wrapped step is below
this share of the modulus (a reset from 1,000 to 0 must not count 42 million kWh)."""


@dataclass(frozen=True, slots=True)
class CounterSpec:
    """Limits of one cumulative point, derived from its profile."""

    entity_id: str
    max_per_hour: float | None = None
    modulus: float | None = None
    quantum: float = 0.0

    @classmethod
    def of_point(cls, entity_id: str, point: Point) -> CounterSpec:
        """Modulus and quantum follow from the Modbus data type and scale; MQTT has neither."""
        modulus = quantum = None
        if point.modbus is not None and (raw := _RANGE.get(point.modbus.type)) is not None:
            quantum = abs(point.modbus.scale)
            modulus = raw * quantum
        return cls(entity_id, point.max_per_hour, modulus, quantum or 0.0)

    def tolerance(self, value: float) -> float:
        """Backwards wobble that is noise, not a reset: one step, or float rounding."""
        return self.quantum + 1e-9 * max(1.0, abs(value))

    def limit(self, hours: float, value: float) -> float:
        """The largest plausible increase over ``hours`` from a counter at ``value``."""
        if self.max_per_hour is None:
            return float("inf")
        return self.max_per_hour * hours + self.quantum + self.tolerance(value)


@dataclass(frozen=True, slots=True)
class Step:
    """How a reading continues the counter: consumption added and the new anchor value."""

    amount: float
    anchor: float
    rollover: bool = False


def next_step(spec: CounterSpec, v0: float, t0: float, v1: float, t1: float) -> Step | None:
    """The step from reading (t0, v0) to (t1, v1), or None when it is no plausible continuation.

    A backwards wobble within tolerance adds nothing and keeps the higher anchor, so the same
    litres are not counted twice when the counter moves forward again.
    """
    hours = max(t1 - t0, 0.0) / 3600.0
    delta = v1 - v0
    if delta < -spec.tolerance(v0):
        if spec.modulus is None:
            return None
        wrapped = delta + spec.modulus
        limit = spec.limit(hours, v0)
        if spec.max_per_hour is None:
            limit = spec.modulus * ROLLOVER_SHARE
        if 0.0 <= wrapped <= limit:
            return Step(wrapped, v1, rollover=True)
        return None
    if delta <= 0.0:
        return Step(0.0, v0)
    if delta > spec.limit(hours, v0):
        return None
    return Step(delta, v1)


def counter_specs(site: LoadedSite, registry: EntityRegistry) -> Iterator[CounterSpec]:
    """A spec for every cumulative entity whose kind gets consumption statistics."""
    for entity in registry:
        if not entity.is_cumulative or entity.kind not in CUMULATIVE_KINDS:
            continue
        profile = site.profile_of(site.devices[entity.device_id])
        yield CounterSpec.of_point(entity.entity_id, profile.point(entity.point_key))
