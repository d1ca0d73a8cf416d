"""A command's value checked before anything is sent, as the API's field error.

A setpoint of 99, JSON ``Infinity``, ``true`` for a number or an unknown enum word is the
caller's mistake: it answers 422 naming the field and what is allowed, and the device is never
asked. Only a device that really fails to confirm answers 502. The rules are
``core.writecheck``'s, shared with the Home Assistant export.
"""

from __future__ import annotations

from controller.config.profile import Point
from controller.core import writecheck

from .errors import FieldError

__all__ = ["check_write"]

_LOC: list[str | int] = ["body", "value"]


def check_write(point: Point, value: object) -> FieldError | None:
    """Why ``value`` cannot be written to ``point`` (the body's ``value``), or None."""
    problem = writecheck.check_write(point, value)
    if problem is None:
        return None
    return FieldError(loc=_LOC, msg=problem.msg, type=problem.type, allowed=problem.allowed)
