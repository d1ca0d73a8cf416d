"""The recorder's errors: one root, and write failures that say whether a retry can help."""

from __future__ import annotations

__all__ = [
    "QueryError",
    "RecorderError",
    "RejectedBatchError",
    "RetryableWriteError",
    "SwapRecordError",
    "WriteError",
]


class RecorderError(Exception):
    """Root of the recorder's errors."""


class WriteError(RecorderError):
    """A batch did not reach the time-series database.

    ``status`` is the HTTP status (None for network failures) and ``detail`` the server's
    own words (or the network error), kept verbatim for the quarantine and the logs.
    """

    def __init__(self, detail: str, status: int | None = None) -> None:
        super().__init__(f"HTTP {status}: {detail}" if status is not None else detail)
        self.detail = detail
        self.status = status


class RetryableWriteError(WriteError):
    """The server is unreachable, overloaded (5xx, 429) or refuses us for now (auth, no database).

    The batch stays in the outbox and is retried after ``retry_after`` seconds if the
    server said so, else after the sender's backoff.
    """

    def __init__(
        self, detail: str, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(detail, status)
        self.retry_after = retry_after


class RejectedBatchError(WriteError):
    """The server rejected the data itself (400, 413, 422): resending cannot help."""


class QueryError(RecorderError):
    """A consumption query could not be answered by its backend."""


class SwapRecordError(RecorderError, ValueError):
    """A staff meter-swap record does not fit the readings already processed."""

    def __init__(self, entity_id: str, reason: str, field: str | None = None) -> None:
        super().__init__(f"{entity_id}: {reason}")
        self.entity_id = entity_id
        self.reason = reason
        self.field = field
        """The request field out of its bounds (a 422), or None when the record conflicts with
        the readings (a 409)."""
