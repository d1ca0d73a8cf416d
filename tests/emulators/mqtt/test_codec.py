"""The emulator's own wire encoding, checked against payloads written out by hand."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from controller.config import LoadedSite
from emulators.mqtt.codec import BadCommand, DeviceCodec
from emulators.mqtt.faults import MqttFault, MqttFaults, corrupt
from tests.integrations.mqtt_site import write_mqtt_site

T0 = 1_767_225_600.0  # 2026-01-01 08:00:00 in Shanghai


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> LoadedSite:
    return write_mqtt_site(tmp_path_factory.mktemp("site"), port=1883, prefix="x")


def codec(site: LoadedSite, device_id: str) -> DeviceCodec:
    device = site.devices[device_id]
    return DeviceCodec(device, site.profile_of(device), site.campus.timezone)


def test_shower_state_payload(site: LoadedSite) -> None:
    shower = codec(site, "bath-1.shower.s01")
    (topic,) = shower.topics
    values = {
        "valve": "open",
        "flow": 8.0,
        "volume": 12.345,
        "presses": 17,
        "delay": 30,
        "enabled": "on",
    }
    assert topic.topic == "x/shower/s01/state"
    assert json.loads(shower.encode(topic, values, T0 + 0.25)) == {
        "ts": T0 + 0.25,
        "valve": "open",
        "flow_lpm": 8.0,
        "total_l": 12345,  # m³ → litres (scale 0.001), whole litres sent as integers
        "presses": 17,
        "delay_s": 30,
        "enabled": True,  # the "true"/"false" keys of the value map are JSON booleans
    }
    assert shower.availability_topic == "x/shower/s01/status"


def test_tasmota_payloads(site: LoadedSite) -> None:
    plug = codec(site, "bath-1.plug.p1")
    sensor, power = plug.topics
    values = {
        "energy": 1.5,
        "power": 42.0,
        "voltage": 229.5,
        "current": 0.2,
        "power_factor": 0.91,
        "relay": "on",
    }
    assert sensor.topic == "tele/x_plug1/SENSOR"
    doc = json.loads(plug.encode(sensor, values, T0))
    assert doc["Time"] == "2026-01-01T08:00:00"  # Tasmota: local time, no zone
    assert doc["ENERGY"] == {
        "Total": 1.5,
        "Power": 42.0,
        "Voltage": 229.5,
        "Current": 0.2,
        "Factor": 0.91,
    }
    assert (power.topic, plug.encode(power, values, T0)) == ("stat/x_plug1/POWER", b"ON")


@pytest.mark.parametrize(
    ("device", "topic", "payload", "expected"),
    [
        ("bath-1.plug.p1", "cmnd/x_plug1/POWER", b"OFF", [("relay", "off")]),
        ("bath-1.plug.p1", "cmnd/x_plug1/POWER", b"on", [("relay", "on")]),
        ("bath-1.shower.s01", "x/shower/s01/set", b'{"delay_s": 45}', [("delay", 45)]),
        (
            "bath-1.shower.s01",
            "x/shower/s01/set",
            b'{"valve": "closed", "enabled": false}',
            [("valve", "closed"), ("enabled", "off")],
        ),
    ],
)
def test_commands(
    site: LoadedSite, device: str, topic: str, payload: bytes, expected: list[tuple[str, object]]
) -> None:
    assert codec(site, device).decode_command(topic, payload) == expected


@pytest.mark.parametrize(
    "payload", [b"{oops", b'{"nothing": 1}', b'{"valve": "ajar"}', b'{"delay_s": "long"}']
)
def test_bad_commands(site: LoadedSite, payload: bytes) -> None:
    with pytest.raises(BadCommand):
        codec(site, "bath-1.shower.s01").decode_command("x/shower/s01/set", payload)


TASMOTA = {"Time": "2026-01-01T08:00:00", "ENERGY": {"Total": 1.5, "Power": 3}}


def test_malformed_json() -> None:
    payload = corrupt(MqttFault.MALFORMED_JSON, dict(TASMOTA), "Time", random.Random(1))
    with pytest.raises(ValueError, match=r"Unterminated|Expecting"):
        json.loads(payload)


def test_missing_field_never_drops_the_timestamp() -> None:
    doc = json.loads(json.dumps(TASMOTA))
    payload = json.loads(corrupt(MqttFault.MISSING_FIELD, doc, "Time", random.Random(1)))
    assert payload["Time"] == "2026-01-01T08:00:00"
    assert len(payload["ENERGY"]) == 1


def test_wrong_type_sends_a_number_as_text() -> None:
    doc = json.loads(json.dumps(TASMOTA))
    payload = json.loads(corrupt(MqttFault.WRONG_TYPE, doc, "Time", random.Random(1)))
    assert payload["Time"] == "2026-01-01T08:00:00"
    texts = [v for v in payload["ENERGY"].values() if isinstance(v, str)]
    assert len(texts) == 1
    assert float(texts[0]) in (1.5, 3)


def test_injected_faults_come_first_then_random_ones() -> None:
    faults = MqttFaults(rate=1.0, kinds=(MqttFault.DUPLICATE,))
    faults.inject(MqttFault.BURST, 2)
    rng = random.Random(0)
    assert [faults.next(rng) for _ in range(3)] == [
        MqttFault.BURST,
        MqttFault.BURST,
        MqttFault.DUPLICATE,
    ]
    assert faults.injected == {"burst": 2, "duplicate": 1}
    assert MqttFaults().next(rng) is None


def test_module_never_imports_the_driver() -> None:
    root = Path(__file__).resolve().parents[3] / "emulators" / "mqtt"
    for source in root.glob("*.py"):
        for line in source.read_text().splitlines():
            words = line.split()
            if words[:1] in (["import"], ["from"]):
                assert not words[1].startswith("drivers"), f"{source}: {line}"
