"""Consumption over the meter hierarchy: each level summed once, and the unmetered remainder."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from controller.app import Controller
from controller.config import LoadedSite, load_site
from controller.core import FakeClock
from controller.recorder import ConsumptionQuery, Period, Recorder, unmetered
from controller.recorder.summary import building_meters
from tests.conftest import EXAMPLE_SITE
from tests.recorder.conftest import H

# dorm-1's main meter read 5.61 kWh while its sub-meters (a room's sockets and AC, a floor's
# lighting) read 4.5 kWh: the figures of the issue that found the double counting.
READINGS = {
    "dorm-1.main.energy": (1000.0, 1005.61),
    "dorm-1.101.elec.energy": (10.0, 11.0),
    "dorm-1.101.ac.energy": (5.0, 6.5),
    "dorm-1.f1.lighting.energy": (20.0, 22.0),
}
TZ = FakeClock().tz
DAY = dt.datetime.fromtimestamp(H, TZ).replace(hour=0)


@pytest.fixture(scope="module")
def campus() -> LoadedSite:
    return load_site(EXAMPLE_SITE)


async def test_top_level_is_the_main_meter_and_the_rest_is_unmetered(
    campus: LoadedSite, tmp_path: Path
) -> None:
    controller = Controller(campus, FakeClock(H))
    recorder = Recorder(controller, history_path=tmp_path / "h.sqlite3", flush_interval=0.05)
    controller.add(recorder)
    async with controller.running():
        await recorder.wait_started()
        for entity, (first, last) in READINGS.items():
            controller.states.set(entity, first, H)
            controller.states.set(entity, last, H + 3600)
        await recorder.flush()
        source = recorder.consumption
        end = DAY + dt.timedelta(days=1)

        def query(**where: str) -> ConsumptionQuery:
            return ConsumptionQuery(DAY, end, Period.DAY, ("building",), where)

        everything = await source.consumption(query(kind="active_energy"))
        top = await source.consumption(query(kind="active_energy", level="0"))
        level1 = await source.consumption(query(kind="active_energy", level="1"))
        remainder = await unmetered(source, DAY, end, "active_energy")

    assert [r.consumption for r in everything] == [10.11]  # what summing every meter gives
    assert [(r.tags, r.consumption) for r in top] == [({"building": "dorm-1"}, 5.61)]
    assert [r.consumption for r in level1] == [4.5]
    assert [(r.device, r.metered, r.children, r.unmetered, r.share) for r in remainder] == [
        ("dorm-1.main", 5.61, 4.5, 1.11, 0.1979)
    ]


def test_the_live_summary_sums_the_top_meters(campus: LoadedSite) -> None:
    controller = Controller(campus, FakeClock(H))
    chosen = building_meters(controller.registry)
    energy = sorted(e for e in chosen if e.endswith(".energy") and e.startswith("dorm-1."))
    assert energy == ["dorm-1.main.energy"]
    assert "dorm-1.101.cold.volume" in chosen  # no building cold-water meter above it
    assert "dorm-1.101.hot.volume" not in chosen  # under dorm-1.hot-water
