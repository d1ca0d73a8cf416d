"""The planner's count of held points per building and winning policy (``HoldTally``) is
exactly what a recount of every hold gives, after any sequence of wants (the web overview
reads it instead of walking tens of thousands of holds)."""

from __future__ import annotations

import random
from collections import Counter

from controller.policies.alarms import AlarmBook
from controller.policies.model import Want
from controller.policies.planner import Planner, winner
from controller.policies.settings import EngineSettings
from controller.policies.tally import HoldTally

POINTS = [f"dorm-{b}.{r}.elec.relay" for b in (1, 2) for r in (101, 102, 103)] + ["x.y.relay"]
POLICIES = [("curfew", 50), ("quota", 60), ("overload", 90)]


def _building(entity_id: str) -> str | None:
    """Points outside a building (``x.y``) are held but counted in no group."""
    return entity_id.split(".", maxsplit=1)[0] if entity_id.startswith("dorm-") else None


def _recount(planner: Planner) -> dict[str, Counter[str]]:
    """What the overview computed per request before: every hold, its winner, its building."""
    out: dict[str, Counter[str]] = {}
    for entity, holders in planner.holders.items():
        group = _building(entity)
        if holders and group is not None:
            out.setdefault(group, Counter())[winner(holders).policy_id] += 1
    return out


def _want(entity: str, policy: str, priority: int, value: bool) -> Want:
    return Want(entity, value, entity, value, policy, priority, "test")


def test_the_tally_matches_a_recount_after_any_wants() -> None:
    rng = random.Random(18)
    planner = Planner(EngineSettings(), AlarmBook(), 0.0, HoldTally(_building))
    units = [(pi, ui) for pi in range(len(POLICIES)) for ui in range(4)]
    wants: dict[tuple[int, int], tuple[Want, ...]] = dict.fromkeys(units, ())
    for _ in range(3000):
        ref = rng.choice(units)
        policy, priority = POLICIES[ref[0]]
        chosen = rng.sample(POINTS, rng.randint(0, 3))
        new = tuple(_want(e, policy, priority, rng.random() < 0.5) for e in chosen)
        planner.update_wants(ref, wants[ref], new)
        wants[ref] = new
        assert planner.tally.counts == _recount(planner)
        assert len(planner.tally) == len(planner.holders)
    for ref in units:  # every unit lets go: nothing is counted any more
        planner.update_wants(ref, wants[ref], ())
    assert planner.tally.counts == {}
    assert len(planner.tally) == 0


def test_a_higher_priority_want_moves_the_point_to_its_policy() -> None:
    planner = Planner(EngineSettings(), AlarmBook(), 0.0, HoldTally(_building))
    relay = "dorm-1.101.elec.relay"
    curfew = (_want(relay, "curfew", 50, False),)
    overload = (_want(relay, "overload", 90, False),)
    planner.update_wants((0, 0), (), curfew)
    assert planner.tally.counts == {"dorm-1": Counter(curfew=1)}
    planner.update_wants((2, 0), (), overload)
    assert planner.tally.counts == {"dorm-1": Counter(overload=1)}
    planner.update_wants((2, 0), overload, ())
    assert planner.tally.counts == {"dorm-1": Counter(curfew=1)}
