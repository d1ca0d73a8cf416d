"""Which hours of consumption the recorder has written, as versions a reader can compare.

The web overview shows each building's consumption today, yesterday and a week ago; the
completed days never change unless an hour in them is written again (an adjustment, a late
meter, a seeded month), and querying a week of every meter's hours on every request cost the
history's thread more than the page. The recorder notes every hour it writes; a reader keeps
what it derived from a span of hours with ``version(start, end)`` and derives it again only
when that moves. Nothing is kept for a time, so what a reader shows is never stale.

Read the version *before* asking the history: the recorder notes hours after they are
committed, so a query that starts later sees at least what that version promises.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["HourChanges"]


class HourChanges:
    """Hour start → the version at which a row of it was last written (or deleted)."""

    def __init__(self) -> None:
        self._version = 0
        self._written: dict[float, int] = {}
        self._pruned = 0
        """The version of the last retention pass that deleted hours (any span may be hit)."""

    def note(self, hours: Iterable[float]) -> None:
        """Rows of these hours (start timestamps) were committed."""
        version = self._version + 1
        written = self._written
        touched = False
        for hour in hours:
            written[hour] = version
            touched = True
        if touched:
            self._version = version

    def pruned(self, before: float) -> None:
        """Retention deleted hours older than ``before``."""
        self._version += 1
        self._pruned = self._version
        for hour in [h for h in self._written if h < before]:
            del self._written[hour]

    def version(self, start: float, end: float) -> int:
        """The last version that wrote an hour starting in [start, end): equal versions of a
        span mean equal rows."""
        found = self._pruned
        for hour, version in self._written.items():
            if start <= hour < end and version > found:
                found = version
        return found
