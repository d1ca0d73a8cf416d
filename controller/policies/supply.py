"""Supply windows for hot-water and shower valves: water only in supply hours.

Outside the windows a controller's supply enable is switched off and open valves are closed;
"open"/"on" commands are refused. When supply starts, enables come back on, and valves that are
themselves the supply switch (a room's hot-water meter valve) are reopened.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable
from dataclasses import dataclass

from controller.config.policies import SupplyWindowsPolicy
from controller.config.profile import PointKind
from controller.core.events import Value
from controller.core.values import is_on

from .base import Actuator, Policy, Tick, find_switch, find_valve
from .model import IDLE, Decision, StateReader, Unit, Want
from .schedule import edge_times, in_any_window
from .scope import DeviceInfo, SiteIndex

__all__ = ["SupplyUnit", "SupplyWindows"]


@dataclass(frozen=True, slots=True)
class SupplyUnit(Unit):
    enable: Actuator | None
    valve: Actuator | None
    held: Decision


class SupplyWindows(Policy[SupplyWindowsPolicy, SupplyUnit]):
    type_name = "supply_windows"
    default_priority = 60
    default_circuits = ("hot_water", "shower")

    def bind(self, devices: list[DeviceInfo], index: SiteIndex) -> list[SupplyUnit]:
        self.labels = ", ".join(w.label() for w in self.config.supply)
        reason = f"outside supply hours {self.labels}"
        units = []
        for device in devices:
            enable = find_switch(device, (PointKind.POWER_SWITCH,))
            valve = find_valve(device)
            if enable is None and valve is None:
                continue
            wants: list[Want] = []
            if enable is not None:
                wants.append(
                    enable.want(
                        False,
                        policy_id=self.id,
                        priority=self.priority,
                        reason=reason,
                        restore=True,
                    )
                )
            if valve is not None and self.config.close_open_valves:
                wants.append(
                    valve.want(
                        False,
                        policy_id=self.id,
                        priority=self.priority,
                        reason=reason,
                        restore=enable is None,
                    )
                )
            units.append(
                SupplyUnit(device.id, (device.id,), (), enable, valve, Decision(tuple(wants)))
            )
        return units

    def phase(self, now: dt.datetime) -> Hashable:
        """True while water is supplied."""
        return in_any_window(self.config.supply, now, self.calendar)

    def edges(self) -> set[int]:
        return edge_times(self.config.supply)

    def decide(self, tick: Tick, unit: SupplyUnit, states: StateReader, memory: object) -> Decision:
        return IDLE if tick.phase else unit.held

    def vet(
        self, tick: Tick, unit: SupplyUnit, states: StateReader, entity_id: str, value: Value
    ) -> str | None:
        if tick.phase or not is_on(value):
            return None
        targets = {a.command_entity for a in (unit.enable, unit.valve) if a is not None}
        if entity_id in targets:
            return f"outside supply hours ({self.labels})"
        return None
