"""The per-building summary counts each building's energy once."""

from __future__ import annotations

from pathlib import Path

from controller.core import EntityRegistry
from controller.recorder.stats import HourStat
from controller.recorder.summary import HourlySummary, building_meters
from tests.recorder.sites import make_site

H = 1_767_225_600.0


def test_main_meters_stand_for_their_building(tmp_path: Path) -> None:
    site = make_site(tmp_path / "with-main", 4, rooms_per_floor=2, buildings=2, main_meters=True)
    chosen = building_meters(EntityRegistry.from_site(site))
    assert chosen == {"dorm-1.main.energy", "dorm-2.main.energy"}


def test_without_main_meters_the_room_meters_add_up(tmp_path: Path) -> None:
    site = make_site(tmp_path / "rooms", 4, rooms_per_floor=2, buildings=1)
    registry = EntityRegistry.from_site(site)
    summary = HourlySummary(registry)
    summary.add(
        [
            HourStat("dorm-1.101.elec.energy", H, 0.25),
            HourStat("dorm-1.102.elec.energy", H, 0.5),
            HourStat("dorm-1.201.elec.energy", H + 3600, 1.0),
        ]
    )
    assert summary.hour(H) == {"dorm-1": {"active_energy": 0.75}}
    assert summary.hour(H - 3600) == {}
