"""One test per fault type: the faulty device (or gateway) is isolated and marked, the rest of
the bus keeps its schedule, and everything recovers once the fault clears."""

from __future__ import annotations

import asyncio

import pytest

from controller.config import LoadedSite, load_site
from controller.core import AvailabilityChanged, Quality
from emulators.modbus.inject import inject
from tests.conftest import EXAMPLE_SITE

from .modbus_harness import Running, running_campus, wait_until

pytestmark = pytest.mark.integration

VALVES = "gw-canteen-1-valves"  # RTU over TCP, 20 delayed-closing valves, units 1–20
METERS = "gw-canteen-1"  # Modbus TCP, 7 meters
DORM_FLOOR = "gw-dorm-1-f1"  # RTU over TCP, a floor of dorm meters (integer counters)
TARGET = "canteen-1.handwash.v07"
SCAN = 0.25


@pytest.fixture(scope="module")
def campus() -> LoadedSite:
    return load_site(EXAMPLE_SITE)


def all_available(run: Running) -> bool:
    states = run.controller.states
    return all(states.is_available(d) and states.get(f"{d}.valve") is not None for d in run.polls())


async def assert_rest_on_schedule(run: Running, faulty: set[str], seconds: float = 1.0) -> None:
    """Every other device of the bus is polled about once per scan interval meanwhile, the
    faulty ones (backing off) at most a few times."""
    before = run.polls()
    await asyncio.sleep(seconds)
    after = run.polls()
    expected = seconds / SCAN
    for device_id, count in after.items():
        if device_id in faulty:
            assert count - before[device_id] <= 3, (device_id, count)
        else:
            assert count - before[device_id] >= 0.6 * expected, (device_id, count)


@pytest.mark.parametrize(
    "fault", ["no_reply", "exception=4", "malformed=short", "malformed=crc", "malformed=garbage"]
)
async def test_device_fault_is_isolated_marked_and_recovers(campus: LoadedSite, fault: str) -> None:
    async with running_campus(campus, links=[VALVES], scan_interval=SCAN) as run:
        states = run.controller.states
        events = run.controller.bus.subscribe("test", [AvailabilityChanged])
        await wait_until(lambda: all_available(run), "every valve polled")
        inject(run.emulator, f"{TARGET}:{fault}")
        await wait_until(lambda: not states.is_available(TARGET), f"{TARGET} marked unavailable")
        change = await events.get()
        assert isinstance(change, AvailabilityChanged)
        assert (change.device_id, change.available) == (TARGET, False)
        assert change.reason
        await assert_rest_on_schedule(run, {TARGET})

        inject(run.emulator, f"{TARGET}:clear")
        await wait_until(lambda: states.is_available(TARGET), f"{TARGET} back", limit=5)
        recovered = run.controller.clock.time()
        await wait_until(
            lambda: states.get(f"{TARGET}.presses").timestamp > recovered,  # type: ignore[union-attr]
            "fresh readings after recovery",
        )
        assert states.get(f"{TARGET}.presses").quality is Quality.GOOD  # type: ignore[union-attr]
        events.close()


async def test_a_flaky_gateway_connection_is_reconnected(campus: LoadedSite) -> None:
    async with running_campus(campus, links=[VALVES], scan_interval=SCAN, fail_threshold=4) as run:
        await wait_until(lambda: all_available(run), "every valve polled")
        inject(run.emulator, f"{VALVES}:drop=25")
        counters = run.modbus.pollers[VALVES].link.counters
        await wait_until(lambda: counters.reconnects >= 2, "two reconnects", limit=10)
        before = run.polls()
        await asyncio.sleep(2.0)
        assert all(n > before[d] for d, n in run.polls().items())  # polling goes on
        inject(run.emulator, f"{VALVES}:clear")
        await wait_until(lambda: all_available(run), "every valve available")


async def test_a_dead_gateway_marks_its_devices_and_they_return(campus: LoadedSite) -> None:
    async with running_campus(campus, links=[VALVES, METERS], scan_interval=SCAN) as run:
        states = run.controller.states
        meters = [d for d in run.polls() if not d.startswith("canteen-1.handwash")]
        await wait_until(lambda: all(states.is_available(d) for d in run.polls()), "all up")
        inject(run.emulator, f"{VALVES}:refuse")
        await wait_until(
            lambda: all(
                not states.is_available(f"canteen-1.handwash.v{i:02d}") for i in range(1, 21)
            ),
            "every valve unavailable",
        )
        assert all(states.is_available(d) for d in meters)  # the other bus is untouched
        inject(run.emulator, f"{VALVES}:clear")
        await wait_until(lambda: all(states.is_available(d) for d in run.polls()), "all back")


async def test_stuck_values_keep_coming_unchanged_then_move_again(campus: LoadedSite) -> None:
    target = "canteen-1.kitchen.cooking"
    async with running_campus(campus, links=[METERS], scan_interval=SCAN) as run:
        states = run.controller.states
        volts = f"{target}.voltage_a"
        await wait_until(lambda: states.get(volts) is not None, "first reading")
        inject(run.emulator, f"{target}:stuck")
        first = states.get(volts)
        assert first is not None
        await wait_until(
            lambda: states.get(volts).timestamp > first.timestamp + 2,  # type: ignore[union-attr]
            "readings for two seconds",
        )
        assert states.value(volts) == first.value  # the meter repeats itself
        assert states.is_available(target)
        inject(run.emulator, f"{target}:clear")
        await wait_until(lambda: states.value(volts) != first.value, "values moving again")


async def test_a_replaced_meter_restarts_its_counter(campus: LoadedSite) -> None:
    target = "canteen-1.kitchen.dishwasher"
    async with running_campus(campus, links=[METERS], scan_interval=SCAN) as run:
        states = run.controller.states
        energy = f"{target}.energy"
        await wait_until(lambda: states.get(energy) is not None, "first reading")
        assert states.value(energy) > 100  # type: ignore[operator]
        inject(run.emulator, f"{target}:reset")
        await wait_until(lambda: states.value(energy) < 1, "the new meter's reading")  # type: ignore[operator]
        assert states.get(energy).quality is Quality.GOOD  # type: ignore[union-attr]
        assert states.is_available(target)
        await assert_rest_on_schedule(run, set(), seconds=1.0)


async def test_a_counter_rolls_over_at_its_register_maximum(campus: LoadedSite) -> None:
    target = "dorm-1.101.elec"  # dorm prepaid meter: energy is uint32 × 0.01 kWh
    async with running_campus(campus, links=[DORM_FLOOR], scan_interval=SCAN) as run:
        states = run.controller.states
        energy = f"{target}.energy"
        await wait_until(lambda: states.get(energy) is not None, "first reading")
        device = run.emulator.devices[target]
        device.rollover(margin=3)  # three raw steps below the register maximum
        top = 0xFFFFFFFF * 0.01
        await wait_until(lambda: states.value(energy) > top - 10, "a reading at the top")  # type: ignore[operator]
        # The room uses 0.05 kWh (five raw steps): whatever its load, the register wraps.
        device.bound.faults.counter_offsets["energy"] = 0.05
        device.rebuild()
        await wait_until(lambda: states.value(energy) < 1000, "the wrapped reading")  # type: ignore[operator]
        assert states.get(energy).quality is Quality.GOOD  # type: ignore[union-attr]


async def test_a_spike_is_flagged_bad_and_good_values_follow(campus: LoadedSite) -> None:
    target = "canteen-1.kitchen.cold-store"
    async with running_campus(campus, links=[METERS], scan_interval=SCAN) as run:
        states = run.controller.states
        volts = f"{target}.voltage_a"
        await wait_until(lambda: states.get(volts) is not None, "first reading")
        device = run.emulator.devices[target]
        device.bound.spike(factor=100.0, reads=1)
        device.rebuild()
        await wait_until(
            lambda: states.get(volts).quality is Quality.BAD,  # type: ignore[union-attr]
            "the spike flagged bad (over 300 V)",
        )
        assert states.value(volts) is None  # bad readings are not served as values
        await wait_until(
            lambda: states.get(volts).quality is Quality.GOOD,  # type: ignore[union-attr]
            "good readings again",
        )
        assert 190 < states.value(volts) < 250  # type: ignore[operator]
