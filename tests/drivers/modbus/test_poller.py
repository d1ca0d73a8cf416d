"""Bus scheduling with a fake link and a FakeClock: staggering, dead-device isolation with
capped exponential backoff, availability, cycle time, write priority and refusals."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence
from typing import Any, cast

import pytest

from controller.core import FakeClock
from drivers.link.gate import PriorityGate
from drivers.modbus import (
    BusCounters,
    BusPoller,
    DeviceSpec,
    LinkSpec,
    ModbusLink,
    ModbusTimeout,
    PointSpec,
    Priority,
    Reading,
    Transport,
    WriteNotConfirmed,
    WriteRefused,
)
from wire.modbus import DataType, Table


class FakeLink:
    """Answers from ``registers[unit]``; units in ``dead`` time out. Records every request."""

    def __init__(self, clock: FakeClock) -> None:
        self.spec = self.bus_spec = LinkSpec(link_id="bus", transport=Transport.TCP, host="fake")
        self.counters = BusCounters()
        self.clock = clock
        self.registers: dict[int, list[int]] = {}
        self.dead: set[int] = set()
        self.log: list[tuple[float, int, str]] = []
        self.connected = True
        self.state = type("S", (), {"value": "connected"})()
        self.last_error = None
        self.queued = 0
        self.link_id = "bus"

    async def run(self) -> None:
        await asyncio.Event().wait()

    async def wait_connected(self) -> None:
        return

    async def read(
        self, unit: int, table: Table, start: int, count: int, priority: Priority = Priority.POLL
    ) -> list[int]:
        self.log.append((self.clock.time(), unit, "read"))
        self.counters.transaction(0.0)
        if unit in self.dead:
            self.counters.error("timeout")
            raise ModbusTimeout("no reply", link="bus")
        return self.registers[unit][start : start + count]

    async def write(self, unit: int, table: Table, address: int, data: list[int] | bool) -> None:
        self.log.append((self.clock.time(), unit, "write"))
        assert isinstance(data, list)
        self.registers[unit][address : address + len(data)] = data


class Listener:
    def __init__(self) -> None:
        self.snapshots: list[tuple[str, list[Reading], float]] = []
        self.availability_changes: list[tuple[str, bool, str]] = []

    def snapshot(self, device_id: str, readings: Sequence[Reading], timestamp: float) -> None:
        self.snapshots.append((device_id, list(readings), timestamp))

    def availability(self, device_id: str, available: bool, reason: str) -> None:
        self.availability_changes.append((device_id, available, reason))


def device(unit: int, interval: float = 10.0, **kw: Any) -> DeviceSpec:
    points = (
        PointSpec(key="energy", table=Table.HOLDING, address=0, dtype=DataType.UINT32, scale=0.01),
        PointSpec(
            key="setpoint", table=Table.HOLDING, address=2, dtype=DataType.INT16, scale=0.1,
            writable=True, write_range=(17.0, 30.0),
        ),
    )  # fmt: skip
    return DeviceSpec(
        device_id=f"d{unit}", unit_id=unit, points=points, scan_interval=interval, **kw
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1_800_000_000.0)


def setup(clock: FakeClock, specs: list[DeviceSpec]) -> tuple[BusPoller, FakeLink, Listener]:
    link = FakeLink(clock)
    for spec in specs:
        link.registers[spec.unit_id] = [0, 12345, 260]
    listener = Listener()
    return BusPoller(cast(ModbusLink, link), specs, clock, listener), link, listener


async def run_for(poller: BusPoller, clock: FakeClock, seconds: float) -> None:
    async with asyncio.TaskGroup() as group:
        task = group.create_task(poller.run(), name="poller")
        await clock.run_for(seconds, step=0.5)
        task.cancel()


async def test_first_polls_are_staggered_over_the_interval(clock: FakeClock) -> None:
    poller, link, listener = setup(clock, [device(u) for u in range(1, 11)])
    start = clock.time()
    await run_for(poller, clock, 9.9)
    first = sorted(t - start for t, _, _ in link.log)
    assert first == pytest.approx([float(i) for i in range(10)], abs=0.51)
    device_id, readings, _ = listener.snapshots[0]
    assert device_id == "d1"
    assert readings == [Reading("energy", 123.45, True), Reading("setpoint", 26.0, True)]


async def test_a_dead_device_backs_off_and_the_others_keep_their_cycle(clock: FakeClock) -> None:
    specs = [device(u, fail_threshold=3, backoff_max=80.0) for u in range(1, 6)]
    poller, link, listener = setup(clock, specs)
    link.dead.add(3)
    await run_for(poller, clock, 300)
    probes = [t for t, unit, _ in link.log if unit == 3]
    gaps = [round(b - a) for a, b in itertools.pairwise(probes)]
    # the healthy device's first timeout is retried at once; then one probe per period,
    # the period doubling from the scan interval up to backoff_max
    assert gaps[:6] == [0, 10, 20, 40, 80, 80]
    for unit in (1, 2, 4, 5):
        polls = [t for t, u, _ in link.log if u == unit]
        assert len(polls) == 30  # every 10 s for 300 s: untouched by the dead neighbour
    assert listener.availability_changes[-1][:2] == ("d3", False)
    assert poller.devices["d3"].failures >= 3
    assert link.counters.retries == 1  # only its first (healthy) failure was retried

    link.dead.clear()
    await run_for(poller, clock, 100)
    assert listener.availability_changes[-1] == ("d3", True, "")
    assert poller.devices["d3"].available is True


async def test_cycle_time_is_measured_per_bus(clock: FakeClock) -> None:
    poller, link, _ = setup(clock, [device(u, interval=5.0) for u in range(1, 5)])
    await run_for(poller, clock, 30)
    assert link.counters.cycles >= 4
    assert link.counters.last_cycle == pytest.approx(5.0, abs=0.6)


async def test_writes_are_confirmed_by_read_back(clock: FakeClock) -> None:
    poller, link, listener = setup(clock, [device(1)])
    assert await poller.write("d1", "setpoint", 24.5) == 24.5
    assert link.registers[1][2] == 245
    assert [kind for _, _, kind in link.log] == ["write", "read"]
    assert listener.snapshots[-1][1] == [Reading("setpoint", 24.5, True)]


async def test_writes_are_refused_by_profile_rules(clock: FakeClock) -> None:
    poller, link, _ = setup(clock, [device(1)])
    with pytest.raises(WriteRefused, match="outside the allowed range"):
        await poller.write("d1", "setpoint", 35.0)
    with pytest.raises(WriteRefused, match="not writable"):
        await poller.write("d1", "energy", 0.0)
    with pytest.raises(WriteRefused, match="no such point"):
        await poller.write("d1", "relay", True)
    with pytest.raises(WriteRefused, match="no such device"):
        await poller.write("d9", "setpoint", 20.0)
    assert link.log == []  # nothing reached the bus


async def test_an_unconfirmed_write_is_an_error(clock: FakeClock) -> None:
    poller, link, _ = setup(clock, [device(1)])

    async def ignore(unit: int, table: Table, address: int, data: list[int] | bool) -> None:
        link.log.append((clock.time(), unit, "write"))

    link.write = ignore  # type: ignore[method-assign]
    with pytest.raises(WriteNotConfirmed, match=r"read back 26\.0"):
        await poller.write("d1", "setpoint", 20.0)


async def test_the_gate_serves_writes_before_queued_polls() -> None:
    gate = PriorityGate()
    order: list[str] = []
    await gate.acquire(Priority.POLL)  # a poll is on the bus

    async def take(name: str, priority: Priority) -> None:
        await gate.acquire(priority)
        order.append(name)
        gate.release()

    async with asyncio.TaskGroup() as group:
        for i in range(3):
            group.create_task(take(f"poll{i}", Priority.POLL), name=f"poll{i}")
        await asyncio.sleep(0)
        group.create_task(take("write", Priority.WRITE), name="write")
        await asyncio.sleep(0)
        assert gate.waiting == 4
        gate.release()
    assert order == ["write", "poll0", "poll1", "poll2"]
