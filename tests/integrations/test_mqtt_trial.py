"""The documented trial: `sanjie emulate` in one process, `sanjie run` in another, and the
controller sees the MQTT devices, because a hostless link means the broker at the link's port
for both (the emulator starts it; the controller finds it there)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import urllib.request
from pathlib import Path

import pytest
import yaml

from controller.accounts import Role
from tests.auth_helpers import service_token
from tests.integrations.test_mqtt_broker import _mosquittos_on
from tests.servers import free_port

pytestmark = pytest.mark.integration

_ROOT = Path(__file__).resolve().parents[2]


def _trial_site(folder: Path) -> tuple[Path, int]:
    """A small generated campus with every link moved to a free port (the MQTT one keeps no
    host); returns the site file and the MQTT link's port."""
    from typer.testing import CliRunner

    from controller.cli import app

    result = CliRunner().invoke(app, ["gen-site", "--rooms", "10", "--out", str(folder)])
    assert result.exit_code == 0, result.output
    links_file = folder / "links.yaml"
    links = yaml.safe_load(links_file.read_text(encoding="utf-8"))
    mqtt_port = 0
    for link in links:
        if "port" in link or link["type"] == "mqtt":
            link["port"] = free_port()
        if link["type"] == "mqtt":
            assert "host" not in link
            mqtt_port = link["port"]
    links_file.write_text(yaml.safe_dump(links, allow_unicode=True), encoding="utf-8")
    return folder / "site.yaml", mqtt_port


async def _sanjie(*args: str, log: Path) -> asyncio.subprocess.Process:
    """``python -m controller ARGS`` from this tree, its output in ``log``."""
    with log.open("wb") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "controller",
            *args,
            cwd=_ROOT,
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "COLUMNS": "200"},
        )


def _get_json(url: str, headers: dict[str, str]) -> object:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=2) as reply:
        return json.loads(reply.read())


async def _stop(process: asyncio.subprocess.Process) -> int:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
    try:
        return await asyncio.wait_for(process.wait(), 20)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise


async def test_emulate_and_run_meet_on_the_hostless_links_port(tmp_path: Path) -> None:
    site, mqtt_port = _trial_site(tmp_path / "site")
    data = tmp_path / "data"
    token = service_token(data, role=Role.VIEWER)
    api_port = free_port()
    emulate = await _sanjie("emulate", str(site), log=tmp_path / "emulate.log")
    run: asyncio.subprocess.Process | None = None
    try:
        async with asyncio.timeout(30):  # the emulator's broker first, as a user would
            while not _mosquittos_on(mqtt_port):
                assert emulate.returncode is None, (tmp_path / "emulate.log").read_text()
                await asyncio.sleep(0.2)
        run = await _sanjie(
            "run",
            str(site),
            "--data-dir",
            str(data),
            "--api-port",
            str(api_port),
            log=tmp_path / "run.log",
        )
        url = f"http://127.0.0.1:{api_port}/api/states?device=bath-1.shower.s01"
        values: list[object] = []
        async with asyncio.timeout(60):
            while not values:
                assert run.returncode is None, (tmp_path / "run.log").read_text()
                await asyncio.sleep(0.5)
                try:
                    page = await asyncio.to_thread(_get_json, url, token)
                except OSError:
                    continue  # the API is not up yet
                assert isinstance(page, dict)
                values = [s["value"] for s in page["items"] if s.get("value") is not None]
        assert len(_mosquittos_on(mqtt_port)) == 1  # one broker: the emulator's, shared
    finally:
        codes = [await _stop(run)] if run is not None else []
        codes.append(await _stop(emulate))
    run_log = (tmp_path / "run.log").read_text(errors="replace")
    assert f"using the one already listening on 127.0.0.1:{mqtt_port}" in run_log
    assert "MQTT 5, the default version" in run_log
    assert "starting on uvloop" in run_log  # the production loop, MQTT and Modbus on it
    assert codes == [0, 0], (run_log, (tmp_path / "emulate.log").read_text(errors="replace"))
    for _ in range(50):
        if not _mosquittos_on(mqtt_port):
            break
        await asyncio.sleep(0.1)
    assert _mosquittos_on(mqtt_port) == [], "a broker outlived sanjie emulate"
