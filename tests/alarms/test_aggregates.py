"""Aggregate alarm rules over the recorder's hourly statistics: a real recorder with its SQLite
history, fed hour by hour on a controlled clock, judged through the alarm service."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from controller.alarms.build import build_alarms
from controller.alarms.component import AlarmService
from controller.app import Controller
from controller.config import ConfigError, LoadedSite, load_site
from controller.core import FakeClock
from controller.recorder import Recorder
from tests.recorder.sites import site_document

TZ = FakeClock().tz
EVENING = dt.datetime(2026, 1, 1, 22, tzinfo=TZ).timestamp()
"""22:00 local: the first reading; the night window is 00:00–06:00 of 2 January."""
NOISY = "dorm-1.101.elec.energy"  # a heater left on all night
QUIET = "dorm-1.102.elec.energy"

RULES: list[dict[str, Any]] = [
    {
        "id": "night-room",
        "scope": {"buildings": ["dorm-1"]},
        "per": "room",
        "quantity": "active_energy",
        "window": {"start": "00:00", "end": "06:00"},
        "above": 3.0,
        "hysteresis": 1.0,
        "severity": "warning",
    },
    {
        "id": "building-hourly",
        "scope": {"buildings": ["dorm-1"]},
        "quantity": "active_energy",
        "above": 0.5,
        "for_hours": 3,
    },
]


def _site(folder: Path, rules: list[dict[str, Any]]) -> Path:
    doc = site_document(4, rooms_per_floor=2, buildings=1)
    doc["alarms"] = {"aggregates": rules, "aggregate_settle_s": 600}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "site.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def site(tmp_path: Path) -> LoadedSite:
    return load_site(_site(tmp_path / "site", RULES))


class Night:
    """The controller, its recorder and the alarm service, stepped by hand."""

    def __init__(self, controller: Controller, recorder: Recorder, state: Path) -> None:
        self.controller, self.recorder, self.state = controller, recorder, state
        self.clock: FakeClock = controller.clock  # type: ignore[assignment]
        self.meters = {NOISY: 100.0, QUIET: 50.0}
        self.service = build_alarms(controller, state, recorder=recorder)

    async def hour(self, ts: float, noisy_kwh: float) -> None:
        """Meters read at ``ts`` (an hour boundary), the noisy room ``noisy_kwh`` more; the
        clock then stands a minute past, and the service judges what completed."""
        self.meters[NOISY] += noisy_kwh
        for entity, value in self.meters.items():
            self.controller.states.set(entity, round(value, 3), ts)
        await self.recorder.flush()
        self.clock.set(ts + 60)
        await self.service.evaluate_aggregates()

    def active(self) -> dict[str, Any]:
        return {r.key: r for r in self.service.manager.active()}


@contextlib.asynccontextmanager
async def night(site: LoadedSite, tmp_path: Path, start: float) -> AsyncIterator[Night]:
    controller = Controller(site, FakeClock(start))
    recorder = Recorder(
        controller, history_path=tmp_path / "var" / "history.sqlite3", flush_interval=0.05
    )
    controller.add(recorder)
    async with controller.running():
        await recorder.wait_started()
        state = tmp_path / "state"
        state.mkdir(exist_ok=True)
        n = Night(controller, recorder, state)
        try:
            yield n
        finally:
            n.service.close()


def _ts(day: int, hour: int) -> float:
    return dt.datetime(2026, 1, day, hour, tzinfo=TZ).timestamp()


async def test_a_night_with_consumption_raises_and_a_quiet_night_clears(
    site: LoadedSite, tmp_path: Path
) -> None:
    heard: list[tuple[str, str]] = []
    async with night(site, tmp_path, EVENING) as n:
        service: AlarmService = n.service
        service.manager.listeners.append(lambda change, r: heard.append((change, r.key)))
        assert service.aggregates is not None
        assert service.aggregates.count == 2
        await n.hour(EVENING, 0.0)
        for hour in (23, 24, 25):  # 23:00, 00:00, 01:00: 1 kWh an hour from 22:00
            await n.hour(EVENING + (hour - 22) * 3600, 1.0)
            if hour < 25:
                assert "aggregate:building-hourly" not in n.active()
        building = n.active()["aggregate:building-hourly"]  # the third hour over 0.5 kWh
        assert building.target == "dorm-1"
        assert building.building == "dorm-1"
        assert building.evidence["values"] == [1.0, 1.0, 1.0]
        for hour in range(2, 6):
            await n.hour(_ts(2, hour), 1.0)
        assert "aggregate:night-room:dorm-1:101" not in n.active(), "the window is not over yet"
        await n.hour(_ts(2, 6), 1.0)
        room = n.active()["aggregate:night-room:dorm-1:101"]
        assert room.severity == "warning"
        assert room.target == "dorm-1/101"
        assert room.scope == "room"
        assert room.building == "dorm-1"
        assert room.evidence["value"] == 6.0
        assert room.evidence["period_start"] == _ts(2, 0)
        assert room.message_en == (
            "dorm-1/101: 00:00–06:00 consumption 6 kWh, above 3 kWh (1 day(s) in a row)"
        )
        assert "用电 6 kWh，超过 3 kWh" in room.message_zh
        assert "aggregate:night-room:dorm-1:102" not in n.active(), "the quiet room"

        # day: the heater goes off; the hourly rule clears on the first quiet hour
        await n.hour(_ts(2, 7), 0.0)
        assert "aggregate:building-hourly" not in n.active()
        for hour in range(8, 24):
            await n.hour(_ts(2, hour), 0.0)
        assert "aggregate:night-room:dorm-1:101" in n.active(), "cleared only by the next night"
        for hour in range(7):
            await n.hour(_ts(3, hour), 0.0)
        assert not any(k.startswith("aggregate:") for k in n.active())
        cleared = service.manager.get("aggregate:night-room:dorm-1:101")
        assert cleared is not None
        assert cleared.cleared_at == _ts(3, 6) + 60
    assert heard.count(("raised", "aggregate:night-room:dorm-1:101")) == 1
    assert heard.count(("cleared", "aggregate:night-room:dorm-1:101")) == 1


async def test_hysteresis_holds_the_alarm_and_a_restart_keeps_it(
    site: LoadedSite, tmp_path: Path
) -> None:
    """A second night at 2.5 kWh is below 3 but inside the 1 kWh band: still raised, also
    across a restart of the alarm service (replayed from the history, not raised again)."""
    heard: list[str] = []
    async with night(site, tmp_path, _ts(1, 23)) as n:
        for hour in range(24, 31):  # 00:00..06:00 on 2 January, 1 kWh an hour
            await n.hour(_ts(1, 23) + (hour - 23) * 3600, 1.0)
        assert "aggregate:night-room:dorm-1:101" in n.active()
        for hour in range(7, 24):
            await n.hour(_ts(2, hour), 0.0)
        n.service.close()
        n.service = build_alarms(n.controller, n.state, recorder=n.recorder)  # a restart
        n.service.manager.listeners.append(lambda change, r: heard.append(change))
        for hour in range(6):
            await n.hour(_ts(3, hour), 0.5)
        await n.hour(_ts(3, 6), 0.0)  # the night of 3 January: 2.5 kWh
        assert "aggregate:night-room:dorm-1:101" in n.active()
        assert n.active()["aggregate:night-room:dorm-1:101"].evidence["value"] == 2.5
    assert "raised" not in heard


async def test_an_hour_a_meter_has_not_closed_waits_for_the_settle_time(
    site: LoadedSite, tmp_path: Path
) -> None:
    async with night(site, tmp_path, EVENING) as n:
        aggregates = n.service.aggregates
        assert aggregates is not None
        await n.hour(EVENING, 0.0)
        await n.hour(EVENING + 3600, 1.0)
        judged = aggregates.evaluated
        n.clock.set(EVENING + 2 * 3600 + 60)  # 00:00 passed, but no meter has read since
        await n.service.evaluate_aggregates()
        assert aggregates.evaluated == judged, "an hour without its closing readings waits"
        n.clock.set(EVENING + 2 * 3600 + 601)
        await n.service.evaluate_aggregates()
        assert aggregates.evaluated == judged + 1, "judged with what there is after settle_s"


def _issues(tmp_path: Path, rules: list[dict[str, Any]]) -> list[str]:
    path = _site(tmp_path, rules)
    with pytest.raises(ConfigError) as caught:
        load_site(path)
    issues = [str(i) for i in caught.value.issues]
    assert all(re.match(rf"{re.escape(str(path))}:\d+:\d+ ", i) for i in issues), issues
    return issues


def _has(issues: list[str], pattern: str) -> bool:
    return any(re.search(rf":\d+:\d+ {pattern}", i) for i in issues)


def test_bad_aggregate_fields_are_positioned_errors(tmp_path: Path) -> None:
    bad = [
        {
            "id": "r2",
            "quantity": "active_energy",
            "window": {"start": "00:30", "end": "06:00"},
            "above": 1,
        },
        {
            "id": "r3",
            "quantity": "active_energy",
            "window": {"start": "00:00", "end": "06:00"},
            "above": 1,
            "for_hours": 2,
        },
        {"id": "r4", "quantity": "gas", "above": 1},
        {"id": "r5", "quantity": "water_volume", "above": 1, "hysteresis": 2},
        {"id": "r6", "quantity": "water_volume", "below": -1},
        {"id": "r7", "quantity": "water_volume", "per": "tap", "above": 1},
        {
            "id": "r8",
            "quantity": "water_volume",
            "window": {"start": "06:00", "end": "06:00"},
            "above": 1,
        },
    ]
    issues = _issues(tmp_path, bad)
    for pattern in [
        r"alarms\.aggregates\[0\]\.window\.start: .*whole hour",
        r"alarms\.aggregates\[1\]: .*use for_days",
        r"alarms\.aggregates\[2\]\.quantity: ",
        r"alarms\.aggregates\[3\]: .*never clear",
        r"alarms\.aggregates\[4\]\.below: ",
        r"alarms\.aggregates\[5\]\.per: ",
        r"alarms\.aggregates\[6\]\.window: .*empty",
    ]:
        assert _has(issues, pattern), (pattern, issues)


def test_aggregate_scopes_name_what_the_site_has(tmp_path: Path) -> None:
    bad = [
        {
            "id": "r1",
            "scope": {"buildings": ["dorm-9"], "rooms": ["dorm-1/999"], "floors": [7]},
            "quantity": "active_energy",
            "above": 1,
        },
        {"id": "r1", "scope": {"devices": ["nope"]}, "quantity": "active_energy", "above": 1},
    ]
    issues = _issues(tmp_path, bad)
    for pattern in [
        r"alarms\.aggregates\[0\]\.scope\.buildings\[0\]: unknown building 'dorm-9'",
        r"alarms\.aggregates\[0\]\.scope\.rooms\[0\]: building 'dorm-1' has no room '999'",
        r"alarms\.aggregates\[1\]\.id: duplicate rule id 'r1'",
        r"alarms\.aggregates\[1\]\.scope\.devices\[0\]: unknown device 'nope'",
    ]:
        assert _has(issues, pattern), (pattern, issues)


async def test_the_running_service_judges_each_completed_hour_and_announces_it(
    site: LoadedSite, tmp_path: Path
) -> None:
    """The service's own loop (not a test calling the step) raises the hourly rule, and the
    alarm is published on the bus like the manager's other alarms."""
    from controller.core import AlarmRaised
    from tests.recorder.conftest import until

    async with night(site, tmp_path, EVENING) as n:
        n.service.close()
        n.service = build_alarms(n.controller, n.state, recorder=n.recorder, tick_s=0.02)
        heard = n.controller.bus.subscribe("test", [AlarmRaised])
        task = asyncio.create_task(n.service.run(), name="alarms-under-test")
        try:
            for hour in range(4):
                n.meters[NOISY] += 1.0 if hour else 0.0
                for entity, value in n.meters.items():
                    n.controller.states.set(entity, value, EVENING + hour * 3600)
                await n.recorder.flush()
                n.clock.set(EVENING + hour * 3600 + 60)
            await until(lambda: "aggregate:building-hourly" in n.active(), what="the raise")
            events = await heard.get_batch(100)
            raised = [
                e
                for e in events
                if isinstance(e, AlarmRaised) and e.alarm_id == "aggregate:building-hourly"
            ]
            assert len(raised) == 1
            assert raised[0].evidence["source"] == "aggregates"
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            heard.close()
