"""Block-read planning: merge close points, split on gaps and size limits, per table."""

from __future__ import annotations

from drivers.modbus import DeviceSpec, PlanCache, PointSpec, plan_reads
from wire.modbus import DataType, Table


def p(
    key: str, address: int, dtype: DataType = DataType.UINT16, table: Table = Table.HOLDING
) -> PointSpec:
    if table.is_bits:
        dtype = DataType.BOOL
    return PointSpec(key=key, table=table, address=address, dtype=dtype)


def device(*points: PointSpec, **kw: int) -> DeviceSpec:
    return DeviceSpec(device_id="d", unit_id=1, points=points, **kw)  # type: ignore[arg-type]


def spans(spec: DeviceSpec) -> list[tuple[str, int, int]]:
    return [(b.table.value, b.start, b.count) for b in plan_reads(spec)]


def test_close_points_merge_into_one_request() -> None:
    spec = device(
        p("a", 0, DataType.FLOAT32), p("b", 6, DataType.FLOAT32), p("c", 12, DataType.FLOAT32)
    )
    assert spans(spec) == [("holding", 0, 14)]


def test_a_gap_wider_than_max_gap_splits() -> None:
    spec = device(p("a", 0), p("b", 10), max_gap=8)
    assert spans(spec) == [("holding", 0, 1), ("holding", 10, 1)]
    assert spans(device(p("a", 0), p("b", 10), max_gap=9)) == [("holding", 0, 11)]


def test_blocks_respect_max_registers_and_the_125_limit() -> None:
    points = [p(f"r{i}", i * 10, DataType.FLOAT32) for i in range(40)]  # 0..391
    small = spans(device(*points, max_gap=10, max_registers=50))
    assert all(count <= 50 for _, _, count in small)
    assert sum(1 for _ in small) == 8
    big = spans(device(*points, max_gap=10, max_registers=125))
    assert all(count <= 125 for _, _, count in big)


def test_tables_are_planned_apart_and_bits_use_max_bits() -> None:
    spec = device(
        p("h", 0),
        p("i", 0, table=Table.INPUT),
        *(p(f"c{i}", i, table=Table.COIL) for i in range(30)),
        max_bits=16,
    )
    assert spans(spec) == [
        ("coil", 0, 16),
        ("coil", 16, 14),
        ("input", 0, 1),
        ("holding", 0, 1),
    ]


def test_bitfields_sharing_a_register_are_one_read_with_offsets() -> None:
    a = PointSpec(key="a", table=Table.HOLDING, address=10, dtype=DataType.BITFIELD, bit=0)
    b = PointSpec(key="b", table=Table.HOLDING, address=10, dtype=DataType.BITFIELD, bit=1)
    blocks = plan_reads(device(p("x", 8), a, b))
    assert [(blk.start, blk.count) for blk in blocks] == [(8, 3)]
    readings = blocks[0].decode([5, 0, 0b10])
    assert [(r.key, r.value) for r in readings] == [("x", 5), ("a", False), ("b", True)]


def test_devices_sharing_points_share_one_plan() -> None:
    points = (p("a", 0), p("b", 1))
    cache: PlanCache = {}
    one = DeviceSpec(device_id="one", unit_id=1, points=points)
    two = DeviceSpec(device_id="two", unit_id=2, points=points)
    other = DeviceSpec(device_id="three", unit_id=3, points=(p("a", 0), p("b", 1)))
    assert plan_reads(one, cache) is plan_reads(two, cache)
    assert plan_reads(other, cache) is not plan_reads(one, cache)
    assert [(b.start, b.count) for b in plan_reads(other, cache)] == [(0, 2)]
