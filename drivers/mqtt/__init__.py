"""MQTT driver: telemetry to readings, commands with confirmation, availability.

It knows nothing of the controller: callers describe devices with the frozen specs of
``spec`` and receive readings through callbacks.
"""

from .decode import Problem
from .driver import ConnectionState, DriverClock, MqttDriver
from .errors import (
    AuthenticationFailed,
    BrokerUnavailable,
    CommandFailed,
    CommandRefused,
    CommandUnconfirmed,
    MqttDriverError,
    NotConnected,
    PublishFailed,
)
from .publisher import MqttPublisher
from .routes import ReadingCallback
from .spec import (
    BrokerSpec,
    CommandSpec,
    DeviceSpec,
    FieldSpec,
    RawValue,
    TimestampFormat,
    TlsSpec,
    TopicSpec,
    Value,
)
from .topics import subscription_filters

__all__ = [
    "AuthenticationFailed",
    "BrokerSpec",
    "BrokerUnavailable",
    "CommandFailed",
    "CommandRefused",
    "CommandSpec",
    "CommandUnconfirmed",
    "ConnectionState",
    "DeviceSpec",
    "DriverClock",
    "FieldSpec",
    "MqttDriver",
    "MqttDriverError",
    "MqttPublisher",
    "NotConnected",
    "Problem",
    "PublishFailed",
    "RawValue",
    "ReadingCallback",
    "TimestampFormat",
    "TlsSpec",
    "TopicSpec",
    "Value",
    "subscription_filters",
]
