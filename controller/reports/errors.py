"""Report errors: one root, so the CLI and the API turn every report failure into one answer."""

from __future__ import annotations

__all__ = ["ReportError", "ReportInputError", "ReportStoreError"]


class ReportError(Exception):
    """Root of the report layer's errors."""


class ReportInputError(ReportError, ValueError):
    """A period, scope or format the caller gave is not valid; ``field`` names which."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class ReportStoreError(ReportError):
    """A stored report is missing or its folder cannot be written."""
