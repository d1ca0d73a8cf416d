"""Leaks by volume (issue 12, item 5): water used in N consecutive night hours, for meters
without a flow register, closes the zone valve and raises the leak alarm."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from controller.calendar import SiteCalendar
from controller.config import load_profile
from controller.config.policies import policy_adapter
from controller.core.events import State
from controller.policies.night_leak import NightLeak, NightLeakMemory
from controller.policies.scope import DeviceInfo, SiteIndex
from controller.policies.types import build_policy

from .conftest import at

PROFILES = Path(__file__).parents[2] / "profiles"
PULSE = "dorm-1.101.cold"
VOLUME = f"{PULSE}.volume"


def _device(device_id: str, profile: str, circuit: str = "cold_water") -> DeviceInfo:
    building, room, _ = device_id.split(".")
    return DeviceInfo(
        id=device_id,
        building=building,
        building_kind="dorm",
        floor=1,
        room=room,
        area=None,
        circuit=circuit,
        tags=frozenset(),
        profile_id=profile,
        profile=load_profile(PROFILES / f"{profile}.yaml"),
        capacity=4,
    )


@pytest.fixture(scope="module")
def campus() -> SiteIndex:
    """Room 101: a pulse meter and, on the same circuit, a Xintai meter with a valve;
    room 102: a pulse meter alone; room 103: a Xintai meter (it has a flow register)."""
    return SiteIndex(
        [
            _device(PULSE, "generic/mqtt-pulse-water-meter"),
            _device("dorm-1.101.valve", "xintai/water-meter-valve"),
            _device("dorm-1.102.cold", "generic/mqtt-pulse-water-meter"),
            _device("dorm-1.103.cold", "xintai/water-meter-valve"),
        ]
    )


@pytest.fixture
def night_leak(campus: SiteIndex, calendar: SiteCalendar) -> Any:
    def make(**config: Any) -> NightLeak:
        data = {"id": "night-leak", "type": "night_leak", **config}
        policy = build_policy(policy_adapter().validate_python(data), campus, calendar)
        assert isinstance(policy, NightLeak)
        return policy

    return make


def _run(policy: NightLeak, readings: list[tuple[Any, float]], device: str = PULSE) -> Any:
    """Feed (local time, total m³) readings in order; the last decision."""
    unit = policy.units[policy.unit_index[device]]
    memory: Any = None
    decision: Any = None
    for when, total in readings:
        states = {f"{device}.volume": State(total, when.timestamp())}
        decision = policy.decide(policy.tick(when), unit, states, memory)
        memory = decision.memory
    return decision


def _night(litres_per_hour: list[float], start_hour: int = 0) -> list[tuple[Any, float]]:
    """A reading 5 minutes past each hour from ``start_hour``, using the given litres per hour."""
    total = 123.0
    readings = [(at(2026, 3, 3, start_hour, 5), total)]
    for i, litres in enumerate(litres_per_hour):
        total += litres / 1000
        readings.append((at(2026, 3, 3, start_hour + i + 1, 5), total))
    return readings


def test_binds_meters_without_a_flow_register_and_finds_the_zone_valve(night_leak: Any) -> None:
    policy = night_leak()
    assert sorted(policy.unit_index) == ["dorm-1.101.cold", "dorm-1.102.cold"]
    unit = policy.units[policy.unit_index[PULSE]]
    assert unit.valve is not None
    assert unit.valve.entity == "dorm-1.101.valve.valve"
    assert policy.units[policy.unit_index["dorm-1.102.cold"]].valve is None
    assert "dorm-1.103.cold" in night_leak(only_without_flow=False).unit_index


def test_three_night_hours_above_the_threshold_latch_a_leak_and_close_the_valve(
    night_leak: Any,
) -> None:
    decision = _run(night_leak(hours=3, min_l_per_hour=10), _night([12, 15, 11]))
    (close,) = decision.wants
    assert (close.entity_id, close.value, close.restore) == (
        "dorm-1.101.valve.valve",
        "closed",
        "open",
    )
    (alarm,) = decision.alarms
    assert (alarm.kind, alarm.severity, alarm.entity_id) == ("leak", "critical", VOLUME)
    assert alarm.evidence["litres_per_hour"] == [12.0, 15.0, 11.0]
    assert "3 consecutive night hours" in alarm.message_en
    assert decision.memory.latched


@pytest.mark.parametrize(
    ("litres", "start_hour"),
    [
        ([12, 15], 0),  # two hours only
        ([12, 4, 15, 11], 0),  # the run is broken by a quiet hour
        ([12, 15, 11], 8),  # daytime: people use water
        ([12, 15, 11], 3),  # 03–04 and 04–05 are night, 05–06 is not
    ],
)
def test_no_leak_without_n_consecutive_night_hours(
    night_leak: Any, litres: list[float], start_hour: int
) -> None:
    decision = _run(night_leak(hours=3, min_l_per_hour=10), _night(litres, start_hour))
    assert decision.wants == ()
    assert decision.alarms == ()


def test_the_latch_holds_until_staff_release_it(night_leak: Any) -> None:
    policy = night_leak(hours=2)
    latched = _run(policy, _night([20, 20])).memory
    unit = policy.units[policy.unit_index[PULSE]]
    later = at(2026, 3, 3, 10, 0)
    still = policy.decide(
        policy.tick(later), unit, {VOLUME: State(124.0, later.timestamp())}, latched
    )
    assert still.alarms
    assert still.wants
    released = policy.release(unit, latched, "leak")
    assert isinstance(released, NightLeakMemory)
    assert not released.latched
    assert released.run == ()


def test_a_reading_gap_spreads_over_the_hours_and_a_reset_starts_again(night_leak: Any) -> None:
    policy = night_leak(hours=3, min_l_per_hour=10)
    gap = [(at(2026, 3, 3, 0, 5), 10.0), (at(2026, 3, 3, 3, 5), 10.045)]  # 45 L over 3 h
    assert _run(policy, gap).alarms
    reset = [*_night([12, 15])[:-1], (at(2026, 3, 3, 2, 5), 0.0), (at(2026, 3, 3, 3, 5), 0.02)]
    assert _run(policy, reset).alarms == ()


def test_the_night_is_in_whole_hours() -> None:
    data = {"id": "n", "type": "night_leak", "night": {"start": "23:30", "end": "05:00"}}
    with pytest.raises(ValueError, match="on the hour"):
        policy_adapter().validate_python(data)
