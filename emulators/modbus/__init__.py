"""Emulated Modbus gateways and devices, serving behaviour models on loopback.

Encoding (``encode``) and framing (``frames``) are this package's own, written from the
profiles and the Modbus specification, never shared with ``drivers.modbus``.
"""

from .device import EmulatedDevice, ExceptionCode
from .faults import DeviceFaults, GatewayFaults
from .gateway import EmulatedGateway, Framing, transaction_time
from .site import Endpoint, SiteEmulator

__all__ = [
    "DeviceFaults",
    "EmulatedDevice",
    "EmulatedGateway",
    "Endpoint",
    "ExceptionCode",
    "Framing",
    "GatewayFaults",
    "SiteEmulator",
    "transaction_time",
]
