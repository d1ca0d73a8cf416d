"""The embedded history: idempotent writes, statistics state, retention, hourly sums."""

from __future__ import annotations

import sqlite3
import zoneinfo
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.config.profile import DeviceClass, PointKind, StateClass
from controller.core import Entity
from controller.recorder.history import History
from controller.recorder.lineproto import SeriesKey
from controller.recorder.stats import (
    Adjustment,
    AnomalyKind,
    ConsumptionAnomaly,
    HourStat,
    MeterSwap,
)

TZ = zoneinfo.ZoneInfo("Asia/Shanghai")
H = 1_767_225_600.0
DAY = 86400.0


def meter(room: str, floor: str, building: str = "dorm-1") -> Entity:
    return Entity(
        entity_id=f"{building}.{room}.elec.energy",
        device_id=f"{building}.{room}.elec",
        point_key="energy",
        name_zh="电能",
        name_en="Energy",
        kind=PointKind.ACTIVE_ENERGY,
        unit="kWh",
        device_class=DeviceClass.ENERGY,
        state_class=StateClass.TOTAL_INCREASING,
        writable=False,
        tags={
            "building": building,
            "room": room,
            "floor": floor,
            "circuit": "sockets",
            "kind": "active_energy",
        },
    )


ENTITIES = [meter("101", "1"), meter("102", "1"), meter("201", "2")]
A, B, C = (e.entity_id for e in ENTITIES)


@pytest.fixture
def history(tmp_path: Path) -> Iterator[History]:
    keys = {e.entity_id: SeriesKey.of(e) for e in ENTITIES}
    store = History(tmp_path / "h.sqlite3", keys, retention_days=10, readings_retention_days=2)
    yield store
    store.close()


def test_readings_are_stored_once_per_series_and_time(history: History) -> None:
    assert history.commit(readings=[(A, H, 1.5), (A, H, 1.5), (A, H + 30, 2.0), (B, H, True)]) == 4
    assert [(r.timestamp, r.value) for r in history.readings(A, H, H + 60)] == [
        (H, 1.5),
        (H + 30, 2.0),
    ]
    assert [r.value for r in history.readings(B, H, H + 60)] == [1]
    assert history.commit(readings=[("unknown.energy", H, 1.0)]) == 0


def test_hours_are_upserted_and_adjusted(history: History) -> None:
    history.commit(hours=[HourStat(A, H, 1.0, 0.0)])
    history.commit(hours=[HourStat(A, H, 1.25, 0.0)])
    assert history.hour(A, H) == HourStat(A, H, 1.25, 0.0)
    adjusted = history.adjusted([Adjustment(A, H, 0.5, 0.0), Adjustment(B, H, 0.25, 0.0)])
    assert adjusted == [HourStat(A, H, 1.75, 0.0), HourStat(B, H, 0.25, 0.0)]
    history.commit(hours=adjusted)
    assert [h.consumption for h in history.hours(A, H, H + 3600)] == [1.75]


def test_statistics_state_and_meter_events_round_trip(history: History) -> None:
    history.commit(
        swaps=[MeterSwap(A, H, 5001.0, 0.5, 0.5, 0.0, manual=False)],
        anomalies=[ConsumptionAnomaly(B, AnomalyKind.IMPLAUSIBLE, H + 60, 1.0, 900.0, 899.0, 2.0)],
        states={A: {"anchor_ts": H, "anchor_value": 0.5}},
    )
    assert history.load_states() == {A: {"anchor_ts": H, "anchor_value": 0.5}}
    kinds = [(e.entity_id, e.kind) for e in history.meter_events()]
    assert kinds == [(A, "meter_swap_detected"), (B, "implausible")]


def test_retention_removes_old_readings_and_hours(history: History) -> None:
    history.commit(
        readings=[(A, H - 3 * DAY, 1.0), (A, H - 1 * DAY, 2.0)],
        hours=[HourStat(A, H - 11 * DAY, 1.0), HourStat(A, H - 5 * DAY, 1.0)],
    )
    assert history.prune(H) == (1, 1)
    assert [r.value for r in history.readings(A, 0, H)] == [2.0]
    assert len(history.hours(A, 0, H)) == 1


def test_hourly_sums_group_and_filter_by_tags(history: History) -> None:
    history.commit(
        hours=[
            HourStat(A, H, 1.0),
            HourStat(B, H, 2.0),
            HourStat(C, H, 4.0),
            HourStat(A, H + 3600, 0.5, 3.0),
        ]
    )
    sums = history.hourly_sums(H, H + 7200, ["floor"], [("kind", ["active_energy"])])
    assert sorted((s.hour, s.group, s.consumption, s.held_out) for s in sums) == [
        (H, ("1",), 3.0, 0.0),
        (H, ("2",), 4.0, 0.0),
        (H + 3600, ("1",), 0.5, 3.0),
    ]
    only = history.hourly_sums(H, H + 3600, ["room"], [("room", ["101", "201"])])
    assert sorted((s.group, s.consumption) for s in only) == [(("101",), 1.0), (("201",), 4.0)]


def test_a_flush_of_many_new_series_creates_each_once(tmp_path: Path) -> None:
    """A campus's first running-hour flush brings thousands of new consumption series at once
    (more than one lookup's worth): each is created once, and its rows land on it."""
    rooms = [meter(f"{n:04d}", str(n // 100), building=f"dorm-{n % 3}") for n in range(1_200)]
    store = History(tmp_path / "h.sqlite3", {e.entity_id: SeriesKey.of(e) for e in rooms})
    try:
        hours = [HourStat(e.entity_id, H, 1.0 + i, 0.0) for i, e in enumerate(rooms)]
        store.commit(readings=[(e.entity_id, H, 2.0) for e in rooms], hours=hours)
        store.commit(hours=[HourStat(e.entity_id, H + 3600, 0.5, 0.0) for e in rooms])
        by_building = store.hourly_sums(H, H + 7200, ["building"], [])
        assert sorted((s.hour, s.group, s.consumption) for s in by_building) == sorted(
            [
                *((H, (f"dorm-{b}",), sum(1.0 + i for i in range(b, 1_200, 3))) for b in range(3)),
                *((H + 3600, (f"dorm-{b}",), 0.5 * 400) for b in range(3)),
            ]
        )
        assert store.hour(rooms[-1].entity_id, H) == HourStat(rooms[-1].entity_id, H, 1200.0, 0.0)
        assert [r.value for r in store.readings(rooms[7].entity_id, H, H + 1)] == [2.0]
    finally:
        store.close()
    reopened = History(tmp_path / "h.sqlite3", {e.entity_id: SeriesKey.of(e) for e in rooms})
    try:  # two series an entity (readings, hours), no more
        assert len(reopened._series) == 2 * len(rooms)
    finally:
        reopened.close()


def test_series_created_in_a_failed_flush_are_created_again(history: History) -> None:
    """A flush that rolls back takes its new series with it: the retried flush must not
    refer to ids that no longer exist (its hours would vanish from every sum)."""
    unbindable: object = {"not": "a number"}
    with pytest.raises(sqlite3.Error):  # cannot bind a dict
        history.commit(hours=[HourStat(A, H, 1.0, unbindable)])  # type: ignore[arg-type]
    history.commit(hours=[HourStat(A, H, 1.0, 0.0)])
    sums = history.hourly_sums(H, H + 3600, ["building"], [])
    assert [(s.group, s.consumption) for s in sums] == [(("dorm-1",), 1.0)]
