"""The sender: moves batches from the outbox to InfluxDB, live ones first, backlog in order.

While the server answers, each freshly flushed batch is handed over in memory ("live") and sent
at once; after every live batch one backlog batch (the oldest in the outbox) goes too, so an
outage's backlog drains in order at full speed between live batches and never delays them by
more than one request. On a retryable failure every batch stays in the outbox, the live queue
is dropped (those batches are in the backlog now) and the oldest batch is retried after a capped,
jittered exponential backoff (or the server's ``Retry-After``). A rejected batch is quarantined.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections import deque
from dataclasses import dataclass

from drivers.backoff import Backoff

from .dbthread import DbThread
from .errors import RejectedBatchError, RetryableWriteError
from .outbox import Batch, Outbox, OutboxStats
from .writers import Writer

__all__ = ["Backoff", "Sender", "SenderStats"]

_LOGGER = logging.getLogger(__name__)

READ_AHEAD = 4
"""Backlog batches fetched per database call while draining."""


@dataclass(slots=True)
class SenderStats:
    points_written: int = 0
    batches_written: int = 0
    batches_quarantined: int = 0
    points_quarantined: int = 0
    write_errors: int = 0
    last_error: str | None = None
    last_success: float | None = None
    up: bool | None = None


class Sender:
    """Drains the outbox into the writer with ``concurrency`` requests in flight.

    Two requests in flight keep the server busy while the event loop is formatting the next
    batch; more rarely help a single InfluxDB. Batches still *leave* in order (live first, then
    the oldest backlog); with two in flight they may be acknowledged out of order, which is
    harmless because every point carries its own timestamp.

    Acknowledged batches are deleted from the outbox by a companion task, so the next request
    leaves as soon as the previous one is answered instead of waiting behind a flush on the
    database thread. Until its deletion commits, an acknowledged batch is excluded from backlog
    queries; if the process dies first, it is sent again after the restart (an overwrite).
    """

    def __init__(
        self,
        writer: Writer,
        outbox: Outbox,
        db: DbThread,
        *,
        backoff: Backoff | None = None,
        max_live: int = 8,
        concurrency: int = 2,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.writer = writer
        self.concurrency = concurrency
        self.stats = SenderStats()
        self.outbox_stats: OutboxStats = outbox.stats()
        self._outbox = outbox
        self._db = db
        self._backoff = backoff or Backoff()
        self._max_live = max_live
        self._live: deque[Batch] = deque()
        self._recent: deque[int] = deque(maxlen=4 * max_live)
        self._inflight: set[int] = set()
        self._unacked: set[int] = set()
        self._ahead: deque[Batch] = deque()
        self._reading = asyncio.Lock()
        self._acks: list[int] = []
        self._ack_wake = asyncio.Event()
        self._wake = asyncio.Event()
        self._backlog_turn = False
        self._backlog_possible = True
        self._failures = 0
        self._quarantine_logged = False
        self._open = asyncio.Event()
        self._open.set()

    def offer(self, batch: Batch | None) -> None:
        """A batch was just committed to the outbox; send it soon (from memory if healthy)."""
        if (
            batch is not None
            and batch.id not in self._recent
            and all(b.id != batch.id for b in self._ahead)
        ):
            if self.stats.up is not False and len(self._live) < self._max_live:
                self._live.append(batch)
            else:
                self._backlog_possible = True
        self._wake.set()

    async def run(self) -> None:
        """Send until cancelled; a batch interrupted by cancellation stays in the outbox."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self._ack_loop(), name="recorder.send.ack")
            for index in range(self.concurrency):
                group.create_task(self._send_loop(), name=f"recorder.send.{index}")

    async def _send_loop(self) -> None:
        while True:
            # clear before looking, not after finding nothing: a batch offered while the
            # backlog query runs must wake us again, or it waits for the next flush
            self._wake.clear()
            try:
                batch = await self._pick()
            except sqlite3.Error as err:
                await self._local_failure("read", err)
                continue
            if batch is None:
                await self._wake.wait()
                continue
            delay = await self.send_one(batch)
            if delay:
                await asyncio.sleep(delay)

    async def _ack_loop(self) -> None:
        while True:
            await self._ack_wake.wait()
            self._ack_wake.clear()
            try:
                await self._flush_acks()
            except sqlite3.Error as err:
                await self._local_failure("update", err)
                self._ack_wake.set()

    async def _local_failure(self, what: str, err: sqlite3.Error) -> None:
        """The outbox file failed us (disk full, I/O error): say so, wait, try again."""
        self.stats.last_error = f"outbox {what} failed: {err}"
        _LOGGER.error("Cannot %s the outbox: %s (retrying)", what, err)
        await asyncio.sleep(self._backoff.maximum / 4)

    async def _flush_acks(self) -> None:
        ids = self._acks
        if ids:
            self.outbox_stats = await self._db.call(self._forget, ids, None)
            done = set(ids)
            self._acks = [i for i in self._acks if i not in done]
            self._unacked.difference_update(ids)

    async def drain(self) -> bool:
        """Send until the outbox is empty (True) or a send fails (False); acks committed."""
        try:
            self._backlog_possible = True
            while (batch := await self._pick()) is not None:
                if await self.send_one(batch):
                    return False
            return True
        finally:
            await self._flush_acks()

    async def _pick(self) -> Batch | None:
        batch = await self._choose()
        if batch is not None:
            # a batch committed just before a backlog query can come back from it and also be
            # offered as live: remembering what was taken keeps it from going twice
            self._recent.append(batch.id)
            self._inflight.add(batch.id)
        return batch

    async def _choose(self) -> Batch | None:
        if self._live and (not self._backlog_turn or not self._backlog_possible):
            self._backlog_turn = True
            return self._live.popleft()
        self._backlog_turn = False
        if not self._ahead:
            async with self._reading:  # one read-ahead at a time, or both workers fetch the same
                if not self._ahead:
                    await self._read_ahead()
        if self._ahead:
            return self._ahead.popleft()
        self._backlog_possible = False
        return self._live.popleft() if self._live else None

    async def _read_ahead(self) -> None:
        """Fetch the next few backlog batches in one database call (draining is then bound
        by the server, not by a query per batch)."""
        exclude = [*(b.id for b in self._live), *self._inflight, *self._unacked]
        batches = await self._db.call(self._outbox.oldest, exclude, READ_AHEAD)
        taken = self._inflight | self._unacked
        fresh = [b for b in batches if b.id not in taken]  # a worker took it while we read
        ids = {b.id for b in fresh}
        if any(b.id in ids for b in self._live):  # offered while the query ran
            self._live = deque(b for b in self._live if b.id not in ids)
        self._ahead.extend(fresh)

    def hold(self) -> None:
        """Start no batch until ``release``: a running-hour write is in flight, and a batch
        that completes one of its hours must reach the server after it, never before."""
        self._open.clear()

    def release(self) -> None:
        """Let batches leave again (see ``hold``)."""
        self._open.set()

    async def send_one(self, batch: Batch) -> float:
        """Send one batch; the seconds to wait before the next attempt (0 after success)."""
        try:
            await self._open.wait()
            await self.writer.send(batch.body)
        except RetryableWriteError as err:
            return self._failed(err)
        except RejectedBatchError as err:
            await self._quarantine(batch, err)
            return 0.0
        finally:
            self._inflight.discard(batch.id)
        self._unacked.add(batch.id)
        self._acks.append(batch.id)
        self._ack_wake.set()
        self._succeeded(batch)
        return 0.0

    def _forget(self, batch_ids: list[int], rejected: RejectedBatchError | None) -> OutboxStats:
        """On the database thread: delete (or quarantine) batches and snapshot the figures."""
        for batch_id in batch_ids:
            if rejected is None:
                self._outbox.delete(batch_id)
            else:
                self._outbox.quarantine(batch_id, rejected.status, rejected.detail)
        return self._outbox.stats()

    def _failed(self, err: RetryableWriteError) -> float:
        self._failures += 1
        self.stats.write_errors += 1
        self.stats.last_error = str(err)
        self._live.clear()
        self._ahead.clear()
        self._backlog_possible = True
        if self.stats.up is not False:
            _LOGGER.warning(
                "InfluxDB write to %s failed, keeping batches in the outbox: %s",
                self.writer.name,
                err,
            )
        else:
            _LOGGER.debug("InfluxDB write still failing: %s", err)
        self.stats.up = False
        delay = self._backoff.delay(self._failures)
        if err.retry_after is not None:
            delay = min(max(delay, err.retry_after), self._backoff.maximum)
        return delay

    def _succeeded(self, batch: Batch) -> None:
        if self.stats.up is False:
            _LOGGER.info(
                "InfluxDB write to %s works again after %d failure(s); draining the outbox",
                self.writer.name,
                self._failures,
            )
        self._failures = 0
        self._quarantine_logged = False
        self.stats.up = True
        self.stats.points_written += batch.lines
        self.stats.batches_written += 1
        self.stats.last_success = time.time()

    async def _quarantine(self, batch: Batch, err: RejectedBatchError) -> None:
        self.outbox_stats = await self._db.call(self._forget, [batch.id], err)
        self.stats.batches_quarantined += 1
        self.stats.points_quarantined += batch.lines
        self.stats.last_error = str(err)
        self.stats.up = True
        if not self._quarantine_logged:
            self._quarantine_logged = True
            _LOGGER.error(
                "InfluxDB %s rejected batch %d (%d points), quarantined: %s",
                self.writer.name,
                batch.id,
                batch.lines,
                err,
            )
        else:
            _LOGGER.debug("Quarantined batch %d: %s", batch.id, err)
