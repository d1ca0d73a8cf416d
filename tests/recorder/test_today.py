"""Today so far: the running hour is in the history (and InfluxDB), marked partial, and the
complete hour replaces it."""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import math
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from controller.app import Controller
from controller.recorder import ConsumptionQuery, InfluxV1Consumption, Period
from controller.recorder.counters import CounterSpec
from controller.recorder.errors import RetryableWriteError
from controller.recorder.stats import StatisticsEngine
from controller.recorder.writers import InfluxV1Writer
from tests.recorder.conftest import H, until
from tests.recorder.test_recorder import E1, TZ, history_recorder, influx_recorder
from tests.servers import InfluxServer

START = dt.datetime.fromtimestamp(H, TZ).replace(hour=0)
TODAY = ConsumptionQuery(
    START, START + dt.timedelta(days=1), Period.HOUR, ("building",), {"kind": "active_energy"}
)


async def eventually(
    fetch: Callable[[], Awaitable[list[tuple[float, bool]]]],
    expected: tuple[float, bool] | list[tuple[float, bool]],
) -> None:
    """Poll ``fetch`` until it answers ``expected`` (one row or a list of rows); fail after
    15 s of wall time."""
    rows = expected if isinstance(expected, list) else [expected]
    deadline = time.monotonic() + 15
    seen: list[tuple[float, bool]] = []
    while time.monotonic() < deadline:
        seen = await fetch()
        if seen == rows:
            return
        await asyncio.sleep(0.02)
    pytest.fail(f"never answered {expected}: {seen}")


def test_partial_hours_report_the_running_hour_without_closing_it() -> None:
    engine = StatisticsEngine([CounterSpec(E1)], TZ)
    engine.observe(E1, H, 10.0)
    engine.observe(E1, H + 1800, 10.5)
    partial = engine.partial_hours()
    assert [(p.hour, p.consumption, p.partial) for p in partial] == [(H, 0.5, True)]
    assert engine.partial_hours() == []  # nothing new since
    assert engine.drain().hours == []  # the hour is still open
    engine.observe(E1, H + 3600, 11.0)
    assert [(h.hour, h.consumption, h.partial) for h in engine.drain().hours] == [(H, 1.0, False)]


def test_running_hours_that_did_not_change_are_left_out_until_forgotten() -> None:
    """Most of a campus's counters stand still at night: their running hours are written
    once, not every minute; one that did not reach its store is returned again."""
    engine = StatisticsEngine([CounterSpec(E1)], TZ)
    engine.observe(E1, H, 10.0)
    engine.observe(E1, H + 900, 10.25)
    assert [(p.hour, p.consumption) for p in engine.partial_hours()] == [(H, 0.25)]
    engine.observe(E1, H + 1200, 10.25)  # fed, but the running hour stands still
    assert engine.partial_hours() == []
    assert engine.unchanged_partials == 1
    engine.observe(E1, H + 1500, 10.5)
    assert [(p.hour, p.consumption) for p in engine.partial_hours()] == [(H, 0.5)]
    engine.forget_partials([E1])  # that write failed: again, although not fed since
    assert [(p.hour, p.consumption) for p in engine.partial_hours()] == [(H, 0.5)]
    engine.observe(E1, H + 3600, 10.5)  # the hour closes: the next one runs, at 0
    assert [(p.hour, p.consumption) for p in engine.partial_hours()] == [(H + 3600, 0.0)]
    engine.restore({})  # a restarted recorder writes every running hour once more
    engine.observe(E1, H + 3700, 10.5)
    assert [(p.hour, p.consumption) for p in engine.partial_hours()] == [(H + 3600, 0.0)]


async def test_today_includes_the_running_hour_in_the_history(
    controller: Controller, data_dir: Path
) -> None:
    recorder = history_recorder(controller, data_dir)
    controller.add(recorder)
    async with controller.running():
        await recorder.wait_started()
        controller.states.set(E1, 10.0, H)
        controller.states.set(E1, 10.5, H + 1800)
        await recorder.flush(partials=True)
        rows = await recorder.consumption.consumption(TODAY)
        assert [(r.consumption, r.partial) for r in rows] == [(0.5, True)]
        controller.states.set(E1, 11.0, H + 3600)
        await recorder.flush()
        rows = await recorder.consumption.consumption(TODAY)
        assert [(r.consumption, r.partial) for r in rows] == [(1.0, False)]


async def test_partial_tick_writes_the_running_hour_as_it_grows(
    controller: Controller, data_dir: Path
) -> None:
    recorder = history_recorder(controller, data_dir, partial_interval=0.05)
    controller.add(recorder)
    async with controller.running():
        await recorder.wait_started()
        controller.states.set(E1, 10.0, H)
        controller.states.set(E1, 10.25, H + 900)

        async def today() -> list[tuple[float, bool]]:
            return [
                (r.consumption, r.partial) for r in await recorder.consumption.consumption(TODAY)
            ]

        await eventually(today, (0.25, True))
        controller.states.set(E1, 10.75, H + 2700)
        await eventually(today, (0.75, True))


@pytest.mark.integration
async def test_influxdb_gets_the_running_hour_then_the_complete_one(
    controller: Controller, data_dir: Path, influxdb: InfluxServer, unique_name: str
) -> None:
    influxdb.query(f'CREATE DATABASE "{unique_name}"')
    recorder = influx_recorder(
        controller, data_dir, influxdb.url, unique_name, partial_interval=0.05
    )
    controller.add(recorder)
    async with (
        controller.running(),
        InfluxV1Consumption(influxdb.url, unique_name, TZ) as influx,
    ):
        await recorder.wait_started()
        controller.states.set(E1, 10.0, H)
        controller.states.set(E1, 10.5, H + 1800)

        async def influx_today() -> list[tuple[float, bool]]:
            return [(r.consumption, r.partial) for r in await influx.consumption(TODAY)]

        await eventually(influx_today, (0.5, True))
        controller.states.set(E1, 11.0, H + 3600)
        await recorder.flush()
        await until(lambda: recorder.status()["outbox_batches"] == 0, what="outbox drained")
        # the complete hour replaced the running figure; the next hour runs (nothing counted
        # yet) and the partial tick writes it too
        await eventually(influx_today, [(1.0, False), (0.0, True)])


class GatedWriter:
    """The real InfluxDB writer, except that a body carrying a running figure waits for
    ``gate`` while ``armed``: the window in which a complete hour could overtake it."""

    def __init__(self, inner: InfluxV1Writer) -> None:
        self.inner = inner
        self.name = inner.name
        self.armed = False
        self.entered = asyncio.Event()
        self.gate = asyncio.Event()
        self.landed = asyncio.Event()

    async def send(self, body: bytes) -> None:
        text = gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body
        if self.armed and b"partial=1i" in text:
            self.armed = False
            self.entered.set()
            await self.gate.wait()
            await self.inner.send(body)
            self.landed.set()
            return
        await self.inner.send(body)

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.mark.integration
async def test_a_running_figure_in_flight_never_overwrites_its_complete_hour(
    controller: Controller, data_dir: Path, influxdb: InfluxServer, unique_name: str
) -> None:
    influxdb.query(f'CREATE DATABASE "{unique_name}"')
    writer = GatedWriter(InfluxV1Writer(influxdb.url, unique_name, timeout=5))
    recorder = influx_recorder(controller, data_dir, influxdb.url, unique_name)
    recorder.writer = writer
    controller.add(recorder)
    async with (
        controller.running(),
        InfluxV1Consumption(influxdb.url, unique_name, TZ) as influx,
    ):

        async def influx_today() -> list[tuple[float, bool]]:
            return [(r.consumption, r.partial) for r in await influx.consumption(TODAY)]

        await recorder.wait_started()
        controller.states.set(E1, 10.0, H)
        controller.states.set(E1, 10.5, H + 1800)
        await recorder.flush(partials=True)
        await eventually(influx_today, (0.5, True))
        writer.armed = True
        controller.states.set(E1, 10.75, H + 2700)
        await recorder.flush(partials=True)
        await writer.entered.wait()  # the running 0.75 is on its way, held in the window
        controller.states.set(E1, 11.0, H + 3600)
        await recorder.flush()  # the complete hour is in the outbox now
        assert recorder.status()["outbox_batches"] >= 1  # and waits behind the running figure
        writer.gate.set()
        await writer.landed.wait()
        await until(lambda: recorder.status()["outbox_batches"] == 0, what="outbox drained")
        # both writes acknowledged, so this is final (the next hour's running figure may be
        # there too, written by the first partial tick: not what this test is about)
        rows = await influx.consumption(TODAY)
        assert [(r.consumption, r.partial) for r in rows if r.period_start.timestamp() == H] == [
            (1.0, False)
        ]


class RefusingWriter:
    """The real InfluxDB writer, except that the first body carrying a running figure is
    refused as a server error would be (the best-effort write that is not retried)."""

    def __init__(self, inner: InfluxV1Writer) -> None:
        self.inner = inner
        self.name = inner.name
        self.refused = asyncio.Event()

    async def send(self, body: bytes) -> None:
        if not self.refused.is_set() and b"partial=1i" in gzip.decompress(body):
            self.refused.set()
            raise RetryableWriteError("refused by the test")
        await self.inner.send(body)

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.mark.integration
async def test_a_running_hour_that_failed_to_reach_influxdb_is_written_again_unchanged(
    controller: Controller, data_dir: Path, influxdb: InfluxServer, unique_name: str
) -> None:
    influxdb.query(f'CREATE DATABASE "{unique_name}"')
    writer = RefusingWriter(InfluxV1Writer(influxdb.url, unique_name, timeout=5))
    recorder = influx_recorder(
        controller, data_dir, influxdb.url, unique_name, partial_interval=math.inf
    )
    recorder.writer = writer
    controller.add(recorder)
    async with (
        controller.running(),
        InfluxV1Consumption(influxdb.url, unique_name, TZ) as influx,
    ):

        async def influx_today() -> list[tuple[float, bool]]:
            return [(r.consumption, r.partial) for r in await influx.consumption(TODAY)]

        await recorder.wait_started()
        controller.states.set(E1, 10.0, H)
        controller.states.set(E1, 10.5, H + 1800)
        await recorder.flush(partials=True)
        await writer.refused.wait()
        controller.states.set(E1, 10.5, H + 2000)  # the running hour does not change
        await recorder.flush(partials=True)
        await eventually(influx_today, (0.5, True))
