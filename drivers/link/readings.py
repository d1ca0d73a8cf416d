"""What every driver's poll delivers: readings (key, value, good?), whatever the protocol."""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["Reading", "Value"]

Value = float | int | bool | str | None


class Reading(NamedTuple):
    """One decoded point: its key, engineering value (or label) and whether it is good."""

    key: str
    value: Value
    ok: bool
