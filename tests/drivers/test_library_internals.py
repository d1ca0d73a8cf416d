"""What the drivers assume of pymodbus, aiomqtt and paho-mqtt beyond their documented API.

``pyproject.toml`` pins the three to the minor versions these assumptions were checked
against. Before widening a pin, run this file against the new version: each test names the
driver code that relies on the assumption, so a failure says what to change, where a silent
change would otherwise show up as wrong readings, lost replies or a slower ingest path.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from importlib.metadata import version

import aiomqtt
import paho.mqtt.client as paho
import pytest
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.framer import FramerRTU, FramerSocket
from pymodbus.pdu import DecodePDU, ModbusPDU
from pymodbus.pdu.register_message import (
    ReadHoldingRegistersRequest,
    ReadHoldingRegistersResponse,
)

from drivers.modbus.channel import read_request
from drivers.mqtt import bufsock
from tests.servers import MosquittoServer
from wire.modbus import Table


def _params(func: Callable[..., object]) -> list[str]:
    return list(inspect.signature(func).parameters)


# -- pymodbus: drivers/modbus/channel.py builds and decodes frames with its framers -------------


def test_pymodbus_is_the_pinned_minor_version() -> None:
    assert version("pymodbus").startswith("3.16."), version("pymodbus")


def _reply_frame(framer: type[FramerSocket | FramerRTU], tid: int) -> bytes:
    reply = ReadHoldingRegistersResponse(registers=[0x1234, 0xABCD], dev_id=7)
    reply.transaction_id = tid
    return framer(DecodePDU(is_server=True)).buildFrame(reply)


def test_tcp_request_frames_start_with_the_transaction_id() -> None:
    """SocketChannel.read caches a request frame and splices a fresh MBAP id into bytes 0-1."""
    request = read_request(7, Table.HOLDING, 100, 2)
    request.transaction_id = 0x0102
    frame = FramerSocket(DecodePDU(is_server=False)).buildFrame(request)
    assert frame[:2] == b"\x01\x02"
    assert frame[6] == 7  # the unit id follows the MBAP length
    assert frame[7:] == bytes([3, 0, 100, 0, 2])  # function 3, address 100, count 2


@pytest.mark.parametrize("framer", [FramerSocket, FramerRTU])
def test_handle_frame_takes_a_reply_and_reports_the_bytes_used(
    framer: type[FramerSocket | FramerRTU],
) -> None:
    """SocketChannel._received: ``handleFrame(buf, unit, tid) -> (used, pdu or None)``."""
    tid = 0 if framer is FramerRTU else 9
    frame = _reply_frame(framer, tid)
    decoder = framer(DecodePDU(is_server=False))
    used, reply = decoder.handleFrame(frame[:-1], 7, tid)
    assert reply is None  # incomplete: wait for more bytes
    used, reply = decoder.handleFrame(frame, 7, tid)
    assert used == len(frame)
    assert isinstance(reply, ModbusPDU)
    assert reply.registers == [0x1234, 0xABCD]
    assert (reply.dev_id, reply.function_code) == (7, 3)


def test_requests_take_dev_id_and_carry_a_settable_transaction_id() -> None:
    """read_request / ModbusLink.write build requests with ``dev_id=``; execute sets the id."""
    request = ReadHoldingRegistersRequest(address=1, count=2, dev_id=3)
    request.transaction_id = 5
    assert (request.dev_id, request.transaction_id, request.function_code) == (3, 5, 3)


def test_serial_client_options_the_channel_passes() -> None:
    """SerialChannel: its constructor keywords, the no-response limit and execute()."""
    wanted = {"framer", "timeout", "retries", "reconnect_delay", "name", "trace_connect"}
    assert wanted <= set(_params(AsyncModbusSerialClient.__init__))
    assert callable(AsyncModbusSerialClient.set_max_no_responses)
    assert _params(AsyncModbusSerialClient.execute) == ["self", "no_response_expected", "request"]


def test_client_reads_take_device_id() -> None:
    """bench/modbus_poll.py's pymodbus baseline reads with ``device_id=``."""
    assert "device_id" in _params(AsyncModbusTcpClient.read_holding_registers)


# -- aiomqtt and paho: drivers/mqtt/driver.py takes over paho's on_message, bufsock._sock ------


def test_aiomqtt_and_paho_are_the_pinned_minor_versions() -> None:
    assert version("aiomqtt").startswith("2.5."), version("aiomqtt")
    assert version("paho-mqtt").startswith("2.2."), version("paho-mqtt")


async def test_aiomqtt_client_wraps_a_paho_client() -> None:
    """MqttDriver._new_client sets ``client._client.on_message`` and installs bufsock there."""
    client = aiomqtt.Client("127.0.0.1", 1)
    inner = client._client
    assert isinstance(inner, paho.Client)
    assert inner.on_socket_open is not None  # aiomqtt registers its reader here
    assert hasattr(inner, "_sock")


def test_aiomqtt_reader_drains_a_socket_with_pending_bytes() -> None:
    """bufsock.BufferedSocket.pending() keeps aiomqtt's reader looping over a burst; aiomqtt
    has the loop for SSL sockets, found by name in its socket-open callback."""
    source = inspect.getsource(aiomqtt.Client._on_socket_open)
    assert "_sock" in source
    assert ".pending()" in source


async def test_bufsock_is_the_socket_paho_reads(
    mosquitto: MosquittoServer, unique_name: str
) -> None:
    """paho assigns ``_sock`` before calling ``on_socket_open``, so the swap sticks, and
    messages arrive through the buffered socket."""
    client = aiomqtt.Client("127.0.0.1", mosquitto.port, identifier=unique_name)
    bufsock.install(client._client)
    async with client:
        assert isinstance(client._client._sock, bufsock.BufferedSocket)
        await client.subscribe(f"{unique_name}/#", qos=1)
        await client.publish(f"{unique_name}/x", b"42", qos=1)
        async with asyncio.timeout(5):
            async for message in client.messages:
                assert message.payload == b"42"
                break
