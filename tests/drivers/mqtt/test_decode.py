"""Table-driven decoding: payload value in, engineering value and quality out."""

from __future__ import annotations

import math
import zoneinfo

import pytest

from drivers.mqtt.decode import (
    CompiledField,
    PayloadProblem,
    Problem,
    canonical_text,
    compile_path,
    extract,
    parse_timestamp,
)
from drivers.mqtt.spec import FieldSpec

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


def field(**kw: object) -> CompiledField:
    return CompiledField(FieldSpec(key="p", ref="dev.p", **kw))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "text"),
    [(4, "4"), (4.0, "4"), (True, "true"), (False, "false"), ("ON", "ON"), (2.5, "2.5")],
)
def test_canonical_text(raw: object, text: str) -> None:
    assert canonical_text(raw) == text


@pytest.mark.parametrize(
    ("doc", "path", "expected"),
    [
        ({"ENERGY": {"Total": 1.5}}, ("ENERGY", "Total"), 1.5),
        ({"channels": [{"power": 3}, {"power": 7}]}, ("channels", "1", "power"), 7),
        ({"a": {"0": "key not index"}}, ("a", "0"), "key not index"),
        (12.5, (), 12.5),
    ],
)
def test_extract(doc: object, path: tuple[str, ...], expected: object) -> None:
    assert extract(doc, compile_path(path), ".".join(path)) == expected


@pytest.mark.parametrize(
    ("doc", "path"),
    [({"ENERGY": {}}, ("ENERGY", "Total")), ({"a": 1}, ("a", "b")), ({"c": [1]}, ("c", "3"))],
)
def test_extract_missing(doc: object, path: tuple[str, ...]) -> None:
    with pytest.raises(PayloadProblem) as err:
        extract(doc, compile_path(path), ".".join(path))
    assert err.value.problem is Problem.MISSING_FIELD


@pytest.mark.parametrize(
    ("spec", "raw", "value", "good"),
    [
        ({}, 230.2, 230.2, True),
        ({}, 17, 17, True),  # unscaled integers stay integers (counters)
        ({"scale": 0.001}, 1500, 1.5, True),  # litres → m³
        ({"scale": 0.1, "offset": -40.0}, 650, 25.0, True),
        ({"valid_range": (0.0, 300.0)}, 301.0, 301.0, False),
        ({"valid_range": (0.0, 300.0)}, 0, 0, True),
        ({}, math.nan, math.nan, False),
        ({}, math.inf, math.inf, False),
        ({}, True, True, True),
        ({"values": {"ON": "on", "OFF": "off"}}, "ON", "on", True),
        ({"values": {"true": "on", "false": "off"}}, False, "off", True),
        ({"values": {"4": "cool", "1": "heat"}}, 4, "cool", True),
        ({"values": {"4": "cool"}}, 4.0, "cool", True),
    ],
)
def test_convert(spec: dict[str, object], raw: object, value: object, good: bool) -> None:
    got, ok = field(**spec).convert(raw)
    assert ok is good
    if isinstance(value, float) and math.isnan(value):
        assert isinstance(got, float)
        assert math.isnan(got)
    else:
        assert got == pytest.approx(value)
        assert type(got) is type(value)


@pytest.mark.parametrize(
    ("spec", "raw", "problem"),
    [
        ({}, "230", Problem.WRONG_TYPE),  # a quoted number in JSON is wrongly typed
        ({}, None, Problem.WRONG_TYPE),
        ({}, {"v": 1}, Problem.WRONG_TYPE),
        ({"values": {"ON": "on"}}, "BLINK", Problem.UNKNOWN_VALUE),
    ],
)
def test_convert_problems(spec: dict[str, object], raw: object, problem: Problem) -> None:
    with pytest.raises(PayloadProblem) as err:
        field(**spec).convert(raw)
    assert err.value.problem is problem


@pytest.mark.parametrize(
    ("spec", "text", "value"),
    [
        ({}, "23.5", 23.5),
        ({}, "42", 42),
        ({"scale": 0.1}, "265", 26.5),
        ({"values": {"ON": "on", "OFF": "off"}}, "OFF", "off"),
    ],
)
def test_convert_text(spec: dict[str, object], text: str, value: object) -> None:
    assert field(**spec).convert_text(text) == (pytest.approx(value), True)


def test_convert_text_rejects_words_for_numbers() -> None:
    with pytest.raises(PayloadProblem) as err:
        field().convert_text("hello")
    assert err.value.problem is Problem.WRONG_TYPE


@pytest.mark.parametrize(
    ("raw", "fmt", "epoch"),
    [
        (1767225600, "epoch", 1767225600.0),
        (1767225600.25, "epoch", 1767225600.25),
        (1767225600250, "epoch_ms", 1767225600.25),
        ("2026-01-01T08:00:00", "iso", 1767225600.0),  # naive = campus time (UTC+8)
        ("2026-01-01T00:00:00Z", "iso", 1767225600.0),
        ("2026-01-01T08:00:00+08:00", "iso", 1767225600.0),
    ],
)
def test_parse_timestamp(raw: object, fmt: str, epoch: float) -> None:
    assert parse_timestamp(raw, fmt, SHANGHAI) == epoch  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "fmt"),
    [("yesterday", "iso"), (12, "iso"), ("1767225600", "epoch"), (True, "epoch"), (-5, "epoch")],
)
def test_parse_timestamp_rejects(raw: object, fmt: str) -> None:
    with pytest.raises(PayloadProblem) as err:
        parse_timestamp(raw, fmt, SHANGHAI)  # type: ignore[arg-type]
    assert err.value.problem is Problem.BAD_TIMESTAMP
