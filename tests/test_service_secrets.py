"""``sanjie run`` with a password on every link and sink: none reaches any log (issue 11,
defect 2). A password-protected Mosquitto (the MQTT export's link) and an InfluxDB 1.x with
authentication, both real; every log record of the run, at DEBUG, is scanned."""

from __future__ import annotations

import asyncio
import json
import logging
import textwrap
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from controller.accounts import Role
from controller.config import load_site
from controller.core import SystemClock
from controller.service import ServiceOptions, run_service
from emulators.modbus import SiteEmulator
from tests.auth_helpers import service_token
from tests.recorder.test_secrets import SECRETS, secured_influx
from tests.servers import MosquittoServer, ServerError, free_port

__all__ = ["secured_influx"]  # a fixture, imported for pytest


@pytest.fixture
def secured_broker(tmp_path: Path) -> Iterator[MosquittoServer]:
    broker = MosquittoServer(tmp_path / "mqtt", allow_anonymous=False)
    passwd = broker.add_user("sanjie", SECRETS["mqtt"])
    broker.config_path.write_text(broker.config_path.read_text() + f"password_file {passwd}\n")
    try:
        broker.start()
    except ServerError as err:
        pytest.fail(str(err), pytrace=False)
    yield broker
    broker.stop()


def _site(tmp_path: Path, meter_port: int, broker_port: int, influx_url: str) -> Path:
    site = tmp_path / "site.yaml"
    site.write_text(
        textwrap.dedent(
            f"""\
            campus: {{id: sec, name: {{zh: 密码测试}}}}
            buildings:
              - {{id: b1, kind: dorm, name: {{zh: 一号楼}}, rooms: [{{id: "101", floor: 1}}]}}
            links:
              - {{id: gw-1, type: modbus_tcp, host: 127.0.0.1, port: {meter_port}, timeout: 0.5}}
              - {{id: broker, type: mqtt, host: 127.0.0.1, port: {broker_port},
                  username: sanjie, password: '{SECRETS["mqtt"]}'}}
            devices:
              - {{id: b1.101.elec, profile: eastron/sdm120, building: b1, room: "101",
                  link: gw-1, unit_id: 1, scan_interval: 1}}
            sinks:
              influxdb: {{type: influxdb_v1, url: "{influx_url}", database: secrets,
                          username: sanjie, password: '{SECRETS["influx"]}', flush_interval: 0.5}}
              mqtt: {{link: broker, prefix: sec}}
            """
        ),
        encoding="utf-8",
    )
    return site


def _status(url: str, headers: dict[str, str]) -> Any:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=2) as reply:
        return json.loads(reply.read())


@pytest.mark.integration
async def test_no_secret_of_a_running_service_reaches_a_log(
    tmp_path: Path,
    secured_influx: Any,
    secured_broker: MosquittoServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    site_path = _site(tmp_path, free_port(), secured_broker.port, secured_influx.url)
    api_port = free_port()
    options = ServiceOptions(site_path, tmp_path / "data", "127.0.0.1", api_port)
    token = service_token(options.data_dir, role=Role.VIEWER)
    stop = asyncio.Event()
    emulator = SiteEmulator(load_site(site_path), SystemClock(), latency=0)
    done = False
    async with emulator, asyncio.TaskGroup() as group:
        group.create_task(run_service(options, stop), name="service")
        async with asyncio.timeout(30):
            while not done:
                await asyncio.sleep(0.2)
                try:
                    status = await asyncio.to_thread(
                        _status, f"http://127.0.0.1:{api_port}/api/status", token
                    )
                except OSError:
                    continue
                parts = status["components"]
                export = next(v for k, v in parts.items() if k.startswith("mqtt-export"))
                done = parts["recorder"]["points_written"] > 0 and export["published"] > 0
        stop.set()
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    logged = caplog.text + "\n".join(formatter.format(r) for r in caplog.records)
    assert "HTTP Request: POST" in logged  # httpx logged the writes to InfluxDB
    for secret in (SECRETS["mqtt"], SECRETS["influx"]):
        assert secret not in logged
