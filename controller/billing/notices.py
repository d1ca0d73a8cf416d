"""Billing's notices into the alarm service's durable notification outbox.

A warning or cut-off becomes one outbox row per channel named in ``billing.notify`` (channels
of the site's ``notify:`` section: webhook, e-mail, WeCom, DingTalk), keyed by the notice's
``dedup``: the alarm service's delivery loop sends it, retries a refusal with backoff up to
``notify.max_attempts`` and keeps it across a restart; a notice offered twice (re-derived after
a crash) is one row. The site's quiet hours hold notices back until they end (billing notices
are warnings, so they never break through).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from controller.alarms.model import Severity
from controller.core import Clock

from .events import Notice

if TYPE_CHECKING:
    from controller.alarms.notify import Outbox, QuietHours

__all__ = ["OutboxNotices"]


class OutboxNotices:
    """``Limits.notify``: queue each notice for ``channels`` in ``outbox``."""

    def __init__(
        self,
        outbox: Outbox,
        channels: Sequence[str],
        clock: Clock,
        quiet: QuietHours | None = None,
    ) -> None:
        self.outbox = outbox
        self.channels = tuple(channels)
        self.clock = clock
        self.quiet = quiet
        self.queued = 0

    def __call__(self, notice: Notice) -> None:
        hold = None
        if self.quiet is not None:
            hold = self.quiet.hold_until(self.clock.now(), Severity.WARNING)
        message = notice.message()
        for channel in self.channels:
            if self.outbox.enqueue(f"{notice.dedup}:{channel}", channel, message, hold):
                self.queued += 1
