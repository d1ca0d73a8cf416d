"""Recorder throughput into a real InfluxDB 1.x, against a raw bulk POST measured in the same run.

    .venv/bin/python bench/recorder.py [--points 300000] [--runs 3]

Prints one JSON object:

* ``raw_post_points_per_s``: the same line protocol (as the recorder formats it) in the same
  ``batch_size`` batches, gzipped beforehand at the recorder's level, POSTed with the recorder's
  number of requests in flight (``concurrency``): the server-bound baseline doing the same work
  on the wire as the recorder.
* ``recorder_points_per_s``: ``StateChanged`` events published on the bus until InfluxDB has
  acknowledged every point through the whole recorder (format, gzip, outbox, send).
* ``ratio``: recorder / raw (the goal is ≥ 0.8). For comparison with earlier runs,
  ``raw_post_plain_sequential_points_per_s`` is the old baseline (uncompressed, one request at a
  time) and ``ratio_vs_plain_sequential`` the ratio against it.
* ``drain_points_per_s``: InfluxDB stopped, the same points recorded into the outbox, InfluxDB
  started again: the rate at which the backlog drains from the first acknowledged write
  (``drain_first_write_after_s`` is the wait before it, the sender's backoff), with a raw POST
  right after it on the restarted server for comparison.

Medians of ``--runs`` alternating runs. The bench pins itself to CPU 0 and InfluxDB to CPU 1
when there are two or more CPUs.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import logging
import os
import statistics
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from controller.app import Controller  # noqa: E402
from controller.core import FakeClock, State, StateChanged  # noqa: E402
from controller.recorder import Backoff, InfluxV1Writer, Recorder  # noqa: E402
from controller.recorder.lineproto import LineFormatter  # noqa: E402
from controller.recorder.outbox import encode_batch  # noqa: E402
from tests.recorder.sites import make_site  # noqa: E402
from tests.servers import InfluxServer  # noqa: E402

START = 1_767_225_600.0
GZIP_LEVEL = 1  # the recorder's default
CONCURRENCY = 2  # the recorder's default requests in flight


def note(text: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {text}", file=sys.stderr, flush=True)


def pin(influx: InfluxServer) -> bool:
    if (os.cpu_count() or 1) < 2 or influx.proc is None:
        return False
    os.sched_setaffinity(0, {0})
    os.sched_setaffinity(influx.proc.pid, {1})
    return True


def make_events(controller: Controller, points: int) -> list[StateChanged]:
    """Readings of every point of every meter, round after round, each round 30 s later."""
    entities = list(controller.registry)
    events: list[StateChanged] = []
    round_no = 0
    while len(events) < points:
        ts = START + round_no * 30.0
        for index, entity in enumerate(entities):
            if len(events) == points:
                break
            value: float | bool
            if entity.point_key in ("relay", "overload_trip", "load_trip"):
                value = (round_no + index) % 7 == 0
            elif entity.point_key == "energy":
                value = index + round_no * 0.01
            else:
                value = 200.0 + (index % 100) * 0.1 + round_no * 0.001
            events.append(StateChanged(entity.entity_id, None, State(value, ts), True))
        round_no += 1
    return events


def bodies_of(lines: list[str], batch_size: int, gzip_level: int | None) -> list[bytes]:
    chunks = [lines[i : i + batch_size] for i in range(0, len(lines), batch_size)]
    if gzip_level is None:
        return ["\n".join(chunk).encode() for chunk in chunks]
    return [encode_batch(chunk, gzip_level) for chunk in chunks]


def raw_post(influx: InfluxServer, db: str, bodies: list[bytes], points: int, gz: bool) -> float:
    """Points/s of sequential POSTs of pre-built (and pre-compressed) line protocol."""
    influx.query(f'CREATE DATABASE "{db}"')
    host = urllib.parse.urlparse(influx.url)
    conn = http.client.HTTPConnection(host.hostname or "127.0.0.1", host.port, timeout=60)
    headers = {"Content-Encoding": "gzip"} if gz else {}
    started = time.perf_counter()
    for body in bodies:
        conn.request("POST", f"/write?db={db}&precision=ms", body=body, headers=headers)
        reply = conn.getresponse()
        reply.read()
        if reply.status != 204:
            raise RuntimeError(f"raw POST failed: {reply.status}")
    elapsed = time.perf_counter() - started
    conn.close()
    return points / elapsed


def raw_post_concurrent(
    influx: InfluxServer, db: str, bodies: list[bytes], points: int, concurrency: int
) -> float:
    """Points/s of the pre-compressed bodies POSTed ``concurrency`` at a time (one kept-alive
    connection per request in flight, as the recorder's sender holds)."""
    import threading

    influx.query(f'CREATE DATABASE "{db}"')
    host = urllib.parse.urlparse(influx.url)
    queue = list(reversed(bodies))
    lock = threading.Lock()
    failures: list[int] = []

    def worker() -> None:
        conn = http.client.HTTPConnection(host.hostname or "127.0.0.1", host.port, timeout=60)
        try:
            while True:
                with lock:
                    if not queue:
                        return
                    body = queue.pop()
                conn.request(
                    "POST",
                    f"/write?db={db}&precision=ms",
                    body=body,
                    headers={"Content-Encoding": "gzip"},
                )
                reply = conn.getresponse()
                reply.read()
                if reply.status != 204:
                    failures.append(reply.status)
                    return
        finally:
            conn.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"raw POST failed: {failures[0]}")
    return points / elapsed


def recorder_for(controller: Controller, influx: InfluxServer, db: str, data: Path) -> Recorder:
    recorder = Recorder(
        controller,
        history_path=data / "history.sqlite3",
        writer=InfluxV1Writer(influx.url, db, timeout=30),
        outbox_path=data / "outbox.sqlite3",
        batch_size=5000,
        flush_interval=1.0,
        queue_size=1_000_000,
        backoff=Backoff(0.05, 0.5),
        shutdown_timeout=120,
        gzip_level=GZIP_LEVEL,
        concurrency=CONCURRENCY,
    )
    controller.add(recorder)
    return recorder


async def poll(recorder: Recorder, condition: Callable[[dict[str, Any]], bool]) -> None:
    """Wait until ``condition(status)`` holds; fail loudly after two minutes."""
    deadline = time.monotonic() + 120
    while True:
        status = recorder.status()
        if condition(status):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"bench stuck; recorder status: {status}")
        await asyncio.sleep(0.001)


async def publish(controller: Controller, recorder: Recorder, events: list[StateChanged]) -> None:
    """Publish in slices, keeping the recorder's queue short (as live drivers would)."""
    bus = controller.bus
    for i in range(0, len(events), 5000):
        for event in events[i : i + 5000]:
            bus.publish(event)
        await poll(recorder, lambda status: status["queue_depth"] <= 20_000)
        await asyncio.sleep(0)


async def recorder_rate(
    controller: Controller, influx: InfluxServer, db: str, events: list[StateChanged], data: Path
) -> float:
    """Points/s from the first event published to the last point acknowledged."""
    influx.query(f'CREATE DATABASE "{db}"')
    recorder = recorder_for(controller, influx, db, data)
    async with controller.running():
        await recorder.wait_started()
        started = time.perf_counter()
        await publish(controller, recorder, events)
        await recorder.flush()
        await poll(recorder, lambda status: not status["outbox_batches"])
        elapsed = time.perf_counter() - started
        written = recorder.status()["points_written"]
    if written < len(events):
        raise RuntimeError(f"only {written} of {len(events)} points written")
    return len(events) / elapsed


async def drain_rate(
    controller: Controller, influx: InfluxServer, db: str, events: list[StateChanged], data: Path
) -> tuple[float, float]:
    """Points/s at which an outage's backlog drains from the first acknowledged write, and the
    seconds from InfluxDB being back to that first write (the sender's backoff)."""
    influx.query(f'CREATE DATABASE "{db}"')
    influx.stop()
    recorder = recorder_for(controller, influx, db, data)
    async with controller.running():
        await recorder.wait_started()
        await publish(controller, recorder, events)
        await recorder.flush()
        influx.start()
        pin(influx)
        restarted = time.perf_counter()
        await poll(recorder, lambda status: bool(status["backend_up"]))
        started = time.perf_counter()
        backlog = recorder.status()["outbox_points"]
        await poll(recorder, lambda status: not status["outbox_batches"])
        elapsed = time.perf_counter() - started
    return float(backlog) / elapsed, started - restarted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, default=300_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--meters", type=int, default=1000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="sanjie-bench-") as tmp:
        work = Path(tmp)
        site = make_site(work / "site", args.meters, buildings=2)
        influx = InfluxServer(work / "influxd")
        influx.start()
        try:
            pinned = pin(influx)
            template = Controller(site, FakeClock(START))
            events = make_events(template, args.points)
            formatter = LineFormatter(template.registry)
            lines = [
                line
                for e in events
                if (line := formatter.reading(e.entity_id, e.new.value, e.new.timestamp))
            ]
            plain = bodies_of(lines, 5000, None)
            started = time.perf_counter()
            packed = bodies_of(lines, 5000, GZIP_LEVEL)
            gzip_us = (time.perf_counter() - started) / len(lines) * 1e6
            raw, raw_plain, recorded = [], [], []
            for run in range(args.runs):
                note(f"run {run}")
                raw.append(
                    raw_post_concurrent(influx, f"raw{run}", packed, len(lines), CONCURRENCY)
                )
                raw_plain.append(raw_post(influx, f"plain{run}", plain, len(lines), gz=False))
                controller = Controller(site, FakeClock(START))
                recorded.append(
                    asyncio.run(
                        recorder_rate(controller, influx, f"rec{run}", events, work / f"r{run}")
                    )
                )
            for run in range(args.runs):  # a restart re-opens every shard: keep it quick
                for name in (f"raw{run}", f"plain{run}", f"rec{run}"):
                    influx.query(f'DROP DATABASE "{name}"')
            note("drain")
            controller = Controller(site, FakeClock(START))
            drained, first_write = asyncio.run(
                drain_rate(controller, influx, "drain", events, work / "d")
            )
            raw_after = raw_post_concurrent(influx, "raw_after", packed, len(lines), CONCURRENCY)
        finally:
            influx.stop()
    raw_rate = statistics.median(raw)
    rec_rate = statistics.median(recorded)
    print(
        json.dumps(
            {
                "bench": "recorder",
                "points": len(lines),
                "entities": len(template.registry),
                "batch_size": 5000,
                "gzip_level": GZIP_LEVEL,
                "concurrency": CONCURRENCY,
                "pinned": pinned,
                "raw_post_points_per_s": round(raw_rate),
                "raw_post_plain_sequential_points_per_s": round(statistics.median(raw_plain)),
                "line_bytes": round(sum(map(len, plain)) / len(lines), 1),
                "gzip_bytes_per_point": round(sum(map(len, packed)) / len(lines), 1),
                "gzip_level1_us_per_point": round(gzip_us, 2),
                "recorder_points_per_s": round(rec_rate),
                "ratio": round(rec_rate / raw_rate, 3),
                "ratio_vs_plain_sequential": round(rec_rate / statistics.median(raw_plain), 3),
                "goal_ratio": 0.8,
                "drain_points_per_s": round(drained),
                "raw_post_after_restart_points_per_s": round(raw_after),
                "drain_first_write_after_s": round(first_write, 3),
                "runs": {
                    "raw": [round(r) for r in raw],
                    "raw_plain_sequential": [round(r) for r in raw_plain],
                    "recorder": [round(r) for r in recorded],
                },
            }
        )
    )


if __name__ == "__main__":
    main()
