"""``sanjie demo`` runs headless for a few seconds and exits cleanly with a summary."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

SANJIE = Path(sys.executable).with_name("sanjie")


def test_demo_runs_headless_and_exits_zero() -> None:
    done = subprocess.run(
        [str(SANJIE), "demo", "--duration", "4", "--speed", "30", "--free-ports", "--headless"],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert "started Modbus emulators: 981 devices on 15 gateways" in out
    assert "started DL/T 645 and CJ/T 188 emulators: 24 meters on 4 buses" in out
    assert "楼宇 Buildings" in out
    assert "dorm-1" in out
    assert "modbus" in out
    assert "Traceback" not in done.stderr


async def test_demo_serves_live_readings_over_the_api() -> None:
    """Staff tools and the web app read the demo campus through the API while it runs."""
    import asyncio
    import io
    import re

    import httpx
    from rich.console import Console

    from controller.demo import DemoOptions, run_demo
    from tests.conftest import EXAMPLE_SITE

    out = io.StringIO()
    options = DemoOptions(site=EXAMPLE_SITE, speed=30, duration=25, free_ports=True, headless=True)
    demo = asyncio.create_task(run_demo(options, Console(file=out, width=200)))
    try:
        found = None
        for _ in range(300):
            found = re.search(
                r"Web app: http://127\.0\.0\.1:(\d+)/ sign in as (\S+) with password (\S+)",
                out.getvalue(),
            )
            if found:
                break
            await asyncio.sleep(0.1)
        assert found, out.getvalue()
        port, name, password = int(found.group(1)), found.group(2), found.group(3)
        assert name == "demo-admin"
        base = f"http://127.0.0.1:{port}/api"
        energy: list[dict[str, object]] = []
        async with httpx.AsyncClient(timeout=5) as client:
            for _ in range(200):
                try:
                    signed_in = await client.post(
                        f"{base}/login", json={"name": name, "password": password}
                    )
                except httpx.ConnectError:
                    await asyncio.sleep(0.1)
                    continue
                assert signed_in.status_code == 200, signed_in.text
                break
            for _ in range(200):
                try:
                    reply = await client.get(
                        f"{base}/states",
                        params={"kind": "active_energy", "building": "dorm-1", "limit": 1000},
                    )
                except httpx.ConnectError:
                    await asyncio.sleep(0.1)
                    continue
                energy = [s for s in reply.json()["items"] if s["value"] is not None]
                if len(energy) >= 100:
                    break
                await asyncio.sleep(0.1)
            site = (await client.get(f"{base}/site")).json()
            policies = (await client.get(f"{base}/policies")).json()["items"]
        assert len(energy) >= 100
        assert all(s["quality"] == "good" for s in energy)
        assert site["name"] == "示范校区"
        assert {p["type"] for p in policies} >= {"curfew", "ac_limits", "quota"}
    finally:
        demo.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await demo


def test_fast_demos_widen_mqtt_staleness_to_wall_seconds() -> None:
    """At 600× a 120 s staleness window is 0.2 s of wall time: one slow event-loop turn
    marked the shower valves offline. The demo keeps at least 10 wall seconds."""
    from controller.config import load_site
    from controller.config.site import MqttLink
    from controller.demo import STALE_WALL_S, _stale_windows
    from tests.conftest import EXAMPLE_SITE

    assert _stale_windows(load_site(EXAMPLE_SITE), 1.0) == 0  # real time: as configured
    site = load_site(EXAMPLE_SITE)
    assert _stale_windows(site, 600.0) > 0
    mqtt = [d for d in site.devices.values() if isinstance(site.links[d.link], MqttLink)]
    assert mqtt
    for device in mqtt:
        options = site.profiles[device.profile].mqtt
        window = options.stale_after * (device.scan_interval or options.interval)
        assert window >= STALE_WALL_S * 600.0 - 1e-6, device.id
