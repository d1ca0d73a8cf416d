"""Canteen after-hours: non-essential loads (display fridges, signage, fans) off outside service.

With an empty scope it selects devices tagged ``nonessential`` in canteen buildings, so a
missing scope can never switch off a kitchen's cold store.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable

from controller.config.site import BuildingKind
from controller.core.events import Value
from controller.core.values import is_on

from .base import Policy, SwitchUnit, Tick, switch_off_units
from .config import CanteenHoursPolicy, Scope
from .model import IDLE, Decision, StateReader
from .schedule import edge_times, in_any_window
from .scope import DeviceInfo, SiteIndex

__all__ = ["CanteenHours"]


class CanteenHours(Policy[CanteenHoursPolicy, SwitchUnit]):
    type_name = "canteen_hours"
    default_priority = 50

    def default_scope(self) -> Scope:
        return Scope(building_kinds=[BuildingKind.CANTEEN], tags=["nonessential"])

    def bind(self, devices: list[DeviceInfo], index: SiteIndex) -> list[SwitchUnit]:
        self.labels = ", ".join(w.label() for w in self.config.service)
        return switch_off_units(
            self,
            devices,
            f"outside canteen service hours {self.labels}",
            restore=self.config.restore,
        )

    def phase(self, now: dt.datetime) -> Hashable:
        """True while the canteen is in service."""
        return in_any_window(self.config.service, now, self.calendar)

    def edges(self) -> set[int]:
        return edge_times(self.config.service)

    def decide(self, tick: Tick, unit: SwitchUnit, states: StateReader, memory: object) -> Decision:
        return IDLE if tick.phase else unit.held

    def vet(
        self, tick: Tick, unit: SwitchUnit, states: StateReader, entity_id: str, value: Value
    ) -> str | None:
        if not tick.phase and entity_id == unit.actuator.command_entity and is_on(value):
            return f"outside canteen service hours ({self.labels})"
        return None
