"""The sender's order and outcomes, with a writer that records what it is given.

The real servers are in ``test_writers`` and ``test_outage``; here the question is only which
batch leaves when, so the writer is a list.
"""

from __future__ import annotations

import asyncio
import gzip
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from controller.recorder.dbthread import DbThread
from controller.recorder.errors import RejectedBatchError, RetryableWriteError, WriteError
from controller.recorder.outbox import Batch, Outbox, encode_batch
from controller.recorder.sender import Backoff, Sender


class ListWriter:
    name = "list"

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.fail_with: list[WriteError] = []

    async def send(self, body: bytes) -> None:
        if self.fail_with:
            raise self.fail_with.pop(0)
        self.sent.append(gzip.decompress(body).decode())

    async def aclose(self) -> None:
        return None


@pytest.fixture
async def parts(tmp_path: Path) -> AsyncIterator[tuple[Outbox, DbThread]]:
    db = DbThread("test-db")
    outbox = await db.call(Outbox, tmp_path / "outbox.sqlite3", 10_000_000)
    yield outbox, db
    await db.call(outbox.close)
    db.close()


async def add(db: DbThread, outbox: Outbox, name: str) -> Batch:
    return await db.call(outbox.append, encode_batch([name]), 1)


async def test_live_batches_go_first_and_the_backlog_drains_in_order_between_them(
    parts: tuple[Outbox, DbThread],
) -> None:
    outbox, db = parts
    for name in ("b1", "b2", "b3", "b4"):
        await add(db, outbox, name)
    writer = ListWriter()
    sender = Sender(writer, outbox, db, concurrency=1)
    sender.stats.up = True
    sender.offer(await add(db, outbox, "l1"))
    sender.offer(await add(db, outbox, "l2"))
    assert await sender.drain()
    assert writer.sent == ["l1", "b1", "l2", "b2", "b3", "b4"]
    assert sender.outbox_stats.batches == 0
    assert sender.stats.points_written == 6


async def test_a_retryable_failure_keeps_the_batch_and_backs_off(
    parts: tuple[Outbox, DbThread],
) -> None:
    outbox, db = parts
    batch = await add(db, outbox, "b1")
    writer = ListWriter()
    writer.fail_with.append(RetryableWriteError("busy", 503, retry_after=0.3))
    sender = Sender(writer, outbox, db, backoff=Backoff(0.01, 1.0))
    sender.offer(batch)
    assert not await sender.drain()
    assert sender.stats.up is False
    assert sender.outbox_stats.batches == 1
    delay = await sender.send_one(batch)
    assert delay == 0.0
    assert writer.sent == ["b1"]
    await sender.drain()
    assert sender.outbox_stats.batches == 0


async def test_retry_after_is_honoured_up_to_the_cap(parts: tuple[Outbox, DbThread]) -> None:
    outbox, db = parts
    batch = await add(db, outbox, "b1")
    writer = ListWriter()
    writer.fail_with.extend(
        [RetryableWriteError("slow down", 429, retry_after=0.7), RetryableWriteError("x", 429, 99)]
    )
    sender = Sender(writer, outbox, db, backoff=Backoff(0.01, 2.0))
    assert await sender.send_one(batch) == pytest.approx(0.7)
    assert await sender.send_one(batch) == 2.0


async def test_a_rejected_batch_is_quarantined_and_the_next_one_goes(
    parts: tuple[Outbox, DbThread],
) -> None:
    outbox, db = parts
    await add(db, outbox, "bad")
    await add(db, outbox, "good")
    writer = ListWriter()
    writer.fail_with.append(RejectedBatchError("unable to parse 'bad'", 400))
    sender = Sender(writer, outbox, db)
    assert await sender.drain()
    assert writer.sent == ["good"]
    assert sender.stats.batches_quarantined == 1
    assert sender.outbox_stats.quarantined == 1
    [(info, _)] = await db.call(outbox.quarantined)
    assert (info.status, info.error) == (400, "unable to parse 'bad'")


async def test_a_batch_offered_while_the_backlog_query_runs_is_not_forgotten(
    parts: tuple[Outbox, DbThread],
) -> None:
    outbox, db = parts
    writer = ListWriter()
    sender = Sender(writer, outbox, db, concurrency=1)
    gate = threading.Event()
    async with asyncio.TaskGroup() as group:
        runner = group.create_task(sender.run(), name="sender")
        await asyncio.sleep(0.05)  # it found nothing and waits
        blocker = group.create_task(db.call(gate.wait, 10), name="blocker")
        sender.offer(None)  # wake it: its backlog query now waits behind the blocker
        await asyncio.sleep(0.05)
        sender.offer(Batch(999, 0.0, 1, encode_batch(["late"])))
        gate.set()
        await blocker
        for _ in range(100):
            if writer.sent:
                break
            await asyncio.sleep(0.01)
        runner.cancel()
    assert writer.sent == ["late"]
