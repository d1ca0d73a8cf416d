"""The engine core: arbitration, restore, anti-flapping, retries, overrides, alarm lifecycle."""

from __future__ import annotations

import datetime as dt
from typing import Any

from controller.core.events import State
from controller.policies.core import EngineCore
from controller.policies.overrides import Override
from controller.policies.settings import EngineSettings

from .conftest import at

RELAY = "dorm-1.101.elec.relay"
CURFEW = {
    "id": "curfew",
    "type": "curfew",
    "windows": [{"start": "23:00", "end": "05:50"}],
    "scope": {"rooms": ["dorm-1/101"]},
}
QUOTA = {
    "id": "quota",
    "type": "quota",
    "resource": "electricity",
    "per_room": 10,
    "action": "cut",
    "scope": {"rooms": ["dorm-1/101"]},
}


class World:
    """States and a core; ``run`` evaluates and applies commands like confirmed writes."""

    def __init__(self, core: EngineCore) -> None:
        self.core = core
        self.states: dict[str, State] = {}
        self.sent: list[tuple[str, Any]] = []

    def set(self, entity: str, value: Any, now: dt.datetime) -> None:
        self.states[entity] = State(value, now.timestamp())
        self.core.state_changed(entity)

    def run(self, now: dt.datetime, *, ok: bool = True, apply: bool = True) -> Any:
        out = self.core.evaluate(now, self.states)
        for command in out.commands:
            self.sent.append((command.command_entity, command.value))
            if ok and apply:
                self.set(command.entity_id, command.expect, now)
            self.core.command_done(command, ok, now.timestamp())
        return out


def world(make_policy: Any, *configs: dict[str, Any], **settings: Any) -> World:
    core = EngineCore([make_policy(c) for c in configs], EngineSettings(**settings), 0.0)
    return World(core)


def test_curfew_cuts_and_restores_what_it_cut(make_policy: Any) -> None:
    w = world(make_policy, CURFEW)
    w.set(RELAY, True, at(2026, 3, 2, 22, 0))
    w.run(at(2026, 3, 2, 22, 0))
    assert w.sent == []
    out = w.run(at(2026, 3, 2, 23, 0))
    assert w.sent == [(RELAY, False)]
    assert out.holds[RELAY] == {
        "restore": True,
        "restore_command": True,
        "restore_entity": RELAY,
        "policy": "curfew",
        "pending": False,
    }
    w.run(at(2026, 3, 3, 5, 50))
    assert w.sent == [(RELAY, False), (RELAY, True)]


def test_a_point_already_off_is_not_switched_on_afterwards(make_policy: Any) -> None:
    w = world(make_policy, CURFEW)
    w.set(RELAY, False, at(2026, 3, 2, 22, 0))
    w.run(at(2026, 3, 2, 23, 0))
    w.run(at(2026, 3, 3, 6, 0))
    assert w.sent == []


def test_restore_waits_for_every_policy_holding_the_point(make_policy: Any) -> None:
    w = world(make_policy, CURFEW, QUOTA)
    night = at(2026, 3, 2, 23, 0)
    w.set(RELAY, True, night)
    w.set("dorm-1.101.elec.energy", 100.0, at(2026, 3, 1, 0, 0))
    w.run(at(2026, 3, 1, 0, 0))
    w.run(night)
    w.set("dorm-1.101.elec.energy", 111.0, night)  # quota used up during the curfew
    w.run(at(2026, 3, 2, 23, 30))
    w.run(at(2026, 3, 3, 6, 0))  # the curfew ends, the quota still holds
    assert w.sent == [(RELAY, False)]
    w.run(at(2026, 4, 1, 12, 0))  # a new month releases the quota: now restore
    assert w.sent == [(RELAY, False), (RELAY, True)]


def test_higher_priority_wins(make_policy: Any) -> None:
    supply = {
        "id": "supply",
        "type": "supply_windows",
        "supply": [{"start": "06:00", "end": "08:00"}],
    }
    leak = {"id": "leak", "type": "leak", "threshold_lpm": 1, "duration_min": 1}
    w = world(make_policy, supply, leak)
    w.core.evaluate(at(2026, 3, 2, 12, 0), w.states)
    want = w.core.winner("dorm-1.101.hot.valve")
    assert want is not None
    assert want.policy_id == "supply"


def test_reverted_points_are_corrected_but_rate_limited(make_policy: Any) -> None:
    w = world(
        make_policy, CURFEW, min_interval_s=10, min_off_s=0, min_on_s=0, max_per_device_hour=3
    )
    night = at(2026, 3, 2, 23, 0)
    w.set(RELAY, True, night)
    w.run(night)
    w.set(RELAY, True, at(2026, 3, 2, 23, 0, 5))  # switched back on locally
    w.run(at(2026, 3, 2, 23, 0, 5))
    assert len(w.sent) == 1  # within min_interval_s
    w.run(at(2026, 3, 2, 23, 0, 10))
    assert len(w.sent) == 2
    for second in (20, 30, 40):
        w.set(RELAY, True, at(2026, 3, 2, 23, 0, second))
        w.run(at(2026, 3, 2, 23, 0, second))
    assert len(w.sent) == 3  # at most three commands to the device per hour
    assert w.core.next_deadline() == at(2026, 3, 2, 23, 0).timestamp() + 3600


def test_confirmed_command_waits_for_a_reading_before_repeating(make_policy: Any) -> None:
    w = world(make_policy, CURFEW, settle_s=120)
    night = at(2026, 3, 2, 23, 0)
    w.set(RELAY, True, night)
    w.run(night, apply=False)  # confirmed, but the state store has no fresh reading yet
    w.core.state_changed(RELAY)
    w.run(at(2026, 3, 2, 23, 1))
    assert len(w.sent) == 1
    w.run(at(2026, 3, 2, 23, 2))
    assert len(w.sent) == 2  # no reading within settle_s: try again


def test_min_off_time_delays_switching_back_on(make_policy: Any) -> None:
    short = {**CURFEW, "windows": [{"start": "23:00", "end": "23:00:30"}]}
    w = world(make_policy, short, min_off_s=300)
    night = at(2026, 3, 2, 23, 0)
    w.set(RELAY, True, night)
    w.run(night)
    w.run(at(2026, 3, 2, 23, 0, 30))
    assert w.sent == [(RELAY, False)]
    assert w.core.next_deadline() == night.timestamp() + 300
    w.run(at(2026, 3, 2, 23, 5))
    assert w.sent == [(RELAY, False), (RELAY, True)]


def test_failures_retry_with_backoff_and_alarm(make_policy: Any) -> None:
    w = world(make_policy, CURFEW, retry_base_s=10, alarm_after_failures=3, min_interval_s=0)
    night = at(2026, 3, 2, 23, 0)
    w.set(RELAY, True, night)
    raised = []
    t = night.timestamp()
    for delay in (0, 10, 20):  # backoff 10 s, then 20 s
        t += delay
        raised += w.run(dt.datetime.fromtimestamp(t, night.tzinfo), ok=False).raised
    assert len(w.sent) == 3
    assert [a.alarm.kind for a in w.run(dt.datetime.fromtimestamp(t, night.tzinfo)).raised] == [
        "command_failed"
    ]
    assert w.core.next_deadline() == t + 40
    w.run(dt.datetime.fromtimestamp(t + 40, night.tzinfo))  # confirmed this time
    out = w.run(dt.datetime.fromtimestamp(t + 41, night.tzinfo))
    assert [a.alarm.kind for a in out.cleared] == ["command_failed"]


def test_override_suspends_a_policy_for_its_devices_until_it_expires(make_policy: Any) -> None:
    w = world(make_policy, CURFEW)
    night = at(2026, 3, 2, 23, 0)
    w.set(RELAY, True, night)
    w.core.add_override(
        Override(
            id="o1",
            kind="exemption",
            policies=frozenset({"curfew"}),
            devices=frozenset({"dorm-1.101.elec"}),
            reason="exam week",
            actor="staff:wang",
            created_at=night.timestamp(),
            expires_at=night.timestamp() + 1800,
        )
    )
    w.run(night)
    assert w.sent == []
    out = w.run(at(2026, 3, 2, 23, 30))
    assert [o.id for o in out.expired] == ["o1"]
    assert w.sent == [(RELAY, False)]


def test_alarms_are_raised_once_and_cleared_when_gone(make_policy: Any) -> None:
    w = world(make_policy, QUOTA)
    energy = "dorm-1.101.elec.energy"
    w.set(energy, 100.0, at(2026, 3, 1, 0, 0))
    w.run(at(2026, 3, 1, 0, 0))
    w.set(energy, 108.5, at(2026, 3, 10, 0, 0))
    assert [a.alarm.key for a in w.run(at(2026, 3, 10, 0, 0)).raised] == ["quota:warn80:dorm-1/101"]
    w.set(energy, 109.0, at(2026, 3, 11, 0, 0))
    assert w.run(at(2026, 3, 11, 0, 0)).raised == []
    out = w.run(at(2026, 4, 1, 0, 0))
    assert [a.alarm.key for a in out.cleared] == ["quota:warn80:dorm-1/101"]


def test_successor_keeps_memory_holds_overrides_and_alarms(make_policy: Any) -> None:
    w = world(make_policy, CURFEW, QUOTA)
    night = at(2026, 3, 2, 23, 0)
    w.set(RELAY, True, night)
    w.set("dorm-1.101.elec.energy", 100.0, night)
    w.run(night)
    old_memory = w.core.units("quota")[0][2]
    new = w.core.successor([make_policy(QUOTA)])  # the curfew was deleted
    assert new.units("quota")[0][2] is old_memory
    w.core = new
    w.run(at(2026, 3, 2, 23, 1))
    assert w.sent[-1] == (RELAY, True)  # released by the deletion: restored


def test_conflicts_name_the_policy_and_why(make_policy: Any) -> None:
    w = world(make_policy, CURFEW)
    night = at(2026, 3, 2, 23, 0)
    w.set(RELAY, False, night)
    w.run(night)
    (conflict,) = w.core.conflicts(night, RELAY, True, w.states)
    assert conflict[0] == "curfew"
    assert w.core.conflicts(night, RELAY, False, w.states) == []


def test_a_failing_unit_does_not_stop_the_others(make_policy: Any, caplog: Any) -> None:
    curfew = {**CURFEW, "scope": {"rooms": ["dorm-1/101", "dorm-1/102"]}}
    policy = make_policy(curfew)
    decide = policy.decide

    def flaky(tick: Any, unit: Any, states: Any, memory: Any) -> Any:
        if unit.key == "dorm-1.101.elec":
            raise ValueError("a bug")
        return decide(tick, unit, states, memory)

    policy.decide = flaky
    w = World(EngineCore([policy], EngineSettings(), 0.0))
    night = at(2026, 3, 2, 23, 0)
    for room in ("101", "102"):
        w.set(f"dorm-1.{room}.elec.relay", True, night)
    w.run(night)
    w.core.mark_all()
    w.run(at(2026, 3, 2, 23, 1))
    assert w.sent == [("dorm-1.102.elec.relay", False)]
    assert w.core.failures == {"curfew": 2}
    assert sum("failed to decide" in r.getMessage() for r in caplog.records) == 1


def test_large_sweeps_run_in_chunks(make_policy: Any) -> None:
    curfew = {**CURFEW, "scope": {}}  # the four rooms
    w = World(EngineCore([make_policy(curfew)], EngineSettings(sweep_chunk=3), 0.0))
    night = at(2026, 3, 2, 23, 0)
    for room in ("101", "102", "201", "202"):
        w.set(f"dorm-1.{room}.elec.relay", True, night)
    first = w.core.evaluate(night, w.states)
    assert first.evaluated == 3
    assert len(first.commands) == 3
    assert w.core.has_work()
    second = w.core.evaluate(night, w.states)
    assert second.evaluated == 1
    assert [c.entity_id for c in second.commands] == ["dorm-1.202.elec.relay"]
    assert not w.core.has_work()


def test_a_confirmed_command_changed_at_the_device_is_counted_not_failed(make_policy: Any) -> None:
    """Issue 12: an occupant's change after a confirmed write is "changed at the device"."""
    w = world(make_policy, CURFEW)
    relay = "dorm-1.101.elec.relay"
    w.set(relay, True, at(2026, 3, 2, 22, 0))
    w.run(at(2026, 3, 2, 22, 0))
    w.run(at(2026, 3, 2, 23, 0))  # cut, confirmed
    assert w.states[relay].value is False
    w.set(relay, True, at(2026, 3, 2, 23, 5))  # someone switched it back on at the meter
    w.run(at(2026, 3, 2, 23, 5))
    changes = w.core.device_change_status()
    assert changes["changed_at_device"] == 1
    assert list(changes["changed_at"]) == ["dorm-1.101.elec (curfew)"]
    assert w.sent[-1] == (relay, False)  # re-asserted (min_on_s has passed)
