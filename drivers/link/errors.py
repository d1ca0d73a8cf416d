"""Errors of a bus link that are not any protocol's: silence, a dead connection, bad frames.

The DL/T 645 and CJ/T 188 drivers raise these directly (their own roots carry the meters'
error replies); the Modbus driver's classes of the same failures derive from these (and from
``ModbusError``), and its link raises them through the ``BusLink`` hooks. ``kind`` is the
per-bus counter name.
"""

from __future__ import annotations

from ..errors import DriverError

__all__ = [
    "BadFrame",
    "LinkClosed",
    "LinkConnectionError",
    "LinkError",
    "LinkTimeout",
    "WriteNotConfirmed",
    "WriteRefused",
]


class LinkError(DriverError):
    """Root of the protocol-neutral link errors."""

    kind = "error"


class LinkTimeout(LinkError):
    """No (valid) reply within the link's timeout: dead meter, wrong address, broken bus."""

    kind = "timeout"


class LinkConnectionError(LinkError):
    """The gateway or serial port is not connected."""

    kind = "connection"


class LinkClosed(LinkConnectionError):
    """The link was closed or lost while a transaction waited for it."""

    kind = "closed"


class BadFrame(LinkError):
    """A reply arrived but is not a valid frame for the request (checksum, framing, size).

    ``why`` is the counter name: ``checksum``, ``framing``, ``truncated``, ``garbage``,
    ``stale`` (a reply to another request) or ``size``.
    """

    kind = "malformed"

    def __init__(
        self, message: str, *, why: str, link: str | None = None, device: str | None = None
    ) -> None:
        super().__init__(message, link=link, device=device)
        self.why = why


class WriteRefused(LinkError):
    """A write the profile or configuration does not allow (unknown point, no password…).

    Raised by the byte-frame meter drivers (DL/T 645 relays, CJ/T 188 valves); the Modbus
    driver's own ``WriteRefused`` derives from it."""

    kind = "refused"

    def __init__(self, device: str, point: str, value: object, reason: str) -> None:
        super().__init__(f"{device}.{point} := {value!r} refused: {reason}", device=device)
        self.point = point
        self.value = value
        self.reason = reason


class WriteNotConfirmed(LinkError):
    """The command was accepted but reading the point back shows another value."""

    kind = "unconfirmed"

    def __init__(self, device: str, point: str, wanted: object, read_back: object) -> None:
        super().__init__(
            f"{device}.{point}: commanded {wanted!r} but read back {read_back!r}", device=device
        )
        self.point = point
        self.wanted = wanted
        self.read_back = read_back
