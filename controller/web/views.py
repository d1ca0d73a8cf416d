"""What each page shows, as plain data: the HTML template and the page's JSON twin render the
same dict, so the web app and scripts never disagree (Datasette's habit).

Everything is filtered by the account's buildings *here*, before any template sees it.
"""

from __future__ import annotations

import datetime as dt
import weakref
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from controller.accounts import Account
from controller.app import Controller
from controller.config.site import Building
from controller.core import Entity, EntityRegistry
from controller.recorder import ConsumptionQuery, Period, Recorder
from controller.recorder.query import ConsumptionRow

from .i18n import Translator

__all__ = [
    "UTILITIES",
    "NotVisible",
    "building_view",
    "day_bounds",
    "overview",
    "room_view",
    "series_view",
]

UTILITIES = ("electricity", "cold_water", "hot_water")
"""The three figures of the overview, in the order the pages show them."""

_UNITS = {"electricity": "kWh", "cold_water": "m³", "hot_water": "m³"}

# Live values a room page shows first (the rest follow in profile order).
_LEAD_KINDS = ("active_power", "active_energy", "relay", "power_switch", "setpoint", "temperature")


class NotVisible(LookupError):
    """No such building or room, or not one the account may see (both answer 404)."""


@dataclass(frozen=True, slots=True)
class DayBounds:
    today: dt.datetime
    tomorrow: dt.datetime
    yesterday: dt.datetime
    last_week: dt.datetime


def day_bounds(now: dt.datetime) -> DayBounds:
    """Local midnights around ``now``: today, tomorrow, yesterday and a week ago."""
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return DayBounds(
        today,
        today + dt.timedelta(days=1),
        today - dt.timedelta(days=1),
        today - dt.timedelta(days=7),
    )


def utility_of(tags: dict[str, str]) -> str | None:
    """Which overview figure a consumption row belongs to."""
    kind, circuit = tags.get("kind"), tags.get("circuit")
    if kind == "active_energy":
        return "electricity"
    if kind == "water_volume":
        return "hot_water" if circuit in ("hot_water", "shower") else "cold_water"
    return None


def _building_totals(
    rows: Iterable[ConsumptionRow],
) -> dict[tuple[dt.datetime, str], dict[str, float]]:
    """(day, building) → utility → consumption, counting each building's energy once.

    A building with a main meter is its main meter; its circuit and room meters measure parts
    of the same energy and are not added to it.
    """
    by_circuit: dict[tuple[dt.datetime, str, str], dict[str, float]] = defaultdict(
        lambda: defaultdict(float)
    )
    for row in rows:
        tags = row.tags
        utility = utility_of(tags)
        if utility is None:
            continue
        key = (row.period_start, tags.get("building", ""), utility)
        by_circuit[key][tags.get("circuit", "")] += row.consumption
    out: dict[tuple[dt.datetime, str], dict[str, float]] = defaultdict(dict)
    for (day, building, utility), circuits in by_circuit.items():
        total = circuits["main"] if "main" in circuits else sum(circuits.values())
        out[(day, building)][utility] = round(total, 3)
    return out


async def _consumption_by_day(
    ctrl: Controller, start: dt.datetime, end: dt.datetime, where: dict[str, Any] | None = None
) -> list[ConsumptionRow]:
    """Each building's consumption per day, kind and circuit in [start, end).

    Kept per recorder and span until the recorder writes an hour of the span again
    (``Recorder.hour_changes``): a completed day is then asked for once, not on every request,
    and today again only after the next running hours are committed (every minute)."""
    recorder = ctrl.find(Recorder)
    if recorder is None:
        return []
    try:
        source = recorder.consumption
    except RuntimeError:
        return []  # the recorder has not opened its history yet
    where = {"kind": ["active_energy", "water_volume"], **(where or {})}
    key = (start, end, repr(sorted(where.items())))
    version = recorder.hour_changes.version(start.timestamp(), end.timestamp())  # before asking
    kept = _DAYS.setdefault(recorder, {})
    found = kept.get(key)
    if found is not None and found[0] == version:
        return found[1]
    query = ConsumptionQuery(
        start=start,
        end=end,
        period=Period.DAY,
        group_by=("building", "kind", "circuit"),
        where=where,
    )
    rows = await source.consumption(query)
    kept[key] = (version, rows)
    for stale in [k for k in kept if k[1] <= end - _KEEP_DAYS]:
        del kept[stale]  # days that dropped out of every page's span
    return rows


_DAYS: weakref.WeakKeyDictionary[
    Recorder, dict[tuple[dt.datetime, dt.datetime, str], tuple[int, list[ConsumptionRow]]]
] = weakref.WeakKeyDictionary()
_KEEP_DAYS = dt.timedelta(days=9)


async def _days(ctrl: Controller, days: DayBounds) -> list[ConsumptionRow]:
    """Today's, yesterday's and last week's rows (the days in between are not shown)."""
    rows: list[ConsumptionRow] = []
    for start in (days.last_week, days.yesterday, days.today):
        rows.extend(await _consumption_by_day(ctrl, start, start + dt.timedelta(days=1)))
    return rows


def _visible_buildings(ctrl: Controller, account: Account) -> list[Building]:
    return [b for b in ctrl.site.buildings.values() if account.sees(b.id)]


def _alarms(ctrl: Controller) -> list[dict[str, Any]]:
    from controller.alarms.component import alarm_service
    from controller.policies.engine import PolicyEngine

    service = alarm_service(ctrl.components)
    if service is not None:  # the one list: policies, devices, buses, supervision, rules
        return [r.to_json() for r in service.alarms()]

    engine = ctrl.find(PolicyEngine)
    if engine is None:
        return []
    return [a.to_json() for a in engine.views.active_alarms()]


def _acting(ctrl: Controller) -> dict[str, Counter[str]]:
    """Building → policy → points it holds now (a curfew holding 120 socket relays).

    Read from the counts the planner keeps as the holds change (``EngineCore.acting``): at
    night a big campus holds tens of thousands of points and the holds change several times a
    second, so walking them per request cost more than the rest of the page."""
    from controller.policies.engine import PolicyEngine

    engine = ctrl.find(PolicyEngine)
    if engine is None:
        return {}
    return engine.core.acting()


def _alarm_building(ctrl: Controller, alarm: dict[str, Any]) -> str | None:
    scope = alarm.get("scope")
    nested = scope if isinstance(scope, dict) else {}  # the alarm service's scope is a word
    for key in ("building", "device", "entity_id"):
        value = alarm.get(key) or nested.get(key)
        if not value:
            continue
        if key == "building":
            return str(value)
        device = ctrl.site.devices.get(str(value).rsplit(".", 1)[0]) or ctrl.site.devices.get(
            str(value)
        )
        if device is not None:
            return device.building
    return None


@dataclass(frozen=True, slots=True)
class _Places:
    """Devices and entities by building and room, built once per registry: a page then reads
    one room's few dozen entities instead of walking the campus's hundreds of thousands."""

    devices: dict[str, dict[str, list[str]]]
    """building → room ("" for shared devices) → device ids."""
    entities: dict[tuple[str, str], list[Entity]]
    """(building, room) → entities."""
    device_count: dict[str, int]
    occupants: dict[str, int]
    """building → beds of its rooms."""


_PLACES: weakref.WeakKeyDictionary[EntityRegistry, _Places] = weakref.WeakKeyDictionary()


def _places(ctrl: Controller) -> _Places:
    found = _PLACES.get(ctrl.registry)
    if found is None:
        devices: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
        for device in ctrl.site.devices.values():
            devices[device.building][device.room or ""].append(device.id)
        entities: dict[tuple[str, str], list[Entity]] = defaultdict(list)
        for entity in ctrl.registry:
            if entity.room is not None:
                entities[(entity.building, entity.room)].append(entity)
        count = {b: sum(len(ids) for ids in rooms.values()) for b, rooms in devices.items()}
        beds = {b.id: sum(r.capacity or 0 for r in b.rooms) for b in ctrl.site.buildings.values()}
        found = _Places(dict(devices), dict(entities), count, beds)
        _PLACES[ctrl.registry] = found
    return found


async def overview(ctrl: Controller, account: Account, t: Translator) -> dict[str, Any]:
    """Per building: today so far against yesterday and the same day last week, alarms and
    offline devices; plus the campus's open alarms."""
    days = day_bounds(ctrl.clock.now())
    totals = _building_totals(await _days(ctrl, days))
    offline = Counter(
        ctrl.site.devices[d].building
        for d in ctrl.states.unavailable_devices
        if d in ctrl.site.devices
    )
    places = _places(ctrl)
    acting = _acting(ctrl)
    alarms = [a for a in _alarms(ctrl) if account.sees(_alarm_building(ctrl, a))]
    alarms_by_building = Counter(_alarm_building(ctrl, a) for a in alarms)
    buildings: list[dict[str, Any]] = []
    for b in _visible_buildings(ctrl, account):
        figures = {}
        for utility in UTILITIES:
            today = totals.get((days.today, b.id), {}).get(utility)
            yesterday = totals.get((days.yesterday, b.id), {}).get(utility)
            week = totals.get((days.last_week, b.id), {}).get(utility)
            if today is None and yesterday is None and week is None:
                continue
            figures[utility] = {
                "today": today,
                "yesterday": yesterday,
                "last_week": week,
                "unit": _UNITS[utility],
            }
        buildings.append(
            {
                "id": b.id,
                "name": t.name(b.name.zh, b.name.en),
                "kind": b.kind.value,
                "rooms": len(b.rooms),
                "occupants": places.occupants.get(b.id, 0),
                "devices": places.device_count.get(b.id, 0),
                "offline": offline[b.id],
                "alarms": alarms_by_building[b.id],
                "figures": figures,
                "acting": sorted(acting[b.id].items()) if b.id in acting else [],
            }
        )
    return {
        "campus": t.name(ctrl.site.campus.name.zh, ctrl.site.campus.name.en),
        "now": ctrl.clock.now().isoformat(timespec="seconds"),
        "buildings": buildings,
        "alarms": alarms[:20],
        "alarms_total": len(alarms),
        "offline_total": sum(offline[b["id"]] for b in buildings),
    }


def _entity_row(entity: Entity, t: Translator) -> dict[str, Any]:
    return {
        "entity_id": entity.entity_id,
        "name": t.name(entity.name_zh, entity.name_en),
        "kind": entity.kind.value,
        "unit": entity.unit or "",
        "writable": entity.writable,
    }


def _building(ctrl: Controller, account: Account, building_id: str) -> Building:
    building = ctrl.site.buildings.get(building_id)
    if building is None or not account.sees(building_id):
        raise NotVisible(building_id)
    return building


def building_view(
    ctrl: Controller, account: Account, building_id: str, t: Translator
) -> dict[str, Any]:
    """A building's floors and rooms, each room with its power entity for the live view."""
    building = _building(ctrl, account, building_id)
    places = _places(ctrl)
    devices_of = places.devices.get(building_id, {})
    power: dict[str, str] = {}
    for room in building.rooms:
        for entity in places.entities.get((building_id, room.id), ()):
            if entity.kind.value == "active_power":
                power[room.id] = entity.entity_id
                break
    unavailable = ctrl.states.unavailable_devices
    floors: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for room in building.rooms:
        ids = devices_of.get(room.id, [])
        floors[room.floor].append(
            {
                "id": room.id,
                "capacity": room.capacity,
                "devices": len(ids),
                "offline": sum(1 for d in ids if d in unavailable),
                "power_entity": power.get(room.id),
            }
        )
    return {
        "id": building.id,
        "name": t.name(building.name.zh, building.name.en),
        "kind": building.kind.value,
        "floors": [{"floor": f, "rooms": rooms} for f, rooms in sorted(floors.items())],
        "shared_devices": len(devices_of.get("", [])),
    }


def room_view(
    ctrl: Controller, account: Account, building_id: str, room_id: str, t: Translator
) -> dict[str, Any]:
    """A room's devices with every entity (for live values and commands)."""
    building = _building(ctrl, account, building_id)
    room = next((r for r in building.rooms if r.id == room_id), None)
    if room is None:
        raise NotVisible(f"{building_id}/{room_id}")
    by_device: dict[str, list[Entity]] = defaultdict(list)
    for entity in _places(ctrl).entities.get((building_id, room_id), ()):
        by_device[entity.device_id].append(entity)
    devices = []
    unavailable = ctrl.states.unavailable_devices
    for device_id, entities in sorted(by_device.items()):
        entities.sort(
            key=lambda e: (
                _LEAD_KINDS.index(e.kind.value) if e.kind.value in _LEAD_KINDS else 99,
                e.point_key,
            )
        )
        config = ctrl.site.devices[device_id]
        devices.append(
            {
                "id": device_id,
                "profile": config.profile,
                "circuit": config.circuit.value if config.circuit else "",
                "available": device_id not in unavailable,
                "entities": [_entity_row(e, t) for e in entities],
            }
        )
    energy = [
        e.entity_id
        for ents in by_device.values()
        for e in ents
        if e.kind.value in ("active_energy", "water_volume")
    ]
    return {
        "building": {"id": building.id, "name": t.name(building.name.zh, building.name.en)},
        "room": {"id": room.id, "floor": room.floor, "capacity": room.capacity},
        "devices": devices,
        "counters": energy,
    }


async def series_view(
    ctrl: Controller,
    account: Account,
    building_id: str,
    room_id: str | None,
    *,
    hours: int,
) -> dict[str, Any]:
    """Hourly (``hours`` ≤ 48) or daily consumption of a building or room, per utility, for
    the page's charts."""
    _building(ctrl, account, building_id)
    now = ctrl.clock.now()
    hourly = hours <= 48
    end = now.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
    if not hourly:
        end = end.replace(hour=0) + dt.timedelta(days=1)
    start = end - dt.timedelta(hours=hours)
    recorder = ctrl.find(Recorder)
    rows: list[ConsumptionRow] = []
    if recorder is not None:
        where: dict[str, Any] = {"kind": ["active_energy", "water_volume"]}
        where["building"] = building_id
        if room_id is not None:
            where["room"] = room_id
        try:
            source = recorder.consumption
        except RuntimeError:
            source = None
        if source is not None:
            rows = await source.consumption(
                ConsumptionQuery(
                    start=start,
                    end=end,
                    period=Period.HOUR if hourly else Period.DAY,
                    group_by=("kind", "circuit"),
                    where=where,
                )
            )
    series: dict[str, dict[str, float]] = {u: {} for u in UTILITIES}
    per: dict[tuple[str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for row in rows:
        utility = utility_of(row.tags)
        if utility is not None:
            per[(row.period_start.isoformat(), utility)][row.tags.get("circuit", "")] += (
                row.consumption
            )
    for (when, utility), circuits in per.items():
        total = (
            circuits["main"] if room_id is None and "main" in circuits else sum(circuits.values())
        )
        series[utility][when] = round(total, 4)
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "step": "hour" if hourly else "day",
        "series": {u: sorted(points.items()) for u, points in series.items() if points},
        "units": _UNITS,
    }
