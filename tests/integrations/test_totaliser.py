"""Totals that follow the meter's own totaliser unit and multiplier (issue 12, item 2: the
TUF-2000M counts its volume in the unit and multiplier of REG1438 and REG1439, its heat energy
in those of REG1441 and REG1440, not always m³ ×1 and kWh ×1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.config import ConfigError, load_profile, load_site
from controller.core import Quality, ScaledClock
from controller.integrations.scaled import rescale, scalings
from drivers.modbus import Reading
from emulators.models import HeatMeter

from .modbus_harness import running_campus, wait_until

PROFILES = Path(__file__).parents[2] / "profiles"
TUF = load_profile(PROFILES / "generic/tuf2000m.yaml")


@pytest.mark.parametrize(
    ("unit", "multiplier", "counts", "m3"),
    [
        ("m³", "1", 12345, 12345.0),
        ("L", "0.01", 12345, 0.12345),
        ("L", "1000", 12345, 12345.0),
        ("m³", "0.1", 7, 0.7),
        ("US gal", "1", 1000, 3.785411784),
    ],
)
def test_the_volume_follows_the_totaliser_settings(
    unit: str, multiplier: str, counts: int, m3: float
) -> None:
    readings = [
        Reading("volume", counts, True),
        Reading("totaliser_unit", unit, True),
        Reading("totaliser_multiplier", multiplier, True),
        Reading("flow", 1.5, True),
    ]
    out = {r.key: r for r in rescale(readings, scalings(TUF), lambda key: None)}
    assert out["volume"] == Reading("volume", pytest.approx(m3), True)
    assert out["flow"] == Reading("flow", 1.5, True)  # not a total: left alone


@pytest.mark.parametrize(
    ("unit", "multiplier", "counts", "kwh"),
    [
        ("kWh", "1", 12345, 12345.0),
        ("kWh", "0.0001", 12345, 1.2345),  # n = 0: ×10^(0-4)
        ("GJ", "0.01", 12345, 123.45 * 277.777777778),
        ("GJ", "1000000", 2, 2e6 * 277.777777778),  # n = 10
        ("kcal", "1000", 860, 860 * 1000 * 0.001163),
        ("BTU", "1", 3412, 3412 * 0.000293071070172),
    ],
)
def test_the_heat_energy_follows_the_energy_unit_and_multiplier(
    unit: str, multiplier: str, counts: int, kwh: float
) -> None:
    readings = [
        Reading("heat_energy", counts, True),
        Reading("energy_unit", unit, True),
        Reading("energy_multiplier", multiplier, True),
        Reading("heat_power", 0.5, True),
    ]
    out = {r.key: r for r in rescale(readings, scalings(TUF), lambda key: None)}
    assert out["heat_energy"] == Reading("heat_energy", pytest.approx(kwh, rel=1e-9), True)
    assert out["heat_power"] == Reading("heat_power", 0.5, True)  # REG3 is always GJ/h


def test_heat_energy_without_its_multiplier_is_unavailable() -> None:
    readings = [Reading("heat_energy", 12345, True), Reading("energy_unit", "GJ", True)]
    (energy, _) = rescale(readings, scalings(TUF), lambda key: None)
    assert energy == Reading("heat_energy", None, False)


def test_an_imperial_oil_barrel_totaliser_is_unavailable_not_guessed() -> None:
    """The manual names code 7 "Imperial oil barrel (IB)" without its size."""
    readings = [
        Reading("volume", 100, True),
        Reading("totaliser_unit", "imp oil bbl", True),
        Reading("totaliser_multiplier", "1", True),
    ]
    (volume, _, _) = rescale(readings, scalings(TUF), lambda key: None)
    assert volume == Reading("volume", None, False)
    readings[1] = Reading("totaliser_unit", "US oil bbl", True)  # 42 US gallons
    (volume, _, _) = rescale(readings, scalings(TUF), lambda key: None)
    assert volume.value == pytest.approx(15.8987294928)


def test_a_setting_not_read_makes_the_total_unavailable_not_wrong() -> None:
    readings = [Reading("volume", 12345, True), Reading("totaliser_unit", "L", True)]
    (volume, _) = rescale(readings, scalings(TUF), lambda key: None)
    assert volume == Reading("volume", None, False)
    # the last value of a setting read in an earlier snapshot is used
    known = {"totaliser_multiplier": "0.1"}
    (volume, _) = rescale(readings, scalings(TUF), known.get)
    assert volume.value == pytest.approx(1.2345)


def test_scale_by_must_name_an_enum_point_and_its_labels(tmp_path: Path) -> None:
    text = (PROFILES / "generic/tuf2000m.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "tuf.yaml"
    bad.write_text(text.replace("million US gal: 3785.411784", "megalitre: 1000"), "utf-8")
    with pytest.raises(ConfigError, match=r"totaliser_unit has no labels \['megalitre'\]"):
        load_profile(bad)


SITE = """\
campus: {id: t, name: {zh: 测试校区, en: Test campus}}
buildings:
  - {id: bath-1, kind: bathhouse, name: {zh: 浴室},
     areas: [{id: showers, name: {zh: 淋浴间}, floor: 1}]}
links:
  - {id: gw-bath-1, type: modbus_tcp, host: 127.0.0.1, port: 1502}
devices:
  - {id: bath-1.hot-water, profile: generic/tuf2000m, building: bath-1, area: showers,
     link: gw-bath-1, unit_id: 2, circuit: hot_water}
"""


@pytest.mark.integration
async def test_an_emulated_meter_counting_litres_x_0_01_reports_m3(tmp_path: Path) -> None:
    (tmp_path / "site.yaml").write_text(SITE, encoding="utf-8")
    site = load_site(tmp_path / "site.yaml")
    clock = ScaledClock(1.0, tz=site.campus.timezone)
    async with running_campus(site, links=["gw-bath-1"], clock=clock) as run:
        meter = run.emulator.devices["bath-1.hot-water"].bound.model
        meter.totaliser_unit, meter.totaliser_multiplier = "L", "0.01"
        states = run.controller.states

        def reports_m3() -> bool:
            state = states.get("bath-1.hot-water.volume")
            if state is None or state.quality is not Quality.GOOD:
                return False
            if states.value("bath-1.hot-water.totaliser_unit") != "L":
                return False
            # m³ within what flows in a poll, not the 100 000 × m³ the raw count would be
            return abs(float(state.value) - meter.volume) < 0.05  # type: ignore[arg-type]

        await wait_until(reports_m3, "the volume in m³ while the meter counts L ×0.01")


@pytest.mark.integration
async def test_an_emulated_meter_counting_gj_x_0_01_reports_kwh(tmp_path: Path) -> None:
    (tmp_path / "site.yaml").write_text(SITE, encoding="utf-8")
    site = load_site(tmp_path / "site.yaml")
    clock = ScaledClock(1.0, tz=site.campus.timezone)
    async with running_campus(site, links=["gw-bath-1"], clock=clock) as run:
        meter = run.emulator.devices["bath-1.hot-water"].bound.model
        assert isinstance(meter, HeatMeter)
        meter.energy_unit, meter.energy_multiplier = "GJ", "0.01"
        states = run.controller.states

        def reports_kwh() -> bool:
            state = states.get("bath-1.hot-water.heat_energy")
            if state is None or state.quality is not Quality.GOOD:
                return False
            if states.value("bath-1.hot-water.energy_unit") != "GJ":
                return False
            # the meter counts whole 0.01 GJ (2.78 kWh): kWh within one count and what flows
            # in a poll, not the 1/2.78 of it the raw count would be
            return abs(float(str(state.value)) - meter.heat_energy) < 5.0

        await wait_until(reports_kwh, "the heat energy in kWh while the meter counts GJ ×0.01")
