"""Policy type names → implementations."""

from __future__ import annotations

from typing import Any

from controller.calendar import SiteCalendar
from controller.config.policies import PolicyConfig

from .ac_limits import AcLimits
from .ac_windows import AcWindows
from .base import Policy
from .canteen import CanteenHours
from .curfew import Curfew
from .leak import Leak
from .night_leak import NightLeak
from .overload import Overload
from .quota import Quota
from .scope import SiteIndex
from .supply import SupplyWindows
from .valves import DelayValves

__all__ = ["POLICY_TYPES", "build_policy"]

POLICY_TYPES: dict[str, type[Policy[Any, Any]]] = {
    cls.type_name: cls
    for cls in (
        AcLimits,
        AcWindows,
        SupplyWindows,
        Curfew,
        Quota,
        Leak,
        NightLeak,
        Overload,
        DelayValves,
        CanteenHours,
    )
}


def build_policy(
    config: PolicyConfig, index: SiteIndex, calendar: SiteCalendar
) -> Policy[Any, Any]:
    """Bind a declared policy to the site's devices."""
    return POLICY_TYPES[config.type](config, index, calendar)
