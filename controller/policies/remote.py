"""The remote-control lock of an AC gateway (Intesis register 8): a two-state point of its own.

Locking the remote stops occupants from undoing a policy's correction after the fact, instead of
the controller fighting them every poll. Only gateways that have a writable ``remote_lock``
point whose labels say ``locked``/``unlocked`` get one.
"""

from __future__ import annotations

from controller.config.profile import PointKind
from controller.core.values import SwitchValues

from .base import Actuator
from .scope import DeviceInfo

__all__ = ["find_remote_lock"]


def find_remote_lock(device: DeviceInfo) -> Actuator | None:
    """The device's remote lock as an actuator whose "on" is *locked*; None without one."""
    for point in device.points_of(PointKind.REMOTE_LOCK, writable=True):
        labels = {str(v).lower(): v for v in (point.values or {}).values()}
        if "locked" in labels and "unlocked" in labels:
            locked, unlocked = labels["locked"], labels["unlocked"]
            entity = device.entity(point)
            return Actuator(entity, entity, SwitchValues(locked, unlocked, locked, unlocked))
    return None
