"""A seeded history for the report tests: 70 emulated days of a small campus, fast.

The emulator's device models (the same ones ``sanjie emulate`` serves on the wire) run on a
fake clock in 15-minute steps; their counter readings go through the recorder's real
statistics engine into the real SQLite history (and, as the recorder's own line protocol, into
InfluxDB when asked). That skips the wire, which other tests cover, and makes 70 days take a
few seconds. The campaign period switches the 光盘行动 on at the canteen's waste scales and
plate checker, and the dorm curfew on: every night 23:00–06:00 the
sockets' relays are opened and closed again, each command audited as the policy engine's
commands are (``CommandCompleted`` through ``AuditLog.record_event``).

Alongside, the truth a report must reproduce is kept independently: each meter's counter
reading at every local midnight (and where each meal begins), straight from the models.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from controller.audit import AuditLog
from controller.config import LoadedSite, load_site
from controller.core import FakeClock
from controller.core.events import CommandCompleted
from controller.core.registry import EntityRegistry
from controller.recorder import History, StatisticsEngine
from controller.recorder.counters import counter_specs
from controller.recorder.lineproto import LineFormatter
from emulators.models import BoundDevice, build_model

TZ = zoneinfo.ZoneInfo("Asia/Shanghai")
FIRST = dt.date(2026, 9, 7)
LAST = dt.date(2026, 11, 15)
BASELINE = (dt.date(2026, 9, 7), dt.date(2026, 10, 11))
CAMPAIGN = (dt.date(2026, 10, 12), dt.date(2026, 11, 15))
VACATION = (dt.date(2026, 10, 1), dt.date(2026, 10, 7))
STEP = 900.0
ROOMS = {"dorm-1": {1: [4, 3, 4], 2: [2, 4, 4]}, "dorm-2": {1: [4, 1]}}
"""Occupants per room, by building and floor."""


def site_document() -> dict[str, Any]:
    buildings, devices = [], []
    unit = 1
    for building_id, floors in ROOMS.items():
        rooms = []
        for floor, people in floors.items():
            for index, occupants in enumerate(people, start=1):
                room = f"{floor}{index:02d}"
                rooms.append({"id": room, "floor": floor, "occupants": occupants})
                main = building_id == "dorm-1"
                devices += [
                    {
                        "id": f"{building_id}.{room}.elec",
                        "profile": "generic/dorm-prepaid-meter",
                        "building": building_id,
                        "room": room,
                        "link": "gw",
                        "unit_id": unit,
                        "circuit": "sockets",
                        **({"parent": f"{building_id}.main"} if main else {}),
                    },
                    {
                        "id": f"{building_id}.{room}.cold",
                        "profile": "generic/mqtt-water-meter",
                        "building": building_id,
                        "room": room,
                        "link": "broker",
                        "circuit": "cold_water",
                        **({"parent": f"{building_id}.water"} if main else {}),
                    },
                    {
                        "id": f"{building_id}.{room}.hot",
                        "profile": "generic/mqtt-water-meter",
                        "building": building_id,
                        "room": room,
                        "link": "broker",
                        "circuit": "hot_water",
                    },
                ]
                unit += 1
        buildings.append(
            {
                "id": building_id,
                "kind": "dorm",
                "name": {"zh": f"{building_id[-1]}号宿舍楼", "en": f"Dorm {building_id[-1]}"},
                "floors": len(floors),
                "floor_area_m2": 1200.0 if building_id == "dorm-1" else 400.0,
                "rooms": rooms,
            }
        )
    devices += [
        {
            "id": "dorm-1.main",
            "profile": "acrel/adl400",
            "building": "dorm-1",
            "link": "gw",
            "unit_id": 100,
            "circuit": "main",
        },
        {
            "id": "dorm-1.water",
            "profile": "generic/mqtt-water-meter",
            "building": "dorm-1",
            "link": "broker",
            "circuit": "cold_water",
        },
    ]
    buildings.append(
        {
            "id": "canteen-1",
            "kind": "canteen",
            "name": {"zh": "第一食堂", "en": "Canteen 1"},
            "floor_area_m2": 800.0,
        }
    )
    devices += [
        {
            "id": f"canteen-1.scale-{line}",
            "profile": "generic/mqtt-waste-scale",
            "building": "canteen-1",
            "link": "broker",
            "tags": [f"line-{line}", f"bin-{bin_}"],
        }
        for line, bin_ in ((1, "plate"), (2, "prep"))
    ]
    devices.append(
        {
            "id": "canteen-1.plates",
            "profile": "generic/mqtt-plate-checker",
            "building": "canteen-1",
            "link": "broker",
        }
    )
    devices.append(
        {
            "id": "canteen-1.diners",
            "profile": "generic/mqtt-diner-counter",
            "building": "canteen-1",
            "link": "broker",
        }
    )
    return {
        "campus": {"id": "seed", "name": {"zh": "测试校区", "en": "Test campus"}},
        "buildings": buildings,
        "links": [
            {"id": "gw", "type": "modbus_tcp", "host": "127.0.0.1", "port": 1502},
            {"id": "broker", "type": "mqtt", "host": "127.0.0.1"},
        ],
        "devices": devices,
        "policies": [
            {
                "id": "night-curfew",
                "type": "curfew",
                "scope": {"building_kinds": ["dorm"]},
                "windows": [{"start": "23:00", "end": "06:00"}],
            }
        ],
        "calendar": {
            "vacations": [
                {"name": "国庆", "start": VACATION[0].isoformat(), "end": VACATION[1].isoformat()}
            ]
        },
        "reports": {
            "baseline": {"start": BASELINE[0].isoformat(), "end": BASELINE[1].isoformat()},
            "vacation": "exclude",
        },
    }


@dataclass
class Seeded:
    site: LoadedSite
    data_dir: Path
    midnight: dict[str, dict[dt.date, float]] = field(default_factory=lambda: defaultdict(dict))
    """Counter reading of every consumption entity at each local midnight (the truth)."""
    meal_edges: dict[str, dict[dt.datetime, float]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    """Counter readings at 00:00, 10:00 and 15:00 local, where meals begin (the truth by meal)."""
    curfew_log: list[tuple[float, bool]] = field(default_factory=list)
    """(time, relay on) of each curfew batch; every batch switches ``sockets`` relays."""
    sockets: int = 0
    lines: list[str] = field(default_factory=list)

    def used(self, entity_id: str, first: dt.date, last: dt.date) -> float:
        """What a counter counted over the local days first..last."""
        readings = self.midnight[entity_id]
        return readings[last + dt.timedelta(days=1)] - readings[first]


def _local(day: dt.date, hour: int = 0) -> float:
    return dt.datetime.combine(day, dt.time(hour), TZ).timestamp()


def seed(folder: Path, *, influx_lines: bool = False) -> Seeded:
    """Write the site, its history and its audit log under ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    site_path = folder / "site.yaml"
    site_path.write_text(yaml.safe_dump(site_document(), allow_unicode=True), encoding="utf-8")
    site = load_site(site_path)
    (folder / "var").mkdir(exist_ok=True)
    registry = EntityRegistry.from_site(site)
    formatter = LineFormatter(registry)
    specs = list(counter_specs(site, registry))
    engine = StatisticsEngine(specs, TZ)
    counters = {spec.entity_id for spec in specs}
    start = _local(FIRST)
    clock = FakeClock(start, tz="Asia/Shanghai")
    bound: dict[str, BoundDevice] = {}
    for placed in site.devices.values():
        model = build_model(site, placed, clock, seed=7)
        model.max_step = STEP
        bound[placed.id] = BoundDevice(placed.id, site.profile_of(placed), model)
    history = History(folder / site.sinks.history.path, formatter.keys)
    audit = AuditLog(folder / "var" / "audit.sqlite3", clock)
    seeded = Seeded(site, folder)
    end = _local(LAST + dt.timedelta(days=1)) + 2 * STEP
    campaign_start = _local(CAMPAIGN[0])
    campaign_end = _local(CAMPAIGN[1] + dt.timedelta(days=1))
    sockets = [d for d in bound if d.endswith(".elec")]
    seeded.sockets = len(sockets)
    off_since: float | None = None
    scales = [d for d in bound if ".scale-" in d or d.endswith(".plates")]
    t = start
    try:
        while t <= end:
            clock.set(t)
            local = dt.datetime.fromtimestamp(t, TZ)
            if t == campaign_start:
                for scale in scales:  # the 光盘行动 starts with the campaign
                    bound[scale].model.command("clean_plate", "on")
            if campaign_start <= t < campaign_end + 7 * 3600 and local.minute == 0:
                if local.hour == 23 and t < campaign_end and off_since is None:
                    off_since = t
                    _curfew(bound, sockets, audit, t, False)
                    seeded.curfew_log.append((t, False))
                elif local.hour == 6 and off_since is not None:
                    _curfew(bound, sockets, audit, t, True)
                    seeded.curfew_log.append((t, True))
                    off_since = None
            for device_id, device in bound.items():
                for key, value in device.read().items():
                    entity_id = f"{device_id}.{key}"
                    if entity_id in counters and isinstance(value, float | int):
                        engine.observe(entity_id, t, float(value))
                        if local.hour == 0 and local.minute == 0:
                            seeded.midnight[entity_id][local.date()] = float(value)
                        if local.hour in (0, 10, 15) and local.minute == 0:
                            seeded.meal_edges[entity_id][local] = float(value)
            if local.minute == 0:
                out = engine.drain()
                history.commit(hours=out.hours, swaps=out.swaps, anomalies=out.anomalies)
                if influx_lines:
                    for h in out.hours:
                        line = formatter.consumption(h.entity_id, h.hour, h.consumption, h.held_out)
                        if line is not None:
                            seeded.lines.append(line)
            t += STEP
    finally:
        history.close()
        audit.close()
    return seeded


def _curfew(
    bound: dict[str, BoundDevice], sockets: list[str], audit: AuditLog, t: float, on: bool
) -> None:
    for device_id in sockets:
        bound[device_id].write("relay", on)
        audit.record_event(
            CommandCompleted(
                f"{device_id}.relay",
                on,
                True,
                "policy:night-curfew",
                "curfew window ends" if on else "curfew window",
                t,
                source="policy",
            )
        )


def write_influx(url: str, database: str, lines: list[str]) -> None:
    """Post the seeded hours to InfluxDB 1.x as the recorder would (ms precision)."""
    with httpx.Client(base_url=url, timeout=30) as client:
        client.post("/query", params={"q": f'CREATE DATABASE "{database}"'}).raise_for_status()
        for i in range(0, len(lines), 5000):
            reply = client.post(
                "/write",
                params={"db": database, "precision": "ms"},
                content="\n".join(lines[i : i + 5000]).encode(),
            )
            reply.raise_for_status()
