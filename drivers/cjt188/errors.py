"""CJ/T 188 errors: one root; an error reply carries the meter's status word.

Silence, bad frames and a dead link are the link's errors (``drivers.link.errors``).
"""

from __future__ import annotations

from ..errors import DriverError

__all__ = ["Cjt188Error", "MeterErrorReply"]


class Cjt188Error(DriverError):
    """Root of the CJ/T 188 driver's errors."""

    kind = "error"


class MeterErrorReply(Cjt188Error):
    """The meter answered with an error frame (C with D6 set): SER and its status word ST."""

    kind = "exception"

    def __init__(
        self, status: int, *, function: int, link: str | None = None, device: str | None = None
    ) -> None:
        super().__init__(
            f"error reply to function {function:02X}, status word {status:04X}",
            link=link,
            device=device,
        )
        self.status = status
        self.function = function
