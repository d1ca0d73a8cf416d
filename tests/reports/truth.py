"""The figures a report must show, computed from the models' midnight readings alone.

Nothing here uses the report code or the recorder's query: counters at local midnights, the
site's occupants and the hierarchy as the test site wires it (dorm-1's main meters count the
building; dorm-2 has no main meter, so its room meters are top meters).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from .seed import BASELINE, CAMPAIGN, ROOMS, TZ, VACATION, Seeded

Days = list[tuple[dt.date, dt.date]]

PERIOD_RUNS: Days = [CAMPAIGN]
BASELINE_RUNS: Days = [
    (BASELINE[0], VACATION[0] - dt.timedelta(days=1)),
    (VACATION[1] + dt.timedelta(days=1), BASELINE[1]),
]
PEOPLE = sum(sum(floor) for floors in ROOMS.values() for floor in floors.values())


def days(runs: Days) -> int:
    return sum((last - first).days + 1 for first, last in runs)


def used(seeded: Seeded, entities: Iterable[str], runs: Days) -> float:
    return sum(seeded.used(e, first, last) for e in entities for first, last in runs)


def dorm2_rooms(suffix: str) -> list[str]:
    return [f"dorm-2.1{i:02d}.{suffix}" for i in range(1, len(ROOMS["dorm-2"][1]) + 1)]


def all_rooms(suffix: str) -> list[str]:
    return [
        f"{b}.{floor}{i:02d}.{suffix}"
        for b, floors in ROOMS.items()
        for floor, people in floors.items()
        for i in range(1, len(people) + 1)
    ]


def campus_totals(seeded: Seeded, runs: Days) -> dict[str, float]:
    return {
        "electricity": used(seeded, ["dorm-1.main.energy", *dorm2_rooms("elec.energy")], runs),
        "cold_water": used(seeded, ["dorm-1.water.volume", *dorm2_rooms("cold.volume")], runs),
        "hot_water": used(seeded, all_rooms("hot.volume"), runs),
    }


MEAL_HOURS = {"breakfast": (0, 10), "lunch": (10, 15), "dinner": (15, 24)}
"""Local hours each meal's consumption falls in (the report's rule, stated independently)."""


def meal_used(seeded: Seeded, entities: Iterable[str], runs: Days, meal: str) -> float:
    """What counters counted in one meal's hours over the days of ``runs``."""
    first_hour, last_hour = MEAL_HOURS[meal]
    total = 0.0
    for first, last in runs:
        for n in range((last - first).days + 1):
            day = first + dt.timedelta(days=n)
            start = dt.datetime.combine(day, dt.time(first_hour), TZ)
            end = (
                dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), TZ)
                if last_hour == 24
                else dt.datetime.combine(day, dt.time(last_hour), TZ)
            )
            for entity in entities:
                edges = seeded.meal_edges[entity]
                total += edges[end] - edges[start]
    return total
