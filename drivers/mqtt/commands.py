"""Command encoding: a requested engineering value → the payload the device's command topic takes.

Refusals (not writable, label not allowed, outside range) raise ``CommandRefused`` before
anything is sent. The returned ``expected`` value is what the state topic must report back.
"""

from __future__ import annotations

import json
import math

from .errors import CommandRefused
from .spec import CommandSpec, RawValue, Value

__all__ = ["encode_command", "tolerance"]


def encode_command(device_id: str, spec: CommandSpec, value: Value) -> tuple[bytes, Value]:
    """``(payload, expected reading)`` for writing ``value``, or CommandRefused."""
    raw: RawValue
    expected: Value
    if spec.encode is not None:
        if not isinstance(value, str) or value not in spec.encode:
            raise CommandRefused(
                device_id, spec.key, value, f"allowed values are {sorted(spec.encode)}"
            )
        raw, expected = spec.encode[value], value
    else:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise CommandRefused(device_id, spec.key, value, "expected a number")
        if not math.isfinite(value):
            raise CommandRefused(device_id, spec.key, value, "not a finite number")
        if spec.range is not None and not spec.range[0] <= value <= spec.range[1]:
            low, high = spec.range
            raise CommandRefused(device_id, spec.key, value, f"outside the range {low:g}–{high:g}")
        number = (value - spec.offset) / spec.scale
        raw = int(number) if float(number).is_integer() else number
        expected = value
    return _payload(spec.path, raw), expected


def tolerance(spec: CommandSpec) -> float:
    """How far a reported number may differ from the request and still confirm it.

    A scaled point can only report multiples of its scale, so half a step is allowed; an
    unscaled JSON number must come back as sent.
    """
    if spec.encode is not None or spec.scale == 1.0:
        return 1e-6
    return abs(spec.scale) / 2.0


def _payload(path: tuple[str, ...], raw: RawValue) -> bytes:
    if not path:
        if isinstance(raw, bool):
            return b"true" if raw else b"false"
        return str(raw).encode()
    doc: object = raw
    for part in reversed(path):
        doc = {part: doc}
    return json.dumps(doc, separators=(",", ":")).encode()
