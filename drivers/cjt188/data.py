"""The CJ/T 188 current-data reply (DI 901F) and its unit codes.

Water meters (types 1x) answer: DI, SER, current total (4 BCD + unit), settlement-day total
(4 + unit), real time (7), status ST (2). Heat meters (types 2x): DI, SER, settlement-day heat
(4 + unit), current heat (4 + unit), heat power (4 + unit), flow (4 + unit), total volume
(4 + unit), supply and return temperature (3 each, XXXX.XX °C), working hours (3), real time,
ST. The reply has no instantaneous flow for water meters.

ST bits 0–1 are the valve (00 open, 01 closed, 11 abnormal), bit 2 low battery. Values are
delivered in kWh, kW, m³ and m³/h whatever unit code the meter sends.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ..bcd import BcdError, bcd_decode

__all__ = ["UNIT_FACTORS", "Field", "FieldLayout", "layout_of", "valve_word"]


class Field(StrEnum):
    TOTAL = "total"
    SETTLEMENT_TOTAL = "settlement_total"
    HEAT = "heat"
    SETTLEMENT_HEAT = "settlement_heat"
    HEAT_POWER = "heat_power"
    FLOW = "flow"
    VOLUME = "volume"
    SUPPLY_TEMPERATURE = "supply_temperature"
    RETURN_TEMPERATURE = "return_temperature"
    HOURS = "hours"
    VALVE = "valve"
    BATTERY_LOW = "battery_low"
    STATUS = "status"


UNIT_FACTORS: dict[int, tuple[str, float]] = {
    0x02: ("kWh", 0.001),  # Wh
    0x05: ("kWh", 1.0),
    0x08: ("kWh", 1000.0),  # MWh
    0x0A: ("kWh", 100000.0),  # MWh × 100
    0x01: ("kWh", 1 / 3.6e6),  # J
    0x0B: ("kWh", 1 / 3600),  # kJ
    0x0E: ("kWh", 1 / 3.6),  # MJ
    0x11: ("kWh", 1000 / 3.6),  # GJ
    0x13: ("kWh", 100000 / 3.6),  # GJ × 100
    0x14: ("kW", 0.001),  # W
    0x17: ("kW", 1.0),
    0x1A: ("kW", 1000.0),  # MW
    0x29: ("m³", 0.001),  # L
    0x2C: ("m³", 1.0),
    0x32: ("m³/h", 0.001),  # L/h
    0x35: ("m³/h", 1.0),
}
"""Unit code → (unit delivered, factor to it)."""


@dataclass(frozen=True, slots=True)
class _Slot:
    at: int  # offset after DI and SER
    length: int
    decimals: int
    unit: bool  # followed by a unit code byte


@dataclass(frozen=True, slots=True)
class FieldLayout:
    """Where each field of a 901F reply sits (after DI and SER)."""

    slots: dict[Field, _Slot]
    status_at: int
    size: int

    def value(self, field: Field, data: bytes) -> float | int | bool | str | None:
        """The field's value from the payload after DI and SER (None if absent or not BCD)."""
        if field in (Field.VALVE, Field.BATTERY_LOW, Field.STATUS):
            return self._status(field, data)
        return self._number(field, data)

    def _status(self, field: Field, data: bytes) -> int | bool | str | None:
        if len(data) < self.status_at + 2:
            return None
        st = data[self.status_at] | data[self.status_at + 1] << 8
        if field is Field.STATUS:
            return st
        return valve_word(st) if field is Field.VALVE else bool(st & 0b100)

    def _number(self, field: Field, data: bytes) -> float | None:
        slot = self.slots.get(field)
        if slot is None or len(data) < slot.at + slot.length + (1 if slot.unit else 0):
            return None
        try:
            raw = bcd_decode(data[slot.at : slot.at + slot.length])
        except BcdError:
            return None
        value = float(raw / 10**slot.decimals)
        if slot.unit:
            unit = UNIT_FACTORS.get(data[slot.at + slot.length])
            if unit is None:
                return None
            value *= unit[1]
        return value


def valve_word(st: int) -> str:
    return {0b00: "open", 0b01: "closed"}.get(st & 0b11, "abnormal")


def _layout(fields: list[tuple[Field | None, int, int, bool]], clock: int = 7) -> FieldLayout:
    slots: dict[Field, _Slot] = {}
    at = 0
    for field, length, decimals, unit in fields:
        if field is not None:
            slots[field] = _Slot(at, length, decimals, unit)
        at += length + (1 if unit else 0)
    at += clock
    return FieldLayout(slots, at, at + 2)


_WATER = _layout([(Field.TOTAL, 4, 2, True), (Field.SETTLEMENT_TOTAL, 4, 2, True)])
_HEAT = _layout(
    [
        (Field.SETTLEMENT_HEAT, 4, 2, True),
        (Field.HEAT, 4, 2, True),
        (Field.HEAT_POWER, 4, 2, True),
        (Field.FLOW, 4, 4, True),
        (Field.VOLUME, 4, 2, True),
        (Field.SUPPLY_TEMPERATURE, 3, 2, False),
        (Field.RETURN_TEMPERATURE, 3, 2, False),
        (Field.HOURS, 3, 0, False),
    ]
)


def layout_of(meter_type: int) -> FieldLayout:
    """The 901F layout of a meter type (2x heat/cooling, otherwise water)."""
    return _HEAT if 0x20 <= meter_type <= 0x29 else _WATER
