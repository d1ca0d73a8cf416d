"""Times in requests: ISO 8601 wherever epoch seconds are accepted, and the other way round.

``"2026-12-07T22:00:00+08:00"`` and ``1796652000`` mean the same instant. In a query
parameter a time without a zone is the campus's local time (what staff type); in a request
body, which is validated before the route knows the campus, an ISO time must carry its zone.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

__all__ = ["Instant", "parse_instant"]

_LAST = 32_503_680_000  # 3000-01-01: a bigger "epoch" is milliseconds by mistake


def parse_instant(value: Any, tz: dt.tzinfo | None = None) -> float:
    """Epoch seconds from a number, a numeric string, a datetime or an ISO 8601 text.

    ``tz``: the zone of a time written without one; without ``tz`` such a time is refused.
    ValueError says why a value is not a time.
    """
    if isinstance(value, bool):
        raise ValueError("a time is epoch seconds or ISO 8601, not true/false")  # noqa: TRY004
    if isinstance(value, str):
        text = value.strip()
        try:
            value = float(text)
        except ValueError:
            try:
                value = dt.datetime.fromisoformat(text)
            except ValueError:
                raise ValueError(
                    f"{text!r} is neither epoch seconds nor an ISO 8601 time "
                    "(2026-12-07T22:00:00+08:00)"
                ) from None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            if tz is None:
                raise ValueError(f"{value.isoformat()} has no zone: add it (+08:00)")
            value = value.replace(tzinfo=tz)
        return float(value.timestamp())
    if not isinstance(value, int | float):
        raise ValueError("a time is epoch seconds or ISO 8601")  # noqa: TRY004
    if not math.isfinite(value) or not 0 <= value < _LAST:
        raise ValueError(f"{value!r} is not a time in seconds between 1970 and 3000")
    return float(value)


def _in_body(value: Any) -> float:
    return parse_instant(value)


Instant = Annotated[
    float,
    BeforeValidator(_in_body),
    Field(description="Epoch seconds or ISO 8601 with its zone (2026-12-07T22:00:00+08:00)."),
]
"""A body field that takes epoch seconds or ISO 8601 and holds epoch seconds."""
