"""aiomqtt clients built from a ``BrokerSpec``, and CONNACK refusals turned into driver errors.

Shared by the driver (subscriptions, commands) and the publisher (export), so both speak to a
broker the same way: same protocol version, credentials, keep-alive and TLS settings.
"""

from __future__ import annotations

import ssl
from typing import Any

import aiomqtt
from aiomqtt.exceptions import MqttConnectError
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from .errors import AuthenticationFailed, BrokerUnavailable
from .spec import BrokerSpec

__all__ = ["new_client", "refusal"]

PENDING_CALLS_WARNING = 5000
"""aiomqtt warns once more than this many publishes await their PUBACK. Its default (10) fires
on every burst of a normal campus: the export publishes one state per entity at once and paho
queues what exceeds its in-flight window, so only a backlog this deep says something is wrong."""

_AUTH_REASONS = frozenset({4, 5, 134, 135, 140})
"""CONNACK codes meaning "who you are is the problem": 3.1.1 (4, 5), MQTT 5 (0x86, 0x87, 0x8C)."""


def new_client(
    broker: BrokerSpec,
    *,
    identifier: str,
    persistent: bool,
    will: aiomqtt.Will | None = None,
) -> aiomqtt.Client:
    """A client for ``broker``. ``persistent``: keep the session (clean start/session off,
    MQTT 5 session expiry), so QoS 1 messages queue at the broker while we are away."""
    v5 = broker.protocol == "5"
    properties = None
    if v5 and persistent:
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = broker.session_expiry
    tls_params = None
    tls_insecure = None
    if broker.tls is not None:
        tls_params = aiomqtt.TLSParameters(
            ca_certs=broker.tls.ca_file,
            certfile=broker.tls.cert_file,
            keyfile=broker.tls.key_file,
            cert_reqs=ssl.CERT_NONE if broker.tls.insecure else ssl.CERT_REQUIRED,
        )
        tls_insecure = broker.tls.insecure
    extra: dict[str, Any] = {"clean_start": not persistent} if v5 else {}
    if not v5:
        extra["clean_session"] = not persistent
    client = aiomqtt.Client(
        broker.host,
        broker.port,
        username=broker.username,
        password=broker.password,
        identifier=identifier,
        protocol=aiomqtt.ProtocolVersion.V5 if v5 else aiomqtt.ProtocolVersion.V311,
        keepalive=broker.keepalive,
        timeout=broker.timeout,
        properties=properties,
        tls_params=tls_params,
        tls_insecure=tls_insecure,
        will=will,
        **extra,
    )
    client.pending_calls_threshold = PENDING_CALLS_WARNING
    return client


def refusal(broker: BrokerSpec, err: MqttConnectError) -> BrokerUnavailable:
    """The driver error for a refused CONNECT: ``AuthenticationFailed`` for credentials."""
    code = err.rc.value if isinstance(err.rc, ReasonCode) else err.rc
    reason = str(err.rc) if isinstance(err.rc, ReasonCode) else str(err)
    if code in _AUTH_REASONS:
        return AuthenticationFailed(broker.host, broker.port, broker.username, reason)
    return BrokerUnavailable(broker.host, broker.port, f"connection refused: {reason}")
