"""Modbus driver errors: one root, one class per failure kind, each carrying its data.

``kind`` is the short name the per-bus error counters use. The failures every bus shares
(silence, no connection, the link closing under a queued request, refused and unconfirmed
writes) are also the protocol-neutral ``drivers.link`` errors of the same name, so a caller
that handles "the bus timed out" catches ``LinkTimeout`` whatever the protocol; only Modbus
exception replies and malformed Modbus replies are Modbus's own.
"""

from __future__ import annotations

from ..errors import DriverError
from ..link import errors as link_errors

__all__ = [
    "LinkClosed",
    "MalformedReply",
    "ModbusConnectionError",
    "ModbusError",
    "ModbusExceptionReply",
    "ModbusTimeout",
    "WriteNotConfirmed",
    "WriteRefused",
]

EXCEPTION_NAMES = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "device failure",
    5: "acknowledge",
    6: "device busy",
    8: "memory parity error",
    10: "gateway path unavailable",
    11: "gateway target failed to respond",
}


class ModbusError(DriverError):
    """Root of the Modbus driver's errors."""

    kind = "error"


class ModbusTimeout(link_errors.LinkTimeout, ModbusError):
    """No reply within the link's timeout (dead device, wrong unit id, broken bus)."""


class ModbusConnectionError(link_errors.LinkConnectionError, ModbusError):
    """The gateway or serial port is not connected (refused, dropped, unplugged)."""


class LinkClosed(link_errors.LinkClosed, ModbusConnectionError):
    """The link was closed while a transaction waited for it.

    Not the event bus's ``controller.core.BusClosed``: this is a Modbus link (a physical bus)
    going down under a queued request, a connection error of the driver.
    """


class MalformedReply(ModbusError):
    """A reply arrived but does not fit the request (wrong size, function or framing)."""

    kind = "malformed"


class ModbusExceptionReply(ModbusError):
    """The device answered with a Modbus exception code."""

    kind = "exception"

    def __init__(
        self, code: int, *, function: int, link: str | None = None, device: str | None = None
    ) -> None:
        name = EXCEPTION_NAMES.get(code, "unknown exception")
        super().__init__(
            f"exception {code} ({name}) to function {function}", link=link, device=device
        )
        self.code = code
        self.function = function

    @property
    def target_failed(self) -> bool:
        """Codes 10/11: the gateway could not reach the device (as good as a timeout)."""
        return self.code in (10, 11)


class WriteRefused(link_errors.WriteRefused, ModbusError):
    """A write the profile does not allow: unknown or read-only point, value out of range
    (the link's ``WriteRefused``, and a ``ModbusError``)."""


class WriteNotConfirmed(link_errors.WriteNotConfirmed, ModbusError):
    """The write went through but reading the point back shows another value (the link's
    ``WriteNotConfirmed``, and a ``ModbusError``)."""
