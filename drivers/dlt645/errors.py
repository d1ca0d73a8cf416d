"""DL/T 645 errors: one root; a meter's error reply carries its error word.

Silence, bad frames and a dead link are the link's errors (``drivers.link.errors``).
"""

from __future__ import annotations

from ..errors import DriverError

__all__ = [
    "ERROR_BITS",
    "Dlt645Error",
    "EsamRequired",
    "MeterErrorReply",
]

ERROR_BITS = {
    0: "other error",
    1: "no such data",
    2: "wrong password or not authorised",
    3: "baud rate cannot change",
    4: "too many annual time zones",
    5: "too many daily time segments",
    6: "too many tariffs",
}
"""Bits of the error word (DL/T 645-2007 §7.3 "异常应答帧" error information byte)."""


class Dlt645Error(DriverError):
    """Root of the DL/T 645 driver's errors."""

    kind = "error"


class MeterErrorReply(Dlt645Error):
    """The meter answered with an error frame (C with D6 set) and its error word."""

    kind = "exception"

    def __init__(
        self, word: int, *, function: int, link: str | None = None, device: str | None = None
    ) -> None:
        names = [name for bit, name in ERROR_BITS.items() if word & (1 << bit)] or ["reserved"]
        super().__init__(
            f"error word {word:02X} ({', '.join(names)}) to function {function:02X}",
            link=link,
            device=device,
        )
        self.word = word
        self.function = function

    @property
    def no_data(self) -> bool:
        """The meter does not have this identifier (a profile/firmware mismatch)."""
        return bool(self.word & 0b10)

    @property
    def unauthorised(self) -> bool:
        return bool(self.word & 0b100)


class EsamRequired(Dlt645Error):
    """The meter's relay only obeys commands encrypted by its ESAM security module; this
    controller sends the plain-password form only, so the command was not sent."""

    kind = "esam"

    def __init__(self, device: str) -> None:
        super().__init__(
            f"{device}: the relay of this meter needs ESAM-encrypted commands (not supported)",
            device=device,
        )
