"""A small MQTT site for the MQTT integration tests: shower valves and a Tasmota plug."""

from __future__ import annotations

from pathlib import Path

import yaml

from controller.config import LoadedSite, load_site


def write_mqtt_site(
    folder: Path,
    *,
    port: int,
    prefix: str,
    showers: int = 2,
    plugs: int = 1,
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
    path = folder / "site.yaml"
    path.write_text(yaml.safe_dump(site, allow_unicode=True), encoding="utf-8")
    return load_site(path)
