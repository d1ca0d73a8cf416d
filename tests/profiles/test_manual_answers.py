"""Known answers for the profiles corrected against their manuals (issue 12).

Each row quotes the words of the document the profile names in its ``source``; register words
are written out by hand. ``None`` expects "no value": the point reads as unavailable; ``BAD``
expects a reading of bad quality (not a state the point can be in).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.config import Profile, load_profile, load_site
from controller.config.paths import builtin_dir
from controller.integrations.modbus import point_spec
from drivers.modbus import compile_decoder

PROFILES = builtin_dir("profiles")

INTESIS = "Intesis INMBSDAI001I000 User's Manual r2.3 EN"
PANASONIC = "Intesis INMBSPAN001I100 User's Manual r1.2 EN"
ADL400 = "Acrel ADL400 installation and operation manual"
SDM630 = "Eastron SDM630-Modbus protocol V1.8"
XINTAI = "Kaifeng Xintai RS-485 water meter Modbus protocol"
TUF = "TUF-2000M user manual"
DTSU666 = "CHINT DTSU666 user manual"
DDSU666 = "CHINT DDSU666 user manual"
BAD = "bad quality"

# (profile, point, words, expected, document, the document's words)
ANSWERS: list[tuple[str, str, list[int], object, str, str]] = [
    (
        "intesis/ac-gateway",
        "alarm",
        [1],
        "alarm",
        INTESIS,
        "10 AC unit Alarm Status: 1: Alarm condition",
    ),
    ("intesis/ac-gateway", "alarm", [0], "ok", INTESIS, "0: No alarm condition"),
    (
        "intesis/ac-gateway",
        "error_code",
        [65535],
        65535,
        INTESIS,
        "11 Error Code: 65535 (-1 if read as a signed value): Error in the communication",
    ),
    (
        "intesis/ac-gateway",
        "remote_lock",
        [1],
        "locked",
        INTESIS,
        "8 AC Remote Control Disablement: 1: Remote control disabled",
    ),
    ("intesis/ac-gateway", "remote_lock", [0], "unlocked", INTESIS, "0: Remote control enabled"),
    ("intesis/ac-gateway", "window_contact", [1], "open", INTESIS, "6 Window Contact: 1: Open"),
    (
        "intesis/ac-gateway",
        "real_setpoint",
        [255],
        25.5,
        INTESIS,
        "23 AC Real temperature setpoint (x10ºC)",
    ),
    ("intesis/ac-gateway", "setpoint", [0x8000], None, INTESIS, "-32768 (Initialization value)"),
    (
        "intesis/ac-gateway",
        "room_temperature",
        [0x8000],
        None,
        INTESIS,
        "5 AC unit Temperature reference: -32768 (Initialization value)",
    ),
    (
        "intesis/ac-gateway",
        "real_setpoint",
        [0x8000],
        None,
        INTESIS,
        "-32678 (Initialization value)",
    ),
    (
        "intesis/ac-gateway-panasonic",
        "power",
        [850],
        850,
        PANASONIC,
        "61 Power Consumption: Value expressed in W",
    ),
    (
        "intesis/ac-gateway-panasonic",
        "energy",
        [0x0000, 0x3039],
        12.345,
        PANASONIC,
        "76 Total Energy - MSW, 77 Total Energy - lsw: Value expressed in Watt-hour",
    ),
    ("intesis/ac-gateway-panasonic", "auto_mode", [4], "cool", PANASONIC, "37 Auto mode: 4: Cool"),
    ("acrel/adl400", "power", [0x3FC0, 0x0000], 1500.0, ADL400, "total active power 0x081A kW"),
    ("acrel/adl400", "power_factor", [0x3F7A, 0xE148], 0.98, ADL400, "total power factor 0x0832"),
    ("acrel/adl400", "frequency", [0x4248, 0x0000], 50.0, ADL400, "frequency 0x0834"),
    (
        "acrel/adl400",
        "energy",
        [0x461C, 0x4000],
        10000.0,
        ADL400,
        "forward active energy 0x084C kWh",
    ),
    (
        "eastron/sdm630",
        "power_factor",
        [0x3F7A, 0xE148],
        0.98,
        SDM630,
        "30063 Total system power factor",
    ),
    (
        "eastron/sdm630",
        "power_factor_l1",
        [0x3F7A, 0xE148],
        0.98,
        SDM630,
        "30031 Phase 1 power factor",
    ),
    ("xintai/water-meter-valve", "valve", [10], "closed", XINTAI, "2 closed, 8 low battery"),
    ("xintai/water-meter-valve", "valve_closed", [10], True, XINTAI, "2 closed"),
    ("xintai/water-meter-valve", "low_battery", [10], True, XINTAI, "8 low battery"),
    ("xintai/water-meter-valve", "valve_open", [10], False, XINTAI, "1 open"),
    ("xintai/water-meter-valve", "valve_abnormal", [4], True, XINTAI, "4 abnormal"),
    ("xintai/water-meter-valve", "valve", [4], BAD, XINTAI, "4 abnormal (neither open nor closed)"),
    ("xintai/water-meter-valve", "valve", [9], "open", XINTAI, "1 open, 8 low battery"),
    (
        "xintai/water-meter-valve",
        "reverse_volume",
        [0x0000, 0x2040],
        2.5,
        XINTAI,
        "0x0003 reverse total",
    ),
    (
        "xintai/water-meter-valve",
        "prepaid_remaining",
        [0x0000, 0x4841],
        12.5,
        XINTAI,
        "0x0008 remaining prepaid amount",
    ),
    ("xintai/water-meter-valve", "battery", [0x6666, 0x6640], 3.6, XINTAI, "0x001A battery"),
    ("chint/dtsu666", "energy", [0x449A, 0x5000], 1234.5, DTSU666, "ImpEp 0x401E"),
    ("chint/dtsu666-101e", "energy", [0x449A, 0x5000], 1234.5, DTSU666, "ImpEp 0x101E"),
    ("chint/dtsu666", "current_a", [0x459C, 0x4000], 5.0, DTSU666, "I × IrAt: 5000 × 0.001 A"),
    ("chint/ddsu666", "power", [0x400C, 0xCCCD], 2200.0, DDSU666, "power in kW: 2.2 kW"),
    ("generic/tuf2000m", "heat_power", [0x0000, 0x3F00], 0.5, TUF, "REG3 energy flow rate GJ/h"),
    ("generic/tuf2000m", "totaliser_unit", [1], "L", TUF, "1438 Unit for flow totalizer: 1 liter"),
    ("generic/tuf2000m", "totaliser_unit", [0], "m³", TUF, "0 cubic meter (m3)"),
    (
        "generic/tuf2000m",
        "totaliser_unit",
        [6],
        "US oil bbl",
        TUF,
        "6 American oil barrel (1 barrel =42gallon) (OB)",
    ),
    ("generic/tuf2000m", "totaliser_unit", [7], "imp oil bbl", TUF, "7 Imperial oil barrel (IB)"),
    (
        "generic/tuf2000m",
        "totaliser_multiplier",
        [1],
        "0.01",
        TUF,
        "1439 Multiplier for totalizer: (N+Nf) ×10^(n-3), n = 1",
    ),
    (
        "generic/tuf2000m",
        "energy_multiplier",
        [4],
        "1",
        TUF,
        "1440 Multiplier for energy accumulator, range 0~10: ×10^(n-4), n = 4",
    ),
    ("generic/tuf2000m", "energy_multiplier", [0], "0.0001", TUF, "n=(0~10): ×10^(0-4)"),
    ("generic/tuf2000m", "energy_unit", [0], "GJ", TUF, "1441 Unit for energy rate: 0=GJ"),
    ("generic/tuf2000m", "energy_unit", [1], "kcal", TUF, "1=Kcal"),
    ("generic/tuf2000m", "energy_unit", [2], "kWh", TUF, "2=KWh"),
    ("generic/tuf2000m", "energy_unit", [3], "BTU", TUF, "3=BTU"),
]


@pytest.mark.parametrize(
    ("profile_id", "key", "words", "expected", "document", "words_of_document"),
    ANSWERS,
    ids=[f"{p}.{k}={e}" for p, k, _, e, _, _ in ANSWERS],
)
def test_manual_answer(
    profile_id: str,
    key: str,
    words: list[int],
    expected: object,
    document: str,
    words_of_document: str,
) -> None:
    profile = load_profile(Path(PROFILES) / f"{profile_id}.yaml")
    assert document in " ".join(profile.source.split()), "the profile names its document"
    reading = compile_decoder(point_spec(profile.point(key)))(words, 0)
    if expected is None:
        assert (reading.value, reading.ok) == (None, False), words_of_document
    elif expected is BAD:
        assert not reading.ok, words_of_document
    elif isinstance(expected, float):
        assert reading.ok, words_of_document
        assert reading.value == pytest.approx(expected, abs=1e-3), words_of_document
    else:
        assert (reading.value, reading.ok) == (expected, True), words_of_document


def test_intesis_registers_10_and_11_are_alarm_and_error_not_power() -> None:
    profile = load_profile(PROFILES / "intesis/ac-gateway.yaml")
    at = {p.modbus.address: p.key for p in profile.points if p.modbus is not None}
    assert (at[10], at[11]) == ("alarm", "error_code")
    assert "power" not in {p.key for p in profile.points}
    assert (at[6], at[8], at[23]) == ("window_contact", "remote_lock", "real_setpoint")


def test_tuf_settings_sit_one_register_after_the_flow_rate_unit() -> None:
    """REG1437 is the flow-rate unit (note 5); the totaliser unit is REG1438, its multiplier
    REG1439, the energy multiplier REG1440 and the energy unit REG1441 (wire = n − 1)."""
    profile = load_profile(PROFILES / "generic/tuf2000m.yaml")
    at = {p.modbus.address: p.key for p in profile.points if p.modbus is not None}
    assert 1436 not in at
    assert [at[n - 1] for n in (1438, 1439, 1440, 1441)] == [
        "totaliser_unit",
        "totaliser_multiplier",
        "energy_multiplier",
        "energy_unit",
    ]


def test_reference_maps_say_so() -> None:
    for pid in ("generic/delay-valve", "generic/dorm-prepaid-meter"):
        assert load_profile(PROFILES / f"{pid}.yaml").reference_map, pid
    assert not load_profile(PROFILES / "chint/dtsu666.yaml").reference_map


SITE = """
campus: {{id: t, name: {{zh: 测试}}}}
buildings: [{{id: b, kind: dorm, name: {{zh: 楼}}, floors: 1}}]
links: [{{id: gw, type: modbus_tcp, host: 127.0.0.1, port: 1502}}]
devices:
  - {{id: b.main, profile: chint/dtsu666, building: b, link: gw, unit_id: 1{settings}}}
"""


def _device_profile(tmp_path: Path, settings: str = "") -> Profile:
    (tmp_path / "site.yaml").write_text(SITE.format(settings=settings), encoding="utf-8")
    site = load_site(tmp_path / "site.yaml")
    return site.profile_of(site.devices["b.main"])


def test_a_ct_meter_reports_primary_values(tmp_path: Path) -> None:
    """DTSU666 manual: I = value × IrAt; energy and power × UrAt × IrAt."""
    profile = _device_profile(tmp_path, ", ct_ratio: 40")
    current = compile_decoder(point_spec(profile.point("current_a")))([0x459C, 0x4000], 0)
    assert current.value == pytest.approx(200.0)  # 5000 × 0.001 A secondary × 40
    energy = compile_decoder(point_spec(profile.point("energy")))([0x449A, 0x5000], 0)
    assert energy.value == pytest.approx(1234.5 * 40)
    voltage = compile_decoder(point_spec(profile.point("voltage_a")))([0x4509, 0x8000], 0)
    assert voltage.value == pytest.approx(220.0)  # no PT: unchanged
    plain = _device_profile(tmp_path).point("current_a").modbus
    assert plain is not None
    assert plain.scale == pytest.approx(0.001)


def test_function_code_4_reads_the_input_table(tmp_path: Path) -> None:
    profile = _device_profile(tmp_path, ", function_code: 4")
    tables = {p.modbus.table.value for p in profile.points if p.modbus is not None}
    assert tables == {"input"}
