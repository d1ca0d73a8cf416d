"""Small synthetic campuses for recorder tests: N dorm rooms, one prepaid meter per room."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from controller.config import LoadedSite, load_site

METER_PROFILE = "generic/dorm-prepaid-meter"


def site_document(
    rooms: int,
    rooms_per_floor: int = 50,
    buildings: int = 1,
    sinks: dict[str, Any] | None = None,
    main_meters: bool = False,
) -> dict[str, Any]:
    """A campus of ``buildings`` dorms sharing ``rooms`` rooms, one RS-485 link per floor,
    and with ``main_meters`` a building main meter (Acrel ADL400) on each first link."""
    floors = -(-rooms // (rooms_per_floor * buildings))
    doc: dict[str, Any] = {
        "campus": {"id": "test", "name": {"zh": "测试校区", "en": "Test campus"}},
        "buildings": [],
        "links": [],
        "devices": [],
    }
    made = 0
    for b in range(1, buildings + 1):
        building_id = f"dorm-{b}"
        room_items = []
        for floor in range(1, floors + 1):
            link_id = f"gw-{b}-{floor}"
            doc["links"].append(
                {
                    "id": link_id,
                    "type": "modbus_tcp",
                    "host": "127.0.0.1",
                    "port": 15020 + len(doc["links"]),
                }
            )
            for index in range(1, rooms_per_floor + 1):
                if made >= rooms:
                    break
                made += 1
                room = f"{floor}{index:02d}"
                room_items.append({"id": room, "floor": floor})
                doc["devices"].append(
                    {
                        "id": f"{building_id}.{room}.elec",
                        "profile": METER_PROFILE,
                        "building": building_id,
                        "room": room,
                        "link": link_id,
                        "unit_id": index,
                        "circuit": "sockets",
                    }
                )
        if main_meters:
            doc["devices"].append(
                {
                    "id": f"{building_id}.main",
                    "profile": "acrel/adl400",
                    "building": building_id,
                    "link": f"gw-{b}-1",
                    "unit_id": 200,
                    "circuit": "main",
                }
            )
        doc["buildings"].append(
            {
                "id": building_id,
                "kind": "dorm",
                "name": {"zh": f"{b}号楼", "en": f"Dorm {b}"},
                "floors": floors,
                "rooms": room_items,
            }
        )
    if sinks:
        doc["sinks"] = sinks
    return doc


def make_site(folder: Path, rooms: int, **options: Any) -> LoadedSite:
    """Write and load a synthetic campus."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "site.yaml"
    path.write_text(yaml.safe_dump(site_document(rooms, **options), allow_unicode=True))
    return load_site(path)


def meter_ids(site: LoadedSite) -> list[str]:
    """The energy entity of every meter, in site order."""
    return [f"{device_id}.energy" for device_id in site.devices]
