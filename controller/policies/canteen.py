"""Canteen after-hours: non-essential loads (display fridges, signage, fans) off outside service.

With an empty scope it selects devices tagged ``nonessential`` in canteen buildings, so a
missing scope can never switch off a kitchen's cold store.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable

from controller.config.policies import CanteenHoursPolicy, Scope
from controller.config.site import BuildingKind

from .base import SwitchOffPolicy, SwitchUnit, switch_off_units
from .schedule import edge_times, in_any_window
from .scope import DeviceInfo, SiteIndex

__all__ = ["CanteenHours"]


class CanteenHours(SwitchOffPolicy[CanteenHoursPolicy]):
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
        """True while restricted: outside every service window."""
        return not in_any_window(self.config.service, now, self.calendar)

    def edges(self) -> set[int]:
        return edge_times(self.config.service)

    def refusal(self) -> str:
        return f"outside canteen service hours ({self.labels})"
