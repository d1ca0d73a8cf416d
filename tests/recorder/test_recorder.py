"""The recorder component in a real controller: history, InfluxDB, events, shutdown, restart."""

from __future__ import annotations

import datetime as dt
import math
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from controller.app import Controller
from controller.config import LoadedSite
from controller.core import AlarmRaised, FakeClock, Quality, State, StateChanged
from controller.recorder import (
    Backoff,
    ConsumptionQuery,
    InfluxV1Writer,
    MeterSwapped,
    Period,
    Recorder,
    SwapRecordError,
)
from controller.recorder import recorder as recorder_module
from controller.recorder.history import History
from tests.recorder.conftest import H, until
from tests.servers import InfluxServer, free_port

E1 = "dorm-1.101.elec.energy"
E2 = "dorm-1.102.elec.energy"
TZ = FakeClock().tz


def history_recorder(controller: Controller, data_dir: Path, **options: Any) -> Recorder:
    return Recorder(
        controller, history_path=data_dir / "history.sqlite3", flush_interval=0.05, **options
    )


def influx_recorder(
    controller: Controller, data_dir: Path, url: str, db: str, **options: Any
) -> Recorder:
    return Recorder(
        controller,
        history_path=data_dir / "history.sqlite3",
        writer=InfluxV1Writer(url, db, timeout=5),
        outbox_path=data_dir / "outbox.sqlite3",
        flush_interval=0.05,
        backoff=Backoff(0.05, 0.2),
        shutdown_timeout=5,
        **options,
    )


def feed_meters(controller: Controller, readings: list[tuple[float, float, float]]) -> None:
    """(seconds after H, E1 value, E2 value) per tick, plus a power reading each."""
    for offset, v1, v2 in readings:
        ts = H + offset
        controller.states.set(E1, v1, ts)
        controller.states.set(E2, v2, ts)
        controller.states.set("dorm-1.101.elec.power", 120.0 + offset / 3600, ts)


def day_query(**where: str) -> ConsumptionQuery:
    start = dt.datetime.fromtimestamp(H, TZ).replace(hour=0)
    return ConsumptionQuery(
        start,
        start + dt.timedelta(days=1),
        Period.HOUR,
        ("room",),
        {"kind": "active_energy", **where},
    )


async def test_embedded_history_records_readings_and_hours(
    controller: Controller, data_dir: Path
) -> None:
    recorder = history_recorder(controller, data_dir)
    controller.add(recorder)
    async with controller.running():
        feed_meters(controller, [(0, 100.0, 50.0), (1800, 101.0, 50.5), (3600, 102.0, 51.0)])
        controller.states.set("dorm-1.101.elec.voltage", float("nan"), H, Quality.BAD)
        await recorder.flush()
        rows = await recorder.consumption.consumption(day_query())
        status = recorder.status()
    assert [(r.period_start.timestamp(), r.tags["room"], r.consumption) for r in rows] == [
        (H, "101", 2.0),
        (H, "102", 1.0),
    ]
    assert status["backend"] == "history"
    assert status["points_written"] == 9
    assert status["points_skipped"] == 1
    assert status["counters"] == 10
    history = History(data_dir / "history.sqlite3", recorder.formatter.keys)
    try:
        assert [r.value for r in history.readings(E1, H, H + 7200)] == [100.0, 101.0, 102.0]
    finally:
        history.close()


async def test_status_shows_the_last_hour_per_building(
    small_site: LoadedSite, data_dir: Path
) -> None:
    clock = FakeClock(H + 2 * 3600 + 60)
    controller = Controller(small_site, clock)
    recorder = history_recorder(controller, data_dir)
    controller.add(recorder)
    async with controller.running():
        feed_meters(controller, [(3600, 10.0, 20.0), (7200, 11.5, 20.25)])
        await recorder.flush()
        status = recorder.status()
    assert status["consumption_last_hour"] == {"dorm-1": {"active_energy": 1.75}}
    assert status["last_hour"] == "2026-01-01T09:00:00+08:00"


async def test_statistics_continue_across_a_restart(small_site: LoadedSite, data_dir: Path) -> None:
    first = Controller(small_site, FakeClock(H))
    recorder = history_recorder(first, data_dir)
    first.add(recorder)
    async with first.running():
        await recorder.wait_started()
        feed_meters(first, [(0, 100.0, 50.0), (1800, 101.0, 50.0)])
    second = Controller(small_site, FakeClock(H + 3600))
    again = history_recorder(second, data_dir)
    second.add(again)
    async with second.running():
        feed_meters(second, [(5400, 104.0, 50.0)])  # 3 kWh over 1 h: half in each hour
        await again.flush()
        rows = await again.consumption.consumption(day_query(room="101"))
    assert [(r.period_start.timestamp() - H, r.consumption) for r in rows] == [(0, 2.5)]


async def test_spikes_raise_alarms_and_resets_announce_a_meter_swap(
    controller: Controller, data_dir: Path
) -> None:
    events = controller.bus.subscribe("test", [AlarmRaised, MeterSwapped])
    recorder = history_recorder(controller, data_dir)
    controller.add(recorder)
    async with controller.running():
        feed_meters(
            controller,
            [(0, 100.0, 50.0), (600, 9000.0, 50.1), (1200, 100.5, 0.2), (1800, 101.0, 0.4)],
        )
        await recorder.flush()
        got = []
        while events.stats.depth:
            got.append(await events.get())
        status = recorder.status()
        swaps = await recorder.consumption.consumption(day_query())
    [alarm] = [e for e in got if isinstance(e, AlarmRaised)]
    assert alarm.entity_id == E1
    assert alarm.alarm_id == f"recorder.implausible.{E1}"
    assert alarm.evidence["amount"] == 8900.0
    [swap] = [e for e in got if isinstance(e, MeterSwapped)]
    assert (swap.entity_id, swap.old_value, swap.new_value, swap.manual) == (E2, 50.1, 0.2, False)
    assert status["meter_swaps"] == 1
    assert swaps == []  # the hour is still open


async def test_staff_swap_records_are_applied_and_durable(
    controller: Controller, data_dir: Path
) -> None:
    recorder = history_recorder(controller, data_dir)
    controller.add(recorder)
    async with controller.running():
        feed_meters(controller, [(0, 200.0, 10.0)])
        clock = controller.clock
        assert isinstance(clock, FakeClock)
        clock.set(H + 1000)  # staff enter the record after the swap
        swap = await recorder.record_meter_swap(E1, H + 900, 200.6, 0.0, actor="wang")
        with pytest.raises(SwapRecordError):
            await recorder.record_meter_swap(E1, H + 300, 200.5, 0.0)
        feed_meters(controller, [(1800, 0.4, 10.0), (3600, 1.4, 10.0)])
        await recorder.flush()
        rows = await recorder.consumption.consumption(day_query(room="101"))
    assert swap.manual
    assert [r.consumption for r in rows] == [2.0]
    history = History(data_dir / "history.sqlite3", recorder.formatter.keys)
    try:
        assert [(e.kind, e.actor) for e in history.meter_events()] == [
            ("meter_swap_recorded", "wang")
        ]
    finally:
        history.close()


@pytest.mark.integration
async def test_influx_mode_writes_readings_and_hours(
    controller: Controller, data_dir: Path, influxdb: InfluxServer, unique_name: str
) -> None:
    influxdb.query(f'CREATE DATABASE "{unique_name}"')
    # Complete hours only: a running-hour figure (partial) would add a point whenever a slow
    # run reaches its first partial tick; partial hours have their own tests (test_today.py).
    recorder = influx_recorder(
        controller, data_dir, influxdb.url, unique_name, partial_interval=math.inf
    )
    controller.add(recorder)
    async with controller.running():
        feed_meters(controller, [(0, 100.0, 50.0), (1800, 101.0, 50.5), (3600, 102.0, 51.0)])
        await recorder.flush()
        await until(lambda: recorder.status()["outbox_batches"] == 0, what="outbox drained")
        status = recorder.status()
    count = influxdb.query('SELECT count("value") FROM "active_energy"', db=unique_name)
    assert count["results"][0]["series"][0]["values"][0][1] == 6  # type: ignore[index]
    hours = influxdb.query(
        'SELECT "consumption" FROM "consumption_hourly" GROUP BY "room"', db=unique_name
    )
    got = {
        s["tags"]["room"]: [v[1] for v in s["values"]]
        for s in hours["results"][0]["series"]  # type: ignore[index]
    }
    assert got == {"101": [2.0], "102": [1.0]}
    assert status["backend_up"] is True
    assert status["points_written"] == 9 + 2


def write_conflicting_string(influxdb: InfluxServer, db: str) -> None:
    """A string in our float field, same shard: InfluxDB then refuses our floats (HTTP 400)."""
    urllib.request.urlopen(
        f"{influxdb.url}/write?db={db}&precision=s",
        data=f'active_energy,room=x value="text" {int(H) - 60}'.encode(),
        timeout=10,
    ).read()


@pytest.mark.integration
async def test_rejected_batches_are_quarantined_with_the_servers_error(
    controller: Controller, data_dir: Path, influxdb: InfluxServer, unique_name: str
) -> None:
    influxdb.query(f'CREATE DATABASE "{unique_name}"')
    write_conflicting_string(influxdb, unique_name)
    recorder = influx_recorder(controller, data_dir, influxdb.url, unique_name)
    controller.add(recorder)
    async with controller.running():
        feed_meters(controller, [(0, 100.0, 50.0)])
        await recorder.flush()
        await until(lambda: recorder.status()["quarantined_batches"] == 1, what="quarantine")
        status = recorder.status()
    assert status["quarantined_batches"] == 1
    assert "field type conflict" in status["last_error"]


@pytest.mark.integration
async def test_a_full_outbox_warns_then_drops_the_oldest(
    controller: Controller, data_dir: Path, unique_name: str
) -> None:
    alarms = controller.bus.subscribe("test", [AlarmRaised])
    recorder = influx_recorder(
        controller,
        data_dir,
        f"http://127.0.0.1:{free_port()}",
        unique_name,
        outbox_max_bytes=4000,
        batch_size=20,
    )
    controller.add(recorder)
    async with controller.running():
        for tick in range(40):
            feed_meters(controller, [(tick * 30, 100 + tick * 0.01, 50 + tick * 0.01)])
            await recorder.flush()
        status = recorder.status()
    ids = []
    while alarms.stats.depth:
        ids.append((await alarms.get()).alarm_id)  # type: ignore[attr-defined]
    assert ids == ["recorder.outbox_near_full", "recorder.outbox_full"]
    assert status["backend_up"] is False
    assert status["outbox_dropped_points"] > 0
    assert status["outbox_bytes"] <= 4000


async def test_the_default_queue_takes_two_readings_of_every_entity_at_once(
    controller: Controller, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A burst of the whole campus, twice, before the recorder gets a turn: nothing dropped
    (a fixed 200,000 was less than one reading of each entity of a 10,000-room campus; the
    floor is lowered here so this small campus shows the rule)."""
    monkeypatch.setattr(recorder_module, "MIN_QUEUE", 1)
    recorder = history_recorder(controller, data_dir)
    controller.add(recorder)
    entities = [e.entity_id for e in controller.registry]
    async with controller.running():
        await recorder.wait_started()
        for n in range(2):
            for entity_id in entities:
                controller.bus.publish(
                    StateChanged(entity_id, None, State(1.0 + n, H + 30 * n), True)
                )
        await recorder.flush()
        status = recorder.status()
    assert status["queue_dropped"] == 0
    assert status["points_received"] == 2 * len(entities)
