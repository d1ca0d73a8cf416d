"""Build a report: fetch the consumption once, then compute every table and chart from it.

Normalisation follows the public-institution rules (DOMAIN.md §6): figures per occupant and per
counted day, vacation days excluded (or kept) by the site's ``reports.vacation``; the savings
are the *adjusted* baseline (the baseline's use per person-day × this period's occupants ×
counted days) minus what was used, and the rate is savings ÷ adjusted baseline. Occupancy comes
from the site (rooms' occupants), the same for both periods: the site keeps no history of it.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from controller.audit import AuditEntry
from controller.calendar import SiteCalendar
from controller.config import LoadedSite
from controller.config.hierarchy import metered_kinds
from controller.config.reports import BaselineSpan
from controller.recorder.history import MeterEvent
from controller.recorder.query import ConsumptionSource

from .actions import summarise_actions
from .food import FoodFigures, fetch_food, food_tables
from .i18n import CIRCUIT_NAMES, POLICY_NAMES, named, text
from .model import Cell, Chart, ChartSeries, Column, Report, Table
from .places import Places
from .span import DateSpan, Scope
from .usage import KINDS, Usage, counted_days, fetch_usage

__all__ = ["QUANTITIES", "STEPS", "ReportRequest", "build_report"]

QUANTITIES = ("electricity", "cold_water", "hot_water")
UNITS = {"electricity": "kWh", "cold_water": "m³", "hot_water": "m³"}
STEPS = 10
"""How many times ``build_report`` calls ``on_step`` (for a progress bar)."""


@dataclass(frozen=True, slots=True)
class ReportRequest:
    span: DateSpan
    scope: Scope = field(default_factory=Scope)
    language: str = "zh"
    baseline: DateSpan | None = None
    """None: the site's ``reports.baseline`` rule."""


def baseline_of(request: ReportRequest, site: LoadedSite) -> DateSpan:
    if request.baseline is not None:
        return request.baseline
    rule = site.reports.baseline
    if isinstance(rule, BaselineSpan):
        return DateSpan(rule.start, rule.end)
    return request.span.year_before()


def _ratio(numerator: float | None, denominator: float) -> float | None:
    if numerator is None or denominator <= 0:
        return None
    return numerator / denominator


def _change(now: float | None, before: float | None) -> float | None:
    if now is None or before is None or before <= 0:
        return None
    return (now - before) / before


class _Builder:
    """Holds the inputs while the tables are made (one instance per report)."""

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
        return _ratio(amount, people * days) if amount is not None else None

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
            _change(
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
                _ratio(kgce, self.people),
                "kgce/人" if self.lang == "zh" else "kgce/person",
            ),
            (self.t("kgce_m2"), _ratio(kgce, area or 0.0), "kgce/m²"),
            (self.t("kwh_ppd"), self.ppd(kwh, self.people, self.days), "kWh"),
            (self.t("cold_water"), totals["cold_water"], "m³"),
            (self.t("hot_water"), totals["hot_water"], "m³"),
            (self.t("water_pp"), _ratio(water, self.people), "m³"),
            (self.t("l_ppd"), _ratio(water * 1000, self.people * self.days), "L"),
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
                    _ratio(saved, adjusted or 0.0),
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

    def buildings(self) -> Table:
        now = self.grouped(self.period, self.by_building)
        before = self.grouped(self.baseline, self.by_building)
        kgce = self.settings.kgce_per_kwh
        table = Table(
            "buildings",
            self.t("t_buildings"),
            (
                self.col("building", "text"),
                self.col("people", "int"),
                *self.use_columns(),
                Column(self.t("energy_kgce") + " kgce"),
                Column(self.t("kgce_m2"), "num3"),
            ),
        )
        self.per_capita.clear()
        for (building_id,), q in sorted(now.items()):
            people = self.people_of(building_id)
            area = self.site.buildings[building_id].floor_area_m2
            b = before.get((building_id,), {})
            self.per_capita.append(
                (
                    self.building_name(building_id),
                    self.ppd(b.get("electricity"), people, self.base_days),
                    self.ppd(q["electricity"], people, self.days),
                )
            )
            table.rows.append(
                (
                    self.building_name(building_id),
                    people,
                    *self.use_cells(q, b, people),
                    q["electricity"] * kgce,
                    _ratio(q["electricity"] * kgce, area or 0.0),
                )
            )
        return table

    def floors(self) -> Table:
        now = self.grouped(self.period, self.by_floor)
        before = self.grouped(self.baseline, self.by_floor)
        table = Table(
            "floors",
            self.t("t_floors"),
            (
                self.col("building", "text"),
                self.col("floor", "int"),
                self.col("people", "int"),
                *self.use_columns(),
            ),
        )
        for (building_id, floor), q in sorted(now.items(), key=lambda i: (i[0][0], int(i[0][1]))):
            people = self.people_of(building_id, int(floor))
            b = before.get((building_id, floor), {})
            table.rows.append(
                (self.building_name(building_id), int(floor), people, *self.use_cells(q, b, people))
            )
        return table

    def room_figures(self) -> list[tuple[str, str, int, int, dict[str, float], dict[str, float]]]:
        now = self.grouped(self.period, self.by_room)
        before = self.grouped(self.baseline, self.by_room)
        out = []
        floors = {
            (b.id, r.id): (r.floor, r.occupancy)
            for b in self.site.buildings.values()
            for r in b.rooms
        }
        for (building_id, room), q in sorted(now.items()):
            floor, people = floors.get((building_id, room), (0, 0))
            out.append(
                (
                    building_id,
                    room,
                    floor,
                    people,
                    dict(q),
                    dict(before.get((building_id, room), {})),
                )
            )
        return out

    def rooms(
        self, figures: Sequence[tuple[str, str, int, int, dict[str, float], dict[str, float]]]
    ) -> Table:
        table = Table(
            "rooms",
            self.t("t_rooms"),
            (
                self.col("building", "text"),
                self.col("room", "text"),
                self.col("floor", "int"),
                self.col("people", "int"),
                *self.use_columns(),
            ),
        )
        for building_id, room, floor, people, q, b in figures:
            table.rows.append(
                (
                    self.building_name(building_id),
                    room,
                    floor,
                    people,
                    *self.use_cells(q, b, people),
                )
            )
        return table

    def circuits(self) -> Table:
        """Electricity per circuit category of each building's sub-meters (not the mains)."""
        sums: dict[tuple[str, str], float] = defaultdict(float)
        seen: dict[str, str] = {}
        for (device, _, circuit, quantity), _amount in self.period.meters.items():
            if quantity == "electricity":
                seen[device] = circuit
        for (device, parent, circuit, quantity), amount in self.period.meters.items():
            place = self.places.of(device)
            if quantity != "electricity" or place is None or circuit in ("", "main"):
                continue
            if not self.places.in_scope(device, self.scope):
                continue
            # counted once per circuit: skip a sub-meter whose parent meters the same circuit
            if parent and seen.get(parent) == circuit:
                continue
            sums[(place.building, circuit)] += amount
        totals: dict[str, float] = defaultdict(float)
        for (building_id, _), amount in sums.items():
            totals[building_id] += amount
        table = Table(
            "circuits",
            self.t("t_circuits"),
            (
                self.col("building", "text"),
                self.col("circuit", "text"),
                Column(self.t("electricity") + " kWh"),
                Column("%", "pct"),
            ),
        )
        for (building_id, circuit), amount in sorted(sums.items()):
            table.rows.append(
                (
                    self.building_name(building_id),
                    named(CIRCUIT_NAMES, circuit, self.lang),
                    amount,
                    _ratio(amount, totals[building_id]),
                )
            )
        return table

    def stars(
        self,
        figures: Sequence[tuple[str, str, int, int, dict[str, float], dict[str, float]]],
        key: str,
        quantities: tuple[str, ...],
    ) -> Table:
        """Rooms with the largest drop in use per person-day against the baseline."""
        changes = []
        for building_id, room, _, people, q, b in figures:
            now = self.ppd(sum(q.get(x, 0.0) for x in quantities), people, self.days)
            before = self.ppd(sum(b.get(x, 0.0) for x in quantities), people, self.base_days)
            change = _change(now, before)
            if change is not None:
                changes.append((change, building_id, room, before, now))
        changes.sort(key=lambda c: (c[0], c[1], c[2]))
        table = Table(
            key,
            self.t("t_" + key),
            (
                self.col("rank", "int"),
                self.col("building", "text"),
                self.col("room", "text"),
                self.col("b_ppd", "num3"),
                self.col("p_ppd", "num3"),
                self.col("change", "pct"),
            ),
        )
        for rank, (change, building_id, room, before, now) in enumerate(
            changes[: self.settings.rankings], start=1
        ):
            table.rows.append((rank, self.building_name(building_id), room, before, now, change))
        return table

    def top_users(
        self, figures: Sequence[tuple[str, str, int, int, dict[str, float], dict[str, float]]]
    ) -> Table:
        users = [
            (
                self.ppd(q.get("electricity", 0.0), people, self.days) or 0.0,
                b,
                room,
                q.get("electricity", 0.0),
            )
            for b, room, _, people, q, _ in figures
            if people > 0
        ]
        users.sort(key=lambda u: (-u[0], u[1], u[2]))
        table = Table(
            "top_users",
            self.t("t_top_users"),
            (
                self.col("rank", "int"),
                self.col("building", "text"),
                self.col("room", "text"),
                Column(self.t("electricity") + " kWh"),
                self.col("p_ppd", "num3"),
            ),
        )
        for rank, (ppd, b, room, kwh) in enumerate(users[: self.settings.rankings], start=1):
            table.rows.append((rank, self.building_name(b), room, kwh, ppd))
        return table

    def policies(self, entries: Iterable[AuditEntry], end: float) -> tuple[Table, Table]:
        summary = summarise_actions(entries, self.site, self.places, self.scope, end)
        table = Table(
            "policies",
            self.t("t_policies"),
            (
                self.col("policy", "text"),
                self.col("commands", "int"),
                self.col("failed", "int"),
                self.col("detail", "text"),
            ),
        )
        for policy_type, count in sorted(summary.commands.items()):
            detail = ""
            if policy_type == "curfew":
                detail = f"{self.t('curfew_hours')}: {summary.curfew_hours:.1f}"
            table.rows.append(
                (
                    named(POLICY_NAMES, policy_type, self.lang),
                    count,
                    summary.failed[policy_type],
                    detail,
                )
            )
        alarms = Table(
            "alarms",
            self.t("t_alarms"),
            (self.col("alarm", "text"), self.col("severity", "text"), self.col("count", "int")),
        )
        for (kind, severity), count in sorted(summary.alarms.items()):
            alarms.rows.append((kind, severity, count))
        return table, alarms

    def quality(self, events: Sequence[MeterEvent]) -> Table:
        """Metering points in scope, those that sent nothing, suspect use, swaps, anomalies."""
        meters = [
            d.id
            for d in self.site.devices.values()
            if self.places.in_scope(d.id, self.scope)
            and metered_kinds(self.site.profile_of(d)) & set(KINDS)
        ]
        reporting = {device for (device, _, _, _) in self.period.meters}
        silent = [m for m in meters if m not in reporting]
        in_scope = [
            e for e in events if self.places.in_scope(e.entity_id.rsplit(".", 1)[0], self.scope)
        ]
        swaps = sum(1 for e in in_scope if e.kind.startswith("meter_swap"))
        held = ", ".join(f"{self.t(q)} {self.period.held_out.get(q, 0.0):.3f}" for q in QUANTITIES)
        table = Table(
            "quality", self.t("t_quality"), (self.col("check", "text"), self.col("value", "text"))
        )
        listed = f" ({', '.join(silent[:10])}{', …' if len(silent) > 10 else ''})" if silent else ""
        table.rows = [
            (self.t("meters_total"), str(len(meters))),
            (self.t("meters_silent"), f"{len(silent)}{listed}"),
            (self.t("held_out"), held),
            (self.t("swaps"), str(swaps)),
            (self.t("anomalies"), str(len(in_scope) - swaps)),
            (self.t("partial"), self.t("yes") if self.period.partial else self.t("no")),
        ]
        return table


async def build_report(
    site: LoadedSite,
    source: ConsumptionSource,
    request: ReportRequest,
    *,
    audit: Iterable[AuditEntry] = (),
    meter_events: Sequence[MeterEvent] = (),
    food: FoodFigures | None = None,
    now: dt.datetime | None = None,
    on_step: Callable[[str], None] = lambda _: None,
) -> Report:
    """The report for ``request``: ``source`` answers the consumption query (SQLite or
    InfluxDB), ``audit`` holds the period's ``command`` and ``alarm.raise`` entries."""
    tz = zoneinfo.ZoneInfo(site.campus.timezone)
    places = Places(site)
    calendar = SiteCalendar.from_site(site)
    exclude = site.reports.vacation == "exclude"
    base_span = baseline_of(request, site)
    lang = request.language
    period_days = counted_days(request.span, calendar, exclude)
    base_days = counted_days(base_span, calendar, exclude)
    period = await fetch_usage(
        source,
        places=places,
        scope=request.scope,
        span=request.span,
        days=period_days,
        tz=tz,
        step=lambda: on_step("period"),
    )
    baseline = await fetch_usage(
        source,
        places=places,
        scope=request.scope,
        span=base_span,
        days=base_days,
        tz=tz,
        step=lambda: on_step("baseline"),
    )
    if food is None:
        food = await fetch_food(
            source,
            places=places,
            scope=request.scope,
            period=period_days,
            baseline=base_days,
            names={bid: bld.name.get(lang) for bid, bld in site.buildings.items()},
            tz=tz,
        )
    b = _Builder(site, request, places, period, baseline)
    totals, base_totals = b.totals(period), b.totals(baseline)
    figures = b.room_figures()
    _, end = request.span.bounds(tz)
    policies, alarms = b.policies(audit, end.timestamp())
    on_step("audit")
    report = Report(
        language=lang,
        title=text("title", lang),
        subtitle=site.campus.name.get(lang),
        generated_at=now or dt.datetime.now(tz),
        facts=_facts(b, request, base_span, exclude),
    )
    report.tables = [
        b.summary(totals, food),
        b.compare(totals, base_totals, food),
        b.daily(request, base_span),
        b.buildings(),
        b.floors(),
        b.rooms(figures),
        b.circuits(),
        b.stars(figures, "star_energy", ("electricity",)),
        b.stars(figures, "star_water", ("cold_water", "hot_water")),
        b.top_users(figures),
        *(food_tables(food, lang) if food is not None else []),
        policies,
        alarms,
        b.quality(meter_events),
    ]
    report.charts = _charts(report, lang, b)
    food_keys = ["star_plate", "food"] if food is not None else []
    report.sections = [
        (text("s_overview", lang), ["summary"]),
        (text("s_compare", lang), ["compare"]),
        (text("s_trend", lang), ["daily"]),
        (text("s_places", lang), ["buildings", "floors", "rooms"]),
        (text("s_circuits", lang), ["circuits"]),
        (text("s_rankings", lang), ["star_energy", "star_water", "top_users"]),
        *([(text("s_food", lang), food_keys)] if food_keys else []),
        (text("s_policies", lang), ["policies"]),
        (text("s_alarms", lang), ["alarms"]),
        (text("s_quality", lang), ["quality"]),
    ]
    on_step("tables")
    return report


def _facts(
    b: _Builder, request: ReportRequest, base_span: DateSpan, exclude: bool
) -> list[tuple[str, str]]:
    lang = request.language
    scope = text("campus", lang) if request.scope.kind == "campus" else request.scope.text
    area = b.places.floor_area(request.scope)
    facts = [
        (text("period", lang), request.span.label()),
        (text("baseline", lang), base_span.label()),
        (text("scope", lang), scope),
        (text("occupants", lang), str(b.people)),
        (
            text("days", lang),
            f"{b.days} / {b.base_days}" + (text("vacation_excluded", lang) if exclude else ""),
        ),
    ]
    if area is not None:
        facts.append((text("floor_area", lang), f"{area:,.0f}"))
    return facts


def _charts(report: Report, lang: str, b: _Builder) -> list[Chart]:
    daily = report.table("daily")
    buildings = report.table("buildings")
    charts = [
        Chart(
            "trend",
            text("c_trend", lang),
            "line",
            "daily",
            tuple(str(d)[5:] for d in daily.column(0)),
            (
                ChartSeries(text("period", lang), tuple(_num(v) for v in daily.column(1))),
                ChartSeries(text("baseline", lang), tuple(_num(v) for v in daily.column(2))),
            ),
            "kWh",
        ),
        Chart(
            "buildings",
            text("c_buildings", lang),
            "bar",
            "buildings",
            tuple(str(n) for n in buildings.column(0)),
            (ChartSeries(text("electricity", lang), tuple(_num(v) for v in buildings.column(2))),),
            "kWh",
        ),
    ]
    charts.append(
        Chart(
            "per_capita",
            text("c_per_capita", lang),
            "bar",
            "buildings",
            tuple(name for name, _, _ in b.per_capita),
            (
                ChartSeries(text("baseline", lang), tuple(v for _, v, _ in b.per_capita)),
                ChartSeries(text("period", lang), tuple(v for _, _, v in b.per_capita)),
            ),
            "kWh",
        )
    )
    if any(t.key == "food" for t in report.tables):
        food = report.table("food")
        charts.append(
            Chart(
                "food",
                text("c_food", lang),
                "bar",
                "food",
                tuple(f"{c} {m}" for c, m in zip(food.column(0), food.column(1), strict=True)),
                (ChartSeries(text("kg_pd", lang), tuple(_num(v) for v in food.column(4))),),
                "kg",
            )
        )
    return charts


def _num(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None
