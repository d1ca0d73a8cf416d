"""The root of every driver error, so callers can catch "the device side failed" in one place."""

from __future__ import annotations

__all__ = ["DriverError"]


class DriverError(Exception):
    """A device, bus or gateway failed, or refused what was asked.

    ``link`` and ``device`` name where it happened (either may be None).
    """

    def __init__(self, message: str, *, link: str | None = None, device: str | None = None) -> None:
        super().__init__(message)
        self.link = link
        self.device = device
