"""Commands over Modbus: a write preempts a long poll cycle on its bus and is confirmed by
read-back; writes the profile does not allow are refused before reaching the bus."""

from __future__ import annotations

import pytest

from controller.config import LoadedSite, load_site
from controller.core import CommandCompleted
from controller.core.commands import CommandError
from tests.conftest import EXAMPLE_SITE

from .modbus_harness import running_campus, wait_until

pytestmark = pytest.mark.integration

FLOOR = "gw-dorm-1-f1"  # 83 devices on one RS-485 bus


@pytest.fixture(scope="module")
def campus() -> LoadedSite:
    return load_site(EXAMPLE_SITE)


async def test_a_write_preempts_a_long_poll_cycle_and_is_confirmed(campus: LoadedSite) -> None:
    # 10 ms per transaction and a 0.1 s scan interval: the bus is saturated, a full cycle
    # of the floor takes ~150 transactions.
    async with running_campus(campus, links=[FLOOR], scan_interval=0.1, latency=0.01) as run:
        counters = run.modbus.pollers[FLOOR].link.counters
        await wait_until(lambda: counters.cycles >= 1, "a full poll cycle", limit=20)
        cycle_requests = counters.requests
        assert cycle_requests > 100
        audit = run.controller.bus.subscribe("audit", [CommandCompleted])

        before = counters.requests
        result = await run.controller.commands.send(
            "dorm-1.105.ac.setpoint", 25.0, actor="test", reason="preempt"
        )
        used = counters.requests - before
        assert result.ok, result.error
        assert result.confirmed_value == 25.0
        assert used <= 4  # write + read-back + at most the polls already on the bus
        assert run.controller.states.value("dorm-1.105.ac.setpoint") == 25.0
        event = await audit.get()
        assert isinstance(event, CommandCompleted)
        assert (event.entity_id, event.ok, event.actor) == ("dorm-1.105.ac.setpoint", True, "test")

        for entity_id, value in (
            ("dorm-1.105.ac.mode", "cool"),
            ("dorm-1.105.ac.power_switch", "on"),
            ("dorm-1.105.elec.relay", False),
            ("dorm-1.105.cold.valve", "closed"),
        ):
            result = await run.controller.commands.send(entity_id, value, actor="test")
            assert result.ok, (entity_id, result.error)
            assert result.confirmed_value == value
        audit.close()


async def test_writes_outside_the_profile_are_refused(campus: LoadedSite) -> None:
    async with running_campus(campus, links=[FLOOR], scan_interval=0.5) as run:
        send = run.controller.commands.send
        refused = await send("dorm-1.105.ac.room_temperature", 20.0, actor="test")
        assert not refused.ok
        assert refused.error is not None
        assert "not writable" in refused.error
        too_hot = await send("dorm-1.105.ac.setpoint", 35.0, actor="test")
        assert not too_hot.ok
        assert "outside the allowed range" in (too_hot.error or "")
        not_a_word = await send("dorm-1.105.cold.valve", "abnormal", actor="test")
        assert not not_a_word.ok
        with pytest.raises(CommandError, match="no such point"):
            await run.modbus.write("dorm-1.105.ac", "turbo", 1)
        assert run.modbus.pollers[FLOOR].link.counters.errors == {}
