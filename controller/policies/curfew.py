"""Night curfew on dorm socket circuits: relays off inside the windows, back on after.

Only socket circuits are selected by default (lighting and AC circuits are separate devices
on other circuits), and only dorm buildings when the scope is empty. The usual campus rule,
"23:00–05:50 on nights before a working day", is one window with ``days_of: end``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable

from controller.config.policies import CurfewPolicy, Scope
from controller.config.site import BuildingKind

from .base import SwitchOffPolicy, SwitchUnit, switch_off_units
from .schedule import edge_times, in_any_window
from .scope import DeviceInfo, SiteIndex

__all__ = ["Curfew"]


class Curfew(SwitchOffPolicy[CurfewPolicy]):
    type_name = "curfew"
    default_priority = 50
    default_circuits = ("sockets",)

    def default_scope(self) -> Scope:
        return Scope(building_kinds=[BuildingKind.DORM])

    def bind(self, devices: list[DeviceInfo], index: SiteIndex) -> list[SwitchUnit]:
        self.labels = ", ".join(w.label() for w in self.config.windows)
        return switch_off_units(self, devices, f"curfew {self.labels}", restore=self.config.restore)

    def phase(self, now: dt.datetime) -> Hashable:
        return in_any_window(self.config.windows, now, self.calendar)

    def edges(self) -> set[int]:
        return edge_times(self.config.windows)

    def refusal(self) -> str:
        return f"night curfew ({self.labels}): sockets stay off"
