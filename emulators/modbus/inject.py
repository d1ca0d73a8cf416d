"""Fault injection from text (``sanjie emulate --fault dorm-1.101.elec:no_reply``).

``TARGET:KIND[=ARG]``; the target is a device id or a link (gateway) id.
"""

from __future__ import annotations

from collections.abc import Callable

from .device import EmulatedDevice
from .faults import Malformed
from .gateway import EmulatedGateway
from .site import SiteEmulator

__all__ = ["DEVICE_FAULTS", "GATEWAY_FAULTS", "inject"]


def _malformed(device: EmulatedDevice, arg: str) -> None:
    how: dict[str, Malformed] = {"": "short", "short": "short", "crc": "crc", "garbage": "garbage"}
    if arg not in how:
        raise ValueError("malformed=short|crc|garbage")
    device.faults.malformed = how[arg]


def _clear(device: EmulatedDevice, _: str) -> None:
    device.faults.clear()
    device.bound.freeze(False)
    device.rollover_offsets.clear()


def _no_reply(device: EmulatedDevice, _: str) -> None:
    device.faults.no_reply = True


def _exception(device: EmulatedDevice, arg: str) -> None:
    device.faults.exception = int(arg or "4")


def _latency(device: EmulatedDevice, arg: str) -> None:
    device.faults.extra_latency = float(arg or "0.1")


DEVICE_FAULTS: dict[str, Callable[[EmulatedDevice, str], object]] = {
    "no_reply": _no_reply,
    "exception": _exception,
    "malformed": _malformed,
    "latency": _latency,
    "stuck": lambda d, _: d.bound.freeze(),
    "reset": lambda d, _: d.bound.replace_meter(),
    "rollover": lambda d, _: d.rollover(),
    "spike": lambda d, arg: d.bound.spike(float(arg or "100")),
    "clear": _clear,
}
"""Device faults: no reply, an exception code (default 4), malformed replies, extra latency,
stuck values, counter reset (meter replaced), counter rollover, a spike (×FACTOR once)."""


def _refuse(gateway: EmulatedGateway, _: str) -> None:
    gateway.faults.refuse = True
    gateway.drop_connections()


def _drop(gateway: EmulatedGateway, arg: str) -> None:
    gateway.faults.drop_every = int(arg or "1")


GATEWAY_FAULTS: dict[str, Callable[[EmulatedGateway, str], object]] = {
    "refuse": _refuse,
    "drop": _drop,
    "clear": lambda g, _: g.faults.clear(),
}
"""Gateway faults: refuse connections (gateway down), drop the connection every N requests."""


def inject(emulator: SiteEmulator, text: str) -> str:
    """Apply a fault written ``TARGET:KIND[=ARG]``; returns what was done. ValueError if the
    target or kind is unknown."""
    target, _, rest = text.partition(":")
    kind, _, arg = rest.partition("=")
    gateway = emulator.gateways.get(target)
    if gateway is not None:
        gateway_action = GATEWAY_FAULTS.get(kind)
        if gateway_action is None:
            raise ValueError(f"gateway faults are {', '.join(GATEWAY_FAULTS)}; not {kind!r}")
        gateway_action(gateway, arg)
        return f"gateway {target}: {rest}"
    device = emulator.devices.get(target)
    if device is None:
        raise ValueError(f"no emulated device or gateway {target!r}")
    device_action = DEVICE_FAULTS.get(kind)
    if device_action is None:
        raise ValueError(f"device faults are {', '.join(DEVICE_FAULTS)}; not {kind!r}")
    device_action(device, arg)
    device.rebuild()
    return f"device {target}: {rest}"
