"""The state store: every reading announced, the changed flag, quality and availability."""

from __future__ import annotations

import pytest

from controller.core import AvailabilityChanged, Quality, State, StateChanged
from tests.core.conftest import Core

POWER = "dorm-1.101.elec.power"
ENERGY = "dorm-1.101.elec.energy"
RELAY = "dorm-1.101.elec.relay"


async def test_every_reading_is_announced_with_a_changed_flag(core: Core) -> None:
    sub = core.bus.subscribe("test", [StateChanged])
    core.states.set(POWER, 812.0)
    core.clock.advance(60)
    core.states.set(POWER, 812.0)
    core.states.set(POWER, 900.0)
    core.states.set(POWER, 900.0, quality=Quality.UNCERTAIN)
    events = await sub.get_batch()
    assert [(e.new.value, e.changed) for e in events if isinstance(e, StateChanged)] == [
        (812.0, True),
        (812.0, False),
        (900.0, True),
        (900.0, True),
    ]
    first, second = events[0], events[1]
    assert isinstance(first, StateChanged)
    assert isinstance(second, StateChanged)
    assert first.old is None
    assert second.old == State(812.0, 1_780_000_000.0)
    assert second.new.timestamp == 1_780_000_060.0


def test_unknown_entity_and_device_are_refused(core: Core) -> None:
    with pytest.raises(KeyError, match="unknown entity"):
        core.states.set("dorm-1.999.elec.power", 1.0)
    with pytest.raises(KeyError, match="unknown device"):
        core.states.set_available("dorm-1.999.elec", False)


async def test_nan_is_never_a_good_value(core: Core) -> None:
    state = core.states.set(POWER, float("nan"))
    assert state.quality is Quality.BAD
    assert core.states.value(POWER) is None
    sub = core.bus.subscribe("test", [StateChanged])
    core.states.set(POWER, float("nan"))
    (event,) = await sub.get_batch()
    assert isinstance(event, StateChanged)
    assert not event.changed, "a stuck NaN is not a change"
    core.states.set(POWER, float("inf"))
    assert core.states.get(POWER) == State(float("inf"), 1_780_000_000.0, Quality.BAD)


async def test_a_bool_is_not_the_number_one(core: Core) -> None:
    core.states.set(RELAY, 1)
    sub = core.bus.subscribe("test", [StateChanged])
    core.states.set(RELAY, 1)
    core.states.set(RELAY, True)
    assert [e.changed for e in await sub.get_batch() if isinstance(e, StateChanged)] == [
        False,
        True,
    ]


async def test_set_many_shares_one_timestamp(core: Core) -> None:
    core.states.set_many([(POWER, 10.0, Quality.GOOD), (ENERGY, 5.5, Quality.GOOD)], 1234.0)
    assert core.states.get(POWER) == State(10.0, 1234.0)
    assert core.states.get(ENERGY) == State(5.5, 1234.0)
    assert set(core.states.all()) == {POWER, ENERGY}


async def test_availability_transitions(core: Core) -> None:
    device = "dorm-1.101.elec"
    core.states.set(POWER, 800.0)
    sub = core.bus.subscribe("test")
    core.clock.advance(30)
    core.states.set_available(device, False, "no reply")
    core.states.set_available(device, False, "still no reply")  # no second announcement
    events = await sub.get_batch()
    assert events[0] == AvailabilityChanged(device, False, 1_780_000_030.0, "no reply")
    # Entities with a state become unavailable, keeping their last value and time.
    assert events[1:] == [
        StateChanged(
            POWER,
            State(800.0, 1_780_000_000.0),
            State(800.0, 1_780_000_000.0, available=False),
            True,
        )
    ]
    assert core.states.value(POWER) is None
    assert not core.states.is_available(device)
    assert core.states.unavailable_devices == frozenset({device})

    core.states.set_available(device, True, "replied")
    assert await sub.get_batch() == [AvailabilityChanged(device, True, 1_780_000_030.0, "replied")]
    # The entity proves itself with a fresh reading, which counts as a change.
    core.states.set(POWER, 800.0)
    (event,) = await sub.get_batch()
    assert isinstance(event, StateChanged)
    assert event.changed
    assert core.states.value(POWER) == 800.0


async def test_set_many_announces_one_batch_in_order_with_nan_made_bad(core: Core) -> None:
    sub = core.bus.subscribe("test", [StateChanged])
    core.states.set(POWER, 10.0, 1000.0)
    core.states.set_many(
        [(POWER, 10.0, Quality.GOOD), (ENERGY, float("nan"), Quality.GOOD)], 1060.0
    )
    events = [e for e in await sub.get_batch() if isinstance(e, StateChanged)]
    assert [(e.entity_id, e.changed) for e in events] == [
        (POWER, True),
        (POWER, False),
        (ENERGY, True),
    ]
    assert events[2].new.quality is Quality.BAD
    assert core.bus.published == 3


async def test_set_many_records_what_precedes_an_unknown_entity(core: Core) -> None:
    sub = core.bus.subscribe("test", [StateChanged])
    with pytest.raises(KeyError, match="unknown entity"):
        core.states.set_many(
            [(POWER, 1.0, Quality.GOOD), ("dorm-1.999.elec.power", 2.0, Quality.GOOD)], 5.0
        )
    assert core.states.get(POWER) == State(1.0, 5.0)
    assert [e.entity_id for e in await sub.get_batch() if isinstance(e, StateChanged)] == [POWER]
