"""Reading and producing switch and valve values across profiles.

A relay on a Modbus coil reads ``True``/``False``; a Tasmota relay reads ``"on"``/``"off"``;
valves read ``"open"``/``"closed"`` and some take ``"close"`` as a command. Policies must not
care: these helpers interpret a state as on/off or open/closed, and pick the exact value a
point expects for a write, from the point's own ``values``/``write_values``.
"""

from __future__ import annotations

import math

from controller.config.profile import Point

from .events import Value
from .memo import IdentityCache

__all__ = [
    "SwitchValues",
    "is_closed",
    "is_on",
    "is_open",
    "same_value",
    "switch_values",
    "valve_values",
]

_ON_ORDER = ("on", "open", "opened", "enabled", "true", "1")
_OFF_ORDER = ("off", "closed", "close", "disabled", "false", "0")
_ON_WORDS = frozenset(_ON_ORDER)
_OFF_WORDS = frozenset(_OFF_ORDER)
_NUMBER_STATES: dict[float, bool] = {1: True, 0: False}
_OPEN_WORDS = ("open", "opened", "on")
_CLOSED_WORDS = ("closed", "close", "off")


def is_on(value: Value) -> bool | None:
    """True for on/open/1/True, False for off/closed/0/False, None for anything else."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return _NUMBER_STATES.get(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _ON_WORDS or word in _OFF_WORDS:
            return word in _ON_WORDS
    return None


def is_open(value: Value) -> bool:
    """A valve state that lets water through (``open``; ``abnormal`` is not open)."""
    return is_on(value) is True


def is_closed(value: Value) -> bool:
    return is_on(value) is False


def same_value(a: Value, b: Value) -> bool:
    """Equality that treats 26 and 26.000000000000004 as the same setpoint, but not True and 1
    (as the state store does)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)
    return a == b


class SwitchValues:
    """The state values and command values of a two-state point.

    ``on_state``/``off_state`` are what the point reads; ``on_command``/``off_command`` are what
    a write must send (they differ for valves that read ``closed`` but are told ``close``).
    """

    __slots__ = ("off_command", "off_state", "on_command", "on_state")

    def __init__(self, on_state: Value, off_state: Value, on_command: Value, off_command: Value):
        self.on_state = on_state
        self.off_state = off_state
        self.on_command = on_command
        self.off_command = off_command

    def __repr__(self) -> str:
        return (
            f"SwitchValues(on={self.on_state!r}/{self.on_command!r}, "
            f"off={self.off_state!r}/{self.off_command!r})"
        )


def _pick(labels: list[str], words: tuple[str, ...]) -> str | None:
    lowered = {label.lower(): label for label in labels}
    for word in words:
        if word in lowered:
            return lowered[word]
    return None


def switch_values(point: Point) -> SwitchValues | None:
    """On/off values of a relay, power switch or valve point; None if it is not two-state.

    Worked out once per point: policies ask for every device's valve and relay, and a
    campus's 40k devices share a few dozen profiles."""
    return _switch_values(point)


def _switch_values_of(point: Point) -> SwitchValues | None:
    if point.is_binary:
        return SwitchValues(True, False, True, False)
    if not point.values:
        return None
    labels = list(point.values.values())
    writable = point.write_values or labels
    on_state = _pick(labels, _OPEN_WORDS) or _pick(labels, _ON_ORDER)
    off_state = _pick(labels, _CLOSED_WORDS) or _pick(labels, _OFF_ORDER)
    on_cmd = _pick(writable, _OPEN_WORDS) or _pick(writable, _ON_ORDER)
    off_cmd = _pick(writable, _CLOSED_WORDS) or _pick(writable, _OFF_ORDER)
    if on_state is None or off_state is None:
        return None
    return SwitchValues(on_state, off_state, on_cmd or on_state, off_cmd or off_state)


_switch_values: IdentityCache[Point, SwitchValues | None] = IdentityCache(_switch_values_of)


def valve_values(state_point: Point, command_point: Point | None) -> SwitchValues | None:
    """Open/closed values of a valve whose state may be read-only with a separate command point.

    The generic delayed-closing valve reads ``valve`` (closed/open) and is commanded through
    ``command`` (open/close); a Xintai meter's ``valve`` point does both.
    """
    state = switch_values(state_point)
    if state is None:
        return None
    if command_point is None:
        return state
    command = switch_values(command_point)
    if command is None:
        return None
    return SwitchValues(state.on_state, state.off_state, command.on_command, command.off_command)
