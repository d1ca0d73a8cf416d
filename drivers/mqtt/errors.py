"""The MQTT driver's errors: one root, each carrying the data a log line or an API answer needs.

The root is under ``drivers.errors.DriverError``, as the Modbus driver's is, so a caller can
catch "the device side failed" for both protocols at once. Malformed payloads are not
exceptions that leave the driver: they are counted per device.
"""

from __future__ import annotations

from ..errors import DriverError

__all__ = [
    "AuthenticationFailed",
    "BrokerUnavailable",
    "CommandFailed",
    "CommandRefused",
    "CommandUnconfirmed",
    "MqttDriverError",
    "NotConnected",
    "PublishFailed",
]


class MqttDriverError(DriverError):
    """Root of the MQTT driver's errors."""


class BrokerUnavailable(MqttDriverError):
    """The broker could not be reached or refused the connection."""

    def __init__(self, host: str, port: int, reason: str) -> None:
        super().__init__(f"MQTT broker {host}:{port}: {reason}")
        self.host = host
        self.port = port
        self.reason = reason


class AuthenticationFailed(BrokerUnavailable):
    """The broker rejected our credentials: a configuration error, not a network one."""

    def __init__(self, host: str, port: int, username: str | None, reason: str) -> None:
        who = f"user {username!r}" if username else "anonymous login"
        super().__init__(
            host, port, f"{who} rejected ({reason}); check the link's username and password"
        )
        self.username = username


class PublishFailed(MqttDriverError):
    """A publish did not reach the broker (not connected, or no PUBACK in time)."""

    def __init__(self, topic: str, reason: str) -> None:
        super().__init__(f"publish to {topic}: {reason}")
        self.topic = topic
        self.reason = reason


class CommandFailed(MqttDriverError):
    """A write did not happen or was not confirmed. ``reason`` is for people."""

    def __init__(self, device_id: str, key: str, value: object, reason: str) -> None:
        super().__init__(f"{device_id}.{key} := {value!r}: {reason}", device=device_id)
        self.device_id = device_id
        self.key = key
        self.value = value
        self.reason = reason


class CommandRefused(CommandFailed):
    """Refused before anything was sent: not writable, value not allowed, device offline."""


class NotConnected(CommandFailed):
    """The broker connection is down, so the command could not be sent."""


class CommandUnconfirmed(CommandFailed):
    """Sent, but the device's state did not reflect it in time."""

    def __init__(
        self, device_id: str, key: str, value: object, timeout: float, last: object
    ) -> None:
        seen = "no report" if last is None else f"it still reports {last!r}"
        super().__init__(device_id, key, value, f"not confirmed within {timeout:g} s ({seen})")
        self.timeout = timeout
        self.last = last
