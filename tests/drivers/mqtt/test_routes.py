"""Routes without a broker: payload problems counted per device, timestamps, availability."""

from __future__ import annotations

import asyncio
import json
import zoneinfo

import pytest
from paho.mqtt.client import MQTTMessage

from controller.core import FakeClock
from drivers.mqtt import BrokerSpec, DeviceSpec, FieldSpec, MqttDriver, TopicSpec
from drivers.mqtt.device import DeviceState
from drivers.mqtt.routes import StatusRoute, TelemetryRoute
from drivers.mqtt.spec import Value
from tests.integrations.mqtt_site import eventually
from tests.servers import free_port

UTC = zoneinfo.ZoneInfo("UTC")
TOPIC = TopicSpec(
    topic="s1/state",
    fields=(
        FieldSpec(key="flow", ref="s1.flow", path=("flow",), valid_range=(0, 30)),
        FieldSpec(
            key="valve", ref="s1.valve", path=("valve",), values={"1": "open", "0": "closed"}
        ),
    ),
    timestamp_path=("ts",),
)
SPEC = DeviceSpec(device_id="s1", topics=(TOPIC,), stale_after=90.0)


class Sink:
    def __init__(self) -> None:
        self.readings: list[tuple[str, Value, bool, float]] = []
        self.availability: list[tuple[str, bool, str]] = []

    def reading(self, readings: list[tuple[str, Value, object]], ts: float) -> None:
        for ref, value, good in readings:
            assert isinstance(good, bool)
            self.readings.append((ref, value, good, ts))

    def available(self, device_id: str, available: bool, reason: str) -> None:
        self.availability.append((device_id, available, reason))


@pytest.fixture
def sink() -> Sink:
    return Sink()


@pytest.fixture
def device(sink: Sink) -> DeviceState:
    return DeviceState(SPEC, 1000.0, sink.available)


@pytest.fixture
def route(device: DeviceState, sink: Sink) -> TelemetryRoute:
    return TelemetryRoute(TOPIC, device, sink.reading, UTC, max_skew=300.0)


def msg(**fields: object) -> bytes:
    return json.dumps(fields).encode()


def test_good_message(route: TelemetryRoute, device: DeviceState, sink: Sink) -> None:
    route.handle(msg(ts=1001.5, flow=8.5, valve=1), now=1002.0)
    assert sink.readings == [("s1.flow", 8.5, True, 1001.5), ("s1.valve", "open", True, 1001.5)]
    assert device.available is True
    assert device.problems == {}


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        (b"{not json", "bad_json"),
        (b"\xff\xfe", "bad_json"),
        (b"[1, 2]", "wrong_type"),
        (msg(ts=1001, valve=1), "missing_field"),
        (msg(ts=1001, flow="8.5", valve=1), "wrong_type"),
        (msg(ts=1001, flow=8.5, valve=7), "unknown_value"),
        (msg(ts=1001, flow=31, valve=1), "out_of_range"),
        (msg(ts="soon", flow=1, valve=1), "bad_timestamp"),
        (msg(ts=9999, flow=1, valve=1), "bad_timestamp"),  # far ahead of our clock
    ],
)
def test_problems_are_counted(
    route: TelemetryRoute, device: DeviceState, payload: bytes, problem: str
) -> None:
    route.handle(payload, now=1002.0)
    assert device.problems == {problem: 1}
    assert device.messages == 1


def test_out_of_range_is_stored_as_bad(route: TelemetryRoute, sink: Sink) -> None:
    route.handle(msg(ts=1001, flow=float("nan"), valve=0), now=1002.0)
    assert sink.readings[0][1:3] != (0, True)
    assert sink.readings[0][2] is False


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity"])
def test_a_non_standard_number_loses_only_its_field(
    route: TelemetryRoute, device: DeviceState, sink: Sink, literal: bytes
) -> None:
    """Firmware that writes NaN for a failed sensor: the fast parser refuses the payload,
    the lenient one keeps the other fields; the bad number is stored with bad quality."""
    route.handle(b'{"ts": 1001, "flow": ' + literal + b', "valve": 1}', now=1002.0)
    (flow, valve) = sink.readings
    assert flow[0] == "s1.flow"
    assert flow[2] is False
    assert valve == ("s1.valve", "open", True, 1001.0)
    assert device.problems == {"out_of_range": 1}


def test_one_call_per_message_carries_all_its_readings(
    device: DeviceState,
) -> None:
    calls: list[tuple[list[tuple[str, Value, object]], float]] = []
    route = TelemetryRoute(
        TOPIC, device, lambda readings, ts: calls.append((readings, ts)), UTC, max_skew=300.0
    )
    route.handle(msg(ts=1001, flow=2.5, valve=0), now=1002.0)
    route.handle(msg(ts=1002, flow=2.5), now=1003.0)  # valve missing: one reading
    route.handle(msg(ts=1003, valve=9), now=1004.0)  # nothing usable: no call
    assert calls == [
        ([("s1.flow", 2.5, True), ("s1.valve", "closed", True)], 1001.0),
        ([("s1.flow", 2.5, True)], 1002.0),
    ]


def test_duplicates_and_reordering(route: TelemetryRoute, device: DeviceState, sink: Sink) -> None:
    first = msg(ts=1001, flow=1, valve=1)
    route.handle(first, now=1002.0)
    route.handle(first, now=1002.1)  # QoS 1 redelivery: same time, same bytes
    route.handle(msg(ts=1001, flow=2, valve=1), now=1002.2)  # same second, new news: kept
    route.handle(msg(ts=990, flow=3, valve=1), now=1002.3)  # late
    assert device.problems == {"duplicate": 1, "out_of_order": 1}
    assert [r[1] for r in sink.readings if r[0] == "s1.flow"] == [1, 2]


def test_status_words(device: DeviceState, sink: Sink) -> None:
    status = StatusRoute("s1/status", device, "online", "offline")
    status.handle(b"offline", 1000.0)
    status.handle(b"", 1000.0)  # a cleared retained message is not a status
    status.handle(b"rebooting", 1000.0)
    status.handle(b"online", 1000.0)
    assert [a[1] for a in sink.availability] == [False, True]
    assert device.problems == {"bad_status": 1}


async def test_stale_devices_go_offline_while_the_broker_is_unreachable(sink: Sink) -> None:
    clock = FakeClock(1000.0)
    broker = BrokerSpec(host="127.0.0.1", port=free_port(), client_id="t", backoff_min=0.05)
    driver = MqttDriver(
        broker, [SPEC], on_readings=sink.reading, on_availability=sink.available, clock=clock
    )
    async with asyncio.TaskGroup() as group:
        task = group.create_task(driver.run(), name="driver")
        await clock.run_for(80.0, step=10.0)
        assert sink.availability == []
        await clock.run_for(60.0, step=10.0)  # 90 s window + up to a check period
        ((device_id, available, reason),) = sink.availability
        assert (device_id, available) == ("s1", False)
        assert reason.startswith("no telemetry for ")
        await eventually(lambda: driver.last_error)  # a refused connection takes real time
        assert "Connection refused" in (driver.last_error or "")
        assert driver.stats()["state"] in ("backoff", "connecting")
        task.cancel()


def test_dispatch_counts_unknown_and_undecodable_topics(sink: Sink) -> None:
    """paho's on_message is the driver's: a topic nobody subscribed to, or one that is not
    UTF-8, is counted and skipped; nothing escapes into paho's read loop."""
    broker = BrokerSpec(host="127.0.0.1", port=1883, client_id="t")
    driver = MqttDriver(
        broker,
        [SPEC],
        on_readings=sink.reading,
        on_availability=sink.available,
        clock=FakeClock(1000.0),
    )

    def message(topic: bytes, payload: bytes) -> MQTTMessage:
        received = MQTTMessage(topic=topic)
        received.payload = payload
        return received

    driver._dispatch(None, None, message(b"s1/state", msg(ts=999, flow=2.0, valve=1)))
    driver._dispatch(None, None, message(b"s2/state", msg(ts=999, flow=2.0, valve=1)))
    driver._dispatch(None, None, message(b"s1/\xff", b"{}"))
    stats = driver.stats()
    assert (stats["received"], stats["unknown_topics"], stats["internal_errors"]) == (3, 2, 0)
    assert [r[:3] for r in sink.readings] == [("s1.flow", 2.0, True), ("s1.valve", "open", True)]
