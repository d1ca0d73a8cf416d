"""Bind a behaviour model to a profile: point key → model value, plus value-level faults.

Both emulators (Modbus and MQTT) serve a profile's points from a model through this binding,
so the faults that live above the wire (stuck values, a replaced meter whose counters restart,
spikes) behave the same whatever the protocol. Wire faults live in each emulator.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from controller.config import PointKind, Profile

from .base import CommandRejected, DeviceModel, ModelValue

__all__ = ["BoundDevice", "ValueFaults", "model_key"]

_ALIASES = {
    "voltage_l1": "voltage_a",
    "voltage_l2": "voltage_b",
    "voltage_l3": "voltage_c",
    "current_l1": "current_a",
    "current_l2": "current_b",
    "current_l3": "current_c",
}

_BY_KIND = {
    PointKind.ACTIVE_ENERGY: "energy",
    PointKind.EXPORT_ENERGY: "export_energy",
    PointKind.REACTIVE_ENERGY: "reactive_energy",
    PointKind.ACTIVE_POWER: "power",
    PointKind.REACTIVE_POWER: "reactive_power",
    PointKind.VOLTAGE: "voltage",
    PointKind.CURRENT: "current",
    PointKind.POWER_FACTOR: "power_factor",
    PointKind.FREQUENCY: "frequency",
    PointKind.WATER_VOLUME: "volume",
    PointKind.FLOW: "flow",
    PointKind.HEAT_ENERGY: "heat_energy",
    PointKind.HEAT_POWER: "heat_power",
    PointKind.TEMPERATURE: "room_temperature",
    PointKind.SETPOINT: "setpoint",
    PointKind.AC_MODE: "mode",
    PointKind.FAN_SPEED: "fan",
    PointKind.POWER_SWITCH: "enabled",
    PointKind.VALVE_STATE: "valve",
    PointKind.VALVE_COMMAND: "command",
    PointKind.VALVE_DELAY: "delay",
    PointKind.RELAY: "relay",
    PointKind.PRESS_COUNT: "presses",
    PointKind.BALANCE: "balance",
    PointKind.ERROR_CODE: "error_code",
    PointKind.FOOD_WASTE: "waste",
    PointKind.DINER_COUNT: "diners",
    PointKind.PLATES_CHECKED: "plates",
    PointKind.CLEAN_PLATES: "clean_plates",
}

_TRUE_WORDS = ("on", "open", "true")
_FALSE_WORDS = ("off", "closed", "false")
_MEASUREMENT_KINDS = frozenset(
    {
        PointKind.ACTIVE_POWER,
        PointKind.REACTIVE_POWER,
        PointKind.VOLTAGE,
        PointKind.CURRENT,
        PointKind.FLOW,
        PointKind.HEAT_POWER,
        PointKind.TEMPERATURE,
    }
)


_FROM_CANONICAL: dict[tuple[PointKind, str | None], float] = {
    (PointKind.HEAT_POWER, "GJ/h"): 0.0036,  # models give kW; 1 kW for an hour is 3.6 MJ
}
"""Factors from a model's canonical unit to a profile point's own unit."""


def model_key(key: str, kind: PointKind, available: Mapping[str, ModelValue]) -> str | None:
    """The model value serving point ``key``: same name, a known alias, or by kind."""
    for candidate in (key, _ALIASES.get(key), _BY_KIND.get(kind)):
        if candidate is not None and candidate in available:
            return candidate
    return None


@dataclass
class ValueFaults:
    """Faults above the wire. ``spike_reads`` reads return measurements × ``spike_factor``."""

    stuck: bool = False
    spike_factor: float = 100.0
    spike_reads: int = 0
    counter_offsets: dict[str, float] = field(default_factory=dict)


class BoundDevice:
    """A device as its emulator serves it: profile points read from (and written to) a model."""

    def __init__(self, device_id: str, profile: Profile, model: DeviceModel) -> None:
        self.device_id = device_id
        self.profile = profile
        self.model = model
        self.faults = ValueFaults()
        sample = model.values()
        self._keys: dict[str, str] = {}
        for point in profile.points:
            found = model_key(point.key, point.kind, sample)
            if found is not None:
                self._keys[point.key] = found
        self._frozen: dict[str, ModelValue] | None = None
        self._words = {p.key: _label_words(p.values) for p in profile.points if p.values}
        self._counters = {p.key for p in profile.points if p.is_cumulative}
        self._measurements = {p.key for p in profile.points if p.kind in _MEASUREMENT_KINDS}
        self._unit_factors = {
            p.key: _FROM_CANONICAL[(p.kind, p.unit)]
            for p in profile.points
            if (p.kind, p.unit) in _FROM_CANONICAL
        }

    @property
    def unserved(self) -> list[str]:
        """Point keys the model has no value for (served as zero)."""
        return [p.key for p in self.profile.points if p.key not in self._keys]

    def read(self) -> dict[str, ModelValue]:
        """Every point's engineering value now, faults applied."""
        if self.faults.stuck and self._frozen is not None:
            return dict(self._frozen)
        values = self.model.values()
        out: dict[str, ModelValue] = {}
        for key, source in self._keys.items():
            out[key] = self._coerce(key, values[source])
        for key, factor in self._unit_factors.items():
            value = out.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                out[key] = round(value * factor, 6)
        for key, offset in self.faults.counter_offsets.items():
            value = out.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                out[key] = max(0.0, value + offset)
        if self.faults.spike_reads > 0:
            self.faults.spike_reads -= 1
            for key in self._measurements & out.keys():
                value = out[key]
                if isinstance(value, int | float) and not isinstance(value, bool):
                    out[key] = value * self.faults.spike_factor
        self._frozen = out
        return dict(out)

    def write(self, key: str, value: ModelValue) -> ModelValue:
        """Apply a command to ``key``; CommandRejected if the model refuses it."""
        source = self._keys.get(key)
        if source is None:
            raise CommandRejected(key, value, "the device has no such point")
        return self._coerce(key, self.model.command(source, value))

    def freeze(self, stuck: bool = True) -> None:
        """Stuck values: keep answering with the last values read."""
        self.faults.stuck = stuck

    def spike(self, factor: float = 100.0, reads: int = 1) -> None:
        """The next ``reads`` reads return measurements multiplied by ``factor``."""
        self.faults.spike_factor = factor
        self.faults.spike_reads = reads

    def replace_meter(self) -> None:
        """Counter reset: the meter was swapped, its counters restart from zero."""
        self.faults.counter_offsets.clear()
        current = self.read()
        for key in self._counters & current.keys():
            value = current[key]
            if isinstance(value, int | float) and not isinstance(value, bool):
                self.faults.counter_offsets[key] = -float(value)

    def _coerce(self, key: str, value: ModelValue) -> ModelValue:
        words = self._words.get(key)
        if words is not None and isinstance(value, bool):
            return words[0] if value else words[1]
        return value


def _label_words(values: Mapping[int | str, str] | None) -> tuple[str, str]:
    """The (true, false) labels of an enum point, for models that speak bool."""
    labels = list((values or {}).values())
    true = next((w for w in labels if w.lower() in _TRUE_WORDS), "on")
    false = next((w for w in labels if w.lower() in _FALSE_WORDS), "off")
    return true, false
