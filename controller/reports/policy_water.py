"""What the policies did for water: leaks closed (water saved, estimated) and the
delayed-closing valves (presses and litres per press, against the baseline).

Valve figures come from the valves' own counters: presses (kind ``press_count``) and water
(``water_volume``) of every device with a press counter, as daily consumption over the counted
days; litres per press is their ratio per building and area. For taps, the water-saving
criterion is at most 1 L per press (CJ/T 164-2014); a shower controller's "press" is one use.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass, field

from controller.config import LoadedSite, PointKind
from controller.recorder.query import ConsumptionQuery, ConsumptionSource, Period

from .actions import LeakClosure
from .model import Column, Table
from .places import Places
from .span import Scope

__all__ = ["ValveFigure", "fetch_valves", "leak_table", "valve_table"]

_WORDS = {
    "t_leaks": ("漏水关阀与节水估算", "Leaks closed and water saved (estimated)"),
    "t_valves": ("延时自闭阀：按压次数与每次用水", "Delayed-closing valves: presses and litres"),
    "valve": ("阀门", "Valve"),
    "closed_at": ("关阀时间", "Closed"),
    "reopened_at": ("恢复时间", "Reopened"),
    "still_closed": ("报告期末仍关闭", "still closed at the end"),
    "lpm": ("关阀前流量 L/min", "Rate before close L/min"),
    "hours": ("关闭时长 h", "Hours closed"),
    "saved_m3": ("估算节水 m³", "Water saved m³ (est.)"),
    "unknown": ("无流量记录", "no rate recorded"),
    "total": ("合计", "Total"),
    "leak_note": (
        "估算方法：关阀前漏水告警记录的流量（L/min；夜间用水告警取最后一小时升数 ÷ 60）"
        "× 阀门关闭时长（至下一次开阀命令或报告期末）。"
        "即假设不关阀漏水会以同样流量持续，为上限估计。",
        "Method: the leak alarm's rate before the close (L/min; for night-use alarms the last "
        "hour's litres ÷ 60) × the time the valve stayed closed (until the next open command, or "
        "the end of the period): the leak assumed to run on at the same rate, an upper estimate.",
    ),
    "building": ("楼栋", "Building"),
    "area": ("区域", "Area"),
    "valves": ("阀门数", "Valves"),
    "presses": ("按压次数", "Presses"),
    "litres": ("用水 L", "Water L"),
    "l_per_press": ("每次用水 L", "Litres per press"),
    "base_l_per_press": ("基准每次 L", "Baseline L per press"),
    "change": ("较基准变化", "Change vs baseline"),
    "valve_note": (
        "每次用水 = 阀门水表用水 ÷ 按压次数（计入天数内）；延时自闭水嘴节水标准：每次 ≤ 1 L"
        "（CJ/T 164-2014）；淋浴水控器按每次使用计。",
        "Litres per press = the valves' metered water ÷ presses (counted days); water-saving "
        "taps use at most 1 L per press (CJ/T 164-2014); a shower controller counts uses.",
    ),
}


def _t(key: str, lang: str) -> str:
    zh, en = _WORDS[key]
    return en if lang == "en" else zh


def _when(ts: float, tz: zoneinfo.ZoneInfo) -> str:
    return dt.datetime.fromtimestamp(ts, tz).strftime("%Y-%m-%d %H:%M")


def leak_table(leaks: Sequence[LeakClosure], lang: str, tz: zoneinfo.ZoneInfo) -> Table:
    """One row per valve a leak policy closed, then the total water saved."""
    table = Table(
        "leaks",
        _t("t_leaks", lang),
        (
            Column(_t("valve", lang), "text"),
            Column(_t("closed_at", lang), "text"),
            Column(_t("reopened_at", lang), "text"),
            Column(_t("lpm", lang), "num2"),
            Column(_t("hours", lang), "num1"),
            Column(_t("saved_m3", lang), "num3"),
        ),
        note=_t("leak_note", lang),
    )
    saved = 0.0
    for c in leaks:
        litres = c.litres_saved
        saved += litres or 0.0
        table.rows.append(
            (
                c.valve.rsplit(".", 1)[0],
                _when(c.closed_at, tz),
                _t("still_closed", lang) if c.reopened_at is None else _when(c.reopened_at, tz),
                c.lpm if c.lpm is not None else _t("unknown", lang),
                c.hours,
                None if litres is None else litres / 1000.0,
            )
        )
    if leaks:
        table.rows.append(
            (_t("total", lang), "", "", None, sum(c.hours for c in leaks), saved / 1000)
        )
    return table


@dataclass(slots=True)
class ValveFigure:
    """The press-counting valves of one building area: presses and litres, period and baseline."""

    building: str
    area: str
    valves: set[str] = field(default_factory=set)
    presses: float = 0.0
    litres: float = 0.0
    base_presses: float = 0.0
    base_litres: float = 0.0

    @property
    def per_press(self) -> float | None:
        return self.litres / self.presses if self.presses > 0 else None

    @property
    def base_per_press(self) -> float | None:
        return self.base_litres / self.base_presses if self.base_presses > 0 else None


def _valve_devices(site: LoadedSite) -> set[str]:
    return {
        d.id
        for d in site.devices.values()
        if any(p.kind is PointKind.PRESS_COUNT for p in site.profile_of(d).points)
    }


async def fetch_valves(
    source: ConsumptionSource,
    *,
    site: LoadedSite,
    places: Places,
    scope: Scope,
    period: Sequence[dt.date],
    baseline: Sequence[dt.date],
    lang: str,
    tz: zoneinfo.ZoneInfo,
) -> list[ValveFigure]:
    """Presses and litres per building area of the valves in scope, over the counted days."""
    valves = _valve_devices(site)
    figures: dict[tuple[str, str], ValveFigure] = {}
    if not valves:
        return []
    narrow = {} if scope.kind == "campus" else {"building": str(scope.building)}
    for days, prefix in ((period, ""), (baseline, "base_")):
        if not days:
            continue
        counted = set(days)
        start = dt.datetime.combine(min(days), dt.time(), tz)
        end = dt.datetime.combine(max(days) + dt.timedelta(days=1), dt.time(), tz)
        for kind, attr, factor in (
            ("press_count", "presses", 1.0),
            ("water_volume", "litres", 1e3),
        ):
            query = ConsumptionQuery(
                start, end, Period.DAY, ("building", "area", "device"), {"kind": kind, **narrow}
            )
            for row in await source.consumption(query):
                building, area, device = (value for _, value in row.group)
                if (
                    device not in valves
                    or row.period_start.date() not in counted
                    or not places.in_scope(device, scope)
                ):
                    continue
                figure = figures.setdefault(
                    (building, area), ValveFigure(*_names(site, building, area, lang))
                )
                figure.valves.add(device)
                name = prefix + attr
                setattr(figure, name, getattr(figure, name) + row.consumption * factor)
    return [figures[k] for k in sorted(figures)]


def _names(site: LoadedSite, building: str, area: str, lang: str) -> tuple[str, str]:
    placed = site.buildings.get(building)
    if placed is None:
        return building, area
    found = next((a for a in placed.areas if a.id == area), None)
    return placed.name.get(lang), found.name.get(lang) if found is not None else area


def valve_table(figures: Sequence[ValveFigure], lang: str) -> Table:
    table = Table(
        "valves",
        _t("t_valves", lang),
        (
            Column(_t("building", lang), "text"),
            Column(_t("area", lang), "text"),
            Column(_t("valves", lang), "int"),
            Column(_t("presses", lang), "int"),
            Column(_t("litres", lang), "num1"),
            Column(_t("l_per_press", lang), "num2"),
            Column(_t("base_l_per_press", lang), "num2"),
            Column(_t("change", lang), "pct"),
        ),
        note=_t("valve_note", lang),
    )
    for f in figures:
        now, before = f.per_press, f.base_per_press
        change = None if now is None or not before else (now - before) / before
        table.rows.append(
            (f.building, f.area, len(f.valves), round(f.presses), f.litres, now, before, change)
        )
    return table
