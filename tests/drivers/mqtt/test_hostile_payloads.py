"""Hostile MQTT payloads: deep nesting and arbitrary bytes end in a counted problem or in
readings, never in an exception out of the route (issue 11, defect 4)."""

from __future__ import annotations

import json
import zoneinfo

from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.mqtt import DeviceSpec, FieldSpec, TopicSpec
from drivers.mqtt.decode import Problem
from drivers.mqtt.device import DeviceState
from drivers.mqtt.routes import TelemetryRoute
from drivers.mqtt.spec import Value

UTC = zoneinfo.ZoneInfo("UTC")
JSON_TOPIC = TopicSpec(
    topic="s1/state",
    fields=(
        FieldSpec(key="flow", ref="s1.flow", path=("flow",), valid_range=(0, 30)),
        FieldSpec(
            key="valve", ref="s1.valve", path=("valve",), values={"1": "open", "0": "closed"}
        ),
        FieldSpec(key="deep", ref="s1.deep", path=("a", "b", "c")),
    ),
    timestamp_path=("ts",),
)
TEXT_TOPIC = TopicSpec(
    topic="s1/flow",
    fields=(FieldSpec(key="flow", ref="s1.flow", valid_range=(0, 30)),),
)


def _route(topic: TopicSpec) -> tuple[TelemetryRoute, DeviceState, list[object]]:
    spec = DeviceSpec(device_id="s1", topics=(topic,), stale_after=90.0)
    device = DeviceState(spec, 1000.0, lambda *_: None)
    got: list[object] = []

    def sink(readings: list[tuple[str, Value, object]], ts: float) -> None:
        got.extend(readings)

    return TelemetryRoute(topic, device, sink, UTC, max_skew=300.0), device, got


def test_deeply_nested_json_is_counted_as_bad_json() -> None:
    route, device, got = _route(JSON_TOPIC)
    for depth in (2_000, 100_000):
        route.handle(b"[" * depth + b"]" * depth, now=1001.0)
        route.handle(b'{"a":' * depth + b"1" + b"}" * depth, now=1001.0)
    assert device.problems == {Problem.BAD_JSON: 4}
    assert got == []


_JSONISH = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["ts", "flow", "valve", "a", "b", "c"]), inner, max_size=4
        )
    ),
    max_leaves=12,
)


def _payloads() -> st.SearchStrategy[bytes]:
    as_json = _JSONISH.map(lambda doc: json.dumps(doc, allow_nan=True).encode())
    return st.binary(max_size=300) | as_json


@settings(max_examples=400, deadline=None)
@given(payload=_payloads())
def test_any_json_payload_ends_in_readings_or_a_counted_problem(payload: bytes) -> None:
    route, device, got = _route(JSON_TOPIC)
    route.handle(payload, now=1001.0)
    assert got or device.problem_total


@settings(max_examples=300, deadline=None)
@given(payload=st.binary(max_size=200))
def test_any_text_payload_ends_in_a_reading_or_a_counted_problem(payload: bytes) -> None:
    route, device, got = _route(TEXT_TOPIC)
    route.handle(payload, now=1001.0)
    assert len(got) + device.problem_total >= 1
