"""RTU over a serial port: the driver's serial transport against an emulated RS-485 bus on a
pseudo-terminal, through the whole controller path."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from controller.app import Controller
from controller.config import load_site
from controller.core import Quality, SystemClock
from controller.integrations.modbus import ModbusIntegration
from drivers.modbus import LinkSpec, ModbusTimeout, Transport
from drivers.modbus.channel import SerialChannel
from emulators.modbus import SiteEmulator
from tests.integrations.modbus_harness import wait_until
from wire.modbus import Table

pytestmark = pytest.mark.integration


def serial_site(folder: Path) -> Path:
    site = {
        "campus": {"id": "serial", "name": {"zh": "串口"}},
        "buildings": [{"id": "b1", "kind": "dorm", "name": {"zh": "一号楼"}}],
        "links": [
            {"id": "rs485-1", "type": "serial", "port": "/dev/ttyUSB9", "baudrate": 9600,
             "timeout": 0.3, "inter_frame_gap": 0.002}
        ],
        "devices": [
            {"id": "b1.ac1", "profile": "intesis/ac-gateway", "building": "b1",
             "link": "rs485-1", "unit_id": 1, "circuit": "ac"},
            {"id": "b1.meter", "profile": "generic/dorm-prepaid-meter", "building": "b1",
             "link": "rs485-1", "unit_id": 2, "circuit": "sockets"},
        ],
    }  # fmt: skip
    path = folder / "site.yaml"
    path.write_text(yaml.safe_dump(site, allow_unicode=True), encoding="utf-8")
    return path


async def test_polls_and_writes_over_a_serial_port(tmp_path: Path) -> None:
    site = load_site(serial_site(tmp_path))
    clock = SystemClock()
    async with SiteEmulator(site, clock, latency=0.005) as emulator:
        endpoint = emulator.endpoints["rs485-1"]
        assert endpoint.host.startswith("/dev/")
        controller = Controller(site, clock)
        modbus = ModbusIntegration(
            controller, endpoints={"rs485-1": (endpoint.host, 0)}, scan_interval=0.3
        )
        assert modbus.pollers["rs485-1"].link.spec.serial_port == endpoint.host
        controller.add(modbus)
        async with controller.running():
            states = controller.states
            await wait_until(
                lambda: (
                    states.get("b1.meter.energy") is not None
                    and states.get("b1.ac1.setpoint") is not None
                ),
                "readings over the serial line",
            )
            assert states.get("b1.meter.energy").quality is Quality.GOOD  # type: ignore[union-attr]
            result = await controller.commands.send("b1.ac1.setpoint", 27.0, actor="test")
            assert result.ok, result.error
            assert result.confirmed_value == 27.0
            relay = await controller.commands.send("b1.meter.relay", False, actor="test")
            assert relay.ok, relay.error


async def test_a_silent_unit_on_a_serial_bus_is_a_timeout(tmp_path: Path) -> None:
    """Classified by type (the channel's own timer), not by pymodbus's message text."""
    site = load_site(serial_site(tmp_path))
    async with SiteEmulator(site, SystemClock(), latency=0.005) as emulator:
        port = emulator.endpoints["rs485-1"].host
        spec = LinkSpec(link_id="rs485-1", transport=Transport.SERIAL, serial_port=port,
                        timeout=0.2)  # fmt: skip
        channel = SerialChannel(spec, lambda up: None)
        assert await channel.connect()
        try:
            reply = await channel.read(2, Table.HOLDING, 0, 1)  # the meter answers
            assert not reply.isError()
            with pytest.raises(ModbusTimeout, match=r"no reply within 0\.2 s") as caught:
                await channel.read(9, Table.HOLDING, 0, 1)  # nobody has unit id 9
            assert isinstance(caught.value.__cause__, TimeoutError)
            reply = await channel.read(2, Table.HOLDING, 0, 1)  # and the bus still works
            assert not reply.isError()
        finally:
            channel.close()
