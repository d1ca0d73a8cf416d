"""Build a report: fetch the consumption once, then make every table and chart from it.

The tables live in ``tables`` (headline, baseline, daily), ``place_tables`` (buildings, floors,
rooms, circuits, rankings) and ``record_tables`` (policies, alarms, data quality).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable, Iterable, Sequence

from controller.audit import AuditEntry
from controller.calendar import SiteCalendar
from controller.config import LoadedSite
from controller.recorder.history import MeterEvent
from controller.recorder.query import ConsumptionSource

from .billing import BillingFigures, billing_tables
from .diners import DinerCount
from .food import FoodFigures, fetch_food
from .food_tables import food_tables
from .i18n import text
from .model import Chart, ChartSeries, Report
from .place_tables import buildings, circuits, floors, room_figures, rooms, stars, top_users
from .places import Places
from .policy_water import fetch_valves, leak_table, valve_table
from .record_tables import policies, quality
from .request import ReportRequest, baseline_of
from .span import DateSpan
from .tables import Tables
from .usage import counted_days, fetch_usage

__all__ = ["STEPS", "ReportRequest", "baseline_of", "build_report"]

STEPS = 10
"""How many times ``build_report`` calls ``on_step`` (for a progress bar)."""


async def build_report(
    site: LoadedSite,
    source: ConsumptionSource,
    request: ReportRequest,
    *,
    audit: Iterable[AuditEntry] = (),
    meter_events: Sequence[MeterEvent] = (),
    food: FoodFigures | None = None,
    diners: Sequence[DinerCount] = (),
    billing: BillingFigures | None = None,
    now: dt.datetime | None = None,
    on_step: Callable[[str], None] = lambda _: None,
) -> Report:
    """The report for ``request``: ``source`` answers the consumption query (SQLite or
    InfluxDB), ``audit`` holds the period's ``command`` and ``alarm.raise`` entries, ``diners``
    the card-system counts imported for the period and baseline, ``billing`` the ledger's
    figures when the site bills (a billing section then)."""
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
            site=site,
            places=places,
            scope=request.scope,
            period=period_days,
            baseline=base_days,
            names={bid: bld.name.get(lang) for bid, bld in site.buildings.items()},
            tz=tz,
            imported=diners,
        )
    b = Tables(site, request, places, period, baseline)
    totals, base_totals = b.totals(period), b.totals(baseline)
    figures = room_figures(b)
    _, end = request.span.bounds(tz)
    actions, alarms, summary = policies(b, audit, end.timestamp())
    valves = await fetch_valves(
        source,
        site=site,
        places=places,
        scope=request.scope,
        period=period_days,
        baseline=base_days,
        lang=lang,
        tz=tz,
    )
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
        buildings(b),
        floors(b),
        rooms(b, figures),
        circuits(b),
        stars(b, figures, "star_energy", ("electricity",)),
        stars(b, figures, "star_water", ("cold_water", "hot_water")),
        top_users(b, figures),
        *(food_tables(food, lang) if food is not None else []),
        actions,
        *([leak_table(summary.leaks, lang, tz)] if summary.leaks else []),
        *([valve_table(valves, lang)] if valves else []),
        alarms,
        quality(b, meter_events),
    ]
    if billing is not None:
        names = {bid: bld.name.get(lang) for bid, bld in site.buildings.items()}
        report.tables.extend(billing_tables(billing, names, lang))
    report.charts = _charts(report, lang, b)
    food_keys = [t.key for t in report.tables if t.key in _FOOD_KEYS]
    report.sections = [
        (text("s_overview", lang), ["summary"]),
        (text("s_compare", lang), ["compare"]),
        (text("s_trend", lang), ["daily"]),
        (text("s_places", lang), ["buildings", "floors", "rooms"]),
        (text("s_circuits", lang), ["circuits"]),
        (text("s_rankings", lang), ["star_energy", "star_water", "top_users"]),
        *([(text("s_food", lang), food_keys)] if food_keys else []),
        (text("s_policies", lang), [t.key for t in report.tables if t.key in _POLICY_KEYS]),
        (text("s_alarms", lang), ["alarms"]),
        (text("s_quality", lang), ["quality"]),
        *([(text("s_billing", lang), ["billing", "billing_accounts"])] if billing else []),
    ]
    on_step("tables")
    return report


_FOOD_KEYS = ("star_plate", "food", "plates", "food_split")
_POLICY_KEYS = ("policies", "leaks", "valves")


def _facts(
    b: Tables, request: ReportRequest, base_span: DateSpan, exclude: bool
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


def _charts(report: Report, lang: str, b: Tables) -> list[Chart]:
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
