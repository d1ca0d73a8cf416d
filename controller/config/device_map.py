"""A profile as one device reads it: its site settings (function code, CT/PT ratios) applied.

Some meters need more than their profile: CHINT firmware that answers only function code 4,
meters behind current or voltage transformers that report secondary-side values. The site file
says so per device (``function_code``, ``ct_ratio``, ``pt_ratio``); this module turns profile
and settings into the register map the device really has, so the driver, the emulator and the
entity registry all read the same one. A CT meter then never reports secondary values.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wire.modbus import Table

from .profile import ModbusAddress, Point, Profile

if TYPE_CHECKING:
    from .site import Device

__all__ = ["device_profile"]

_CACHE: dict[tuple[int, int | None, float | None, float | None], tuple[Profile, Profile]] = {}
"""(id of the profile, settings) → (the profile, kept alive so its id stays its own; result)."""


def device_profile(profile: Profile, device: Device) -> Profile:
    """``profile`` with ``device``'s function code and ratios applied (cached per settings)."""
    key = (id(profile), device.function_code, device.ct_ratio, device.pt_ratio)
    hit = _CACHE.get(key)
    if hit is not None and hit[0] is profile:
        return hit[1]
    points = [
        _rewired(p, device.function_code, device.ct_ratio or 1.0, device.pt_ratio or 1.0)
        for p in profile.points
    ]
    result = profile.model_copy(update={"points": points})
    _CACHE[key] = (profile, result)
    return result


def _rewired(point: Point, function_code: int | None, ct: float, pt: float) -> Point:
    addr = point.modbus
    if addr is None:
        return point
    update: dict[str, object] = {}
    modbus: dict[str, object] = {}
    if function_code is not None and not point.writable and addr.table in _REGISTERS:
        modbus["table"] = Table.HOLDING if function_code == 3 else Table.INPUT
    factor = {"ct": ct, "pt": pt, "ct_pt": ct * pt, None: 1.0}[point.ratio]
    if factor != 1.0:
        modbus["scale"] = addr.scale * factor
        if point.valid_range is not None:
            low, high = point.valid_range
            update["valid_range"] = (low * factor, high * factor)
        if point.max_per_hour is not None:
            update["max_per_hour"] = point.max_per_hour * factor
    if modbus:
        update["modbus"] = ModbusAddress.model_validate({**addr.model_dump(), **modbus})
    return point.model_copy(update=update) if update else point


_REGISTERS = (Table.HOLDING, Table.INPUT)
