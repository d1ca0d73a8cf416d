"""Routes: what to do with a message on one topic. Built once; the hot path is ``handle``.

A telemetry route decodes the payload once (JSON or plain text), checks the device timestamp
for duplicates and reordering, converts each field and hands the readings to the sink. Nothing
here allocates per field beyond the values themselves.
"""

from __future__ import annotations

import json
import zoneinfo
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import orjson

from .decode import (
    CompiledField,
    PayloadProblem,
    Problem,
    compile_path,
    extract,
    parse_timestamp,
)
from .device import DeviceState
from .spec import TopicSpec, Value

__all__ = ["ReadingCallback", "Route", "StatusRoute", "TelemetryRoute"]

ReadingCallback = Callable[[list[tuple[str, Value, Any]], float], object]
"""``([(ref, value, quality), ...], timestamp)``: the readings of one message, ``quality`` being
the caller's own good or bad token. The controller passes ``StateStore.set_many`` itself, with
no adapter between; one call per message, not per reading."""

_REPEAT = -1.0
"""``_timestamp`` result for an exact repeat (QoS 1 redelivery); device times are positive."""
_LATE = -2.0
"""``_timestamp`` result for a message older than the last one."""


def decode_json(payload: bytes | bytearray) -> object:
    """A JSON payload → Python; ValueError when it is not JSON.

    orjson costs a quarter of ``json.loads`` on the ingest hot path, but it rejects the
    ``NaN``/``Infinity`` literals some firmware sends for a failed sensor; the standard library
    accepts them, so one bad field is stored with bad quality instead of losing the message.

    Nesting deeper than orjson's 1,024 levels is bad JSON too: the standard library would raise
    ``RecursionError`` on it, which is no ``ValueError`` and would escape as an internal error.
    """
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError:
        try:
            return json.loads(payload)
        except RecursionError:
            raise ValueError("JSON nested too deep") from None


class Route(ABC):
    """Handles the messages of one topic."""

    __slots__ = ("device", "topic")

    def __init__(self, topic: str, device: DeviceState) -> None:
        self.topic = topic
        self.device = device

    @abstractmethod
    def handle(self, payload: bytes | bytearray, now: float) -> None:
        """Decode one payload and report its readings or its problem."""


class TelemetryRoute(Route):
    """A topic whose payloads carry readings of one device."""

    __slots__ = (
        "bad",
        "fields",
        "good",
        "is_json",
        "last_payload",
        "last_ts",
        "max_skew",
        "needs_object",
        "sink",
        "ts_dotted",
        "ts_format",
        "ts_path",
        "tz",
    )

    def __init__(
        self,
        spec: TopicSpec,
        device: DeviceState,
        sink: ReadingCallback,
        tz: zoneinfo.ZoneInfo,
        max_skew: float,
        *,
        good: object = True,
        bad: object = False,
    ) -> None:
        super().__init__(spec.topic, device)
        self.good = good
        self.bad = bad
        self.fields = tuple(CompiledField(f) for f in spec.fields)
        self.is_json = spec.is_json
        self.needs_object = spec.timestamp_path is not None or any(f.path for f in spec.fields)
        self.ts_path = compile_path(spec.timestamp_path) if spec.timestamp_path else None
        self.ts_dotted = ".".join(spec.timestamp_path or ())
        self.ts_format = spec.timestamp_format
        self.tz = tz
        self.max_skew = max_skew
        self.sink = sink
        self.last_ts = float("-inf")
        self.last_payload: bytes | bytearray = b""

    def handle(self, payload: bytes | bytearray, now: float) -> None:
        device = self.device
        device.messages += 1
        if self.is_json:
            try:
                doc = decode_json(payload)
            except ValueError as err:
                device.problem(Problem.BAD_JSON, self.topic, f"{err} in {payload[:60]!r}")
                return
            if self.needs_object and type(doc) is not dict:
                device.problem(
                    Problem.WRONG_TYPE, self.topic, f"not a JSON object: {payload[:60]!r}"
                )
                return
            ts = now if self.ts_path is None else self._timestamp(doc, payload, now)
            if ts < 0:
                if ts == _REPEAT and device.waiters:
                    # A repeat still answers a command whose value is already reported.
                    self._confirm_only(doc)
                return
            self._emit_json(doc, ts)
        else:
            try:
                text = payload.decode().strip()
            except UnicodeDecodeError as err:
                device.problem(Problem.WRONG_TYPE, self.topic, str(err))
                return
            self._emit_text(text, now)
        device.seen(now)

    def _emit_json(self, doc: object, ts: float) -> None:
        device = self.device
        waiters = device.waiters
        readings: list[tuple[str, Value, Any]] = []
        good_token = self.good
        for field in self.fields:
            try:
                value, good = field.read(doc)
            except PayloadProblem as problem:
                device.problem(problem.problem, self.topic, problem.detail)
                continue
            if good:
                readings.append((field.ref, value, good_token))
            else:
                readings.append((field.ref, value, self.bad))
                device.problem(Problem.OUT_OF_RANGE, self.topic, f"{field.key} = {value!r}")
            if waiters and field.key in waiters:
                device.confirm(field.key, value)
        device.readings += len(readings)
        if readings:
            self.sink(readings, ts)

    def _confirm_only(self, doc: object) -> None:
        device = self.device
        for field in self.fields:
            if field.key in device.waiters:
                try:
                    value, _ = field.read(doc)
                except PayloadProblem:
                    continue
                device.confirm(field.key, value)

    def _emit_text(self, text: str, ts: float) -> None:
        device = self.device
        readings: list[tuple[str, Value, Any]] = []
        for field in self.fields:
            try:
                value, good = field.convert_text(text)
            except PayloadProblem as problem:
                device.problem(problem.problem, self.topic, problem.detail)
                continue
            readings.append((field.ref, value, self.good if good else self.bad))
            if not good:
                device.problem(Problem.OUT_OF_RANGE, self.topic, f"{field.key} = {value!r}")
            if device.waiters and field.key in device.waiters:
                device.confirm(field.key, value)
        device.readings += len(readings)
        if readings:
            self.sink(readings, ts)

    def _timestamp(self, doc: object, payload: bytes | bytearray, now: float) -> float:
        """The device's time for this message, or _REPEAT / _LATE when it must be dropped."""
        assert self.ts_path is not None
        try:
            ts = parse_timestamp(
                extract(doc, self.ts_path, self.ts_dotted), self.ts_format, self.tz
            )
        except PayloadProblem as problem:
            self.device.problem(Problem.BAD_TIMESTAMP, self.topic, problem.detail)
            return now
        if ts > now + self.max_skew:
            self.device.problem(
                Problem.BAD_TIMESTAMP, self.topic, f"{ts - now:.0f} s ahead of our clock"
            )
            return now
        last = self.last_ts
        if ts <= last:
            if ts == last and payload == self.last_payload:
                self.device.problem(Problem.DUPLICATE, self.topic, f"repeated message at {ts}")
                return _REPEAT
            if ts < last:
                self.device.problem(
                    Problem.OUT_OF_ORDER,
                    self.topic,
                    f"time {ts} is {last - ts:.3f} s before the last",
                )
                return _LATE
        self.last_ts = ts
        self.last_payload = payload
        return ts


class StatusRoute(Route):
    """An availability (LWT) topic: ``online``/``offline`` words."""

    __slots__ = ("offline", "online")

    def __init__(self, topic: str, device: DeviceState, online: str, offline: str) -> None:
        super().__init__(topic, device)
        self.online = online
        self.offline = offline

    def handle(self, payload: bytes | bytearray, now: float) -> None:
        text = payload.decode(errors="replace").strip()
        if not text:
            return  # a cleared retained message, not a status
        try:
            self.device.status(text, self.online, self.offline)
        except ValueError:
            self.device.problem(
                Problem.BAD_STATUS,
                self.topic,
                f"{text[:40]!r} is neither {self.online!r} nor {self.offline!r}",
            )


class FanoutRoute(Route):
    """Several devices share a topic (rare): each route sees every message."""

    __slots__ = ("routes",)

    def __init__(self, routes: list[Route]) -> None:
        super().__init__(routes[0].topic, routes[0].device)
        self.routes = routes

    def handle(self, payload: bytes | bytearray, now: float) -> None:
        for route in self.routes:
            route.handle(payload, now)
