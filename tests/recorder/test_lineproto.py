"""Line protocol: escaping, typed fields, precomputed series keys, millisecond timestamps."""

from __future__ import annotations

import math

import pytest

from controller.config.profile import DeviceClass, PointKind, StateClass
from controller.core import Entity, Quality, State, StateChanged
from controller.recorder.lineproto import (
    LineFormatter,
    escape_measurement,
    escape_tag,
    series_key,
    string_field,
)


def entity(tags: dict[str, str] | None = None, kind: PointKind = PointKind.ACTIVE_ENERGY) -> Entity:
    return Entity(
        entity_id="dorm-1.101.elec.energy",
        device_id="dorm-1.101.elec",
        point_key="energy",
        name_zh="电能",
        name_en="Energy",
        kind=kind,
        unit="kWh",
        device_class=DeviceClass.ENERGY,
        state_class=StateClass.TOTAL_INCREASING,
        writable=False,
        tags={"building": "dorm-1", "room": "101", "kind": kind.value} if tags is None else tags,
    )


@pytest.mark.parametrize(
    ("text", "tag", "measurement"),
    [
        ("plain", "plain", "plain"),
        ("a b", r"a\ b", r"a\ b"),
        ("a,b", r"a\,b", r"a\,b"),
        ("a=b", r"a\=b", "a=b"),
        ("宿舍 1", r"宿舍\ 1", r"宿舍\ 1"),
        ("line\nbreak", r"line\ break", r"line\ break"),
    ],
)
def test_escaping(text: str, tag: str, measurement: str) -> None:
    assert escape_tag(text) == tag
    assert escape_measurement(text) == measurement


def test_string_fields_escape_quotes_and_backslashes() -> None:
    assert string_field('say "hi" \\ now') == r'"say \"hi\" \\ now"'


def test_series_key_sorts_tags_and_leaves_out_empty_ones() -> None:
    assert series_key("m", {"z": "1", "a": "x y", "e": ""}) == r"m,a=x\ y,z=1"


def test_readings_are_typed_by_field_name() -> None:
    fmt = LineFormatter([entity()])
    prefix = "active_energy,building=dorm-1,kind=active_energy,point=energy,room=101"
    eid = "dorm-1.101.elec.energy"
    assert fmt.reading(eid, 1234.56, 1_767_225_600.1234) == f"{prefix} value=1234.56 1767225600123"
    assert fmt.reading(eid, 7, 1.0) == f"{prefix} value=7.0 1000"
    assert fmt.reading(eid, True, 1.0) == f"{prefix} state=true 1000"
    assert fmt.reading(eid, False, 1.0) == f"{prefix} state=false 1000"
    assert fmt.reading(eid, "cool", 1.0) == f'{prefix} label="cool" 1000'


@pytest.mark.parametrize("value", [math.nan, math.inf, None])
def test_unrepresentable_values_and_unknown_entities_give_no_line(value: float | None) -> None:
    fmt = LineFormatter([entity()])
    assert fmt.reading("dorm-1.101.elec.energy", value, 1.0) is None
    assert fmt.reading("unknown.energy", 1.0, 1.0) is None


def test_consumption_lines_use_their_own_measurement_and_the_same_tags() -> None:
    fmt = LineFormatter([entity()])
    line = fmt.consumption("dorm-1.101.elec.energy", 1_767_225_600.0, 1.25, 0.0)
    assert line == (
        "consumption_hourly,building=dorm-1,kind=active_energy,point=energy,room=101 "
        "consumption=1.25,held_out=0.0,partial=0i 1767225600000"
    )


def test_format_events_keeps_good_available_readings_only() -> None:
    fmt = LineFormatter([entity()])
    eid = "dorm-1.101.elec.energy"
    prefix = "active_energy,building=dorm-1,kind=active_energy,point=energy,room=101"
    events = [
        StateChanged(eid, None, State(1.5, 1.0), True),
        StateChanged(eid, None, State(2.5, 1.0), True),
        StateChanged(eid, None, State(3.0, 2.0, Quality.BAD), True),
        StateChanged(eid, None, State(3.5, 2.0, Quality.GOOD, available=False), True),
        StateChanged(eid, None, State(math.nan, 2.0), True),
        StateChanged(eid, None, State(None, 2.0), True),
        StateChanged("unknown.energy", None, State(1.0, 2.0), True),
        StateChanged(eid, None, State(True, 3.0), True),
        StateChanged(eid, None, State(4, 4.5), True),
    ]
    out: list[str] = []
    assert fmt.format_events(events, out) == 5
    assert out == [
        f"{prefix} value=1.5 1000",
        f"{prefix} value=2.5 1000",
        f"{prefix} state=true 3000",
        f"{prefix} value=4.0 4500",
    ]
