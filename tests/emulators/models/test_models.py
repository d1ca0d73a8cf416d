"""Behaviour models: physics that integrate, commands that act, seeded repeatability."""

from __future__ import annotations

import datetime as dt

import pytest

from controller.config import load_site
from controller.core import FakeClock
from emulators.models import (
    AcUnit,
    BoundDevice,
    CommandRejected,
    DelayValve,
    ElectricityMeter,
    HeatMeter,
    WaterMeter,
    build_models,
    device_rng,
)
from emulators.models.loads import dorm_sockets
from emulators.models.water import COLD_USES
from tests.conftest import EXAMPLE_SITE

TZ = dt.timezone(dt.timedelta(hours=8))
JULY_NOON = dt.datetime(2026, 7, 15, 12, 0, tzinfo=TZ)
JANUARY_NIGHT = dt.datetime(2026, 1, 15, 20, 0, tzinfo=TZ)


def day_of_readings(model: object, clock: FakeClock, key: str, hours: int = 24) -> list[float]:
    out = []
    for _ in range(hours):
        clock.advance(3600)
        out.append(model.values()[key])  # type: ignore[attr-defined]
    return out


def test_room_sockets_use_a_few_kwh_a_day_and_the_relay_cuts_them() -> None:
    clock = FakeClock(JULY_NOON)
    meter = ElectricityMeter(clock, device_rng(1, "r"), dorm_sockets(4), energy=100.0)
    energy = day_of_readings(meter, clock, "energy")
    assert energy == sorted(energy)
    assert 0.5 < energy[-1] - 100.0 < 6.0
    meter.command("relay", False)
    clock.advance(3600)
    values = meter.values()
    assert values["power"] == 0.0
    assert values["relay"] is False
    assert values["energy"] == pytest.approx(energy[-1], abs=1e-3)
    assert meter.command("relay", "on") is True


def test_overload_opens_the_relay() -> None:
    clock = FakeClock(JULY_NOON)
    meter = ElectricityMeter(clock, device_rng(1, "r"), dorm_sockets(4), trip_w=10.0)
    clock.advance(600)
    values = meter.values()
    assert values["relay"] is False
    assert values["overload_trip"] is True


def test_water_meter_volume_rises_and_a_closed_valve_stops_it() -> None:
    clock = FakeClock(JULY_NOON)
    meter = WaterMeter(clock, device_rng(2, "w"), COLD_USES, 4, volume=10.0)
    volumes = day_of_readings(meter, clock, "volume")
    assert volumes == sorted(volumes)
    assert 0.05 < volumes[-1] - 10.0 < 1.5  # tens to hundreds of litres for 4 people
    meter.command("valve", "closed")
    before = meter.values()["volume"]
    clock.advance(6 * 3600)
    assert meter.values() == {**meter.values(), "volume": before, "flow": 0.0, "valve": "closed"}
    with pytest.raises(CommandRejected):
        meter.command("valve", "ajar")


def test_heat_meter_integrates_heat() -> None:
    clock = FakeClock(JULY_NOON)
    meter = HeatMeter(clock, device_rng(3, "h"), 480, volume=100.0)
    start = meter.values()
    clock.advance(12 * 3600)
    end = meter.values()
    assert end["volume"] > start["volume"]  # type: ignore[operator]
    assert end["heat_energy"] > start["heat_energy"]  # type: ignore[operator]
    assert end["supply_temperature"] > end["return_temperature"]  # type: ignore[operator]


def test_ac_cools_to_its_setpoint_and_drifts_back_when_off() -> None:
    clock = FakeClock(JULY_NOON)
    ac = AcUnit(clock, device_rng(4, "ac"))
    hot = ac.values()["room_temperature"]
    assert hot > 26  # type: ignore[operator]
    ac.command("mode", "cool")
    ac.command("setpoint", 24.0)
    ac.command("power_switch", "on")
    clock.advance(3600)
    values = ac.values()
    assert values["room_temperature"] == pytest.approx(24.0, abs=1.0)
    assert values["power"] > 0  # type: ignore[operator]
    ac.command("power_switch", "off")
    clock.advance(4 * 3600)
    assert ac.values()["room_temperature"] > 26  # type: ignore[operator]
    assert ac.values()["power"] == 0
    with pytest.raises(CommandRejected):
        ac.command("setpoint", 35.0)


def test_ac_heats_in_winter() -> None:
    clock = FakeClock(JANUARY_NIGHT)
    ac = AcUnit(clock, device_rng(4, "ac"))
    ac.command("mode", "heat")
    ac.command("setpoint", 20.0)
    ac.command("power_switch", "on")
    clock.advance(3600)
    assert ac.values()["room_temperature"] == pytest.approx(20.0, abs=1.0)


def test_delay_valve_closes_itself_and_counts_presses() -> None:
    clock = FakeClock(dt.datetime(2026, 7, 15, 3, 0, tzinfo=TZ))  # nobody washes at 03:00
    valve = DelayValve(clock, device_rng(5, "v"), delay=7.0)
    presses = valve.values()["presses"]
    assert valve.command("command", "open") == "open"
    assert valve.values()["valve"] == "open"
    assert valve.values()["presses"] == presses + 1  # type: ignore[operator]
    clock.advance(8)
    assert valve.values()["valve"] == "closed"
    valve.command("delay", 30)
    assert valve.values()["delay"] == 30


def test_a_jammed_valve_raises_stuck_open() -> None:
    clock = FakeClock(dt.datetime(2026, 7, 15, 3, 0, tzinfo=TZ))
    valve = DelayValve(clock, device_rng(5, "v"), max_open=60.0)
    valve.jammed = True
    valve.press(clock.time())
    clock.advance(120)
    values = valve.values()
    assert values["valve"] == "open"
    assert values["stuck_open"] is True


def test_models_repeat_with_the_same_seed() -> None:
    def run(seed: int) -> list[float]:
        clock = FakeClock(JULY_NOON)
        meter = ElectricityMeter(clock, device_rng(seed, "x"), dorm_sockets(4))
        return day_of_readings(meter, clock, "energy", hours=6)

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_every_device_of_the_example_campus_has_a_model_serving_all_its_points() -> None:
    site = load_site(EXAMPLE_SITE)
    clock = FakeClock(JULY_NOON)
    models = build_models(site, clock, seed=1)
    assert set(models) == set(site.devices)
    for device_id, model in models.items():
        bound = BoundDevice(device_id, site.profile_of(site.devices[device_id]), model)
        assert bound.unserved == [], device_id


def test_value_faults_stuck_reset_and_spike() -> None:
    site = load_site(EXAMPLE_SITE)
    clock = FakeClock(JULY_NOON)
    device = site.devices["dorm-1.101.elec"]
    bound = BoundDevice(device.id, site.profile_of(device), build_models(site, clock)[device.id])
    first = bound.read()
    bound.freeze()
    clock.advance(3600)
    assert bound.read() == first
    bound.freeze(False)
    bound.replace_meter()
    assert bound.read()["energy"] == pytest.approx(0.0, abs=0.01)
    clock.advance(600)
    normal = bound.read()["voltage"]
    bound.spike(factor=10.0)
    assert bound.read()["voltage"] == pytest.approx(normal * 10, rel=0.1)  # type: ignore[operator]
    assert bound.read()["voltage"] < 300  # type: ignore[operator]
