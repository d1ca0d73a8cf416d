"""Hourly consumption against hand-computed expectations: splits, gaps, rollover, swaps, spikes."""

from __future__ import annotations

import zoneinfo

import pytest

from controller.config.profile import Point
from controller.recorder.counters import CounterSpec
from controller.recorder.errors import SwapRecordError
from controller.recorder.stats import (
    MAX_BACKFILL_HOURS,
    Adjustment,
    AnomalyKind,
    HourStat,
    StatisticsEngine,
    hour_start,
)

TZ = zoneinfo.ZoneInfo("Asia/Shanghai")
H = 1_767_225_600.0  # 2026-01-01 08:00 in Shanghai: an hour boundary
E = "dorm-1.101.elec.energy"
NOW = H + 7200  # the clock when staff enter swap records
METER = CounterSpec(E, max_per_hour=10.0, modulus=2**32 * 0.01, quantum=0.01)


def engine(spec: CounterSpec = METER) -> StatisticsEngine:
    return StatisticsEngine([spec], TZ)


def feed(eng: StatisticsEngine, *readings: tuple[float, float]) -> None:
    for offset, value in readings:
        eng.observe(E, H + offset, value)


def hours(eng: StatisticsEngine) -> list[tuple[float, float, float]]:
    """Emitted hours as (hours after H, consumption, held out)."""
    return [((h.hour - H) / 3600, h.consumption, h.held_out) for h in eng.drain().hours]


def test_consumption_is_split_across_an_hour_boundary_in_proportion_to_time() -> None:
    eng = engine()
    feed(eng, (0, 100.0), (1800, 101.0), (5400, 103.0))
    assert hours(eng) == [(0, 2.0, 0.0)]  # 1.0 + half of 2.0
    feed(eng, (7200, 104.0))
    assert hours(eng) == [(1, 2.0, 0.0)]  # the other half + 1.0; closed by the reading at 10:00


def test_an_hour_is_emitted_only_when_a_reading_after_it_arrives() -> None:
    eng = engine()
    feed(eng, (0, 100.0), (3000, 101.0))
    assert hours(eng) == []
    assert eng.open_hours() == {E: H}


def test_a_long_gap_is_spread_over_the_hours_it_covers() -> None:
    eng = engine()
    feed(eng, (0, 100.0), (4 * 3600 + 1800, 109.0))  # offline 4.5 h, 9 kWh
    assert hours(eng) == [(0, 2.0, 0.0), (1, 2.0, 0.0), (2, 2.0, 0.0), (3, 2.0, 0.0)]
    feed(eng, (5 * 3600, 109.5))
    assert hours(eng) == [(4, 1.5, 0.0)]  # 1.0 spread into 12:00–12:30 + 0.5


def test_rollover_at_the_register_maximum_counts_the_wrapped_step() -> None:
    point = Point.model_validate(
        {
            "key": "energy",
            "name": {"zh": "电能"},
            "kind": "active_energy",
            "state_class": "total_increasing",
            "max_per_hour": 10,
            "modbus": {"table": "holding", "address": 0, "type": "uint32", "scale": 0.01},
        }
    )
    spec = CounterSpec.of_point(E, point)
    assert spec.modulus == pytest.approx(42_949_672.96)
    eng = engine(spec)
    feed(eng, (0, 42_949_672.50), (1800, 0.30), (3600, 0.50))
    # 42,949,672.50 → 42,949,672.95 → 0.00 → 0.30 is 0.76, then 0.20 more
    assert hours(eng) == [(0, 0.96, 0.0)]
    assert eng.rollovers == 1


def test_a_counter_reset_is_a_meter_swap_not_a_negative_or_a_spike() -> None:
    eng = engine()
    feed(eng, (0, 5000.0), (600, 5001.0), (1200, 0.5), (1800, 1.0), (3600, 2.0))
    out = eng.drain()
    out_hours = [((h.hour - H) / 3600, h.consumption, h.held_out) for h in out.hours]
    # 1.0 from the old meter, 0.5 on the new one before its first reading (counted from 0),
    # then 0.5 and 1.0 on the new meter
    assert out_hours == [(0, 3.0, 0.0)]
    [swap] = out.swaps
    assert (swap.old_value, swap.new_value, swap.counted, swap.manual) == (5001.0, 0.5, 0.5, False)
    assert swap.timestamp == H + 1200
    assert not [a for a in out.anomalies if a.kind is not AnomalyKind.GLITCH]


def test_a_new_meter_starting_high_is_held_out_not_counted() -> None:
    eng = engine()
    feed(eng, (0, 5000.0), (600, 5001.0), (1200, 300.0), (1800, 300.5), (3600, 301.5))
    out = eng.drain()
    assert [(h.consumption, h.held_out) for h in out.hours] == [(2.5, 300.0)]
    assert out.swaps[0].held_out == 300.0


def test_a_single_zero_reading_is_a_glitch_and_changes_nothing() -> None:
    eng = engine()
    feed(eng, (0, 100.0), (600, 100.5), (1200, 0.0), (1800, 101.0), (3600, 101.5))
    out = eng.drain()
    assert [(h.consumption, h.held_out) for h in out.hours] == [(1.5, 0.0)]
    assert not out.swaps
    assert [a.kind for a in out.anomalies] == [AnomalyKind.GLITCH]


def test_an_upward_spike_is_flagged_then_dropped_when_the_counter_carries_on() -> None:
    eng = engine()
    feed(eng, (0, 100.0), (600, 5000.0))
    out = eng.drain()
    [flag] = out.anomalies
    assert flag.kind is AnomalyKind.IMPLAUSIBLE
    assert flag.amount == 4900.0
    assert flag.allowed is not None
    assert flag.allowed < 2  # 10 kWh/h × 10 min ≈ 1.67 kWh plus one step
    feed(eng, (1200, 100.4), (3600, 101.0))
    out = eng.drain()
    assert [(h.consumption, h.held_out) for h in out.hours] == [(1.0, 0.0)]
    assert [a.kind for a in out.anomalies] == [AnomalyKind.GLITCH]


def test_a_confirmed_jump_is_held_out_and_counting_goes_on_from_the_new_level() -> None:
    eng = engine()
    feed(eng, (0, 100.0), (600, 5000.0), (1200, 5000.5), (3600, 5001.0))
    out = eng.drain()
    assert [(h.consumption, h.held_out) for h in out.hours] == [(1.0, 4900.0)]
    assert [a.kind for a in out.anomalies] == [
        AnomalyKind.IMPLAUSIBLE,
        AnomalyKind.JUMP_HELD_OUT,
    ]


def test_the_allowance_grows_with_the_gap() -> None:
    eng = engine()
    feed(eng, (0, 100.0), (3 * 3600, 129.0))  # 29 kWh in 3 h ≤ 30: plausible
    out = eng.drain()
    assert not out.anomalies
    assert [h.consumption for h in out.hours] == pytest.approx([29 / 3] * 3)
    assert sum(h.consumption for h in out.hours) == pytest.approx(29.0, abs=1e-6)


def test_a_small_backwards_wobble_is_not_counted_twice() -> None:
    eng = engine()
    feed(eng, (0, 100.00), (600, 100.50), (1200, 100.49), (1800, 100.60), (3600, 100.70))
    assert hours(eng) == [(0, 0.7, 0.0)]


def test_rounding_remainders_carry_so_totals_stay_exact() -> None:
    eng = engine()
    feed(eng, (0, 0.0), (3 * 3600, 1.0))
    emitted = [h.consumption for h in eng.drain().hours]
    assert emitted == [0.333333, 0.333334, 0.333333]
    assert sum(emitted) == pytest.approx(1.0, abs=1e-12)


def test_out_of_order_and_duplicate_readings_are_ignored() -> None:
    eng = engine()
    feed(eng, (0, 100.0), (600, 101.0), (300, 100.5), (600, 101.0), (3600, 102.0))
    assert hours(eng) == [(0, 2.0, 0.0)]
    assert eng.out_of_order == 2


def test_staff_swap_record_before_the_new_meter_reports_is_exact() -> None:
    eng = engine()
    feed(eng, (0, 200.0))
    swap = eng.record_swap(E, H + 900, old_final=200.6, new_start=0.0, actor="wang", now=NOW)
    assert swap.manual
    assert swap.actor == "wang"
    assert swap.counted == pytest.approx(0.6)
    feed(eng, (1800, 0.4), (3600, 1.4))
    out = eng.drain()
    assert [(h.consumption, h.held_out) for h in out.hours] == [(2.0, 0.0)]
    assert [s.manual for s in out.swaps] == [True]


def test_late_staff_swap_record_corrects_the_open_hour() -> None:
    eng = engine()
    # new meter's first reading 3.0 is implausible from 0 in 10 min: held out at detection
    feed(eng, (0, 200.0), (600, 200.5), (1200, 3.0), (1800, 3.5))
    eng.record_swap(E, H + 900, old_final=200.8, new_start=2.5, now=NOW)
    feed(eng, (3600, 4.5))
    out = eng.drain()
    # 0.5 + (200.8 − 200.5) + (3.0 − 2.5) + 0.5 + 1.0
    assert [(h.consumption, h.held_out) for h in out.hours] == [(2.8, 0.0)]
    assert [s.manual for s in out.swaps] == [False, True]


def test_late_staff_swap_record_for_a_closed_hour_is_an_adjustment() -> None:
    eng = engine()
    feed(eng, (0, 200.0), (600, 200.5), (1200, 3.0), (1800, 3.5), (3600, 4.5))
    first = eng.drain()
    assert [(h.consumption, h.held_out) for h in first.hours] == [(2.0, 3.0)]
    eng.record_swap(E, H + 900, old_final=200.8, new_start=2.5, now=NOW)
    out = eng.drain()
    assert out.adjustments == [Adjustment(E, H, pytest.approx(0.8), -3.0)]  # type: ignore[arg-type]


def test_swap_records_that_do_not_fit_are_refused() -> None:
    eng = engine()
    feed(eng, (0, 200.0), (600, 201.0))
    with pytest.raises(SwapRecordError, match="no counter reset"):
        eng.record_swap(E, H + 300, old_final=200.5, new_start=0.0, now=NOW)
    with pytest.raises(SwapRecordError, match="below its last reading"):
        eng.record_swap(E, H + 900, old_final=150.0, new_start=0.0, now=NOW)
    with pytest.raises(SwapRecordError, match="not a cumulative point"):
        eng.record_swap("nope.energy", H, old_final=1.0, new_start=0.0, now=NOW)


def test_state_survives_export_and_restore() -> None:
    readings = [(0, 100.0), (600, 5000.0), (1200, 5000.5), (5400, 5003.0), (9000, 5004.0)]
    whole = engine()
    feed(whole, *readings)
    expected = whole.drain().hours

    first = engine()
    feed(first, *readings[:2])  # stop while a suspicious reading is pending
    produced = first.drain().hours
    saved = first.drain_dirty()
    second = engine()
    assert second.restore(saved) == 1
    feed(second, *readings[2:])
    assert produced + second.drain().hours == expected


def test_hours_follow_the_local_zone() -> None:
    kolkata = zoneinfo.ZoneInfo("Asia/Kolkata")  # UTC+05:30
    start = hour_start(H + 10, kolkata)
    assert start == H - 1800
    assert hour_start(H + 10, TZ) == H


def test_counter_spec_of_float_and_mqtt_points_has_no_modulus() -> None:
    point = Point.model_validate(
        {
            "key": "energy",
            "name": {"zh": "电能"},
            "kind": "active_energy",
            "state_class": "total_increasing",
            "modbus": {"table": "input", "address": 0x48, "type": "float32"},
        }
    )
    spec = CounterSpec.of_point(E, point)
    assert (spec.modulus, spec.quantum, spec.max_per_hour) == (None, 0.0, None)
    int16 = point.model_copy(
        update={"modbus": point.modbus.model_copy(update={"type": "int16", "scale": 0.1})}  # type: ignore[union-attr]
    )
    assert CounterSpec.of_point(E, int16).modulus == pytest.approx(6553.6)


def test_hour_stat_values_are_plain_decimals() -> None:
    eng = engine()
    feed(eng, (0, 0.1), (3600, 0.3))
    [stat] = eng.drain().hours
    assert stat == HourStat(E, H, 0.2, 0.0)


def test_swap_records_are_bounded_before_anything_changes() -> None:
    """Issue 11 defect 1: a staff record cannot create unbounded history."""
    eng = engine()
    feed(eng, (0, 200.0))
    eng.drain()
    cases = [
        ({"at": NOW + 3600}, "future"),
        ({"at": H - 60}, "first reading"),
        ({"old_final": float("nan")}, "finite"),
        ({"new_start": -1.0}, "non-negative"),
        ({"old_final": 2**32 * 0.01}, "register's range"),
        ({"old_final": 200.0 + 10.0 * 0.25 + 1.0}, "plausible"),  # 10 kWh/h for 15 min
    ]
    for change, needle in cases:
        record = {"at": H + 900, "old_final": 200.6, "new_start": 0.0, **change}
        with pytest.raises(SwapRecordError, match=needle) as info:
            eng.record_swap(E, actor="x", now=NOW, **record)  # type: ignore[arg-type]
        assert info.value.field in {"at", "old_final", "new_start"}
    assert not eng.drain()
    assert eng.open_hours() == {E: H}


def test_a_swap_long_after_the_last_reading_fills_a_bounded_number_of_hours() -> None:
    eng = engine(CounterSpec(E, modulus=2**32 * 0.01, quantum=0.01))  # no max_per_hour
    feed(eng, (0, 200.0))
    far = H + (MAX_BACKFILL_HOURS + 1) * 3600
    with pytest.raises(SwapRecordError, match="at most"):
        eng.record_swap(E, far, old_final=250.0, new_start=0.0, now=far)
    near = H + 48 * 3600
    eng.record_swap(E, near, old_final=250.0, new_start=0.0, now=near)
    assert len(eng.drain().hours) == 48


def test_a_late_record_implying_implausible_consumption_is_refused() -> None:
    eng = engine()
    feed(eng, (0, 200.0), (600, 200.5), (1200, 3.0), (1800, 3.5))
    with pytest.raises(SwapRecordError, match="plausible") as info:
        eng.record_swap(E, H + 900, old_final=260.0, new_start=0.0, now=NOW)
    assert info.value.field == "old_final"
