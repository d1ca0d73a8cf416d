"""How an emulated MQTT device puts its values on the wire and reads its commands.

Written from the profile alone and independently of ``drivers.mqtt`` (no shared code), so a
decoding bug in the driver cannot be cancelled out by the same bug here.
"""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass

from controller.config import Device, Point, Profile
from emulators.models import ModelValue

__all__ = ["BadCommand", "DeviceCodec", "StateTopic"]

JsonDoc = dict[str, object]


class BadCommand(ValueError):
    """A command payload the device does not understand (it ignores it, like real ones)."""


@dataclass(frozen=True)
class StateTopic:
    """One telemetry topic of a device and the points it carries."""

    topic: str
    points: tuple[Point, ...]
    is_json: bool


def _fill(template: str, device: Device) -> str:
    return template.replace("{base}", device.mqtt_base).replace("{device}", device.id)


def _wire_key(raw: int | str, as_json: bool) -> object:
    """A value-map key as the device sends it: "true"/"false" keys are JSON booleans."""
    if as_json and raw in ("true", "false"):
        return raw == "true"
    return raw


def _set_path(doc: JsonDoc, path: str, value: object) -> None:
    parts = path.split(".")
    node = doc
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        assert isinstance(child, dict)
        node = child
    node[parts[-1]] = value


def _get_path(doc: object, path: str) -> object:
    node = doc
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(path)
        node = node[part]
    return node


class DeviceCodec:
    """Encode a device's readings into (topic, payload) pairs; decode its command payloads."""

    def __init__(self, device: Device, profile: Profile, tz: str) -> None:
        self.device = device
        self.profile = profile
        self.tz = zoneinfo.ZoneInfo(tz)
        grouped: dict[str, list[Point]] = {}
        for point in profile.points:
            if point.mqtt is not None:
                grouped.setdefault(point.mqtt.topic, []).append(point)
        self.topics = [
            StateTopic(
                _fill(template, device),
                tuple(points),
                any(p.mqtt is not None and p.mqtt.path for p in points),
            )
            for template, points in grouped.items()
        ]
        options = profile.mqtt
        self.availability_topic = (
            _fill(options.availability_topic, device) if options.availability_topic else None
        )
        self.command_topics: dict[str, list[Point]] = {}
        for point in profile.points:
            if point.writable and point.mqtt is not None and point.mqtt.command_topic:
                topic = _fill(point.mqtt.command_topic, device)
                self.command_topics.setdefault(topic, []).append(point)

    # -- telemetry -----------------------------------------------------------------------

    def raw(self, point: Point, value: ModelValue, as_json: bool) -> object:
        """An engineering value as the device would send it."""
        assert point.mqtt is not None
        if point.values is not None:
            for raw, label in point.values.items():
                if label == value:
                    return _wire_key(raw, as_json)
            return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            return value
        if point.mqtt.scale == 1.0 and point.mqtt.offset == 0.0:
            return value
        number = (value - point.mqtt.offset) / point.mqtt.scale
        return round(number) if abs(number - round(number)) < 1e-6 else round(number, 6)

    def document(self, topic: StateTopic, values: Mapping[str, ModelValue], now: float) -> JsonDoc:
        """The JSON object of a telemetry message (before any fault is applied)."""
        doc: JsonDoc = {}
        options = self.profile.mqtt
        if options.timestamp_path:
            _set_path(doc, options.timestamp_path, self.timestamp(now))
        for point in topic.points:
            if point.key in values and point.mqtt is not None and point.mqtt.path:
                _set_path(doc, point.mqtt.path, self.raw(point, values[point.key], True))
        return doc

    def plain(self, topic: StateTopic, values: Mapping[str, ModelValue]) -> bytes:
        """The payload of a plain (non-JSON) telemetry topic: its single point's value."""
        point = topic.points[0]
        raw = self.raw(point, values.get(point.key, 0), False)
        if isinstance(raw, bool):
            return b"true" if raw else b"false"
        return str(raw).encode()

    def timestamp(self, now: float) -> object:
        fmt = self.profile.mqtt.timestamp_format
        if fmt == "iso":  # Tasmota style: local time, whole seconds, no zone
            return dt.datetime.fromtimestamp(now, self.tz).strftime("%Y-%m-%dT%H:%M:%S")
        if fmt == "epoch_ms":
            return int(now * 1000)
        return round(now, 3)

    def encode(self, topic: StateTopic, values: Mapping[str, ModelValue], now: float) -> bytes:
        if topic.is_json:
            return json.dumps(self.document(topic, values, now), separators=(",", ":")).encode()
        return self.plain(topic, values)

    # -- commands ------------------------------------------------------------------------

    def decode_command(self, topic: str, payload: bytes) -> list[tuple[str, ModelValue]]:
        """``(point key, engineering value)`` pairs a command payload asks for.

        BadCommand for a payload the device does not understand.
        """
        points = self.command_topics.get(topic, [])
        text = payload.decode(errors="replace").strip()
        out: list[tuple[str, ModelValue]] = []
        doc: object = None
        if any(p.mqtt is not None and p.mqtt.command_path for p in points):
            try:
                doc = json.loads(text)
            except ValueError as err:
                raise BadCommand(f"bad JSON {text[:60]!r}") from err
        for point in points:
            assert point.mqtt is not None
            if point.mqtt.command_path:
                try:
                    raw = _get_path(doc, point.mqtt.command_path)
                except KeyError:
                    continue
            else:
                raw = text
            out.append((point.key, self._from_raw(point, raw)))
        if not out:
            raise BadCommand(f"nothing this device understands in {text[:60]!r}")
        return out

    def _from_raw(self, point: Point, raw: object) -> ModelValue:
        assert point.mqtt is not None
        if point.values is not None:
            wanted = ("true" if raw else "false") if isinstance(raw, bool) else str(raw)
            for key, label in point.values.items():
                if str(key).lower() == wanted.lower():
                    return label
            raise BadCommand(f"{point.key}: unknown value {raw!r}")
        if isinstance(raw, str):
            try:
                raw = float(raw)
            except ValueError as err:
                raise BadCommand(f"{point.key}: expected a number, got {raw!r}") from err
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise BadCommand(f"{point.key}: expected a number, got {raw!r}")
        return raw * point.mqtt.scale + point.mqtt.offset
