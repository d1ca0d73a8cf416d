"""A month of made-up hourly consumption for the demo, so reports and charts show something at once.

``sanjie demo`` starts with an empty history; a newcomer opening the reports would see one
running hour. This module makes a plausible month behind the demo's start for every counter
the recorder keeps statistics of, and hands it to the recorder's own writing path
(``Recorder.seed_history``: the embedded history, and InfluxDB's outbox when the site has one),
which records it as *seeded* so nobody mistakes it for measurement (``seeded_history`` in the
history file, the recorder's status, the demo's banner).

The figures follow the emulators' daily rhythms (``emulators.models.daily``): dorm electricity
follows presence and activity (low at night, cut in curfew nights before a working day, higher
at weekends in the day), water follows washing, hot water the showers inside the supply hours,
the canteen its meals. Each room gets its own level (a few use much more than others), each
hour some noise. Parent meters read the sum of their children plus what nobody sub-metered
(3 % losses and the building's own loads), so the hierarchy reports add up as on a real campus.

Deterministic: the same start and seed give the same hours, so writing them twice (a restart
before the marker was saved) rewrites the same rows instead of adding to them.
"""

from __future__ import annotations

import datetime as dt
import random
import zlib
import zoneinfo
from collections import defaultdict
from collections.abc import Callable, Iterator

from controller.config.profile import CUMULATIVE_KINDS, PointKind
from controller.core import Entity, EntityRegistry
from controller.recorder.stats import HourStat
from emulators.models.daily import (
    CANTEEN_COOKING,
    CANTEEN_OPEN,
    DORM_ACTIVITY,
    DORM_SHOWERS,
    DORM_WASHING,
    HANDWASH_USE,
    LIGHTING,
    Shape,
    dorm_presence,
)

__all__ = ["SEED_ID", "SEED_NOTE", "seeded_days"]

SEED_ID = "demo-month"
SEED_NOTE = "made up by sanjie demo (demo_seed.py), not measured"
HOUR = 3600.0
LOSSES = 1.03
"""Parent meters read their children's sum plus line losses …"""
_OWN_LOAD = {"active_energy": 2.5, "water_volume": 0.02}
"""… plus the building's own unmetered loads per hour (corridors, pumps; kWh, m³)."""
_HOT_SUPPLY = ((6.0, 8.5), (11.5, 14.0), (17.5, 23.5))
_BATH_OPEN = ((12.0, 14.0), (17.0, 23.0))
_HEAT_KWH_PER_M3 = 45 * 1.163
"""Heating water from 10 °C to 55 °C."""

Rate = Callable[[Entity, float, int, bool], float]
"""(entity, local hour, weekday, curfew night) → units in that hour, before level and noise."""


def _people(entity: Entity) -> float:
    return float(entity.tags.get("occupants") or 4)


def _within(hour: float, windows: tuple[tuple[float, float], ...]) -> bool:
    return any(start <= hour < end for start, end in windows)


def _daily(shape: Shape, per_day: float, hour: float) -> float:
    return shape.per_hour(per_day, hour + 0.5)


def _sockets(entity: Entity, hour: float, weekday: int, curfew: bool) -> float:
    if curfew:
        return 0.0
    per_person = 0.015 + 0.12 * dorm_presence(hour + 0.5, weekday) * DORM_ACTIVITY.at(hour + 0.5)
    return _people(entity) * per_person


def _ac(entity: Entity, hour: float, weekday: int, curfew: bool) -> float:
    allowed = weekday >= 5 or hour >= 18 or hour < 8 or 12 <= hour < 14.5
    return 0.45 * dorm_presence(hour + 0.5, weekday) if allowed else 0.0


def _lighting(entity: Entity, hour: float, weekday: int, curfew: bool) -> float:
    return 0.8 * LIGHTING.at(hour + 0.5)


def _cold(entity: Entity, hour: float, weekday: int, curfew: bool) -> float:
    litres = _daily(DORM_WASHING, 85.0, hour) * _people(entity)
    return litres * dorm_presence(hour + 0.5, weekday) / 1000.0 * 1.6


def _hot(entity: Entity, hour: float, weekday: int, curfew: bool) -> float:
    if not _within(hour, _HOT_SUPPLY):
        return 0.0
    return _daily(DORM_SHOWERS, 70.0, hour) * _people(entity) / 1000.0 * 1.25


def _shower(entity: Entity, hour: float, weekday: int, curfew: bool) -> float:
    return 0.06 * CANTEEN_OPEN.at(hour + 0.5) if _within(hour, _BATH_OPEN) else 0.0


def _kitchen(entity: Entity, hour: float, weekday: int, curfew: bool) -> float:
    rated = {"cooking": 28.0, "exhaust": 6.0, "dishwasher": 9.0, "water-boiler": 5.0}
    key = entity.device_id.rsplit(".", 1)[-1]
    if key == "cold-store":
        return 3.2
    return rated.get(key, 4.0) * CANTEEN_COOKING.at(hour + 0.5)


def _plug(entity: Entity, hour: float, weekday: int, curfew: bool) -> float:
    return 0.12 + 0.1 * CANTEEN_OPEN.at(hour + 0.5)


def _handwash(entity: Entity, hour: float, weekday: int, curfew: bool) -> float:
    return _daily(HANDWASH_USE, 0.35, hour)


def _meals(scale: float) -> Rate:
    def rate(entity: Entity, hour: float, weekday: int, curfew: bool) -> float:
        return scale * CANTEEN_OPEN.at(hour + 0.5) * (0.7 if weekday >= 5 else 1.0)

    return rate


def _other(entity: Entity, hour: float, weekday: int, curfew: bool) -> float:
    return 0.5


_LEAF_RATES: dict[tuple[str, str], Rate] = {
    ("active_energy", "sockets"): _sockets,
    ("active_energy", "ac"): _ac,
    ("active_energy", "lighting"): _lighting,
    ("active_energy", "kitchen"): _kitchen,
    ("active_energy", "power"): _plug,
    ("water_volume", "cold_water"): _cold,
    ("water_volume", "hot_water"): _hot,
    ("water_volume", "shower"): _shower,
}
_KIND_RATES: dict[str, Rate] = {
    PointKind.FOOD_WASTE.value: _meals(9.0),
    PointKind.DINER_COUNT.value: _meals(260.0),
}


def _rate(entity: Entity) -> Rate:
    kind = entity.kind.value
    if kind in _KIND_RATES:
        return _KIND_RATES[kind]
    if kind == "water_volume" and entity.tags.get("area") == "handwash":
        return _handwash
    return _LEAF_RATES.get((kind, entity.circuit or ""), _other)


def _curfew_night(local: dt.datetime, workday: Callable[[dt.date], bool]) -> bool:
    """23:00–05:50 of a night that ends on a working day: the dorm curfew has the sockets off."""
    if local.hour >= 23:
        return workday(local.date() + dt.timedelta(days=1))
    if local.hour < 6:
        return workday(local.date())
    return False


def _hours_of(start: float, end: float, tz: zoneinfo.ZoneInfo) -> Iterator[dt.datetime]:
    at = start
    while at < end:
        yield dt.datetime.fromtimestamp(at, tz)
        at += HOUR


def seeded_days(
    registry: EntityRegistry,
    end: float,
    tz: zoneinfo.ZoneInfo,
    *,
    days: int = 30,
    seed: int = 0,
    workday: Callable[[dt.date], bool] | None = None,
) -> Iterator[list[HourStat]]:
    """The month before the hour ``end`` starts (epoch seconds, a local hour's start), one
    day's hours per list, oldest first. ``workday`` says which dates are working days (the
    site calendar; default Monday to Friday)."""
    is_workday = workday or (lambda day: day.weekday() < 5)
    counters = [e for e in registry if e.is_cumulative and e.kind in CUMULATIVE_KINDS]
    parents = {e.tags["parent"] for e in counters if "parent" in e.tags}
    leaves = [e for e in counters if e.device_id not in parents]
    levels = {e.entity_id: _level(seed, e.entity_id) for e in leaves}
    inner = sorted(
        (e for e in counters if e.device_id in parents and e.kind is not PointKind.HEAT_ENERGY),
        key=lambda e: -int(e.tags.get("level") or 0),
    )  # deepest first: a sub-meter's figure is in before its own parent's is summed
    heat_of = {e.device_id: e for e in counters if e.kind is PointKind.HEAT_ENERGY}
    """A hot-water meter's heat follows its own volume."""
    start = end - days * 24 * HOUR
    day_start = start
    while day_start < end:
        day_end = min(day_start + 24 * HOUR, end)
        hours: list[HourStat] = []
        for local in _hours_of(day_start, day_end, tz):
            stamp = local.timestamp()
            rng = random.Random(zlib.crc32(f"{seed}:{round(stamp)}".encode()))  # noqa: S311 (made-up data)
            hour = local.hour + local.minute / 60
            curfew = _curfew_night(local, is_workday)
            totals: dict[tuple[str, str], float] = defaultdict(float)
            for entity in leaves:
                base = _rate(entity)(entity, hour, local.weekday(), curfew)
                value = base * levels[entity.entity_id] * rng.uniform(0.75, 1.25)
                hours.append(HourStat(entity.entity_id, stamp, round(value, 6)))
                parent = entity.tags.get("parent")
                if parent:
                    totals[(parent, entity.kind.value)] += value
            for entity in inner:
                kind = entity.kind.value
                children = totals.get((entity.device_id, kind), 0.0)
                value = children * LOSSES + _OWN_LOAD.get(kind, 0.0) * rng.uniform(0.8, 1.2)
                hours.append(HourStat(entity.entity_id, stamp, round(value, 6)))
                parent = entity.tags.get("parent")
                if parent:
                    totals[(parent, kind)] += value
                heat = heat_of.get(entity.device_id)
                if heat is not None and kind == PointKind.WATER_VOLUME.value:
                    heat_kwh = round(value * _HEAT_KWH_PER_M3, 6)
                    hours.append(HourStat(heat.entity_id, stamp, heat_kwh))
        yield hours
        day_start = day_end


def _level(seed: int, entity_id: str) -> float:
    """A room's own level: most near 1, a few heavy users up to 2.5×."""
    rng = random.Random(zlib.crc32(f"{seed}:{entity_id}".encode()))  # noqa: S311 (made-up data)
    return min(2.5, rng.lognormvariate(0.0, 0.35))
