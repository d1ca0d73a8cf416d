"""One root per layer: every driver error is a ``DriverError``, and the failures every bus
shares are the same classes whatever the protocol (a caller catching ``LinkTimeout`` catches a
Modbus timeout too), while the per-bus counters keep their names."""

from __future__ import annotations

import pytest

from drivers import modbus
from drivers.errors import DriverError
from drivers.link import errors as link
from drivers.mqtt import MqttDriverError


@pytest.mark.parametrize(
    ("modbus_error", "shared", "kind"),
    [
        (modbus.ModbusTimeout, link.LinkTimeout, "timeout"),
        (modbus.ModbusConnectionError, link.LinkConnectionError, "connection"),
        (modbus.LinkClosed, link.LinkClosed, "closed"),
        (modbus.WriteRefused, link.WriteRefused, "refused"),
        (modbus.WriteNotConfirmed, link.WriteNotConfirmed, "unconfirmed"),
    ],
)
def test_modbus_failures_are_the_links(
    modbus_error: type[modbus.ModbusError], shared: type[link.LinkError], kind: str
) -> None:
    assert issubclass(modbus_error, shared)
    assert issubclass(modbus_error, modbus.ModbusError)
    assert modbus_error.kind == shared.kind == kind


def test_every_root_is_a_driver_error() -> None:
    for root in (modbus.ModbusError, link.LinkError, MqttDriverError):
        assert issubclass(root, DriverError)
    closed = modbus.LinkClosed("connection lost while queued", link="gw-1")
    assert isinstance(closed, link.LinkConnectionError)
    assert isinstance(closed, modbus.ModbusConnectionError)
    assert closed.link == "gw-1"
