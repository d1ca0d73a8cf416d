"""SQLite persistence of memories, holds, overrides, alarms and run-time policy edits."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.policies.alarms import ActiveAlarm
from controller.policies.model import Alarm
from controller.policies.overrides import Override
from controller.policies.store import PolicyStore, StoreError


def _override(expires: float = 2000.0) -> Override:
    return Override(
        id="o1",
        kind="exemption",
        policies=frozenset({"ac-hours"}),
        devices=frozenset({"dorm-1.305.ac"}),
        reason="sick student",
        actor="staff:wang",
        created_at=1000.0,
        expires_at=expires,
        scope={"rooms": ["dorm-1/305"]},
    )


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "policies.sqlite3"
    store = PolicyStore(path)
    alarm = ActiveAlarm(
        Alarm("leak:leak:x", "leak", "critical", "漏水", "leak", "leak", "x.flow", {"flow_lpm": 3}),
        1000.0,
    )
    store.save(
        1000.0,
        memory={("quota", "dorm-1/101"): {"period": "2026-03", "baselines": [1.0], "topup": 0.0}},
        holds={"dorm-1.101.elec.relay": {"restore": True, "pending": False}},
        alarms=[alarm],
    )
    store.save_override(_override())
    store.save_policy("extra", {"id": "extra", "type": "ac_limits"}, 1000.0, "staff:li")
    store.save_policy("curfew", None, 1001.0, "staff:li")
    store.close()

    loaded = PolicyStore(path).load()
    assert loaded.memory == [
        ("quota", "dorm-1/101", {"period": "2026-03", "baselines": [1.0], "topup": 0.0})
    ]
    assert loaded.holds == {"dorm-1.101.elec.relay": {"restore": True, "pending": False}}
    assert loaded.overrides == [_override()]
    assert [a.alarm for a in loaded.alarms] == [alarm.alarm]
    assert [(p.id, p.config) for p in loaded.policies] == [
        ("extra", {"id": "extra", "type": "ac_limits"}),
        ("curfew", None),
    ]


def test_deletes_ended_overrides_and_cleared_alarms(tmp_path: Path) -> None:
    store = PolicyStore(tmp_path / "p.sqlite3")
    store.save(0.0, memory={("q", "u"): {"x": 1}}, holds={"e": {"restore": 1}})
    store.save(1.0, memory={("q", "u"): None}, holds={"e": None})
    store.save_override(_override())
    store.end_override("o1", 1500.0, "staff:li", "recovered")
    alarm = ActiveAlarm(Alarm("k", "leak", "critical", "", "", "leak"), 10.0, cleared_at=20.0)
    store.save(20.0, alarms=[alarm])
    loaded = store.load()
    assert (loaded.memory, loaded.holds, loaded.overrides, loaded.alarms) == ([], {}, [], [])
    assert [a.cleared_at for a in store.alarm_history()] == [20.0]
    assert store.prune(before=10_000.0) == 2


def test_unreadable_rows_are_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = PolicyStore(tmp_path / "p.sqlite3")
    store._db.execute("INSERT INTO memory VALUES ('q', 'u', '{not json', 0)")
    assert store.load().memory == []
    assert "unreadable" in caplog.text


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.sqlite3"
    store = PolicyStore(path)
    store._db.execute("PRAGMA user_version = 99")
    store.close()
    with pytest.raises(StoreError, match="schema version 99"):
        PolicyStore(path)


def test_save_writes_only_the_rows_that_change(tmp_path: Path) -> None:
    """The engine reports a memory or a hold whenever it touches one; rows the file holds
    already are left out, and a restart still finds the latest of each."""
    path = tmp_path / "p.sqlite3"
    store = PolicyStore(path)
    store.load()
    quota = {"period": "2026-03", "baselines": [1.0], "topup": 0.0}
    store.save(0.0, memory={("quota", "u"): quota}, holds={"e": {"restore": True}})
    assert (store.writes, store.skipped) == (1, 0)
    for n in range(1000):  # a thousand evaluations touching the same rows, and released points
        store.save(float(n), memory={("quota", "u"): dict(quota)}, holds={"e": {"restore": True}})
        store.save(float(n), holds={f"never-held-{n}": None})
    assert (store.writes, store.skipped) == (1, 3000)
    store.save(2000.0, memory={("quota", "u"): {**quota, "topup": 5.0}}, holds={"e": None})
    assert store.writes == 2
    store.save(2001.0, holds={"e": None})  # deleted already
    assert store.writes == 2
    store.close()
    again = PolicyStore(path)
    loaded = again.load()
    assert loaded.memory == [("quota", "u", {**quota, "topup": 5.0})]
    assert loaded.holds == {}
    again.save(3000.0, memory={("quota", "u"): {**quota, "topup": 5.0}})  # as stored: skipped
    assert again.writes == 0
    again.close()


def test_an_unreadable_row_is_written_over(tmp_path: Path) -> None:
    store = PolicyStore(tmp_path / "p.sqlite3")
    store._db.execute("INSERT INTO memory VALUES ('q', 'u', '{not json', 0)")
    store.load()
    store.save(1.0, memory={("q", "u"): {"x": 1}})
    assert store.writes == 1
    assert store.load().memory == [("q", "u", {"x": 1})]
