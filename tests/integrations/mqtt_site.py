"""A small MQTT site for the MQTT integration tests: shower valves and a Tasmota plug."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import yaml

from controller.config import LoadedSite, load_site


async def eventually(check: Callable[[], object], within: float = 5.0) -> None:
    """Poll ``check`` until it is truthy (real time: the broker is real)."""
    deadline = asyncio.get_running_loop().time() + within
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met in {within} s")
        await asyncio.sleep(0.01)


def write_mqtt_site(
    folder: Path,
    *,
    port: int,
    prefix: str,
    showers: int = 2,
    plugs: int = 1,
    others: bool = False,
    link: dict[str, object] | None = None,
) -> LoadedSite:
    """Write and load a site whose MQTT devices use topics under ``prefix`` (unique per test)."""
    devices: list[dict[str, object]] = [
        {
            "id": f"bath-1.shower.s{i:02d}",
            "profile": "generic/mqtt-shower-valve",
            "building": "bath-1",
            "area": "showers",
            "link": "mqtt-main",
            "topic_base": f"{prefix}/shower/s{i:02d}",
            "circuit": "shower",
        }
        for i in range(1, showers + 1)
    ]
    devices += [
        {
            "id": f"bath-1.plug.p{i}",
            "profile": "tasmota/energy-plug",
            "building": "bath-1",
            "area": "showers",
            "link": "mqtt-main",
            "topic_base": f"{prefix}_plug{i}",
            "circuit": "power",
        }
        for i in range(1, plugs + 1)
    ]
    if others:  # one of each other MQTT profile: cold and hot water meters, an AC controller
        for suffix, profile, circuit in (
            ("cold", "generic/mqtt-water-meter", "cold_water"),
            ("hot", "generic/mqtt-water-meter", "hot_water"),
            ("ac", "generic/mqtt-ac-controller", "ac"),
        ):
            devices.append(
                {
                    "id": f"bath-1.{suffix}",
                    "profile": profile,
                    "building": "bath-1",
                    "area": "showers",
                    "link": "mqtt-main",
                    "topic_base": f"{prefix}/{suffix}",
                    "circuit": circuit,
                }
            )
    site = {
        "campus": {"id": "mqtt-test", "name": {"zh": "测试校区", "en": "Test campus"}},
        "buildings": [
            {
                "id": "bath-1",
                "kind": "bathhouse",
                "name": {"zh": "浴室"},
                "areas": [{"id": "showers", "name": {"zh": "淋浴间"}}],
            }
        ],
        "links": [
            {
                "id": "mqtt-main",
                "type": "mqtt",
                "host": "127.0.0.1",
                "port": port,
                "client_id": f"sanjie-{prefix}",
                "timeout": 3,
                **(link or {}),
            }
        ],
        "devices": devices,
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "site.yaml"
    path.write_text(yaml.safe_dump(site, allow_unicode=True), encoding="utf-8")
    return load_site(path)
