"""Night curfew: pure decisions at window edges, weekends, holidays and make-up days."""

from __future__ import annotations

from typing import Any

from controller.policies.model import IDLE

from .conftest import at

CURFEW = {
    "id": "night",
    "type": "curfew",
    "windows": [
        {"start": "23:00", "end": "05:50", "days": {"include": ["workday"]}, "days_of": "end"}
    ],
}


def test_binds_only_dorm_socket_relays(make_policy: Any) -> None:
    policy = make_policy(CURFEW)
    assert [u.key for u in policy.units] == [
        "dorm-1.101.elec",
        "dorm-1.102.elec",
        "dorm-1.201.elec",
        "dorm-1.202.elec",
    ]


def test_relay_off_inside_and_restored_after(make_policy: Any) -> None:
    policy = make_policy(CURFEW)
    unit = policy.units[0]
    decision = policy.decide(policy.tick(at(2026, 3, 2, 23, 0)), unit, {}, None)
    (want,) = decision.wants
    assert (want.entity_id, want.value, want.command, want.restore) == (
        "dorm-1.101.elec.relay",
        False,
        False,
        True,
    )
    assert policy.decide(policy.tick(at(2026, 3, 3, 5, 50)), unit, {}, None) is IDLE
    assert policy.decide(policy.tick(at(2026, 3, 6, 23, 30)), unit, {}, None) is IDLE  # Friday
    assert (
        policy.decide(policy.tick(at(2026, 9, 30, 23, 30)), unit, {}, None) is IDLE
    )  # holiday eve


def test_switching_sockets_on_during_curfew_is_refused(make_policy: Any) -> None:
    policy = make_policy(CURFEW)
    unit = policy.units[0]
    night = policy.tick(at(2026, 3, 2, 23, 30))
    assert "curfew" in (policy.vet(night, unit, {}, "dorm-1.101.elec.relay", True) or "")
    assert policy.vet(night, unit, {}, "dorm-1.101.elec.relay", False) is None
    assert (
        policy.vet(policy.tick(at(2026, 3, 3, 12, 0)), unit, {}, "dorm-1.101.elec.relay", True)
        is None
    )


def test_restore_can_be_disabled(make_policy: Any) -> None:
    policy = make_policy({**CURFEW, "restore": False})
    (want,) = policy.decide(policy.tick(at(2026, 3, 2, 23, 0)), policy.units[0], {}, None).wants
    assert want.restore is None
