"""MQTT ingest throughput: end to end (receive → decode → state store → recorder queue) against
a bare aiomqtt loop that only receives and JSON-decodes the same stream, in the same run.

Default (``--mode queued``): the stream is queued by the broker for a persistent QoS 1 session
before each timed run (a separate publisher process fills it), so the publisher is never the
bottleneck. ``--mode live`` streams QoS 0 while connected. The measured process is pinned to one
core and the broker (and publisher) to the other. Prints one JSON object; ``cpu_us_per_msg`` is
process CPU time, less disturbed than wall-clock rates when other work shares the machine.

    .venv/bin/python bench/mqtt_ingest.py [--messages 30000] [--devices 200] [--rounds 3]
        [--protocol 3.1.1|5] [--mode queued|live]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiomqtt
import yaml
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from controller.app import Controller
from controller.broker import local_broker
from controller.config import load_site
from controller.core import StateChanged, SystemClock
from controller.integrations.mqtt import MqttIntegration, mqtt_links

PREFIX = "bench/shower"
FIELDS = 6  # valve, flow, volume, presses, delay, enabled


def pin(pid: int, core: int) -> None:
    with contextlib.suppress(OSError, AttributeError):
        if (os.cpu_count() or 1) > 1:
            os.sched_setaffinity(pid, {core})


def write_site(folder: Path, port: int, devices: int, protocol: str) -> Path:
    site = {
        "campus": {"id": "bench", "name": {"zh": "基准"}},
        "buildings": [
            {
                "id": "bath-1",
                "kind": "bathhouse",
                "name": {"zh": "浴室"},
                "areas": [{"id": "showers", "name": {"zh": "淋浴间"}}],
            }
        ],
        "links": [
            {
                "id": "mqtt-main",
                "type": "mqtt",
                "host": "127.0.0.1",
                "port": port,
                "client_id": "bench-pipeline",
                "protocol": protocol,
            }
        ],
        "devices": [
            {
                "id": f"bath-1.shower.s{i:04d}",
                "profile": "generic/mqtt-shower-valve",
                "building": "bath-1",
                "area": "showers",
                "link": "mqtt-main",
                "topic_base": f"{PREFIX}/s{i:04d}",
            }
            for i in range(devices)
        ],
    }
    path = folder / "site.yaml"
    path.write_text(yaml.safe_dump(site, allow_unicode=True), encoding="utf-8")
    return path


def publisher(port: int, messages: int, devices: int, first_ts: float, qos: int) -> None:
    """Publish the stream (runs in its own process, pinned next to the broker)."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    pin(0, 1)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-publisher-{qos}")
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    infos = []
    for seq in range(messages):
        device = seq % devices
        payload = json.dumps(
            {
                "ts": first_ts + seq / 1000,
                "valve": "open" if seq % 3 else "closed",
                "flow_lpm": 8.0 + (seq % 10) / 10,
                "total_l": 1000 + seq,
                "presses": seq,
                "delay_s": 30,
                "enabled": True,
            }
        )
        infos.append(client.publish(f"{PREFIX}/s{device:04d}/state", payload, qos=qos))
    for info in infos:
        info.wait_for_publish(120)
    client.loop_stop()
    client.disconnect()


def publish_stream(port: int, messages: int, devices: int, round_no: int, qos: int) -> None:
    # Timestamps move forward every round so the driver never sees them as duplicates.
    first_ts = 1_767_225_600.0 + round_no * messages
    context = multiprocessing.get_context("spawn")
    proc = context.Process(target=publisher, args=(port, messages, devices, first_ts, qos))
    proc.start()
    proc.join()
    if proc.exitcode != 0:
        raise RuntimeError(f"publisher failed with exit code {proc.exitcode}")


def persistent_session(protocol: str) -> dict[str, Any]:
    """aiomqtt options for a persistent session, as the driver makes it."""
    if protocol == "3.1.1":
        return {"protocol": aiomqtt.ProtocolVersion.V311, "clean_session": False}
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 3600
    return {"protocol": aiomqtt.ProtocolVersion.V5, "clean_start": False, "properties": props}


class Stream:
    """One round's stream: queued before the consumer connects (QoS 1) or live (QoS 0)."""

    def __init__(self, port: int, messages: int, devices: int, round_no: int, mode: str) -> None:
        self.args = (port, messages, devices, round_no, 1 if mode == "queued" else 0)
        self.mode = mode
        self._live: asyncio.Task[None] | None = None

    async def before_connect(self) -> None:
        if self.mode == "queued":
            await asyncio.to_thread(publish_stream, *self.args)

    def after_subscribe(self) -> None:
        if self.mode == "live":
            self._live = asyncio.create_task(asyncio.to_thread(publish_stream, *self.args))

    async def finish(self) -> None:
        if self._live is not None:
            await self._live


class Timer:
    """Wall and CPU time from the first message to the last."""

    def __init__(self) -> None:
        self.first = 0.0
        self.cpu0 = 0.0

    def start(self) -> None:
        self.first = time.perf_counter()
        self.cpu0 = time.process_time()

    def result(self, counted: float) -> dict[str, float]:
        wall = time.perf_counter() - self.first
        cpu = time.process_time() - self.cpu0
        return {"rate": counted / wall, "cpu_us": cpu / counted * 1e6}


async def bare_round(port: int, messages: int, stream: Stream, protocol: str) -> dict[str, float]:
    """aiomqtt's message iterator + json.loads, nothing else."""
    session = persistent_session(protocol)
    async with aiomqtt.Client("127.0.0.1", port, identifier="bench-bare", **session) as c:
        await c.subscribe(f"{PREFIX}/+/state", qos=1)
    await stream.before_connect()
    count = 0
    timer = Timer()
    queued = stream.mode == "queued"
    if queued:
        timer.start()  # the broker floods us right after CONNACK
    async with aiomqtt.Client("127.0.0.1", port, identifier="bench-bare", **session) as c:
        stream.after_subscribe()  # the persistent session holds the subscription
        async for message in c.messages:
            json.loads(message.payload)  # type: ignore[arg-type]
            count += 1
            if count == 1 and not queued:
                timer.start()
            if count == messages:
                break
        result = timer.result(messages if queued else messages - 1)
    await stream.finish()
    return result


async def pipeline_round(site_path: Path, messages: int, stream: Stream) -> dict[str, float]:
    """The real path: driver → StateStore.set → bus → a recorder-like bus subscription."""
    site = load_site(site_path)
    controller = Controller(site, SystemClock())
    integration = MqttIntegration(controller, mqtt_links(site)[0])
    controller.add(integration)
    async with controller.running():  # create the persistent session, then leave
        await integration.driver.wait_connected()
    await stream.before_connect()

    controller = Controller(site, SystemClock())
    integration = MqttIntegration(controller, mqtt_links(site)[0])
    driver = integration.driver
    controller.add(integration)
    recorder = controller.bus.subscribe(
        "recorder", [StateChanged], maxsize=messages * FIELDS + 1000
    )
    recorded = 0
    timer = Timer()
    queued = stream.mode == "queued"
    if queued:
        timer.start()  # the broker floods us right after CONNACK
    async with controller.running():
        await driver.wait_connected()
        stream.after_subscribe()
        first_batch = 0
        while recorded < messages * FIELDS:
            batch = await recorder.get_batch(5000)
            if not first_batch and not queued:
                timer.start()
                first_batch = len(batch)
            recorded += len(batch)
        result = timer.result((recorded - first_batch) / FIELDS)
    await stream.finish()
    stats = driver.stats()
    if stats["received"] != messages or stats["problems"] or recorder.dropped:
        raise RuntimeError(f"pipeline did not ingest the stream cleanly: {stats}")
    return result


async def main(
    messages: int, devices: int, rounds: int, protocol: str, mode: str
) -> dict[str, Any]:
    async with local_broker(
        prefer="mosquitto", mosquitto_config="max_inflight_messages 0\nmax_queued_bytes 0"
    ) as broker:
        pin(0, 0)
        broker_pid = _broker_pid(broker.port)
        if broker_pid:
            pin(broker_pid, 1)
        with tempfile.TemporaryDirectory() as folder:
            site_path = write_site(Path(folder), broker.port, devices, protocol)
            bare: list[dict[str, float]] = []
            pipe: list[dict[str, float]] = []
            for round_no in range(rounds):
                port = broker.port
                stream = Stream(port, messages, devices, 2 * round_no, mode)
                bare.append(await bare_round(port, messages, stream, protocol))
                stream = Stream(port, messages, devices, 2 * round_no + 1, mode)
                pipe.append(await pipeline_round(site_path, messages, stream))
    bare_rate = statistics.median(r["rate"] for r in bare)
    pipe_rate = statistics.median(r["rate"] for r in pipe)
    return {
        "benchmark": "mqtt_ingest",
        "messages": messages,
        "devices": devices,
        "readings_per_message": FIELDS,
        "rounds": rounds,
        "mode": mode,
        "qos": 1 if mode == "queued" else 0,
        "protocol": f"MQTT {protocol}, persistent session",
        "bare_aiomqtt_msgs_per_s": round(bare_rate),
        "bare_cpu_us_per_msg": round(statistics.median(r["cpu_us"] for r in bare), 1),
        "pipeline_msgs_per_s": round(pipe_rate),
        "pipeline_readings_per_s": round(pipe_rate * FIELDS),
        "pipeline_cpu_us_per_msg": round(statistics.median(r["cpu_us"] for r in pipe), 1),
        "ratio": round(pipe_rate / bare_rate, 3),
        # Each pipeline round against the bare round just before it: robust to slow drifts
        # in the machine's load.
        "paired_ratio_median": round(
            statistics.median(p["rate"] / b["rate"] for b, p in zip(bare, pipe, strict=True)), 3
        ),
        # Less sensitive to other processes sharing the core than the wall-clock ratio.
        "cpu_ratio": round(
            statistics.median(r["cpu_us"] for r in bare)
            / statistics.median(r["cpu_us"] for r in pipe),
            3,
        ),
        "goal": {"pipeline_msgs_per_s": 20000, "ratio": 0.7},
        "meets_goal": pipe_rate >= 20000 and pipe_rate / bare_rate >= 0.7,
        "all_rounds": {
            "bare": [round(r["rate"]) for r in bare],
            "pipeline": [round(r["rate"]) for r in pipe],
        },
    }


def _broker_pid(port: int) -> int | None:
    import psutil

    for conn in psutil.net_connections("tcp"):
        if conn.laddr and conn.laddr.port == port and conn.status == "LISTEN" and conn.pid:
            return int(conn.pid)
    return None


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=30_000)
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--protocol", choices=["5", "3.1.1"], default="3.1.1")
    parser.add_argument(
        "--mode",
        choices=["queued", "live"],
        default="queued",
        help="queued: QoS 1 stream stored by the broker before we connect; live: QoS 0 stream",
    )
    args = parser.parse_args()
    result = asyncio.run(main(args.messages, args.devices, args.rounds, args.protocol, args.mode))
    print(json.dumps(result, indent=2))
