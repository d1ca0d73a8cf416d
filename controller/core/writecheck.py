"""A command's value checked against its point's declaration before anything is sent.

Shared by every way a command comes in (the API, the Home Assistant export): what is wrong,
what would be allowed, in plain data; the API turns it into its field error.

A setpoint of 99, JSON ``Infinity``, ``true`` for a number or an unknown enum word is the
caller's mistake: it answers 422 naming the field and what is allowed, and the device is never
asked. Only a device that really fails to confirm answers 502.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from controller.config.profile import Point
from wire.modbus import DataType

__all__ = ["WriteProblem", "check_write"]


@dataclass(frozen=True, slots=True)
class WriteProblem:
    """Why a value cannot be written: for people (``msg``), for programs (``type``, ``allowed``)."""

    msg: str
    type: str
    allowed: dict[str, object]


_BOOL_TYPES = (DataType.BOOL, DataType.BITFIELD)


def check_write(point: Point, value: object) -> WriteProblem | None:
    """Why ``value`` cannot be written to ``point``, or None when it can be sent."""
    if point.values is not None:
        return _check_word(point, value)
    if point.modbus is not None and point.modbus.type in _BOOL_TYPES and point.range is None:
        if isinstance(value, bool):
            return None
        return WriteProblem(
            msg="this point takes true or false",
            type="bool_type",
            allowed={"type": "boolean"},
        )
    return _check_number(point, value)


def _check_word(point: Point, value: object) -> WriteProblem | None:
    choices = list(point.write_values or dict.fromkeys((point.values or {}).values()))
    if isinstance(value, str) and value in choices:
        return None
    return WriteProblem(
        msg=f"{value!r} is not one of {', '.join(choices)}",
        type="not_allowed",
        allowed={"choices": choices},
    )


def _check_number(point: Point, value: object) -> WriteProblem | None:
    allowed: dict[str, object] = {"type": "number"}
    if point.range is not None:
        allowed = {"min": point.range[0], "max": point.range[1], "unit": point.unit}
    if isinstance(value, bool) or not isinstance(value, int | float):
        why, kind = "this point takes a number", "number_type"
    elif not math.isfinite(value):
        why, kind = "the value must be a finite number", "finite_number"
    elif point.range is not None and not point.range[0] <= value <= point.range[1]:
        unit = f" {point.unit}" if point.unit else ""
        why = f"{value:g} is outside {point.range[0]:g}–{point.range[1]:g}{unit}"
        kind = "out_of_range"
    else:
        return None
    return WriteProblem(msg=why, type=kind, allowed=allowed)
