"""The outbox: order, bound, quarantine, and surviving a reopen."""

from __future__ import annotations

import gzip
import sqlite3
from pathlib import Path

from controller.recorder.outbox import Outbox, encode_batch


def test_batches_come_back_in_order_and_are_deleted_when_acknowledged(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite3", 10_000_000)
    ids = [box.append(encode_batch([f"m v={i} {i}"]), 1).id for i in range(3)]
    first = box.first()
    assert first is not None
    assert first.id == ids[0]
    assert gzip.decompress(first.body) == b"m v=0 0"
    nxt = box.first(exclude=[ids[0]])
    assert nxt is not None
    assert nxt.id == ids[1]
    assert box.delete(ids[0])
    assert not box.delete(ids[0])
    assert box.stats().batches == 2
    assert box.stats().points == 2
    box.close()


def test_the_outbox_survives_a_reopen_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    box = Outbox(path, 10_000_000)
    box.append(encode_batch(["a v=1 1", "a v=2 2"]), 2)
    box.close()
    again = Outbox(path, 10_000_000)
    assert (again.stats().batches, again.stats().points) == (1, 2)
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    again.close()


def test_the_oldest_batches_are_dropped_past_the_bound(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite3", max_bytes=1000)
    ids = [box.append(b"x" * 300, 10).id for _ in range(5)]
    stats = box.stats()
    assert stats.bytes <= 1000
    assert (stats.batches, stats.dropped_batches, stats.dropped_points) == (3, 2, 20)
    first = box.first()
    assert first is not None
    assert first.id == ids[2]
    assert 0.8 < stats.fill <= 1.0
    box.close()


def test_rejected_batches_are_quarantined_with_the_error_and_can_be_requeued(
    tmp_path: Path,
) -> None:
    box = Outbox(tmp_path / "o.sqlite3", 10_000_000)
    batch = box.append(encode_batch(["bad line"]), 1)
    assert box.quarantine(batch.id, 400, "unable to parse 'bad line'")
    assert box.first() is None
    [(info, raw)] = box.quarantined()
    assert (info.status, info.error, info.lines) == (400, "unable to parse 'bad line'", 1)
    assert info.text(raw) == "bad line"
    assert box.stats().quarantined == 1
    assert box.requeue(batch.id)
    assert box.first() is not None
    assert box.stats().quarantined == 0
    box.close()
