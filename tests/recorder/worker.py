"""A controller process with the recorder and 1,000 synthetic meters, for the SIGKILL test.

    python -m tests.recorder.worker --site S --influx URL --db NAME --data DIR --produced FILE

Every ``--interval`` seconds it sets every meter's energy in the controller's state store with
the current wall time, after appending ``<timestamp_ms> <count>`` to ``--produced`` (so a test
can count what was handed to the recorder even when the process is SIGKILLed). SIGTERM or
SIGINT stop it gracefully: the recorder flushes and tries to send what it holds.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import time
from pathlib import Path

from controller.app import Controller
from controller.config import load_site
from controller.recorder import Backoff, InfluxV1Writer, Recorder

BASE = 1_767_225_600.0


async def produce(controller: Controller, interval: float, produced: Path) -> None:
    meters = [e.entity_id for e in controller.registry if e.point_key == "energy"]
    with produced.open("a", buffering=1) as log:
        while True:
            ts = time.time()
            log.write(f"{round(ts * 1000)} {len(meters)}\n")
            for index, entity_id in enumerate(meters):
                controller.states.set(entity_id, index + (ts - BASE) / 3600.0, ts)
            await asyncio.sleep(interval)


async def main(args: argparse.Namespace) -> None:
    site = load_site(args.site)
    controller = Controller(site)
    data = Path(args.data)
    controller.add(
        Recorder(
            controller,
            history_path=data / "history.sqlite3",
            writer=InfluxV1Writer(args.influx, args.db, timeout=2.0),
            outbox_path=data / "outbox.sqlite3",
            flush_interval=args.flush_interval,
            backoff=Backoff(0.1, 1.0),
            shutdown_timeout=20.0,
        )
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with controller.running(), asyncio.TaskGroup() as group:
        feeder = group.create_task(
            produce(controller, args.interval, Path(args.produced)), name="worker.produce"
        )
        print("ready", flush=True)
        await stop.wait()
        feeder.cancel()


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--site", required=True)
    parser.add_argument("--influx", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--produced", required=True)
    parser.add_argument("--interval", type=float, default=0.5)
    parser.add_argument("--flush-interval", type=float, default=1.0)
    return parser.parse_args()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    asyncio.run(main(parse()))
