"""The report's tables, part 1: shared inputs and figures, the headline and baseline tables.

Normalisation follows the public-institution rules (DOMAIN.md §6): figures per occupant and per
counted day, vacation days excluded (or kept) by the site's ``reports.vacation``; the savings
are the *adjusted* baseline (the baseline's use per person-day × this period's occupants ×
counted days) minus what was used, and the rate is savings ÷ adjusted baseline. Occupancy comes
from the site (rooms' occupants), the same for both periods: the site keeps no history of it.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Mapping

from controller.config import LoadedSite
from controller.config.reports import BaselineSpan

from .food import FoodFigures
from .i18n import text
from .model import Cell, Column, Table
from .places import Places
from .request import ReportRequest
from .span import DateSpan, Scope
from .usage import Usage

__all__ = ["QUANTITIES", "UNITS", "RoomFigure", "Tables", "change", "ratio"]

QUANTITIES = ("electricity", "cold_water", "hot_water")
UNITS = {"electricity": "kWh", "cold_water": "m³", "hot_water": "m³"}
RoomFigure = tuple[str, str, int, int, dict[str, float], dict[str, float]]
"""(building, room, floor, occupants, period use per quantity, baseline use per quantity)."""


def ratio(numerator: float | None, denominator: float) -> float | None:
    if numerator is None or denominator <= 0:
        return None
    return numerator / denominator


def change(now: float | None, before: float | None) -> float | None:
    if now is None or before is None or before <= 0:
        return None
    return (now - before) / before


class Tables:
    """The inputs every table is made from, and the small figures they share (one per report)."""

    def __init__(
        self,
        site: LoadedSite,
        request: ReportRequest,
        places: Places,
        period: Usage,
        baseline: Usage,
    ) -> None:
        self.site = site
        self.lang = request.language
        self.scope = request.scope
        self.places = places
        self.period = period
        self.baseline = baseline
        self.settings = site.reports
        self.people = places.occupants(request.scope)
        self.days = len(period.days)
        self.base_days = len(baseline.days)
        self.per_capita: list[tuple[str, float | None, float | None]] = []
        """(building, baseline, period) electricity per person-day, filled by ``buildings``."""

    def t(self, key: str) -> str:
        return text(key, self.lang)

    def col(self, key: str, style: str = "num1") -> Column:
        return Column(self.t(key), style)  # type: ignore[arg-type]

    def building_name(self, building_id: str) -> str:
        building = self.site.buildings.get(building_id)
        return building.name.get(self.lang) if building else building_id

    # -- groups -----------------------------------------------------------------------------

    def grouped(
        self, usage: Usage, group: Callable[[str, str], tuple[str, ...] | None]
    ) -> dict[tuple[str, ...], dict[str, float]]:
        """Totals per quantity for each group ``group(device, parent)`` counts the meter in."""
        out: dict[tuple[str, ...], dict[str, float]] = defaultdict(lambda: defaultdict(float))
        for (device, parent, _, quantity), amount in usage.meters.items():
            if not self.places.in_scope(device, self.scope):
                continue
            key = group(device, parent)
            if key is not None:
                out[key][quantity] += amount
        return out

    def by_building(self, device: str, parent: str) -> tuple[str, ...] | None:
        place = self.places.of(device)
        if place is None or not self.places.counts_in_building(device, parent):
            return None
        return (place.building,)

    def by_floor(self, device: str, parent: str) -> tuple[str, ...] | None:
        place = self.places.of(device)
        if place is None or place.floor is None:
            return None
        if not self.places.counts_in_floor(device, parent):
            return None
        return (place.building, str(place.floor))

    def by_room(self, device: str, parent: str) -> tuple[str, ...] | None:
        place = self.places.of(device)
        if place is None or place.room is None or not self.places.counts_in_room(device, parent):
            return None
        return (place.building, place.room)

    def people_of(self, building: str, floor: int | None = None, room: str | None = None) -> int:
        kind = "room" if room is not None else "floor" if floor is not None else "building"
        return self.places.occupants(Scope(kind, building, floor, room))  # type: ignore[arg-type]

    def ppd(self, amount: float | None, people: int, days: int) -> float | None:
        return ratio(amount, people * days) if amount is not None else None

    # -- tables -----------------------------------------------------------------------------

    def use_columns(self) -> tuple[Column, ...]:
        """The columns every place table shares: use, use per person-day, change."""
        return (
            Column(self.t("electricity") + " kWh"),
            Column(self.t("kwh_ppd") + " kWh", "num3"),
            Column(self.t("cold_water") + " m³", "num2"),
            Column(self.t("hot_water") + " m³", "num2"),
            Column(self.t("l_ppd") + " L", "num1"),
            self.col("change", "pct"),
        )

    def use_cells(
        self, now: Mapping[str, float], before: Mapping[str, float], people: int
    ) -> tuple[Cell, ...]:
        """Values of ``use_columns`` for one place (``change``: electricity per person-day)."""
        kwh = now.get("electricity", 0.0)
        water = now.get("cold_water", 0.0) + now.get("hot_water", 0.0)
        return (
            kwh,
            self.ppd(kwh, people, self.days),
            now.get("cold_water", 0.0),
            now.get("hot_water", 0.0),
            self.ppd(water * 1000, people, self.days),
            change(
                self.ppd(kwh, people, self.days),
                self.ppd(before.get("electricity"), people, self.base_days),
            ),
        )

    def totals(self, usage: Usage) -> dict[str, float]:
        return {q: usage.total(q, self.places, self.scope) for q in QUANTITIES}

    def summary(self, totals: dict[str, float], food: FoodFigures | None) -> Table:
        s = self.settings
        kwh = totals["electricity"]
        water = totals["cold_water"] + totals["hot_water"]
        kgce = kwh * s.kgce_per_kwh
        area = self.places.floor_area(self.scope)
        rows: list[tuple[str, float | None, str]] = [
            (self.t("electricity"), kwh, "kWh"),
            (self.t("energy_kgce"), kgce, "kgce"),
            (
                self.t("kgce_pp"),
                ratio(kgce, self.people),
                "kgce/人" if self.lang == "zh" else "kgce/person",
            ),
            (self.t("kgce_m2"), ratio(kgce, area or 0.0), "kgce/m²"),
            (self.t("kwh_ppd"), self.ppd(kwh, self.people, self.days), "kWh"),
            (self.t("cold_water"), totals["cold_water"], "m³"),
            (self.t("hot_water"), totals["hot_water"], "m³"),
            (self.t("water_pp"), ratio(water, self.people), "m³"),
            (self.t("l_ppd"), ratio(water * 1000, self.people * self.days), "L"),
        ]
        if food is not None:
            rows.append((self.t("kg_pd"), food.per_diner(), "kg"))
        table = Table(
            "summary",
            self.t("t_summary"),
            (self.col("indicator", "text"), self.col("value", "num2"), self.col("unit", "text")),
        )
        table.rows = list(rows)
        return table

    def compare(
        self, totals: dict[str, float], base: dict[str, float], food: FoodFigures | None
    ) -> Table:
        s = self.settings
        prices = {
            "electricity": s.tariffs.electricity,
            "cold_water": s.tariffs.cold_water,
            "hot_water": s.tariffs.hot_water,
        }
        table = Table(
            "compare",
            self.t("t_compare"),
            (
                self.col("quantity", "text"),
                self.col("unit", "text"),
                self.col("b_total"),
                self.col("p_total"),
                self.col("b_ppd", "num3"),
                self.col("p_ppd", "num3"),
                self.col("adjusted"),
                self.col("saved"),
                self.col("rate", "pct"),
                self.col("yuan", "num2"),
                self.col("co2"),
            ),
        )
        for quantity in QUANTITIES:
            b_ppd = self.ppd(base[quantity], self.people, self.base_days)
            p_ppd = self.ppd(totals[quantity], self.people, self.days)
            adjusted = None if b_ppd is None else b_ppd * self.people * self.days
            saved = None if adjusted is None else adjusted - totals[quantity]
            co2 = (
                saved * s.co2_kg_per_kwh
                if saved is not None and quantity == "electricity"
                else None
            )
            table.rows.append(
                (
                    self.t(quantity),
                    UNITS[quantity],
                    base[quantity],
                    totals[quantity],
                    b_ppd,
                    p_ppd,
                    adjusted,
                    saved,
                    ratio(saved, adjusted or 0.0),
                    None if saved is None else saved * prices[quantity],
                    co2,
                )
            )
        if food is not None:
            table.rows.append(food.compare_row(self.lang, s.tariffs.food_waste))
            table.note = self.t("food_note")
        return table

    def daily(self, request: ReportRequest, base_span: DateSpan) -> Table:
        table = Table(
            "daily",
            self.t("t_daily"),
            (
                self.col("date", "text"),
                Column(self.t("electricity") + " kWh", "num1"),
                self.col("baseline_kwh"),
                Column(self.t("cold_water") + " m³", "num2"),
                Column(self.t("hot_water") + " m³", "num2"),
            ),
        )
        same_dates = request.baseline is None and not isinstance(
            self.settings.baseline, BaselineSpan
        )
        for index, day in enumerate(self.period.days):
            if same_dates:
                base_day: dt.date | None = DateSpan(day, day).year_before().first
            else:
                base_day = self.baseline.days[index] if index < len(self.baseline.days) else None
            base = self.baseline.daily.get((base_day, "electricity")) if base_day else None
            table.rows.append(
                (
                    day.isoformat(),
                    self.period.daily.get((day, "electricity"), 0.0),
                    base,
                    self.period.daily.get((day, "cold_water"), 0.0),
                    self.period.daily.get((day, "hot_water"), 0.0),
                )
            )
        return table
