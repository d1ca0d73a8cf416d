"""``Recorder.seed_history``: made-up hours through the recorder's own path, once, marked."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from controller.app import Controller
from controller.config import LoadedSite
from controller.core import FakeClock
from controller.demo_seed import SEED_ID, SEED_NOTE, seeded_days
from controller.recorder import Backoff, ConsumptionQuery, InfluxV1Writer, Period, Recorder
from controller.recorder.history import History
from controller.recorder.query import ConsumptionRow
from tests.recorder.conftest import H, until
from tests.servers import InfluxServer

TZ = FakeClock().tz


async def test_the_recorder_writes_a_seed_once_and_marks_it(
    small_site: LoadedSite, tmp_path: Path
) -> None:
    path = tmp_path / "history.sqlite3"
    end = H + 3 * 86400

    def month_total(rows: list[ConsumptionRow]) -> float:
        return round(sum(r.consumption for r in rows), 6)

    query = ConsumptionQuery(
        dt.datetime.fromtimestamp(H, TZ),
        dt.datetime.fromtimestamp(end, TZ),
        Period.DAY,
        ("building",),
        {"kind": "active_energy"},
    )
    totals = []
    for attempt in range(2):  # a second demo start on the same files
        controller = Controller(small_site, FakeClock(end + 600))
        recorder = Recorder(controller, history_path=path, flush_interval=0.05)
        controller.add(recorder)
        async with controller.running():
            await recorder.wait_started()
            days = seeded_days(controller.registry, end, TZ, days=3)
            span = await recorder.seed_history(SEED_ID, days, SEED_NOTE)
            if attempt == 0:
                assert span is not None
                assert (span.start, span.end) == (H, end)
                assert recorder.status()["seeded"]["note"] == SEED_NOTE
            else:
                assert span is None  # already there: nothing written again
            totals.append(month_total(await recorder.consumption.consumption(query)))
    assert totals[0] == totals[1] > 0
    history = History(path, recorder.formatter.keys)
    try:
        (marked,) = history.seeded()
        assert (marked.id, marked.start, marked.end, marked.note) == (SEED_ID, H, end, SEED_NOTE)
        assert marked.rows == 3 * 24 * len(recorder.engine)  # every counter, every hour
    finally:
        history.close()


async def test_with_influxdb_the_seed_goes_through_the_outbox(
    small_site: LoadedSite, tmp_path: Path, influxdb: InfluxServer, unique_name: str
) -> None:
    influxdb.query(f'CREATE DATABASE "{unique_name}"')
    end = H + 86400
    controller = Controller(small_site, FakeClock(end + 600))
    recorder = Recorder(
        controller,
        history_path=tmp_path / "history.sqlite3",
        writer=InfluxV1Writer(influxdb.url, unique_name, timeout=5),
        outbox_path=tmp_path / "outbox.sqlite3",
        flush_interval=0.05,
        backoff=Backoff(0.05, 0.2),
    )
    controller.add(recorder)
    async with controller.running():
        await recorder.wait_started()
        days = seeded_days(controller.registry, end, TZ, days=1)
        span = await recorder.seed_history(SEED_ID, days, SEED_NOTE)
        assert span is not None
        await until(lambda: recorder.status()["outbox_batches"] == 0, what="outbox drained")
    answer = influxdb.query('SELECT count("consumption") FROM "consumption_hourly"', db=unique_name)
    assert answer["results"][0]["series"][0]["values"][0][1] == span.rows  # type: ignore[index]
