"""Dry runs: now, and replayed over a past period from history."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from controller.core.events import State, Value
from controller.policies.dryrun import SyncHistoryReader, dry_run_history, dry_run_now
from controller.policies.scope import SiteIndex

from .conftest import at

CURFEW = {
    "id": "curfew",
    "type": "curfew",
    "windows": [
        {"start": "23:00", "end": "05:50", "days": {"include": ["workday"]}, "days_of": "end"}
    ],
}
RELAYS = [f"dorm-1.{room}.elec.relay" for room in ("101", "102", "201", "202")]


class MemoryHistory:
    """Readings kept in a dict, as a recorder would return them."""

    def __init__(self, samples: Mapping[str, list[tuple[float, Value]]]) -> None:
        self.samples = samples
        self.asked: list[str] = []

    async def read(
        self, entity_ids: Sequence[str], start: float, end: float
    ) -> dict[str, list[tuple[float, Value]]]:
        self.asked = list(entity_ids)
        return {e: [s for s in self.samples.get(e, []) if s[0] < end] for e in entity_ids}


async def test_curfew_over_a_week(make_policy: Any, index: SiteIndex) -> None:
    start, end = at(2026, 3, 2, 0, 0), at(2026, 3, 9, 0, 0)
    history = MemoryHistory({relay: [(start.timestamp(), 1)] for relay in RELAYS})  # coils as 0/1
    report = await dry_run_history(make_policy(CURFEW), history, index, start, end)
    assert set(RELAYS) <= set(history.asked)
    # Monday 00:00–05:50, four nights 23:00–05:50 (Mon–Thu), Sunday 23:00–24:00; not Fri, Sat.
    hours_per_room = 5 + 50 / 60 + 4 * (6 + 50 / 60) + 1
    assert report.hours_held == pytest.approx(4 * hours_per_room)
    assert report.held_units == {f"dorm-1.{r}.elec" for r in ("101", "102", "201", "202")}
    assert report.command_count == 4 * (6 + 5)  # six cuts, five restores (not after the last)
    assert report.summary() == "would have acted on 4 units for 137 hours (44 commands, 0 alarms)"
    assert report.to_json()["units_affected"] == 4


async def test_quota_would_have_cut_a_room(make_policy: Any, index: SiteIndex) -> None:
    quota = {"id": "q", "type": "quota", "resource": "electricity", "per_room": 10, "action": "cut"}
    start, end = at(2026, 3, 1, 0, 0), at(2026, 4, 1, 0, 0)
    energy = "dorm-1.101.elec.energy"
    samples: dict[str, list[tuple[float, Value]]] = {
        energy: [(start.timestamp(), 100.0), (at(2026, 3, 31, 12, 0).timestamp(), 112.0)],
        "dorm-1.101.elec.relay": [(start.timestamp(), True)],
    }
    report = await dry_run_history(
        make_policy(quota), MemoryHistory(samples), index, start, end, step_s=600
    )
    assert report.held_units == {"dorm-1/101"}
    assert report.hours_held == pytest.approx(12)
    assert [a.kind for a in report.alarms] == ["quota_exhausted"]


def test_dry_run_now_lists_what_would_be_sent(make_policy: Any) -> None:
    now = at(2026, 3, 2, 23, 30)
    states = {relay: State(True, now.timestamp()) for relay in RELAYS[:2]}
    report = dry_run_now(make_policy(CURFEW), now, states)
    assert [c.entity_id for c in report.commands] == RELAYS[:2]
    assert report.held_units == {f"dorm-1.{r}.elec" for r in ("101", "102", "201", "202")}
    assert "现在会执行 2 条命令" in report.summary("zh")


@dataclass
class Row:
    timestamp: float
    value: Value


class FakeSyncHistory:
    def __init__(self, rows: dict[str, list[Row]]) -> None:
        self.rows = rows

    def readings(self, entity_id: str, start: float, end: float) -> list[Row]:
        return [r for r in self.rows.get(entity_id, []) if start <= r.timestamp < end]


async def test_sync_history_adapter_starts_from_the_last_reading_before() -> None:
    reader = SyncHistoryReader(
        FakeSyncHistory({"e": [Row(50.0, 1.0), Row(90.0, 2.0), Row(120.0, 3.0), Row(300.0, 4.0)]}),
        lookback_s=100,
    )
    assert await reader.read(["e", "missing"], 100.0, 200.0) == {
        "e": [(100.0, 2.0), (120.0, 3.0)],
        "missing": [],
    }


async def test_replay_from_the_recorders_sqlite_history(
    make_policy: Any, index: SiteIndex, site: Any, tmp_path: Any
) -> None:
    from controller.core import EntityRegistry
    from controller.recorder.history import History
    from controller.recorder.lineproto import SeriesKey

    registry = EntityRegistry.from_site(site)
    history = History(
        tmp_path / "history.sqlite3", {e.entity_id: SeriesKey.of(e) for e in registry}
    )
    start, end = at(2026, 3, 2, 22, 0), at(2026, 3, 3, 8, 0)
    history.commit([(relay, start.timestamp() - 60, True) for relay in RELAYS])  # stored as 1
    try:
        report = await dry_run_history(
            make_policy(CURFEW), SyncHistoryReader(history), index, start, end
        )
    finally:
        history.close()
    assert report.readings == 4
    assert report.hours_held == pytest.approx(4 * (6 + 50 / 60))
    assert report.command_count == 8
