"""Emulated MQTT devices: meters, valves and AC units publishing like the real ones.

Behaviour comes from ``emulators.models``; encoding is this package's own (never ``drivers``).
"""

from .codec import BadCommand, DeviceCodec
from .device import EmulatedMqttDevice, EmulatorClock
from .faults import MqttFault, MqttFaults
from .site import EmulatedMqttSite, mqtt_devices, run_site

__all__ = [
    "BadCommand",
    "DeviceCodec",
    "EmulatedMqttDevice",
    "EmulatedMqttSite",
    "EmulatorClock",
    "MqttFault",
    "MqttFaults",
    "mqtt_devices",
    "run_site",
]
