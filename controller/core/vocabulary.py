"""One value vocabulary where people and scripts see values (the API, the Home Assistant
export): on/off points say ``"on"`` and ``"off"``.

Devices disagree: a relay on a Modbus coil reads ``true``/``false``, a Tasmota plug or an AC
gateway reads ``"on"``/``"off"``. Inside the controller each point keeps its device's own
value (the recorder's InfluxDB fields keep the type they were created with, and policies read
either through ``core.values.is_on``); where people and scripts see them, a relay and an AC
switch look alike. Words were chosen over booleans because every other two- or many-state
point (valves ``open``/``closed``, AC modes ``cool``/``heat``) is already a word.

On input both forms are accepted for an on/off point — ``"on"``/``"off"`` (any case) and
``true``/``false`` — and become the exact value the point's device takes.
"""

from __future__ import annotations

from dataclasses import dataclass

from controller.config.profile import Point, PointKind

from .events import Value
from .values import switch_values

__all__ = ["OFF", "ON", "Allowed", "allowed", "from_api", "is_switch", "to_api"]

ON, OFF = "on", "off"
_SWITCH_KINDS = frozenset({PointKind.RELAY, PointKind.POWER_SWITCH})


def is_switch(point: Point) -> bool:
    """A relay or power switch with two states (valves keep their open/closed words)."""
    return point.kind in _SWITCH_KINDS and switch_values(point) is not None


def to_api(point: Point, value: Value) -> Value:
    """The value as the API shows it: an on/off point's state as ``"on"``/``"off"``."""
    if value is None or not is_switch(point):
        return value
    two = switch_values(point)
    assert two is not None
    if value == two.on_state and type(value) is type(two.on_state):
        return ON
    if value == two.off_state and type(value) is type(two.off_state):
        return OFF
    return value  # a third state ("fault"): shown as the device says it


def from_api(point: Point, value: object) -> object:
    """What a command's value means for ``point``: ``"on"``/``true`` → the device's on command.

    Anything that is not an on/off word for an on/off point is returned as it came, for the
    point's own check (``core.writecheck``) to accept or refuse.
    """
    if not is_switch(point):
        return value
    two = switch_values(point)
    assert two is not None
    word = value.strip().lower() if isinstance(value, str) else value
    if word is True or word == ON:
        return two.on_command
    if word is False or word == OFF:
        return two.off_command
    return value


@dataclass(frozen=True, slots=True)
class Allowed:
    """What a point reads and takes: its words, or its numeric range."""

    options: list[str] | None
    write_options: list[str] | None
    minimum: float | None
    maximum: float | None


def allowed(point: Point) -> Allowed:
    """The words or range of ``point`` in the API's vocabulary."""
    low, high = point.range or point.valid_range or (None, None)
    if is_switch(point):
        return Allowed([OFF, ON], [OFF, ON] if point.writable else None, None, None)
    if point.values is not None:
        words = list(dict.fromkeys(point.values.values()))
        writes = list(point.write_values or words) if point.writable else None
        return Allowed(words, writes, None, None)
    return Allowed(None, None, low, high)
