"""The last hours' consumption per building, for the live view and the status.

A building's consumption is the sum of the meters that measure the whole of it: adding a main
meter to the room meters behind it would count the same kWh twice.
"""

from __future__ import annotations

from collections.abc import Iterable

from controller.config.profile import CUMULATIVE_KINDS
from controller.core import Entity, EntityRegistry

from .stats import HourStat

__all__ = ["HourlySummary", "building_meters"]

KEEP_HOURS = 4


def building_meters(registry: EntityRegistry) -> frozenset[str]:
    """The cumulative entities whose sum is a building's consumption, without double counting.

    Per building and kind: where the site declares a meter hierarchy (some meter has a
    ``parent``), the top meters (level 0). Otherwise a guess: the ``main`` circuit meters when
    there are any; else, per circuit, the building-level meters (no room, no area) when there
    are any, else all of them.
    """
    groups: dict[tuple[str, str], list[Entity]] = {}
    for entity in registry:
        if entity.is_cumulative and entity.kind in CUMULATIVE_KINDS:
            groups.setdefault((entity.building, entity.kind.value), []).append(entity)
    chosen: set[str] = set()
    for members in groups.values():
        if any("parent" in e.tags for e in members):
            chosen.update(e.entity_id for e in members if e.tags.get("level") == "0")
            continue
        mains = [e for e in members if e.circuit == "main"]
        if mains:
            chosen.update(e.entity_id for e in mains)
            continue
        per_circuit: dict[str | None, list[Entity]] = {}
        for entity in members:
            per_circuit.setdefault(entity.circuit, []).append(entity)
        for circuit_members in per_circuit.values():
            top = [e for e in circuit_members if e.room is None and "area" not in e.tags]
            chosen.update(e.entity_id for e in top or circuit_members)
    return frozenset(chosen)


class HourlySummary:
    """Consumption per hour, building and kind for the last few hours emitted."""

    def __init__(self, registry: EntityRegistry) -> None:
        self._registry = registry
        self._summed = building_meters(registry)
        self._totals: dict[float, dict[str, dict[str, float]]] = {}

    def add(self, hours: Iterable[HourStat]) -> None:
        for stat in hours:
            if stat.entity_id not in self._summed:
                continue
            entity = self._registry[stat.entity_id]
            per_kind = self._totals.setdefault(stat.hour, {}).setdefault(entity.building, {})
            per_kind[entity.kind.value] = per_kind.get(entity.kind.value, 0.0) + stat.consumption
        for hour in sorted(self._totals)[:-KEEP_HOURS]:
            del self._totals[hour]

    def hour(self, hour: float) -> dict[str, dict[str, float]]:
        """Building → kind → consumption in the hour starting at ``hour`` (as reported so far)."""
        totals = self._totals.get(hour, {})
        return {
            building: {kind: round(value, 6) for kind, value in sorted(kinds.items())}
            for building, kinds in sorted(totals.items())
        }
