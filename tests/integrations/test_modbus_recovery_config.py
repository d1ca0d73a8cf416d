"""A link's ``offline_after`` and ``recovery_backoff_max`` reach every device's poll spec."""

from __future__ import annotations

from pathlib import Path

from controller.app import Controller
from controller.config import load_site
from controller.core import FakeClock
from controller.integrations.modbus import ModbusIntegration

SITE = """
campus: {id: t, name: {zh: 测试}}
buildings:
  - {id: dorm-1, kind: dorm, name: {zh: 一号楼}, rooms: [{id: "101", floor: 1}]}
links:
  - {id: gw-a, type: rtu_over_tcp, host: 127.0.0.1, port: 1502,
     offline_after: 5, recovery_backoff_max: 60}
  - {id: gw-b, type: modbus_tcp, host: 127.0.0.1, port: 1503}
devices:
  - {id: a, profile: eastron/sdm120, building: dorm-1, room: "101", link: gw-a, unit_id: 1}
  - {id: b, profile: eastron/sdm120, building: dorm-1, room: "101", link: gw-b, unit_id: 1}
"""


def _specs(tmp_path: Path, **options: float) -> dict[str, tuple[int, float]]:
    (tmp_path / "site.yaml").write_text(SITE, encoding="utf-8")
    ctrl = Controller(load_site(tmp_path / "site.yaml"), FakeClock(1_780_000_000))
    modbus = ModbusIntegration(ctrl, **options)
    return {
        device_id: (status.spec.fail_threshold, status.spec.backoff_max)
        for poller in modbus.pollers.values()
        for device_id, status in poller.devices.items()
    }


def test_link_settings_and_defaults(tmp_path: Path) -> None:
    assert _specs(tmp_path) == {"a": (5, 60.0), "b": (3, 300.0)}


def test_integration_options_override_every_link(tmp_path: Path) -> None:
    assert _specs(tmp_path, fail_threshold=2, backoff_max=10.0) == {
        "a": (2, 10.0),
        "b": (2, 10.0),
    }
