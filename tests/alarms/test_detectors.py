"""Detectors against real servers: an MQTT broker and an InfluxDB that are down, then come up;
the recorder's outbox filling; the provisional calendar year; the policy engine's alarms in
the one list; a supervised component's alarm in it."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from controller.alarms.build import build_alarms
from controller.alarms.component import AlarmService
from controller.alarms.detectors import calendar_source
from controller.app import Controller
from controller.calendar import SiteCalendar
from controller.config import load_site
from controller.core import FakeClock
from controller.integrations.mqtt import MqttIntegration, mqtt_links
from controller.recorder import Backoff, InfluxV1Writer, Recorder
from controller.supervise import SupervisionOptions
from drivers.backoff import Backoff as RestartBackoff
from tests.integrations.mqtt_site import write_mqtt_site
from tests.recorder.sites import make_site, meter_ids
from tests.servers import InfluxServer, MosquittoServer
from tests.test_supervise import _site

from .campus import ShiftedClock, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
async def _join_connect_threads() -> AsyncIterator[None]:
    """aiomqtt connects in the loop's default executor; join its thread before the leak check."""
    yield
    await asyncio.get_running_loop().shutdown_default_executor()


def _active(service: AlarmService) -> set[str]:
    return {r.key for r in service.manager.active() if r.kind != "calendar_provisional"}


async def test_an_unreachable_broker_is_one_alarm_cleared_when_it_comes_up(
    tmp_path: Path, unique_name: str
) -> None:
    broker = MosquittoServer(tmp_path / "mosquitto")  # its port is chosen, nothing listens yet
    site = write_mqtt_site(tmp_path, port=broker.port, prefix=unique_name)
    clock = ShiftedClock()
    controller = Controller(site, clock)
    integration = MqttIntegration(controller, mqtt_links(site)[0])
    controller.add(integration)
    service = build_alarms(controller, tmp_path / "var", mqtt=[integration], tick_s=0.05)
    controller.add(service)
    key = f"mqtt.{integration.name}"
    try:
        async with controller.running():
            await wait_until(lambda: service.rounds > 0, "a round that saw the broker down")
            assert integration.driver.stats()["state"] != "connected"
            clock.shift(121)  # past the default 120 s grace
            await wait_until(lambda: key in _active(service), "the broker alarm")
            record = service.manager.get(key)
            assert record is not None
            assert record.severity == "critical"
            assert f"127.0.0.1:{broker.port}" in record.message_en
            await asyncio.to_thread(broker.start)
            await wait_until(lambda: key not in _active(service), "the clear", limit=90)
    finally:
        broker.stop()
        service.close()


async def test_influxdb_down_and_the_outbox_filling_raise_and_clear(tmp_path: Path) -> None:
    influx = InfluxServer(tmp_path / "influxd")  # not started yet: the recorder cannot write
    site = make_site(tmp_path / "site", 20)
    clock = ShiftedClock()
    controller = Controller(site, clock)
    recorder = Recorder(
        controller,
        history_path=tmp_path / "history.sqlite3",
        writer=InfluxV1Writer(influx.url, "alarms", timeout=1.0),
        outbox_path=tmp_path / "outbox.sqlite3",
        outbox_max_bytes=64 * 1024,
        flush_interval=0.2,
        backoff=Backoff(0.1, 0.5),
    )
    controller.add(recorder)
    service = build_alarms(controller, tmp_path / "var", recorder=recorder, tick_s=0.05)
    controller.add(service)
    meters = meter_ids(site)
    tick = 0

    def report() -> None:
        nonlocal tick
        tick += 1
        for index, entity_id in enumerate(meters):
            controller.states.set(entity_id, index + tick * 0.01, clock.time())

    try:
        async with controller.running():
            report()
            await wait_until(lambda: recorder.status().get("backend_up") is False, "write errors")
            seen = service.rounds  # a round that began after the failure has certainly seen it
            await wait_until(lambda: service.rounds > seen + 1, "a round that saw it down")
            clock.shift(121)
            await wait_until(lambda: "recorder.influxdb" in _active(service), "influx alarm")
            deadline = asyncio.get_running_loop().time() + 30
            while recorder.status()["outbox_fill"] < 0.8:  # readings pile up on disk
                assert asyncio.get_running_loop().time() < deadline, "the outbox did not fill"
                report()
                await asyncio.sleep(0.05)
            await wait_until(
                lambda: "recorder.outbox_near_full" in _active(service), "outbox alarm"
            )
            await asyncio.to_thread(influx.start)
            influx.query('CREATE DATABASE "alarms"')
            await wait_until(lambda: not _active(service), "both cleared", limit=60)
    finally:
        influx.stop()
        service.close()


def test_a_year_without_holiday_data_is_an_alarm_until_the_site_has_it(tmp_path: Path) -> None:
    cst = dt.timezone(dt.timedelta(hours=8))
    clock = FakeClock(dt.datetime(2026, 12, 7, 9, 0, tzinfo=cst))
    bare = SiteCalendar()
    name, found = calendar_source(bare, clock)()
    assert name == "calendar"
    assert [r.key for r in found] == ["calendar.provisional.2027"]  # 25 days ahead
    notice = tmp_path / "holidays.yaml"
    notice.write_text("notice_years: [2027]\nholidays: [2027-01-01]\n", encoding="utf-8")
    entered = SiteCalendar(holidays_path=notice)
    assert calendar_source(entered, clock)()[1] == []
    june = FakeClock(dt.datetime(2026, 6, 1, tzinfo=cst))
    assert calendar_source(bare, june)()[1] == []  # next year is not ahead yet


class _Flaky:
    """A component that fails ``times`` times, then runs."""

    name = "flaky"

    def __init__(self, times: int) -> None:
        self.left = times

    async def run(self) -> None:
        await asyncio.sleep(0.01)
        if self.left > 0:
            self.left -= 1
            raise RuntimeError("disk full")
        await asyncio.Event().wait()

    def status(self) -> dict[str, object]:
        return {}


async def test_a_supervised_component_alarm_is_in_the_one_list_and_clears(
    tmp_path: Path,
) -> None:
    options = SupervisionOptions(backoff=RestartBackoff(0.05, 0.2), settle=0.5)
    controller = Controller(load_site(_site(tmp_path)), supervision=options)
    service = build_alarms(controller, tmp_path / "var", tick_s=0.05)
    controller.add(service)
    controller.add(_Flaky(times=2))
    try:
        async with controller.running():
            await wait_until(lambda: "component.flaky" in _active(service), "the component alarm")
            record = service.manager.get("component.flaky")
            assert record is not None
            assert record.severity == "critical"
            await wait_until(lambda: "component.flaky" not in _active(service), "its clear")
    finally:
        service.close()
