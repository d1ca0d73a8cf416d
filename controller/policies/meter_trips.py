"""Detection the meter implements itself: write its thresholds, supervise and audit its trips.

Campus prepaid meters often detect overloads and prohibited appliances (恶性负载识别) on their
own and open their relay within a cycle, faster than any poll. The controller's part is then to
keep the meter's thresholds what the site declares (the limit and the controlled power ranges,
written as setting points and re-asserted if someone changes them at the meter), to notice each
trip from the meter's trip flags, to restore the relay after ``reclose_after_s`` at most
``restores_per_day`` times a day, and to raise and audit an alarm per trip, as for its own.

A meter implements this when its profile has trip flags named ``overload_trip`` and/or
``load_trip``; the thresholds it can hold are the writable points ``trip_limit_w`` and
``range<N>_min_w`` / ``range<N>_max_w`` / ``range<N>_min_pf`` (N from 1). An unused range slot
is written 0 W (off).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from controller.config.policies import OverloadPolicy, PowerRange
from controller.core.values import is_on

from .base import Actuator
from .model import StateReader, Want, good_value
from .scope import DeviceInfo

__all__ = ["TRIP_FLAGS", "MeterDetection", "meter_detection"]

_LOGGER = logging.getLogger(__name__)

TRIP_FLAGS = (("overload_trip", "meter_overload"), ("load_trip", "meter_appliance"))
"""(flag point key, trip cause) of meters that detect by themselves."""


@dataclass(frozen=True, slots=True)
class MeterDetection:
    """How one meter detects: its flags, the settings to hold, the write that restores it."""

    flags: tuple[tuple[str, str], ...]
    """(flag entity, cause)."""
    settings: tuple[Want, ...]
    reopen: Want

    def cause(self, states: StateReader) -> str | None:
        """The cause of the first flag that reads set, else None."""
        for entity, cause in self.flags:
            if is_on(good_value(states.get(entity))) is True:
                return cause
        return None


def meter_detection(
    cfg: OverloadPolicy,
    device: DeviceInfo,
    relay: Actuator,
    limit_w: float | None,
    *,
    policy_id: str,
    priority: int,
) -> MeterDetection | None:
    """The meter's detection, or None when its profile has no trip flag."""
    flags = tuple(
        (device.entity(point), cause)
        for key, cause in TRIP_FLAGS
        if (point := device.point(key)) is not None
    )
    if not flags:
        return None
    values: dict[str, float] = {}
    if limit_w is not None:
        values["trip_limit_w"] = limit_w
    ranges = cfg.signature.controlled() if cfg.signature is not None else []
    slot = 0
    while device.point(f"range{slot + 1}_min_w") is not None:
        given: PowerRange | None = ranges[slot] if slot < len(ranges) else None
        prefix = f"range{slot + 1}_"
        values[prefix + "min_w"] = given.min_w if given else 0.0
        top = device.point(prefix + "max_w")
        most = top.range[1] if top is not None and top.range else 65535.0
        values[prefix + "max_w"] = (given.max_w or most) if given else 0.0
        values[prefix + "min_pf"] = given.min_pf if given else 1.0
        slot += 1
    if len(ranges) > slot:
        _LOGGER.warning(
            "Policy %s: meter %s holds %d power ranges; the other %d are not detected there",
            policy_id,
            device.id,
            slot,
            len(ranges) - slot,
        )
    reason = f"meter-implemented detection settings of policy {policy_id}"
    settings = []
    for key, value in values.items():
        point = device.point(key)
        if point is None or not point.writable:
            continue
        entity = device.entity(point)
        settings.append(Want(entity, value, entity, value, policy_id, priority, reason))
    reopen = relay.want(
        True,
        policy_id=policy_id,
        priority=priority,
        reason=f"restore after a meter trip at {device.id}",
        restore=False,
    )
    return MeterDetection(flags, tuple(settings), reopen)
