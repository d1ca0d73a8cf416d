"""What the MQTT driver is told: broker settings and, per device, topics, fields and commands.

All frozen dataclasses built once by the caller (the controller's glue translates profiles into
them). Topics are concrete: templates are already filled in. ``template`` is kept only to group
topics into wildcard subscriptions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "BrokerSpec",
    "CommandSpec",
    "DeviceSpec",
    "FieldSpec",
    "RawValue",
    "TimestampFormat",
    "TlsSpec",
    "TopicSpec",
    "Value",
]

Value = float | int | str | bool
"""A decoded reading: a number in engineering units, a bool, or an enum label."""

RawValue = float | int | str | bool
"""A value as it travels in a payload (JSON scalar or plain text)."""

TimestampFormat = Literal["epoch", "epoch_ms", "iso"]


@dataclass(frozen=True, slots=True, kw_only=True)
class TlsSpec:
    """TLS options; an empty spec means "TLS with the system's CA store"."""

    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    insecure: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class BrokerSpec:
    """How to reach one broker. ``client_id`` must be stable for the persistent session."""

    host: str
    port: int = 1883
    client_id: str
    username: str | None = None
    password: str | None = None
    protocol: Literal["5", "3.1.1"] = "5"
    keepalive: int = 60
    session_expiry: int = 86400
    tls: TlsSpec | None = None
    timeout: float = 5.0
    backoff_min: float = 0.5
    backoff_max: float = 60.0
    max_future_skew: float = 300.0
    """Device timestamps further ahead of our clock than this are not trusted."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldSpec:
    """One value inside a payload.

    ``path`` is the JSON path split on dots (``("ENERGY", "Total")``); empty means the whole
    payload is the value. ``values`` maps the raw value's canonical text (``"4"``, ``"true"``,
    ``"ON"``) to a label. ``ref`` is handed back to the sink with each reading (the controller
    passes its entity id, so the hot path needs no lookup).
    """

    key: str
    ref: str
    path: tuple[str, ...] = ()
    scale: float = 1.0
    offset: float = 0.0
    values: Mapping[str, str] | None = None
    valid_range: tuple[float, float] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TopicSpec:
    """A telemetry topic and the fields its payloads carry."""

    topic: str
    fields: tuple[FieldSpec, ...]
    template: str | None = None
    timestamp_path: tuple[str, ...] | None = None
    timestamp_format: TimestampFormat = "epoch"

    @property
    def is_json(self) -> bool:
        """Payloads are JSON when any field (or the timestamp) has a path."""
        return self.timestamp_path is not None or any(f.path for f in self.fields)


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandSpec:
    """How to write one point, and how the write is confirmed.

    ``encode`` maps each label a write may use to its raw wire value (enum points); numeric
    points instead have ``range`` (engineering units) and ``scale``/``offset`` to reach the raw
    value. The write is confirmed when the point's own telemetry reports the new value.
    """

    key: str
    topic: str
    path: tuple[str, ...] = ()
    encode: Mapping[str, RawValue] | None = None
    range: tuple[float, float] | None = None
    scale: float = 1.0
    offset: float = 0.0
    qos: int = 1
    retain: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceSpec:
    """An MQTT device: its telemetry topics, availability topic and writable points.

    ``stale_after`` is in the caller's clock seconds: no telemetry for that long marks the
    device unavailable (None disables the check).
    """

    device_id: str
    topics: tuple[TopicSpec, ...]
    commands: Mapping[str, CommandSpec] = field(default_factory=dict)
    availability_topic: str | None = None
    availability_template: str | None = None
    payload_online: str = "online"
    payload_offline: str = "offline"
    stale_after: float | None = None
