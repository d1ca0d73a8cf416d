"""节粮 figures: food waste per diner per meal, the 光盘 rate, waste by line and bin.

Waste scales weigh each bin as it is emptied; a canteen's card system or turnstile counts
diners; a tray-return check counts plates checked and clean plates. All arrive as consumption
counters (kinds ``food_waste`` in kg, ``diner_count``, ``plates_checked`` and ``clean_plates``)
through the recorder's hourly statistics, and the meal an hour belongs to is read from the local
hour (breakfast before 10:00, lunch before 15:00, dinner after), which is how canteens empty
their bins: once after each service. Diner counts imported from a card-system export
(``diners``) replace the metered count of the same canteen, day and meal.

A scale's device tags name its serving line and bin (``line-2``, ``bin-plate``): the report
splits waste by them.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from controller.config import LoadedSite
from controller.recorder.query import ConsumptionQuery, ConsumptionSource, Period

from .diners import DinerCount
from .i18n import text
from .model import Cell
from .places import Places
from .span import Scope

__all__ = [
    "FOOD_KINDS",
    "MEALS",
    "FoodFigures",
    "MealFigure",
    "WasteSplit",
    "fetch_food",
    "meal_of_hour",
    "scale_place",
]

MEALS = ("breakfast", "lunch", "dinner")
FOOD_KINDS = ("food_waste", "diner_count", "plates_checked", "clean_plates")
_ATTRS = {
    "food_waste": "waste_kg",
    "diner_count": "diners",
    "plates_checked": "plates",
    "clean_plates": "clean",
}


def meal_of_hour(hour: int) -> str:
    """The meal a local hour's weighings belong to."""
    if hour < 10:
        return "breakfast"
    if hour < 15:
        return "lunch"
    return "dinner"


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole > 0 else None


@dataclass(slots=True)
class MealFigure:
    """One canteen's meal over the period (and the baseline: ``base_``)."""

    canteen: str
    meal: str
    diners: float = 0.0
    waste_kg: float = 0.0
    plates: float = 0.0
    clean: float = 0.0
    base_diners: float = 0.0
    base_waste_kg: float = 0.0
    base_plates: float = 0.0
    base_clean: float = 0.0
    weighed: bool = False
    """Some scale reported in this meal's hours (else kg per diner is unknown, not zero)."""
    base_weighed: bool = False
    imported: int = 0
    """Days whose diners came from a card-system import rather than a counter."""

    @property
    def per_diner(self) -> float | None:
        return _ratio(self.waste_kg, self.diners) if self.weighed else None

    @property
    def base_per_diner(self) -> float | None:
        return _ratio(self.base_waste_kg, self.base_diners) if self.base_weighed else None

    @property
    def clean_rate(self) -> float | None:
        return _ratio(self.clean, self.plates)

    @property
    def base_clean_rate(self) -> float | None:
        return _ratio(self.base_clean, self.base_plates)


@dataclass(slots=True)
class WasteSplit:
    """Waste of one serving line and bin of a canteen in one meal."""

    canteen: str
    line: str
    bin: str
    meal: str
    kg: float = 0.0
    base_kg: float = 0.0


@dataclass(slots=True)
class FoodFigures:
    """Per canteen (display name) and meal: diners, kg of waste and plate checks."""

    meals: list[MealFigure] = field(default_factory=list)
    splits: list[WasteSplit] = field(default_factory=list)

    def _sum(self, attr: str) -> float:
        return float(sum(getattr(m, attr) for m in self.meals))

    def per_diner(self) -> float | None:
        weighed = [m for m in self.meals if m.weighed]
        return _ratio(sum(m.waste_kg for m in weighed), sum(m.diners for m in weighed))

    def base_per_diner(self) -> float | None:
        weighed = [m for m in self.meals if m.base_weighed]
        return _ratio(sum(m.base_waste_kg for m in weighed), sum(m.base_diners for m in weighed))

    def clean_rate(self) -> float | None:
        return _ratio(self._sum("clean"), self._sum("plates"))

    def compare_row(self, lang: str, price: float) -> tuple[Cell, ...]:
        """The food line of the baseline table: the baseline's kg per diner × this period's
        diners is the adjusted baseline (diners, not occupants, normalise food)."""
        now, before = self.per_diner(), self.base_per_diner()
        diners = sum(m.diners for m in self.meals if m.weighed)
        adjusted = None if before is None else before * diners
        saved = None if adjusted is None else adjusted - self._sum("waste_kg")
        return (
            text("food_waste", lang),
            "kg",
            self._sum("base_waste_kg"),
            self._sum("waste_kg"),
            before,
            now,
            adjusted,
            saved,
            None if saved is None or not adjusted else saved / adjusted,
            None if saved is None else saved * price,
            None,
        )


def scale_place(site: LoadedSite, device: str) -> tuple[str, str]:
    """A scale's (line, bin) from its tags ``line-…`` and ``bin-…`` ('' where untagged)."""
    placed = site.devices.get(device)
    tags = placed.tags if placed is not None else []
    line = next((t.removeprefix("line-") for t in tags if t.startswith("line-")), "")
    bin_ = next((t.removeprefix("bin-") for t in tags if t.startswith("bin-")), "")
    return line, bin_


@dataclass(slots=True)
class _Fold:
    """The rows of one period folded per canteen and meal (diners per day, for imports)."""

    totals: dict[tuple[str, str], dict[str, float]] = field(default_factory=dict)
    diners: dict[tuple[str, dt.date, str], float] = field(default_factory=dict)
    weighed: set[tuple[str, str]] = field(default_factory=set)
    splits: dict[tuple[str, str, str, str], float] = field(default_factory=dict)


async def _fold(
    source: ConsumptionSource,
    *,
    site: LoadedSite,
    places: Places,
    scope: Scope,
    days: Sequence[dt.date],
    tz: zoneinfo.ZoneInfo,
) -> _Fold:
    """One hourly query per food kind over ``days``, grouped by building, parent and device:
    a meter counts when its parent meter (a line's scale under a canteen's main scale) is not
    also in the building."""
    fold = _Fold()
    counted = set(days)
    start = dt.datetime.combine(min(days), dt.time(), tz)
    end = dt.datetime.combine(max(days) + dt.timedelta(days=1), dt.time(), tz)
    narrow = {} if scope.kind == "campus" else {"building": str(scope.building)}
    for kind in FOOD_KINDS:
        query = ConsumptionQuery(
            start, end, Period.HOUR, ("building", "parent", "device"), {"kind": kind, **narrow}
        )
        for row in await source.consumption(query):
            building, parent, device = (value for _, value in row.group)
            owner = places.of(parent) if parent else None
            day = row.period_start.date()
            if day not in counted or (owner is not None and owner.building == building):
                continue
            meal = meal_of_hour(row.period_start.hour)
            if kind == "diner_count":
                key = (building, day, meal)
                fold.diners[key] = fold.diners.get(key, 0.0) + row.consumption
                continue
            sums = fold.totals.setdefault((building, meal), {})
            sums[kind] = sums.get(kind, 0.0) + row.consumption
            if kind == "food_waste":
                fold.weighed.add((building, meal))
                split = (building, *scale_place(site, device), meal)
                fold.splits[split] = fold.splits.get(split, 0.0) + row.consumption
    return fold


def _imports(
    fold: _Fold, imported: Sequence[DinerCount], scope: Scope, days: Sequence[dt.date]
) -> set[tuple[str, dt.date, str]]:
    """Imported counts replace the metered ones of their canteen, day and meal."""
    counted = set(days)
    used = set()
    for row in imported:
        if row.date in counted and (scope.kind == "campus" or row.canteen == scope.building):
            key = (row.canteen, row.date, row.meal)
            fold.diners[key] = float(row.count)
            used.add(key)
    return used


async def fetch_food(
    source: ConsumptionSource,
    *,
    site: LoadedSite,
    places: Places,
    scope: Scope,
    period: Sequence[dt.date],
    baseline: Sequence[dt.date],
    names: Mapping[str, str],
    tz: zoneinfo.ZoneInfo,
    imported: Sequence[DinerCount] = (),
) -> FoodFigures | None:
    """Waste, diners and plate checks per canteen and meal over the counted days; None without
    food meters or imported diner counts."""
    figures: dict[tuple[str, str], MealFigure] = {}
    splits: dict[tuple[str, str, str, str], WasteSplit] = {}

    def figure(building: str, meal: str) -> MealFigure:
        return figures.setdefault((building, meal), MealFigure(names.get(building, building), meal))

    for days, prefix in ((period, ""), (baseline, "base_")):
        if not days:
            continue
        fold = await _fold(source, site=site, places=places, scope=scope, days=days, tz=tz)
        used = _imports(fold, imported, scope, days)
        for (building, _, meal), count in fold.diners.items():
            f = figure(building, meal)
            setattr(f, prefix + "diners", getattr(f, prefix + "diners") + count)
        for building, _, meal in used:
            if not prefix:
                figure(building, meal).imported += 1
        for (building, meal), sums in fold.totals.items():
            f = figure(building, meal)
            for kind, value in sums.items():
                name = prefix + _ATTRS[kind]
                setattr(f, name, getattr(f, name) + value)
        for building, meal in fold.weighed:
            setattr(figure(building, meal), prefix + "weighed", True)
        for (building, line, bin_, meal), kg in fold.splits.items():
            key = (building, line, bin_, meal)
            split = splits.setdefault(
                key, WasteSplit(names.get(building, building), line, bin_, meal)
            )
            if prefix:
                split.base_kg += kg
            else:
                split.kg += kg
    if not figures:
        return None
    order = {m: i for i, m in enumerate(MEALS)}
    meals = sorted(figures.values(), key=lambda f: (f.canteen, order[f.meal]))
    lines = sorted(splits.values(), key=lambda s: (s.canteen, s.line, s.bin, order[s.meal]))
    return FoodFigures(meals, lines)
