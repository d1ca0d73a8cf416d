"""A canteen's diners and food waste: a turnstile counter and a waste scale.

Diners follow the canteen's meal peaks (07:00, 11:30, 17:30; fewer at weekends). Waste per
diner follows the day's menu (a seeded draw per date and meal, 80–160 g, the range campus
canteens report before a campaign) and drops by ``clean_plate_cut`` (a third by default) once
the 光盘行动 is switched on (``command("clean_plate", "on")``). Both models of one canteen use
the same deterministic diner rate, so a scale's waste matches its counter's diners; the scale
empties its bins after each meal, so weight arrives in steps, as real weighings do.

A tray-return plate checker (a camera or staff at the tray belt) counts the trays it checks and
those it finds clean (光盘): it checks ``checked_share`` of the diners, and the clean share
rises from ``clean_share`` to ``campaign_clean_share`` once the 光盘行动 is on.
"""

from __future__ import annotations

import random
from collections.abc import Mapping

from .base import CommandRejected, DeviceModel, ModelClock, ModelValue, switch
from .daily import Shape

__all__ = ["MEAL_SHAPE", "DinerCounter", "PlateChecker", "WasteScale", "menu_kg_per_diner"]

MEAL_SHAPE = Shape(
    (0, 0, 0, 0, 0, 0, 0.3, 1.0, 0.4, 0, 0, 0.8,
     1.0, 0.3, 0, 0, 0, 0.7, 1.0, 0.3, 0, 0, 0, 0)
)  # fmt: skip
"""Share of a canteen's diners through its doors, by local hour (three services)."""

EMPTY_AT = (9, 14, 20)
"""Local hours the bins are weighed and emptied (after breakfast, lunch, dinner)."""


def menu_kg_per_diner(seed: str, day: int, meal: int) -> float:
    """Waste per diner for one meal of one day's menu (kg): the same draw for every model."""
    return random.Random(f"{seed}:{day}:{meal}").uniform(0.08, 0.16)  # noqa: S311 (emulation)


def _meal_of(hour: float) -> int:
    return 0 if hour < 10 else 1 if hour < 15 else 2


class _Canteen(DeviceModel):
    """Diner rate shared by the counter and the scale of one canteen."""

    def __init__(
        self,
        clock: ModelClock,
        rng: random.Random,
        *,
        canteen: str,
        diners_per_day: float,
        tz: str = "Asia/Shanghai",
    ) -> None:
        super().__init__(clock, rng, tz)
        self.canteen = canteen
        self.diners_per_day = diners_per_day

    def diner_rate(self, t: float) -> float:
        """Diners per hour at ``t``."""
        weekend = self.local_weekday(t) >= 5
        return MEAL_SHAPE.per_hour(
            self.diners_per_day * (0.6 if weekend else 1.0), self.local_hour(t)
        )


class DinerCounter(_Canteen):
    """A turnstile or card-system count of diners (cumulative)."""

    diners = 0.0
    """Diners counted so far (set per instance by ``_step``)."""

    def _step(self, t: float, dt: float) -> None:
        self.diners += self.diner_rate(t) * dt / 3600.0

    def _snapshot(self) -> Mapping[str, ModelValue]:
        return {"diners": float(int(self.diners))}

    def _apply(self, key: str, value: ModelValue) -> None:
        raise CommandRejected(key, value, "a diner counter takes no commands")


class WasteScale(_Canteen):
    """Weighs the bins after each meal; ``waste`` is the cumulative kg weighed."""

    max_step = 600.0  # bins are emptied on the hour: never step over two hours at once

    def __init__(
        self,
        clock: ModelClock,
        rng: random.Random,
        *,
        canteen: str,
        diners_per_day: float,
        clean_plate_cut: float = 0.33,
        share: float = 1.0,
        tz: str = "Asia/Shanghai",
    ) -> None:
        super().__init__(clock, rng, canteen=canteen, diners_per_day=diners_per_day, tz=tz)
        self.clean_plate_cut = clean_plate_cut
        self.share = share
        """Of the canteen's waste, the part this scale's bins take (one of several lines)."""
        self.clean_plate = False
        self.waste = 0.0
        self.bin = 0.0
        self.last_weighing = 0.0

    def _step(self, t: float, dt: float) -> None:
        hour = self.local_hour(t)
        day = int((t + self._offset) // 86400)
        per_diner = menu_kg_per_diner(self.canteen, day, _meal_of(hour))
        if self.clean_plate:
            per_diner *= 1 - self.clean_plate_cut
        self.bin += self.diner_rate(t) * dt / 3600.0 * per_diner * self.share
        after = int(self.local_hour(t + dt))
        if after != int(hour) and after in EMPTY_AT:
            self.last_weighing = round(self.bin, 2)
            self.waste += self.last_weighing
            self.bin = 0.0

    def _snapshot(self) -> Mapping[str, ModelValue]:
        return {
            "waste": round(self.waste, 2),
            "last_weighing": self.last_weighing,
            "clean_plate": "on" if self.clean_plate else "off",
        }

    def _apply(self, key: str, value: ModelValue) -> None:
        if key != "clean_plate":
            raise CommandRejected(key, value, "a waste scale only takes clean_plate on/off")
        self.clean_plate = switch(key, value)


class PlateChecker(_Canteen):
    """Trays checked at the tray return and those found clean (both cumulative)."""

    checked_share = 0.9
    """Of the diners, the share whose trays pass the check (the rest leave by another door)."""
    clean_share = 0.55
    campaign_clean_share = 0.75
    clean_plate = False
    plates = 0.0
    clean_plates = 0.0
    """Counts so far (set per instance by ``_step``, like ``DinerCounter.diners``)."""

    def _step(self, t: float, dt: float) -> None:
        checked = self.diner_rate(t) * dt / 3600.0 * self.checked_share
        share = self.campaign_clean_share if self.clean_plate else self.clean_share
        self.plates += checked
        self.clean_plates += checked * share

    def _snapshot(self) -> Mapping[str, ModelValue]:
        return {
            "plates": float(int(self.plates)),
            "clean_plates": float(int(self.clean_plates)),
            "clean_plate": "on" if self.clean_plate else "off",
        }

    def _apply(self, key: str, value: ModelValue) -> None:
        if key != "clean_plate":
            raise CommandRejected(key, value, "a plate checker only takes clean_plate on/off")
        self.clean_plate = switch(key, value)
