"""``Recorder.from_site``: the embedded history by default, InfluxDB (v2 here) when configured."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from controller.app import Controller
from controller.config import LoadedSite
from controller.core import FakeClock
from controller.recorder import Recorder
from tests.recorder.conftest import H, until
from tests.recorder.sites import make_site
from tests.servers import VictoriaMetricsServer


def test_without_influxdb_the_history_is_used(small_site: LoadedSite, tmp_path: Path) -> None:
    recorder = Recorder.from_site(Controller(small_site, FakeClock(H)), data_dir=tmp_path)
    assert recorder.backend == "history"
    assert recorder.writer is None
    assert recorder.status()["counters"] == 10
    assert "outbox_batches" not in recorder.status()


def exported(server: VictoriaMetricsServer, match: str) -> list[dict[str, object]]:
    urllib.request.urlopen(f"{server.url}/internal/force_flush", timeout=10).read()
    query = urllib.parse.quote(match)
    with urllib.request.urlopen(f"{server.url}/api/v1/export?match[]={query}", timeout=10) as reply:
        return [json.loads(line) for line in reply.read().decode().splitlines() if line]


@pytest.mark.integration
async def test_a_v2_sink_sends_through_the_outbox(
    victoria: VictoriaMetricsServer, tmp_path: Path, unique_name: str
) -> None:
    sinks = {
        "influxdb": {
            "type": "influxdb_v2",
            "url": victoria.url,
            "org": "campus",
            "bucket": unique_name,
            "token": "t",
            "flush_interval": 0.05,
            "outbox_path": "spool/outbox.sqlite3",
        },
        "history": {"path": "hist/history.sqlite3"},
    }
    site = make_site(tmp_path / "site", 3, rooms_per_floor=3, sinks=sinks)
    controller = Controller(site, FakeClock(H))
    recorder = Recorder.from_site(controller, data_dir=tmp_path / "data")
    controller.add(recorder)
    assert recorder.backend.startswith("influxdb-v2")
    async with controller.running():
        for tick in range(3):
            controller.states.set("dorm-1.101.elec.energy", 10.0 + tick, H + tick * 1800)
        await recorder.flush()
        await until(lambda: recorder.status()["outbox_batches"] == 0, what="outbox drained")
    assert (tmp_path / "data/spool/outbox.sqlite3").exists()
    assert (tmp_path / "data/hist/history.sqlite3").exists()
    [series] = exported(victoria, '{__name__="active_energy_value",room="101"}')
    assert series["values"] == [10.0, 11.0, 12.0]
    [hour] = exported(victoria, '{__name__="consumption_hourly_consumption",room="101"}')
    points = dict(zip(hour["timestamps"], hour["values"], strict=True))  # type: ignore[call-overload]
    assert points[int(H * 1000)] == 2.0
    # the next hour is running (nothing counted yet); the partial tick may have written it
    assert set(points) <= {int(H * 1000), int((H + 3600) * 1000)}
