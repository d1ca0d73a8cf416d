"""Store-and-forward through a real InfluxDB outage: nothing lost, nothing duplicated.

1,000 meters report through a real controller's state store while the test stops its own
InfluxDB for ``SANJIE_OUTAGE_S`` seconds (default 20; ``SANJIE_OUTAGE_S=60`` is the issue's
figure). 20 s already takes every path a minute does: dozens of failed writes under the 1 s
backoff cap, 80,000 points queued in the outbox (far below its 512 MB cap, so nothing a longer
outage would reach), and a backlog replayed oldest first; the suite does not need to wait the
other 40 s twice. The second test also SIGKILLs the controller process during the outage
and starts a new one on the same outbox: the loss is bounded by one flush interval.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.app import Controller
from controller.config import LoadedSite
from controller.core import FakeClock
from controller.recorder import Backoff, InfluxV1Writer, Recorder
from tests.recorder.conftest import H, until
from tests.recorder.sites import make_site, meter_ids
from tests.servers import InfluxServer

OUTAGE = float(os.environ.get("SANJIE_OUTAGE_S", "20"))
METERS = 1000
REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.integration, pytest.mark.timeout(OUTAGE * 2 + 90)]


@pytest.fixture(scope="module")
def campus(tmp_path_factory: pytest.TempPathFactory) -> LoadedSite:
    return make_site(tmp_path_factory.mktemp("campus"), METERS, buildings=2)


@pytest.fixture
def own_influx(tmp_path: Path) -> Iterator[InfluxServer]:
    """An InfluxDB only this test uses, so it can be stopped and started."""
    server = InfluxServer(tmp_path / "influxd")
    server.start()
    yield server
    server.stop()


def points_in(server: InfluxServer, db: str, measurement: str = "active_energy") -> int:
    answer = server.query(f'SELECT count("value") FROM "{measurement}"', db=db)
    series = answer["results"][0].get("series")  # type: ignore[index]
    return int(series[0]["values"][0][1]) if series else 0


async def test_an_outage_loses_and_duplicates_nothing(
    campus: LoadedSite, own_influx: InfluxServer, tmp_path: Path
) -> None:
    own_influx.query('CREATE DATABASE "outage"')
    controller = Controller(campus, FakeClock(H))
    recorder = Recorder(
        controller,
        history_path=tmp_path / "history.sqlite3",
        writer=InfluxV1Writer(own_influx.url, "outage", timeout=2.0),
        outbox_path=tmp_path / "outbox.sqlite3",
        flush_interval=0.5,
        backoff=Backoff(0.1, 1.0),
        shutdown_timeout=30.0,
    )
    controller.add(recorder)
    meters = meter_ids(campus)
    produced = 0
    tick = 0
    max_backlog = 0

    async def report(seconds: float) -> None:
        nonlocal produced, tick, max_backlog
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            ts = H + tick * 30.0  # one polling round of every meter
            for index, entity_id in enumerate(meters):
                controller.states.set(entity_id, index + tick * 0.01, ts)
            produced += len(meters)
            tick += 1
            max_backlog = max(max_backlog, recorder.status()["outbox_points"])
            await asyncio.sleep(0.25)

    async with controller.running():
        await report(2.0)
        await until(lambda: recorder.status()["backend_up"] is True, what="first writes")
        own_influx.stop()  # blocks the loop for a moment: fine, the queue absorbs it
        await report(OUTAGE)
        during = recorder.status()
        own_influx.start()
        await report(2.0)
        await until(lambda: recorder.status()["outbox_batches"] == 0, within=60, what="drained")
        await report(1.0)
    status = recorder.status()
    written = points_in(own_influx, "outage")
    print(
        f"outage {OUTAGE}s: produced {produced}, in InfluxDB {written}, peak backlog {max_backlog}"
    )
    assert during["backend_up"] is False
    assert during["write_errors"] > 0
    assert max_backlog >= METERS * OUTAGE * 2  # ~4 rounds a second went to the outbox
    assert status["outbox_batches"] == 0
    assert status["quarantined_batches"] == 0
    assert written == produced
    assert produced == status["points_received"]


def start_worker(
    site: Path, influx: InfluxServer, data: Path, produced: Path, log: Path
) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "tests.recorder.worker",
        "--site",
        str(site),
        "--influx",
        influx.url,
        "--db",
        "killed",
        "--data",
        str(data),
        "--produced",
        str(produced),
        "--interval",
        "0.25",
        "--flush-interval",
        "1.0",
    ]
    with log.open("ab") as out:
        proc = subprocess.Popen(command, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while b"ready" not in log.read_bytes():
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "worker did not start"
        time.sleep(0.05)
    return proc


def outbox_batches(data: Path) -> int:
    with sqlite3.connect(data / "outbox.sqlite3") as db:
        return int(db.execute("SELECT count(*) FROM batches").fetchone()[0])


def test_sigkill_during_an_outage_loses_at_most_one_flush_interval(
    campus: LoadedSite, own_influx: InfluxServer, tmp_path: Path
) -> None:
    own_influx.query('CREATE DATABASE "killed"')
    data, produced, log = tmp_path / "var", tmp_path / "produced.txt", tmp_path / "worker.log"
    first = start_worker(campus.source, own_influx, data, produced, log)
    try:
        deadline = time.monotonic() + 30
        while points_in(own_influx, "killed") == 0:  # its first flush reached InfluxDB
            assert first.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the worker wrote nothing"
            time.sleep(0.1)
        own_influx.stop()
        time.sleep(OUTAGE / 2)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        killed_at = time.time()
        backlog = outbox_batches(data)
        second = start_worker(campus.source, own_influx, data, produced, log)
        try:
            time.sleep(OUTAGE / 2)
            own_influx.start()
            deadline = time.monotonic() + 60
            while outbox_batches(data):
                assert time.monotonic() < deadline, "outbox not drained"
                time.sleep(0.2)
            time.sleep(1)
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(60) == 0, log.read_text()[-3000:]
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(10)
    ticks = [line.split() for line in produced.read_text().splitlines()]
    total = sum(int(count) for _, count in ticks)
    written = points_in(own_influx, "killed")
    lost = total - written
    # what the dead process produced in its last flush interval (1 s), plus the tick it was on
    last_second = sum(
        int(count) for ts, count in ticks if killed_at - 1.5 <= int(ts) / 1000 <= killed_at
    )
    print(
        f"SIGKILL during a {OUTAGE}s outage: produced {total}, in InfluxDB {written}, "
        f"lost {lost}, bound {last_second}, backlog at the kill {backlog} batches"
    )
    assert backlog > 0, "the outage should have left batches in the outbox"
    assert 0 <= lost <= last_second, (total, written, lost, last_second)
    assert outbox_batches(data) == 0
