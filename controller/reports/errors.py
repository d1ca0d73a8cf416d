"""Report errors: one root, so the CLI and the API turn every report failure into one answer."""

from __future__ import annotations

__all__ = ["DinerCsvError", "ReportError", "ReportInputError", "ReportStoreError"]


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


class DinerCsvError(ReportError, ValueError):
    """A diner-count CSV has bad rows; ``problems`` holds (line, field, reason) for each, and
    nothing of the file was imported."""

    def __init__(self, problems: list[tuple[int, str, str]]) -> None:
        first = "; ".join(f"line {line}, {field}: {reason}" for line, field, reason in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(f"{len(problems)} bad row(s), nothing imported: {first}{more}")
        self.problems = problems
