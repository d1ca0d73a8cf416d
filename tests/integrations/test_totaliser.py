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


VOLUME = ("volume", "totaliser_unit", "totaliser_multiplier", "flow")
HEAT = ("heat_energy", "energy_unit", "energy_multiplier", "heat_power")
"""A total, its unit and multiplier settings, and a rate read with it (never scaled)."""


@pytest.mark.parametrize(
    ("points", "unit", "multiplier", "counts", "expected"),
    [
        (VOLUME, "m³", "1", 12345, 12345.0),
        (VOLUME, "L", "0.01", 12345, 0.12345),
        (VOLUME, "L", "1000", 12345, 12345.0),
        (VOLUME, "m³", "0.1", 7, 0.7),
        (VOLUME, "US gal", "1", 1000, 3.785411784),
        (HEAT, "kWh", "1", 12345, 12345.0),
        (HEAT, "kWh", "0.0001", 12345, 1.2345),  # n = 0: ×10^(0-4)
        (HEAT, "GJ", "0.01", 12345, 123.45 * 277.777777778),
        (HEAT, "GJ", "1000000", 2, 2e6 * 277.777777778),  # n = 10
        (HEAT, "kcal", "1000", 860, 860 * 1000 * 0.001163),
        (HEAT, "BTU", "1", 3412, 3412 * 0.000293071070172),
    ],
)
def test_a_total_follows_the_meters_unit_and_multiplier(
    points: tuple[str, str, str, str], unit: str, multiplier: str, counts: int, expected: float
) -> None:
    """Volume in m³ from REG1438/REG1439, heat energy in kWh from REG1441/REG1440."""
    total, unit_key, multiplier_key, rate = points
    readings = [
        Reading(total, counts, True),
        Reading(unit_key, unit, True),
        Reading(multiplier_key, multiplier, True),
        Reading(rate, 1.5, True),
    ]
    out = {r.key: r for r in rescale(readings, scalings(TUF), lambda key: None)}
    assert out[total].ok
    assert out[total].value == pytest.approx(expected, rel=1e-9)
    assert out[rate] == Reading(rate, 1.5, True)  # not a total (REG3 is always GJ/h): left alone


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
@pytest.mark.parametrize(
    ("points", "unit", "multiplier", "tolerance"),
    [
        # m³ within what flows in a poll, not the 100 000 × m³ the raw count would be
        (VOLUME, "L", "0.01", 0.05),
        # kWh within one whole count of 0.01 GJ (2.78 kWh) and what flows in a poll, not the
        # 1/2.78 of it the raw count would be
        (HEAT, "GJ", "0.01", 5.0),
    ],
)
async def test_an_emulated_meter_set_to_other_units_reports_m3_and_kwh(
    tmp_path: Path, points: tuple[str, str, str, str], unit: str, multiplier: str, tolerance: float
) -> None:
    total, unit_key, multiplier_key, _ = points
    (tmp_path / "site.yaml").write_text(SITE, encoding="utf-8")
    site = load_site(tmp_path / "site.yaml")
    clock = ScaledClock(1.0, tz=site.campus.timezone)
    async with running_campus(site, links=["gw-bath-1"], clock=clock) as run:
        meter = run.emulator.devices["bath-1.hot-water"].bound.model
        assert isinstance(meter, HeatMeter)
        setattr(meter, unit_key, unit)  # the emulator counts in them on its own
        setattr(meter, multiplier_key, multiplier)
        states = run.controller.states

        def reports_canonical() -> bool:
            state = states.get(f"bath-1.hot-water.{total}")
            if state is None or state.quality is not Quality.GOOD:
                return False
            if states.value(f"bath-1.hot-water.{unit_key}") != unit:
                return False
            return abs(float(str(state.value)) - getattr(meter, total)) < tolerance

        await wait_until(reports_canonical, f"{total} in m³/kWh while the meter counts {unit}")
