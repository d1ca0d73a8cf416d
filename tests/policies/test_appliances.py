"""Prohibited appliances as campuses detect them (issue 12, item 5): several controlled power
ranges, small resistive loads (electric blankets), restores per day, and detection the prepaid
meter implements itself (thresholds written to it, its trips supervised and audited)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from controller.config.policies import policy_adapter
from controller.core.events import State, Value
from controller.policies.overload import Overload

from .conftest import TZ, at

ELEC = "dorm-1.101.elec"
POWER, PF = f"{ELEC}.power", f"{ELEC}.power_factor"
BLANKET = {"name": "electric blanket", "min_w": 60, "max_w": 150, "min_pf": 0.97}
KETTLE = {"name": "kettle", "min_w": 800, "min_pf": 0.95}
RANGES = {
    "id": "load",
    "type": "overload",
    "signature": {"ranges": [BLANKET, KETTLE], "persist_s": 30},
    "reclose_after_s": 600,
}


def _step(policy: Overload, before: tuple[float, float], after: tuple[float, float]) -> Any:
    """A reading, then a step 30 s later that stays: the decision after it persisted."""
    unit = policy.units[policy.unit_index[ELEC]]
    t0 = at(2026, 3, 2, 22, 0).timestamp()
    memory: Any = None
    for dt_s, (power, pf) in ((0, before), (30, after), (60, after)):
        when = at(2026, 3, 2, 22, dt_s // 60, dt_s % 60)
        states = {POWER: State(power, t0 + dt_s), PF: State(pf, t0 + dt_s)}
        decision = policy.decide(policy.tick(when), unit, states, memory)
        memory = decision.memory
    return decision


@pytest.mark.parametrize(
    ("before", "after", "trips"),
    [
        ((40.0, 0.6), (140.0, 0.935), True),  # a 100 W blanket on a laptop: step PF ≈ 1
        ((40.0, 0.6), (100.0, 0.5), False),  # a 60 W monitor (PF 0.7): not resistive enough
        ((40.0, 0.6), (240.0, 0.95), False),  # a 200 W resistive step: in neither range
        ((40.0, 0.6), (1540.0, 0.99), True),  # a 1500 W kettle
    ],
)
def test_several_controlled_ranges_catch_small_and_large_resistive_loads(
    make_policy: Any, before: tuple[float, float], after: tuple[float, float], trips: bool
) -> None:
    decision = _step(make_policy(RANGES), before, after)
    assert bool(decision.wants) is trips
    if trips:
        assert decision.alarms[0].kind == "prohibited_appliance"
        assert decision.alarms[0].evidence["step_pf"] >= 0.95


def test_the_single_step_rule_is_one_range_and_cannot_be_mixed_with_ranges() -> None:
    data = {**RANGES, "signature": {"ranges": [BLANKET], "step_w": 300}}
    with pytest.raises(ValueError, match="give ranges, or step_w and min_pf, not both"):
        policy_adapter().validate_python(data)


def test_restores_per_day_means_automatic_restores(make_policy: Any) -> None:
    policy = make_policy(
        {"id": "load", "type": "overload", "limit_w": 1000, "over_for_s": 0, "restores_per_day": 2}
    )
    unit = policy.units[policy.unit_index[ELEC]]
    memory: Any = None
    locked = []
    for minute in (0, 20, 40):  # three trips, each after the previous reclose
        now = at(2026, 3, 2, 20, minute)
        t = now.timestamp()
        memory = policy.decide(policy.tick(now), unit, {POWER: State(300, t)}, memory).memory
        decision = policy.decide(policy.tick(now), unit, {POWER: State(2000, t)}, memory)
        memory = decision.memory
        locked.append(memory.locked)
    assert locked == [False, False, True]  # two automatic restores, then staff
    assert decision.alarms[0].kind == "lockout"


def test_the_old_name_is_refused_with_the_new_meaning() -> None:
    data = {"id": "load", "type": "overload", "limit_w": 1000, "lockout_after": 3}
    with pytest.raises(ValueError, match="restores_per_day: N-1"):
        policy_adapter().validate_python(data)


METER = {**RANGES, "per_bed_w": 300, "detection": "meter", "restores_per_day": 1}


def _meter_states(t: float, **values: Value) -> dict[str, State]:
    base: dict[str, Value] = {
        "power": 120.0,
        "overload_trip": False,
        "load_trip": False,
        "relay": True,
    }
    return {f"{ELEC}.{k}": State(v, t) for k, v in {**base, **values}.items()}


def _meter_decider(policy: Overload) -> Any:
    """decide(minutes after 20:00, memory, **meter readings) for the meter of room 101."""
    unit = policy.units[policy.unit_index[ELEC]]
    t0 = at(2026, 3, 2, 20, 0).timestamp()

    def decide(minutes: float, memory: Any, **values: Value) -> Any:
        tick = policy.tick(dt.datetime.fromtimestamp(t0 + minutes * 60, TZ))
        return policy.decide(tick, unit, _meter_states(t0 + minutes * 60, **values), memory)

    return decide


def test_meter_detection_writes_the_thresholds_to_the_meter(make_policy: Any) -> None:
    policy = make_policy(METER)
    unit = policy.units[policy.unit_index[ELEC]]
    now = at(2026, 3, 2, 20, 0)
    decision = policy.decide(policy.tick(now), unit, _meter_states(now.timestamp()), None)
    written = {w.entity_id.rsplit(".", 1)[1]: w.value for w in decision.wants}
    assert written == {
        "trip_limit_w": 1200.0,  # 300 W per bed, 4 beds
        "range1_min_w": 60,
        "range1_max_w": 150,
        "range1_min_pf": 0.97,
        "range2_min_w": 800,
        "range2_max_w": 13000,
        "range2_min_pf": 0.95,
    }
    assert all(w.restore is None for w in decision.wants)
    assert not decision.alarms


def test_meter_trips_are_counted_restored_and_locked_out(make_policy: Any) -> None:
    decide = _meter_decider(make_policy(METER))

    def writes(decision: Any) -> dict[str, Value]:
        return {
            w.entity_id.rsplit(".", 1)[1]: w.value
            for w in decision.wants
            if not w.entity_id.rsplit(".", 1)[1].startswith(("range", "trip_limit"))
        }

    quiet = decide(0, None, power=140.0)
    tripped = decide(1, quiet.memory, power=0.0, load_trip=True, relay=False)
    (alarm,) = tripped.alarms
    assert alarm.kind == "prohibited_appliance"
    assert "detected by the meter" in alarm.message_en
    assert (alarm.evidence["cause"], alarm.evidence["before_w"]) == ("meter_appliance", 140.0)
    assert writes(tripped) == {"relay": False}  # held off until the reclose delay
    assert tripped.wake_at == at(2026, 3, 2, 20, 1).timestamp() + 600
    # the same flag seen again is the same trip
    again = decide(5, tripped.memory, power=0.0, load_trip=True, relay=False)
    assert again.memory.trips == 1
    # after the delay the controller switches the relay back on; the meter clears its flag
    reopen = decide(12, again.memory, power=0.0, load_trip=True, relay=False)
    assert writes(reopen) == {"relay": True}
    assert not reopen.alarms
    waiting = decide(12, reopen.memory, power=0.0, load_trip=True, relay=False)  # older reading
    assert writes(waiting) == {"relay": True}
    cleared = decide(13, waiting.memory, power=130.0)
    assert writes(cleared) == {}
    assert cleared.memory.tripped_at is None
    # the second trip of the day is past the one restore: locked until staff release it
    second = decide(20, cleared.memory, power=0.0, overload_trip=True, relay=False)
    assert second.memory.locked
    assert second.alarms[0].kind == "lockout"
    assert writes(decide(60, second.memory, power=0.0, relay=False)) == {"relay": False}


def test_a_meter_that_trips_again_at_once_counts_a_second_trip(make_policy: Any) -> None:
    """The blanket is still plugged in: the meter opens the relay as soon as it is closed, and
    the read-back shows it off with the flag set. That is the next trip, not a stuck command."""
    decide = _meter_decider(make_policy(METER))

    tripped = decide(1, decide(0, None).memory, power=0.0, load_trip=True, relay=False)
    reopen = decide(12, tripped.memory, power=0.0, load_trip=True, relay=False)
    again = decide(12.1, reopen.memory, power=0.0, load_trip=True, relay=False)
    assert again.memory.trips == 2
    assert again.memory.locked  # one restore a day


def test_meter_detection_binds_only_meters_that_detect(make_policy: Any) -> None:
    policy = make_policy(
        {**METER, "scope": {"buildings": ["dorm-1"], "circuits": ["sockets", "main"]}}
    )
    assert policy.units
    assert all(u.meter is not None for u in policy.units)
    assert all(u.key.endswith(".elec") for u in policy.units)


def test_meter_detection_trips_by_itself() -> None:
    data = {**METER, "action": "alarm"}
    with pytest.raises(ValueError, match="action must be trip"):
        policy_adapter().validate_python(data)
