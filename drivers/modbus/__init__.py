"""Modbus driver: one link per bus, block-read planning, table-driven decoding, polling with
dead-device isolation, writes confirmed by read-back. pymodbus 3 encodes and decodes every
frame; its serial client carries RTU on local ports (see ``channel.py``).

Use: build ``LinkSpec``/``DeviceSpec`` values, then per bus
``BusPoller(ModbusLink(link_spec), device_specs, clock, listener)`` and run ``poller.run()``.
"""

from .counters import BusCounters
from .decode import (
    Reading,
    Value,
    compile_block,
    compile_decoder,
    encode_value,
    words_to_bytes,
)
from .errors import (
    LinkClosed,
    MalformedReply,
    ModbusConnectionError,
    ModbusError,
    ModbusExceptionReply,
    ModbusTimeout,
    WriteNotConfirmed,
    WriteRefused,
)
from .link import LinkState, ModbusLink, Priority
from .plan import PlanCache, ReadBlock, plan_reads
from .poller import BusPoller, Clock, DeviceStatus, PollListener
from .spec import DeviceSpec, LinkSpec, PointSpec, Transport

__all__ = [
    "BusCounters",
    "BusPoller",
    "Clock",
    "DeviceSpec",
    "DeviceStatus",
    "LinkClosed",
    "LinkSpec",
    "LinkState",
    "MalformedReply",
    "ModbusConnectionError",
    "ModbusError",
    "ModbusExceptionReply",
    "ModbusLink",
    "ModbusTimeout",
    "PlanCache",
    "PointSpec",
    "PollListener",
    "Priority",
    "ReadBlock",
    "Reading",
    "Transport",
    "Value",
    "WriteNotConfirmed",
    "WriteRefused",
    "compile_block",
    "compile_decoder",
    "encode_value",
    "plan_reads",
    "words_to_bytes",
]
