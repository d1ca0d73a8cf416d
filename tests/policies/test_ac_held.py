"""AC limits that hold (issue 12, item 3): auto units, seasonal mode locks, limits per building
kind with exempt scopes, and the gateway's remote lock."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from controller.calendar import SiteCalendar
from controller.config import load_profile
from controller.config.policies import policy_adapter
from controller.core.events import State, Value
from controller.policies.ac_limits import AcLimits, AcMemory
from controller.policies.base import Policy
from controller.policies.model import IDLE, Want
from controller.policies.scope import DeviceInfo, SiteIndex
from controller.policies.types import build_policy

from .conftest import at

PROFILES = Path(__file__).parents[2] / "profiles"
JULY = at(2026, 7, 1, 14, 0)
JANUARY = at(2026, 1, 12, 14, 0)
SUMMER = {"name": "summer", "months": [6, 7, 8, 9], "modes": ["cool", "dry", "fan", "auto"]}
WINTER = {"name": "winter", "months": [11, 12, 1, 2, 3], "modes": ["heat", "fan", "auto"]}


def _ac(device_id: str, kind: str, profile: str, tags: frozenset[str] = frozenset()) -> DeviceInfo:
    building, room, _ = device_id.split(".")
    return DeviceInfo(
        id=device_id,
        building=building,
        building_kind=kind,
        floor=1,
        room=room,
        area=None,
        circuit="ac",
        tags=tags,
        profile_id=profile,
        profile=load_profile(PROFILES / f"{profile}.yaml"),
        capacity=4,
    )


@pytest.fixture(scope="module")
def campus() -> SiteIndex:
    """A Panasonic gateway (reports the effective mode) and a plain Intesis one (does not) in a
    dorm, one in a teaching building, and one in the clinic (tagged)."""
    return SiteIndex(
        [
            _ac("dorm-1.101.ac", "dorm", "intesis/ac-gateway-panasonic"),
            _ac("dorm-1.102.ac", "dorm", "intesis/ac-gateway"),
            _ac("teach-1.201.ac", "teaching", "intesis/ac-gateway"),
            _ac("clinic.1.ac", "other", "intesis/ac-gateway", frozenset({"clinic"})),
        ]
    )


@pytest.fixture
def limits(campus: SiteIndex, calendar: SiteCalendar) -> Any:
    def make(**config: Any) -> AcLimits:
        data = {"id": "limits", "type": "ac_limits", **config}
        policy: Policy[Any, Any] = build_policy(
            policy_adapter().validate_python(data), campus, calendar
        )
        assert isinstance(policy, AcLimits)
        return policy

    return make


def _states(device: str, **values: Value) -> dict[str, State]:
    base: dict[str, Value] = {"power_switch": "on", "remote_lock": "unlocked"}
    return {f"{device}.{k}": State(v, JULY.timestamp()) for k, v in {**base, **values}.items()}


def _decide(policy: AcLimits, device: str, states: Mapping[str, State], now: Any = JULY) -> Any:
    unit = policy.units[policy.unit_index[device]]
    return policy.decide(policy.tick(now), unit, states, None)


def _values(wants: tuple[Want, ...]) -> dict[str, Value]:
    return {w.entity_id.rsplit(".", 1)[1]: w.value for w in wants}


@pytest.mark.parametrize(
    ("effective", "setpoint", "expected"),
    [
        ("cool", 22.0, {"setpoint": 26.0, "mode": "cool"}),
        ("dry", 18.0, {"setpoint": 26.0, "mode": "cool"}),
        ("heat", 26.0, {"setpoint": 20.0, "mode": "heat"}),
        ("cool", 26.0, {}),
        ("heat", 19.0, {}),
        ("fan", 17.0, {}),
    ],
)
def test_an_auto_unit_is_held_to_the_limit_of_what_the_gateway_says_it_does(
    limits: Any, effective: str, setpoint: float, expected: dict[str, Value]
) -> None:
    """The Panasonic gateway reports an auto unit's running mode (register 37)."""
    states = _states("dorm-1.101.ac", mode="auto", auto_mode=effective, setpoint=setpoint)
    decision = _decide(limits(), "dorm-1.101.ac", states)
    assert _values(decision.wants) == expected


@pytest.mark.parametrize(
    ("room", "setpoint", "expected"),
    [
        (30.0, 22.0, {"setpoint": 26.0, "mode": "cool"}),  # cooling below 26
        (12.0, 24.0, {"setpoint": 20.0, "mode": "heat"}),  # heating above 20
        (28.0, 26.0, {}),  # cooling at the limit
        (15.0, 19.0, {}),  # heating below the limit
    ],
)
def test_without_an_effective_mode_the_room_tells_what_an_auto_unit_does(
    limits: Any, room: float, setpoint: float, expected: dict[str, Value]
) -> None:
    states = _states("dorm-1.102.ac", mode="auto", room_temperature=room, setpoint=setpoint)
    decision = _decide(limits(), "dorm-1.102.ac", states)
    assert _values(decision.wants) == expected
    if expected:
        assert "auto (" in decision.wants[0].reason


def test_the_season_tells_what_an_auto_unit_does_before_the_room(limits: Any) -> None:
    """In a cooling-only summer an auto unit cools, whatever a stale room reading suggests."""
    policy = limits(seasons=[SUMMER])
    states = _states("dorm-1.102.ac", mode="auto", room_temperature=18.0, setpoint=23.0)
    assert _values(_decide(policy, "dorm-1.102.ac", states).wants) == {
        "setpoint": 26.0,
        "mode": "cool",
    }
    # the correction leaves the unit in an explicit mode: nothing to undo it next cycle
    after = _states("dorm-1.102.ac", mode="cool", room_temperature=18.0, setpoint=26.0)
    assert _decide(policy, "dorm-1.102.ac", after) is IDLE


def test_a_seasonal_mode_lock_sets_the_mode_or_switches_the_unit_off(limits: Any) -> None:
    heating_in_july = _states("dorm-1.102.ac", mode="heat", setpoint=20.0)
    switched = _decide(limits(seasons=[SUMMER]), "dorm-1.102.ac", heating_in_july)
    (off,) = switched.wants
    assert (off.entity_id, off.value) == ("dorm-1.102.ac.power_switch", "off")
    assert "heat is not allowed in summer" in off.reason
    told = _decide(
        limits(seasons=[{**SUMMER, "set_mode": "cool"}]), "dorm-1.102.ac", heating_in_july
    )
    assert _values(told.wants) == {"mode": "cool"}
    # an auto unit counts as what it is doing
    auto_heating = _states("dorm-1.101.ac", mode="auto", auto_mode="heat", setpoint=20.0)
    assert _values(_decide(limits(seasons=[SUMMER]), "dorm-1.101.ac", auto_heating).wants) == {
        "power_switch": "off"
    }
    # months in no season are free; so is a season's month in another building kind
    assert (
        _decide(limits(seasons=[SUMMER]), "dorm-1.102.ac", heating_in_july, at(2026, 5, 5, 9))
        is IDLE
    )
    teaching_only = {**SUMMER, "building_kinds": ["teaching"]}
    assert _decide(limits(seasons=[teaching_only]), "dorm-1.102.ac", heating_in_july) is IDLE
    assert _decide(
        limits(seasons=[teaching_only]),
        "teach-1.201.ac",
        _states("teach-1.201.ac", mode="heat", setpoint=20.0),
    ).wants


def test_winter_holds_heating_and_refuses_cooling_commands(limits: Any) -> None:
    policy = limits(seasons=[SUMMER, WINTER])
    unit = policy.units[policy.unit_index["dorm-1.102.ac"]]
    tick = policy.tick(JANUARY)
    states = _states("dorm-1.102.ac", mode="heat", setpoint=20.0)
    assert policy.decide(tick, unit, states, None) is IDLE
    assert "not allowed now" in (policy.vet(tick, unit, states, "dorm-1.102.ac.mode", "cool") or "")
    assert policy.vet(tick, unit, states, "dorm-1.102.ac.mode", "fan") is None
    auto = _states("dorm-1.102.ac", mode="auto", setpoint=20.0, room_temperature=25.0)
    # winter: an auto unit heats, so a setpoint above 20 °C is refused
    assert policy.vet(tick, unit, auto, "dorm-1.102.ac.setpoint", 24) is not None
    assert policy.vet(tick, unit, auto, "dorm-1.102.ac.setpoint", 19) is None


def test_limits_per_building_kind_and_exempt_scopes(limits: Any) -> None:
    policy = limits(
        by_kind={"teaching": {"cool_min_c": 27}},
        exempt=[{"tags": ["clinic"]}, {"rooms": ["dorm-1/101"]}],
    )
    assert sorted(policy.unit_index) == ["dorm-1.102.ac", "teach-1.201.ac"]
    cool_24 = {"mode": "cool", "setpoint": 24.0}
    assert _values(
        _decide(policy, "teach-1.201.ac", _states("teach-1.201.ac", **cool_24)).wants
    ) == {"setpoint": 27.0}
    assert _values(_decide(policy, "dorm-1.102.ac", _states("dorm-1.102.ac", **cool_24)).wants) == {
        "setpoint": 26.0
    }


def test_the_remote_is_locked_while_out_of_limits_and_for_a_while_after(limits: Any) -> None:
    policy = limits(lock_remote_s=3600)
    unit = policy.units[policy.unit_index["dorm-1.102.ac"]]
    tick = policy.tick(JULY)
    out = policy.decide(tick, unit, _states("dorm-1.102.ac", mode="cool", setpoint=18.0), None)
    assert _values(out.wants) == {"setpoint": 26.0, "remote_lock": "locked"}
    lock = out.wants[-1]
    assert (lock.restore, lock.restore_command) == ("unlocked", "unlocked")
    assert out.memory == AcMemory(tick.ts + 3600)
    assert out.wake_at == tick.ts + 3600
    # corrected, half an hour on: still locked; switched off: still locked
    later = policy.tick(at(2026, 7, 1, 14, 30))
    held = policy.decide(
        later, unit, _states("dorm-1.102.ac", mode="cool", setpoint=26.0), out.memory
    )
    assert _values(held.wants) == {"remote_lock": "locked"}
    assert "remote locked until 15:00" in held.wants[0].reason
    off = _states("dorm-1.102.ac", mode="cool", setpoint=26.0, power_switch="off")
    assert _values(policy.decide(later, unit, off, out.memory).wants) == {"remote_lock": "locked"}
    # an hour after the last correction the lock is released (and so restored)
    done = policy.decide(policy.tick(at(2026, 7, 1, 15, 0)), unit, off, out.memory)
    assert done.wants == ()


def test_no_remote_lock_where_the_policy_does_not_ask_for_it(limits: Any) -> None:
    out = _decide(limits(), "dorm-1.102.ac", _states("dorm-1.102.ac", mode="cool", setpoint=18.0))
    assert _values(out.wants) == {"setpoint": 26.0}


def test_ac_windows_lock_the_remote_outside_the_windows(
    campus: SiteIndex, calendar: SiteCalendar
) -> None:
    data = {
        "id": "ac-hours",
        "type": "ac_windows",
        "allowed": [{"start": "18:00", "end": "08:00"}],
        "lock_remote": True,
    }
    policy = build_policy(policy_adapter().validate_python(data), campus, calendar)
    unit = policy.units[policy.unit_index["dorm-1.102.ac"]]
    wants = policy.decide(policy.tick(JULY), unit, {}, None).wants
    assert _values(wants) == {"power_switch": "off", "remote_lock": "locked"}
    assert wants[1].restore == "unlocked"
    assert policy.decide(policy.tick(at(2026, 7, 1, 19, 0)), unit, {}, None) is IDLE


@pytest.mark.parametrize(
    ("seasons", "message"),
    [
        ([{**SUMMER, "set_mode": "heat"}], "set_mode 'heat' is not one of modes"),
        ([SUMMER, {**WINTER, "months": [9, 10]}], "both hold month 9 in dorm buildings"),
        ([{**SUMMER, "months": [13]}], "less than or equal to 12"),
    ],
)
def test_season_mistakes_are_refused(seasons: list[dict[str, Any]], message: str) -> None:
    data = {"id": "limits", "type": "ac_limits", "seasons": seasons}
    with pytest.raises(ValueError, match=message):
        policy_adapter().validate_python(data)
