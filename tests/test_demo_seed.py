"""The demo's seeded month: plausible shapes, hierarchy that adds up, written once and marked."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from controller.config import load_site
from controller.core import EntityRegistry, FakeClock
from controller.demo_seed import LOSSES, seeded_days
from tests.conftest import EXAMPLE_SITE

TZ = FakeClock().tz
END = dt.datetime(2026, 12, 7, 20, tzinfo=TZ).timestamp()  # a Monday evening


def _example_month() -> dict[str, dict[float, float]]:
    registry = EntityRegistry.from_site(load_site(EXAMPLE_SITE))
    per: dict[str, dict[float, float]] = defaultdict(dict)
    for day in seeded_days(registry, END, TZ, days=7):
        for h in day:
            per[h.entity_id][h.hour] = h.consumption
    return per


def test_a_week_of_the_example_campus_has_the_campus_rhythm() -> None:
    per = _example_month()
    room = per["dorm-1.101.elec.energy"]
    assert len(room) == 7 * 24
    assert min(room) == END - 7 * 86400
    assert max(room) == END - 3600
    at = {dt.datetime.fromtimestamp(t, TZ): v for t, v in room.items()}
    # curfew nights before a working day: the sockets are off
    assert all(v == 0 for t, v in at.items() if t.weekday() < 4 and t.hour in (1, 2, 3))
    evening = [v for t, v in at.items() if t.hour == 21]
    afternoon = [v for t, v in at.items() if t.hour == 10 and t.weekday() < 5]
    assert min(evening) > max(afternoon)  # rooms are empty in class hours
    hot = {dt.datetime.fromtimestamp(t, TZ): v for t, v in per["dorm-1.101.hot.volume"].items()}
    assert all(v == 0 for t, v in hot.items() if t.hour in (2, 3, 15))  # outside supply hours
    assert sum(hot.values()) > 0
    # a building's main meter counts its rooms' sockets, AC and lighting, plus losses and
    # its own loads: the unmetered share is small and positive
    children = [
        e
        for e in per
        if e.startswith("dorm-1.")
        and e.endswith(".energy")
        and e.split(".")[-2] in ("elec", "ac", "lighting")
    ]
    for hour, main in per["dorm-1.main.energy"].items():
        below = sum(per[c][hour] for c in children)
        assert below * LOSSES <= main <= below * LOSSES + 3.0 + 1e-6


def test_the_seed_is_deterministic() -> None:
    assert _example_month() == _example_month()
