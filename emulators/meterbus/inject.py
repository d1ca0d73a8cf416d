"""Fault injection for emulated DL/T 645 and CJ/T 188 meters, from the same text as Modbus
faults (``TARGET:KIND[=ARG]``): every Modbus device and gateway fault, plus ``wrong_address``
(replies come from another address) and ``stale`` (replies answer another request)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..modbus.inject import DEVICE_FAULTS, GATEWAY_FAULTS
from .site import MeterSiteEmulator

__all__ = ["METER_FAULTS", "inject_meter"]


def _flag(name: str) -> Callable[[Any, str], None]:
    def apply(meter: Any, _: str) -> None:
        setattr(meter.faults, name, True)

    return apply


METER_FAULTS: dict[str, Callable[[Any, str], object]] = {
    **DEVICE_FAULTS,
    "wrong_address": _flag("wrong_address"),
    "stale": _flag("stale"),
}
"""The Modbus device faults (they use the same attributes on a meter) and two bus faults."""


def inject_meter(emulator: MeterSiteEmulator, text: str) -> str | None:
    """Apply a fault to a meter or meter bus; None if ``text`` targets neither (ValueError
    for an unknown kind)."""
    target, _, rest = text.partition(":")
    kind, _, arg = rest.partition("=")
    gateway = emulator.gateways.get(target)
    if gateway is not None:
        action = GATEWAY_FAULTS.get(kind)
        if action is None:
            raise ValueError(f"gateway faults are {', '.join(GATEWAY_FAULTS)}; not {kind!r}")
        action(gateway, arg)
        return f"meter bus {target}: {rest}"
    meter = emulator.devices.get(target)
    if meter is None:
        return None
    device_action = METER_FAULTS.get(kind)
    if device_action is None:
        raise ValueError(f"meter faults are {', '.join(METER_FAULTS)}; not {kind!r}")
    device_action(meter, arg)
    meter.rebuild()
    return f"meter {target}: {rest}"
