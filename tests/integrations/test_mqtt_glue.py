"""Profiles and site devices translated into the MQTT driver's specs."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.config import LoadedSite
from controller.integrations.mqtt import broker_spec, device_spec, mqtt_links
from drivers.mqtt import DeviceSpec
from tests.integrations.mqtt_site import write_mqtt_site


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> LoadedSite:
    return write_mqtt_site(tmp_path_factory.mktemp("glue"), port=1883, prefix="g", others=True)


def spec_of(site: LoadedSite, device_id: str) -> DeviceSpec:
    device = site.devices[device_id]
    return device_spec(device, site.profile_of(device))


def test_tasmota_plug(site: LoadedSite) -> None:
    spec = spec_of(site, "bath-1.plug.p1")
    sensor, power = spec.topics
    assert (sensor.topic, sensor.template) == ("tele/g_plug1/SENSOR", "tele/{base}/SENSOR")
    assert (sensor.timestamp_path, sensor.timestamp_format) == (("Time",), "iso")
    assert [(f.key, f.ref, f.path) for f in sensor.fields][:2] == [
        ("energy", "bath-1.plug.p1.energy", ("ENERGY", "Total")),
        ("power", "bath-1.plug.p1.power", ("ENERGY", "Power")),
    ]
    assert power.topic == "stat/g_plug1/POWER"
    assert power.timestamp_path is None  # a plain payload carries no time
    assert power.fields[0].values == {"OFF": "off", "ON": "on"}
    relay = spec.commands["relay"]
    assert (relay.topic, relay.path, relay.encode) == (
        "cmnd/g_plug1/POWER",
        (),
        {"off": "OFF", "on": "ON"},
    )
    assert spec.availability_topic == "tele/g_plug1/LWT"
    assert (spec.payload_online, spec.payload_offline) == ("Online", "Offline")
    assert spec.stale_after == 900.0  # 3 × the 300 s TelePeriod


def test_shower_valve(site: LoadedSite) -> None:
    spec = spec_of(site, "bath-1.shower.s01")
    (state,) = spec.topics
    volume = next(f for f in state.fields if f.key == "volume")
    assert (volume.path, volume.scale) == (("total_l",), 0.001)
    enabled = spec.commands["enabled"]
    assert enabled.encode == {"off": False, "on": True}  # JSON booleans on the wire
    assert spec.commands["valve"].encode == {"open": "open", "closed": "closed"}
    assert spec.commands["delay"].range == (5.0, 600.0)
    assert set(spec.commands) == {"valve", "delay", "enabled"}
    assert spec.stale_after == 90.0


def test_broker_defaults(site: LoadedSite) -> None:
    (link,) = mqtt_links(site)
    broker = broker_spec(site, link)
    assert (broker.host, broker.port, broker.protocol) == ("127.0.0.1", 1883, "5")
    assert broker.client_id == "sanjie-g"  # from the link; else sanjie-<campus>-<link>
    assert broker.session_expiry == 86400
    assert broker.timeout == 3.0


def test_a_wildcard_in_a_topic_base_is_refused(tmp_path: Path) -> None:
    bad = write_mqtt_site(tmp_path, port=1883, prefix="a/+")
    device = bad.devices["bath-1.shower.s01"]
    with pytest.raises(ValueError, match="MQTT wildcard"):
        device_spec(device, bad.profile_of(device))
