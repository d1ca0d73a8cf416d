"""MQTT ingest throughput: end to end (receive → decode → state store → recorder queue) against
two baselines that receive and JSON-decode the same stream, in the same run:

* ``bare``: stock aiomqtt (its message iterator) + ``json.loads``. The pipeline replaces
  aiomqtt's receive path (paho's ``on_message`` taken over, a read-ahead socket), so
  ``ratio`` = pipeline / bare mixes that transport gain with the pipeline's own cost.
* ``same_path``: the pipeline's receive path (``on_message`` + ``bufsock``) and its JSON decoder
  and nothing else, so ``ratio_vs_same_path`` = pipeline / same path is the pipeline's overhead
  (routing, fields, state store, bus) alone.

Default (``--mode queued``): the stream is queued by the broker for the consumer's persistent
session before each timed run (a separate publisher process fills it), so the publisher is never
the bottleneck. ``--mode live`` streams while connected. Each QoS level (``--qos 0,1``) is
measured in turn: QoS 1 costs a PUBACK per message in paho on top of QoS 0. The measured process
is pinned to one core and the broker (and publisher) to the other. Prints one JSON object;
``cpu_us_per_msg`` is process CPU time, less disturbed than wall-clock rates when other work
shares the machine.

    .venv/bin/python bench/mqtt_ingest.py [--messages 30000] [--devices 200] [--rounds 3]
        [--protocol 3.1.1|5] [--mode queued|live] [--qos 0,1] [--public-api]
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
from drivers.mqtt import MqttDriver, bufsock
from drivers.mqtt.client import new_client
from drivers.mqtt.routes import decode_json

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
    """One round's stream: queued before the consumer connects, or live."""

    def __init__(
        self, port: int, messages: int, devices: int, round_no: int, mode: str, qos: int
    ) -> None:
        self.args = (port, messages, devices, round_no, qos)
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
    """Wall and CPU time from the first message to the last.

    In queued mode the clock starts before connecting, for both contenders alike: the broker
    floods the session right after CONNACK, and the pipeline dispatches messages while it is
    still subscribing, so "the first message" cannot be seen from outside.
    """

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
            json.loads(message.payload)
            count += 1
            if count == 1 and not queued:
                timer.start()
            if count == messages:
                break
        result = timer.result(messages if queued else messages - 1)
    await stream.finish()
    return result


class PublicApiDriver(MqttDriver):
    """The same driver on aiomqtt's public API only (``--public-api``): aiomqtt keeps paho's
    ``on_message``, the socket is not wrapped, and each message comes through aiomqtt's
    iterator to the same routes."""

    def _new_client(self) -> aiomqtt.Client:
        return new_client(self.broker, identifier=self.broker.client_id, persistent=True)

    async def _receive(self, client: aiomqtt.Client) -> None:
        routes, now = self._routes, self._time
        async for message in client.messages:
            self.received += 1
            route = routes.get(message.topic.value)
            if route is None:
                self.unknown_topics += 1
                continue
            route.handle(message.payload, now())


async def same_path_round(
    port: int, messages: int, stream: Stream, protocol: str
) -> dict[str, float]:
    """The pipeline's receive path (paho's on_message, read-ahead socket) + its JSON decoder."""
    session = persistent_session(protocol)
    async with aiomqtt.Client("127.0.0.1", port, identifier="bench-same", **session) as c:
        await c.subscribe(f"{PREFIX}/+/state", qos=1)
    await stream.before_connect()
    count = 0
    done = asyncio.Event()
    timer = Timer()
    queued = stream.mode == "queued"

    def on_message(_client: object, _userdata: object, message: Any) -> None:
        nonlocal count
        decode_json(message.payload)
        count += 1
        if count == 1 and not queued:
            timer.start()
        if count == messages:
            done.set()

    if queued:
        timer.start()
    client = aiomqtt.Client("127.0.0.1", port, identifier="bench-same", **session)
    client._client.on_message = on_message
    bufsock.install(client._client)
    async with client:
        stream.after_subscribe()
        await done.wait()
        result = timer.result(messages if queued else messages - 1)
    await stream.finish()
    return result


async def pipeline_round(
    site_path: Path, messages: int, stream: Stream, public: bool = False
) -> dict[str, float]:
    """The real path: driver → StateStore.set → bus → a recorder-like bus subscription.

    ``public``: the driver on aiomqtt's public API only (``PublicApiDriver``)."""
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
    if public:
        driver.__class__ = PublicApiDriver  # same state, other receive path
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
    messages: int,
    devices: int,
    rounds: int,
    protocol: str,
    mode: str,
    levels: list[int],
    public_api: bool = False,
) -> dict[str, Any]:
    # queue_qos0_messages: the broker keeps a QoS 0 stream for our offline persistent session
    # too, so the queued mode can measure either QoS.
    config = "max_inflight_messages 0\nmax_queued_bytes 0\nmax_queued_messages 0\n"
    config += "queue_qos0_messages true"
    results = []
    async with local_broker(prefer="mosquitto", mosquitto_config=config) as broker:
        pin(0, 0)
        broker_pid = _broker_pid(broker.port)
        if broker_pid:
            pin(broker_pid, 1)
        with tempfile.TemporaryDirectory() as folder:
            site_path = write_site(Path(folder), broker.port, devices, protocol)
            for level, qos in enumerate(levels):
                bare: list[dict[str, float]] = []
                same: list[dict[str, float]] = []
                pipe: list[dict[str, float]] = []
                public: list[dict[str, float]] = []
                for round_no in range(rounds):
                    port = broker.port
                    first = 4 * (level * rounds + round_no)  # device times never repeat
                    stream = Stream(port, messages, devices, first, mode, qos)
                    bare.append(await bare_round(port, messages, stream, protocol))
                    stream = Stream(port, messages, devices, first + 1, mode, qos)
                    same.append(await same_path_round(port, messages, stream, protocol))
                    stream = Stream(port, messages, devices, first + 2, mode, qos)
                    pipe.append(await pipeline_round(site_path, messages, stream))
                    if public_api:
                        stream = Stream(port, messages, devices, first + 3, mode, qos)
                        public.append(await pipeline_round(site_path, messages, stream, True))
                results.append(summary(qos, bare, same, pipe, public))
    return {
        "benchmark": "mqtt_ingest",
        "messages": messages,
        "devices": devices,
        "readings_per_message": FIELDS,
        "rounds": rounds,
        "mode": mode,
        "protocol": f"MQTT {protocol}, persistent session",
        "goal": {"pipeline_msgs_per_s": 20000, "ratio": 0.7},
        "results": results,
    }


def summary(
    qos: int,
    bare: list[dict[str, float]],
    same: list[dict[str, float]],
    pipe: list[dict[str, float]],
    public: list[dict[str, float]] | None = None,
) -> dict[str, Any]:
    """One QoS level's medians and the goal check (and the public-API driver's, if run)."""
    same_rate = statistics.median(r["rate"] for r in same)
    same_cpu = statistics.median(r["cpu_us"] for r in same)
    bare_rate = statistics.median(r["rate"] for r in bare)
    pipe_rate = statistics.median(r["rate"] for r in pipe)
    bare_cpu = statistics.median(r["cpu_us"] for r in bare)
    pipe_cpu = statistics.median(r["cpu_us"] for r in pipe)
    extra: dict[str, Any] = {}
    if public:
        public_rate = statistics.median(r["rate"] for r in public)
        public_cpu = statistics.median(r["cpu_us"] for r in public)
        extra = {
            "public_api_msgs_per_s": round(public_rate),
            "public_api_cpu_us_per_msg": round(public_cpu, 1),
            "hooks_over_public_rate": round(pipe_rate / public_rate, 3),
            "public_over_hooks_cpu": round(public_cpu / pipe_cpu, 3),
        }
    return {
        "qos": qos,
        "bare_aiomqtt_msgs_per_s": round(bare_rate),
        "bare_cpu_us_per_msg": round(bare_cpu, 1),
        "pipeline_msgs_per_s": round(pipe_rate),
        "pipeline_readings_per_s": round(pipe_rate * FIELDS),
        "pipeline_cpu_us_per_msg": round(pipe_cpu, 1),
        "same_path_json_msgs_per_s": round(same_rate),
        "same_path_cpu_us_per_msg": round(same_cpu, 1),
        "ratio": round(pipe_rate / bare_rate, 3),
        "ratio_vs_same_path": round(pipe_rate / same_rate, 3),
        "cpu_ratio_vs_same_path": round(same_cpu / pipe_cpu, 3),
        # Each pipeline round against the bare round just before it: robust to slow drifts
        # in the machine's load.
        "paired_ratio_median": round(
            statistics.median(p["rate"] / b["rate"] for b, p in zip(bare, pipe, strict=True)), 3
        ),
        # Less sensitive to other processes sharing the core than the wall-clock ratio.
        "cpu_ratio": round(bare_cpu / pipe_cpu, 3),
        # The rate one core sustains from the CPU figure alone (what a quiet machine gives).
        "pipeline_cpu_bound_msgs_per_s": round(1e6 / pipe_cpu),
        "meets_goal": pipe_rate >= 20000 and pipe_rate / bare_rate >= 0.7,
        "meets_goal_vs_same_path": pipe_rate >= 20000 and pipe_rate / same_rate >= 0.7,
        **extra,
        "all_rounds": {
            "bare": [round(r["rate"]) for r in bare],
            "same_path": [round(r["rate"]) for r in same],
            "pipeline": [round(r["rate"]) for r in pipe],
            "public_api": [round(r["rate"]) for r in public or []],
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
        help="queued: the stream is stored by the broker before we connect; live: streamed",
    )
    parser.add_argument(
        "--qos",
        default="0,1",
        help="QoS levels of the published stream, each measured in turn (default: 0,1)",
    )
    parser.add_argument(
        "--public-api",
        action="store_true",
        help="also run the driver on aiomqtt's public API only (no on_message takeover, no "
        "socket wrapper), in the same rounds",
    )
    args = parser.parse_args()
    levels = [int(q) for q in args.qos.split(",")]
    if any(q not in (0, 1) for q in levels):
        parser.error("--qos takes 0, 1 or 0,1")
    result = asyncio.run(
        main(
            args.messages,
            args.devices,
            args.rounds,
            args.protocol,
            args.mode,
            levels,
            args.public_api,
        )
    )
    print(json.dumps(result, indent=2))
