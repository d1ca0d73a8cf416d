"""Daily rhythms of a campus: who is where, when water runs, how warm it is outside.

Shapes are 24 hourly weights (index = local hour), interpolated linearly within the hour.
Figures follow ``DOMAIN.md`` §6: rooms empty in class hours, busy 12:00–14:00 and 18:00–24:00,
showers peak 21:00–23:00, canteen peaks at 07:00, 11:30 and 17:30.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "CANTEEN_COOKING",
    "CANTEEN_OPEN",
    "CONSTANT",
    "DORM_ACTIVITY",
    "DORM_PRESENCE",
    "DORM_SHOWERS",
    "DORM_WASHING",
    "HANDWASH_USE",
    "LIGHTING",
    "Shape",
    "dorm_presence",
    "outdoor_temperature",
]


@dataclass(frozen=True, slots=True)
class Shape:
    """24 hourly weights: ``at(hour)`` interpolates, ``per_hour`` turns daily counts into rates."""

    weights: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.weights) != 24 or min(self.weights) < 0:
            raise ValueError("a shape has 24 non-negative hourly weights")

    def at(self, hour: float) -> float:
        """The weight at a fractional local hour (0 ≤ hour < 24)."""
        h = int(hour) % 24
        frac = hour - int(hour)
        return self.weights[h] * (1 - frac) + self.weights[(h + 1) % 24] * frac

    def per_hour(self, daily: float, hour: float) -> float:
        """Rate (events per hour) at ``hour`` such that a whole day sums to ``daily``."""
        total = sum(self.weights)
        return daily * self.at(hour) / total if total else 0.0


CONSTANT = Shape((1.0,) * 24)

# Fraction of a dorm room's occupants present on weekdays (see ``dorm_presence``).
DORM_PRESENCE = Shape(
    (0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.8, 0.35, 0.15, 0.15, 0.2,
     0.7, 0.75, 0.4, 0.2, 0.2, 0.35, 0.6, 0.75, 0.8, 0.9, 0.95, 0.95)
)  # fmt: skip

# How busy present occupants are (devices charging, lamps, hair dryers): low while asleep.
DORM_ACTIVITY = Shape(
    (0.25, 0.1, 0.05, 0.05, 0.05, 0.05, 0.1, 0.6, 0.8, 0.5, 0.5, 0.6,
     0.9, 0.8, 0.6, 0.5, 0.5, 0.6, 0.9, 1.0, 1.0, 1.0, 0.95, 0.6)
)  # fmt: skip

DORM_SHOWERS = Shape(
    (0.3, 0.1, 0.0, 0.0, 0.0, 0.0, 0.1, 0.5, 0.3, 0.1, 0.1, 0.2,
     0.4, 0.3, 0.2, 0.2, 0.3, 0.5, 0.8, 1.2, 2.0, 3.0, 3.0, 1.5)
)  # fmt: skip

DORM_WASHING = Shape(
    (0.3, 0.1, 0.0, 0.0, 0.0, 0.1, 0.8, 2.5, 1.5, 0.3, 0.3, 0.5,
     1.5, 1.0, 0.5, 0.4, 0.5, 0.8, 1.2, 1.0, 1.0, 1.5, 2.5, 1.2)
)  # fmt: skip

LIGHTING = Shape(
    (0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.5, 0.2, 0.1, 0.1, 0.1, 0.1,
     0.1, 0.1, 0.1, 0.1, 0.1, 0.3, 0.9, 1.0, 1.0, 1.0, 1.0, 0.6)
)  # fmt: skip

CANTEEN_OPEN = Shape(
    (0.05, 0.05, 0.05, 0.05, 0.05, 0.2, 0.8, 1.0, 0.7, 0.5, 0.8, 1.0,
     1.0, 0.6, 0.4, 0.4, 0.8, 1.0, 1.0, 0.6, 0.3, 0.1, 0.05, 0.05)
)  # fmt: skip

# Cooking leads the meal peaks by about an hour.
CANTEEN_COOKING = Shape(
    (0.0, 0.0, 0.0, 0.0, 0.0, 0.6, 1.0, 0.8, 0.2, 0.3, 1.0, 1.0,
     0.5, 0.1, 0.1, 0.4, 1.0, 0.9, 0.4, 0.1, 0.0, 0.0, 0.0, 0.0)
)  # fmt: skip

HANDWASH_USE = Shape(
    (0.0, 0.0, 0.0, 0.0, 0.0, 0.1, 1.0, 1.5, 0.6, 0.2, 0.5, 2.0,
     2.0, 0.5, 0.1, 0.1, 0.5, 2.0, 1.5, 0.4, 0.1, 0.0, 0.0, 0.0)
)  # fmt: skip


def dorm_presence(hour: float, weekday: int) -> float:
    """Share of a room's occupants present; at weekends (5, 6) students stay around more."""
    share = DORM_PRESENCE.at(hour)
    return max(share, 0.55) if weekday >= 5 else share


def outdoor_temperature(day_of_year: float, hour: float) -> float:
    """A subtropical campus (Shanghai-like): 5 °C mean in January, 30 °C in late July.

    Daily swing ±4 K with the maximum at 15:00.
    """
    seasonal = 17.5 - 12.5 * math.cos(2 * math.pi * (day_of_year - 20) / 365.25)
    daily = 4.0 * math.cos(2 * math.pi * (hour - 15) / 24)
    return seasonal + daily
