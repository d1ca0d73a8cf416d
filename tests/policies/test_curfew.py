"""Night curfew: pure decisions at window edges, weekends, holidays and make-up days."""

from __future__ import annotations

from typing import Any

from controller.calendar import SiteCalendar
from controller.config import LoadedSite
from controller.policies.model import IDLE
from controller.policies.scope import SiteIndex
from controller.policies.types import build_policy

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


def test_the_example_curfew_does_not_cut_on_new_years_eve_2026(site: LoadedSite) -> None:
    """Issue 12: chinese-calendar stops at 2026, so 1 Jan 2027 came out a working day and the
    curfew ("nights before a working day") cut sockets on 31 December 2026."""
    config = next(p for p in site.policies if p.id == "dorm-curfew")
    policy = build_policy(config, SiteIndex.from_site(site), SiteCalendar.from_site(site))
    unit = policy.units[0]

    def cuts(*when: int) -> bool:
        return policy.decide(policy.tick(at(*when)), unit, {}, None) is not IDLE

    assert cuts(2026, 12, 30, 23, 30)  # Wednesday night before Thursday 31st: a working day
    assert not cuts(2026, 12, 31, 23, 30)  # New Year's Eve: 1 January 2027 is a holiday
    assert not cuts(2027, 1, 1, 1, 0)
    assert not cuts(2027, 2, 7, 23, 30)  # Spring Festival 2027 (provisional)
    assert not cuts(2027, 9, 30, 23, 30)  # National Day 2027 (provisional)
    assert cuts(2027, 3, 1, 23, 30)  # an ordinary Monday night
