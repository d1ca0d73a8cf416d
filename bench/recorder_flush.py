"""The recorder's database thread at campus scale: CPU of ``Storage.persist`` per minute.

    .venv/bin/python bench/recorder_flush.py [--meters 20000] [--minutes 4] [--moving 0.2]

``bench/recorder.py`` measures throughput against InfluxDB; this one isolates what a campus's
flushes cost the database thread, which no server bounds: ``--meters`` prepaid meters (each
with its energy counter and its other points) read every 30 s of simulated time, a share
``--moving`` of the counters rising at each reading (the rest stand still, as most do at
night), cut as the recorder cuts (every 5,000 points without states, every 5 s with the
counters' states, every 60 s with the running hours). Every chunk is persisted as the recorder
persists it (outbox batch with gzip, history transaction), in this process, and timed with the
process's CPU clock. The recorder is built but not run: ``_ingest`` and ``_cut`` are its own.

Prints JSON: CPU seconds of the persists (and of their history transactions) minute by
minute (the first two create the series: the first running-hour tick sees a sixth of the
counters, the second all of them), the mean of the minutes after the first two, the rows
behind them, and the CPU the event loop's side (format, statistics, cut) took per minute. Run
it against two checkouts in alternation to compare them (its options and output exist on both
sides of the change it measured).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from controller.app import Controller  # noqa: E402
from controller.core import FakeClock, State, StateChanged  # noqa: E402
from controller.recorder import InfluxV1Writer, Recorder  # noqa: E402
from tests.recorder.sites import make_site  # noqa: E402

START = 1_767_225_600.0 + 600  # ten minutes into an hour: no hour closes in a short run
SCAN = 30.0
FLUSH = 5.0
PARTIALS = 60.0
BATCH = 5000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--meters", type=int, default=20_000)
    parser.add_argument("--minutes", type=int, default=4)
    parser.add_argument("--moving", type=float, default=0.2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sanjie-flush-") as tmp:
        work = Path(tmp)
        site = make_site(work / "site", args.meters, buildings=4)
        clock = FakeClock(START)
        controller = Controller(site, clock)
        recorder = Recorder(
            controller,
            history_path=work / "history.sqlite3",
            writer=InfluxV1Writer("http://127.0.0.1:9", "bench"),
            outbox_path=work / "outbox.sqlite3",
            batch_size=BATCH,
        )
        storage = recorder._open_storage()
        history_cpu = [0.0]
        commit = storage.history.commit

        def timed_commit(*args: Any, **kwargs: Any) -> int:
            started = time.process_time()
            try:
                return commit(*args, **kwargs)
            finally:
                history_cpu[0] += time.process_time() - started

        storage.history.commit = timed_commit  # type: ignore[method-assign]
        entities = list(controller.registry)
        counters = recorder.engine.entity_ids
        moving_every = max(1, round(1 / args.moving)) if args.moving > 0 else 0
        slots = int(SCAN / FLUSH)
        persist_cpu: list[float] = []
        commit_cpu: list[float] = []
        loop_cpu: list[float] = []
        rows = {"lines": 0, "running_hours": 0, "states": 0}
        minute_persist = minute_loop = 0.0
        steps = int(args.minutes * 60 / FLUSH)
        for step in range(steps):
            now = START + step * FLUSH
            scan = int(now // SCAN)
            started = time.process_time()
            chunks = []
            events = []
            for index in range(step % slots, len(entities), slots):
                entity = entities[index]
                eid = entity.entity_id
                value: float | bool
                if eid in counters:
                    moving = moving_every and index % moving_every == 0
                    value = 1000.0 + index + (scan * 0.01 if moving else 0.0)
                elif entity.point_key in ("relay", "overload_trip", "load_trip"):
                    value = True
                else:
                    value = 220.0 + (index % 100) * 0.1 + scan * 0.001
                events.append(StateChanged(eid, None, State(value, now + index % 5), True))
            for first in range(0, len(events), 1000):
                recorder._ingest(events[first : first + 1000])
                if len(recorder._lines) >= BATCH:
                    chunks.append(recorder._cut(states=False))
            partials = step % int(PARTIALS / FLUSH) == 0
            chunks.append(recorder._cut(partials=partials))
            minute_loop += time.process_time() - started
            for chunk in chunks:
                rows["lines"] += len(chunk.lines)
                rows["running_hours"] += len(chunk.stats.partials)
                rows["states"] += len(chunk.states)
                started = time.process_time()
                storage.persist(chunk)
                minute_persist += time.process_time() - started
            if (step + 1) % int(60 / FLUSH) == 0:
                persist_cpu.append(minute_persist)
                commit_cpu.append(history_cpu[0])
                history_cpu[0] = 0.0
                loop_cpu.append(minute_loop)
                minute_persist = minute_loop = 0.0
        storage.close()
    after = persist_cpu[2:] or persist_cpu
    print(
        json.dumps(
            {
                "bench": "recorder_flush",
                "meters": args.meters,
                "entities": len(entities),
                "counters": len(counters),
                "moving_share": args.moving,
                "minutes": args.minutes,
                "rows": rows,
                "persist_cpu_s_per_minute_steady": round(sum(after) / len(after), 3),
                "loop_cpu_s_per_minute": round(sum(loop_cpu) / len(loop_cpu), 3),
                "persist_cpu_s_by_minute": [round(c, 3) for c in persist_cpu],
                "history_commit_cpu_s_by_minute": [round(c, 3) for c in commit_cpu],
            }
        )
    )


if __name__ == "__main__":
    main()
