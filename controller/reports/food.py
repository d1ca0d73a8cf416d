"""节粮 figures: food waste per diner per meal, per canteen, against the baseline.

Waste scales weigh each bin as it is emptied; a canteen's card system or turnstile counts
diners. Both arrive as consumption counters (kind ``food_waste`` in kg, ``diners`` in people)
through the recorder's hourly statistics, and the meal a weighing belongs to is read from the
local hour (breakfast before 10:00, lunch before 15:00, dinner after), which is how canteens
empty their bins: once after each service.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from controller.recorder.query import ConsumptionQuery, ConsumptionSource, Period

from .i18n import text
from .model import Cell, Column, Table
from .places import Places
from .span import Scope

__all__ = [
    "FOOD_KINDS",
    "MEALS",
    "FoodFigures",
    "MealFigure",
    "fetch_food",
    "food_tables",
    "meal_of_hour",
]

MEALS = ("breakfast", "lunch", "dinner")
_MEAL_NAMES = {
    "breakfast": ("早餐", "Breakfast"),
    "lunch": ("午餐", "Lunch"),
    "dinner": ("晚餐", "Dinner"),
}


def meal_of_hour(hour: int) -> str:
    """The meal a local hour's weighings belong to."""
    if hour < 10:
        return "breakfast"
    if hour < 15:
        return "lunch"
    return "dinner"


def meal_name(meal: str, lang: str) -> str:
    zh, en = _MEAL_NAMES.get(meal, (meal, meal))
    return en if lang == "en" else zh


@dataclass(slots=True)
class MealFigure:
    canteen: str
    meal: str
    diners: float = 0.0
    waste_kg: float = 0.0
    base_diners: float = 0.0
    base_waste_kg: float = 0.0

    @property
    def per_diner(self) -> float | None:
        return self.waste_kg / self.diners if self.diners > 0 else None

    @property
    def base_per_diner(self) -> float | None:
        return self.base_waste_kg / self.base_diners if self.base_diners > 0 else None


@dataclass(slots=True)
class FoodFigures:
    """Per canteen (display name) and meal: diners and kg of waste, period and baseline."""

    meals: list[MealFigure] = field(default_factory=list)

    def _sum(self, attr: str) -> float:
        return float(sum(getattr(m, attr) for m in self.meals))

    def per_diner(self) -> float | None:
        diners = self._sum("diners")
        return self._sum("waste_kg") / diners if diners > 0 else None

    def base_per_diner(self) -> float | None:
        diners = self._sum("base_diners")
        return self._sum("base_waste_kg") / diners if diners > 0 else None

    def compare_row(self, lang: str, price: float) -> tuple[Cell, ...]:
        """The food line of the baseline table: the baseline's kg per diner × this period's
        diners is the adjusted baseline (diners, not occupants, normalise food)."""
        now, before = self.per_diner(), self.base_per_diner()
        diners = self._sum("diners")
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


def food_tables(food: FoodFigures, lang: str) -> list[Table]:
    by_meal = Table(
        "food",
        text("t_food", lang),
        (
            Column(text("canteen", lang), "text"),
            Column(text("meal", lang), "text"),
            Column(text("diners", lang), "int"),
            Column(text("waste_kg", lang), "num1"),
            Column(text("kg_pd", lang) + " kg", "num3"),
            Column(text("b_ppd", lang) + " kg", "num3"),
            Column(text("change", lang), "pct"),
        ),
    )
    per_canteen: dict[str, list[float]] = {}
    for m in food.meals:
        now, before = m.per_diner, m.base_per_diner
        change = None if now is None or not before else (now - before) / before
        by_meal.rows.append(
            (m.canteen, meal_name(m.meal, lang), round(m.diners), m.waste_kg, now, before, change)
        )
        acc = per_canteen.setdefault(m.canteen, [0.0, 0.0, 0.0, 0.0])
        acc[0] += m.waste_kg
        acc[1] += m.diners
        acc[2] += m.base_waste_kg
        acc[3] += m.base_diners
    stars = Table(
        "star_plate",
        text("t_star_plate", lang),
        (
            Column(text("rank", lang), "int"),
            Column(text("canteen", lang), "text"),
            Column(text("kg_pd", lang) + " kg", "num3"),
            Column(text("change", lang), "pct"),
        ),
    )
    ranked = []
    for canteen, (waste, diners, b_waste, b_diners) in per_canteen.items():
        if diners <= 0:
            continue
        now = waste / diners
        before = b_waste / b_diners if b_diners > 0 else None
        ranked.append((now, canteen, None if not before else (now - before) / before))
    ranked.sort()
    for rank, (now, canteen, change) in enumerate(ranked, start=1):
        stars.rows.append((rank, canteen, now, change))
    return [stars, by_meal]


FOOD_KINDS = ("food_waste", "diner_count")


async def fetch_food(
    source: ConsumptionSource,
    *,
    places: Places,
    scope: Scope,
    period: Sequence[dt.date],
    baseline: Sequence[dt.date],
    names: Mapping[str, str],
    tz: zoneinfo.ZoneInfo,
) -> FoodFigures | None:
    """Waste and diners per canteen and meal over the counted days; None without food meters.

    One hourly query per kind and period, grouped by building and parent: a meter is counted
    when its parent meter (a line's scale under a canteen's main scale) is not also counted.
    """
    figures: dict[tuple[str, str], MealFigure] = {}
    for days, prefix in ((period, ""), (baseline, "base_")):
        if not days:
            continue
        counted = set(days)
        start = dt.datetime.combine(min(days), dt.time(), tz)
        end = dt.datetime.combine(max(days) + dt.timedelta(days=1), dt.time(), tz)
        for kind, attr in zip(FOOD_KINDS, ("waste_kg", "diners"), strict=True):
            narrow = {} if scope.kind == "campus" else {"building": str(scope.building)}
            rows = await source.consumption(
                ConsumptionQuery(
                    start, end, Period.HOUR, ("building", "parent"), {"kind": kind, **narrow}
                )
            )
            for row in rows:
                building, parent = (value for _, value in row.group)
                owner = places.of(parent) if parent else None
                if row.period_start.date() not in counted or (
                    owner is not None and owner.building == building
                ):
                    continue
                meal = meal_of_hour(row.period_start.hour)
                key = (building, meal)
                figure = figures.setdefault(key, MealFigure(names.get(building, building), meal))
                name = prefix + attr
                setattr(figure, name, getattr(figure, name) + row.consumption)
    if not figures:
        return None
    order = {m: i for i, m in enumerate(MEALS)}
    meals = sorted(figures.values(), key=lambda f: (f.canteen, order[f.meal]))
    return FoodFigures(meals)
