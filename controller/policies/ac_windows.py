"""AC windows: on restricted days, AC units may run only inside the allowed windows.

Outside them units are switched off (and "on" commands refused); they are not switched back
on when a window opens: that is the occupants' choice. With ``lock_remote`` the gateway's remote
is locked outside the windows too (where it has one), so occupants cannot switch the unit back
on a minute later; it is unlocked when a window opens.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Hashable

from controller.config.policies import AcWindowsPolicy, Scope
from controller.config.profile import PointKind
from controller.config.site import BuildingKind

from .base import Actuator, SwitchOffPolicy, SwitchUnit, switch_off_units
from .model import Decision
from .remote import find_remote_lock
from .schedule import day_matches, edge_times, in_any_window
from .scope import DeviceInfo, SiteIndex

__all__ = ["AcWindows"]


class AcWindows(SwitchOffPolicy[AcWindowsPolicy]):
    type_name = "ac_windows"
    default_priority = 40

    def default_scope(self) -> Scope:
        return Scope(building_kinds=[BuildingKind.DORM])

    def bind(self, devices: list[DeviceInfo], index: SiteIndex) -> list[SwitchUnit]:
        self.labels = ", ".join(w.label() for w in self.config.allowed)
        # a power switch, but only an AC unit's
        ac_units = [d for d in devices if d.points_of(PointKind.AC_MODE, PointKind.SETPOINT)]
        reason = f"AC allowed only {self.labels}"
        units = switch_off_units(
            self, ac_units, reason, restore=False, kinds=(PointKind.POWER_SWITCH,)
        )
        if not self.config.lock_remote:
            return units
        remotes = {d.id: find_remote_lock(d) for d in ac_units}
        return [self._locked(unit, remotes.get(unit.key), reason) for unit in units]

    def _locked(self, unit: SwitchUnit, remote: Actuator | None, reason: str) -> SwitchUnit:
        """``unit`` whose held decision also locks its remote (unlocked again on release)."""
        if remote is None:
            return unit
        lock = remote.want(
            True, policy_id=self.id, priority=self.priority, reason=reason, restore=True
        )
        held = Decision((*unit.held.wants, lock))
        return dataclasses.replace(unit, held=held)

    def phase(self, now: dt.datetime) -> Hashable:
        """True while AC is restricted (a restricted day, outside every allowed window)."""
        days = self.config.days
        if not days.is_any and not day_matches(days, now.date(), self.calendar):
            return False
        return not in_any_window(self.config.allowed, now, self.calendar)

    def edges(self) -> set[int]:
        return edge_times(self.config.allowed)

    def refusal(self) -> str:
        return f"AC is allowed only {self.labels}"
