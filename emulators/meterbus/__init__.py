"""Emulated buses of DL/T 645 and CJ/T 188 meters (TCP gateways and pseudo-terminals)."""

from .gateway import EmulatedMeter, MeterGateway
from .site import MeterSiteEmulator, wire_address

__all__ = ["EmulatedMeter", "MeterGateway", "MeterSiteEmulator", "wire_address"]
