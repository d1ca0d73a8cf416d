"""Readings scaled by the meter's own settings (a profile point's ``scale_by``).

A TUF-2000M counts its flow totaliser in the unit and multiplier set on the meter (menus M31,
M33; REG1438 and REG1439), and its heat energy in the energy unit and multiplier (REG1441,
REG1440), so the same raw count can be litres ×0.01 or m³ ×1, GJ ×0.01 or kWh ×1. Assuming
one setting silently misreports by up to 10⁷; instead the settings are read as points and the
factor each selects is applied here, where a device's whole snapshot is at hand. A setting not
read yet, or one the profile has no factor for, makes the value unavailable, not a wrong reading.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from controller.config.profile import Profile
from drivers.modbus import Reading

__all__ = ["Scaling", "rescale", "scalings"]

Scaling = tuple[tuple[str, Mapping[str, float]], ...]
"""Per scaled point: (the setting point's key, factor per setting label), applied in order."""


def scalings(profile: Profile) -> dict[str, Scaling]:
    """The profile's scaled points (empty for almost every profile)."""
    return {
        point.key: tuple((s.point, s.factors) for s in point.scale_by)
        for point in profile.points
        if point.scale_by
    }


def rescale(
    readings: Sequence[Reading],
    scaled: Mapping[str, Scaling],
    known: Callable[[str], object],
) -> list[Reading]:
    """``readings`` with each scaled point multiplied by the factors its settings select;
    ``known(key)`` is the last value of a setting this snapshot did not read."""
    now = {r.key: r.value for r in readings if r.ok}
    out = []
    for reading in readings:
        rule = scaled.get(reading.key)
        raw = reading.value
        if rule is None or not reading.ok or isinstance(raw, bool):
            out.append(reading)
            continue
        value: float | None = float(raw) if isinstance(raw, int | float) else None
        for ref, factors in rule:
            setting = now[ref] if ref in now else known(ref)
            factor = factors.get(str(setting)) if setting is not None else None
            if factor is None or value is None:
                value = None
                break
            value *= factor
        if value is not None:
            value = float(f"{value:.12g}")  # 12345 × 0.001 × 0.01 is 0.12345, not …0000002
        out.append(Reading(reading.key, value, value is not None))
    return out
