"""The command router: refuses what cannot be written, routes the rest, audits every outcome."""

from __future__ import annotations

import logging

import pytest

from controller.core import CommandCompleted, CommandError, CommandResult
from controller.core.events import Value
from tests.core.conftest import Core

RELAY = "dorm-1.101.elec.relay"


class FakeDriver:
    """Confirms writes by echoing them, refuses one value, crashes on another."""

    def __init__(self) -> None:
        self.writes: list[tuple[str, str, Value]] = []

    async def write(self, device_id: str, point_key: str, value: Value) -> Value:
        self.writes.append((device_id, point_key, value))
        if value == "refuse":
            raise CommandError("device answered exception 0x02 (illegal address)")
        if value == "crash":
            raise ZeroDivisionError("bug in the driver")
        return value


async def test_a_confirmed_write_is_routed_and_audited(core: Core) -> None:
    driver = FakeDriver()
    core.commands.register("dorm-1.101.elec", driver)
    audit = core.bus.subscribe("audit", [CommandCompleted])
    result = await core.commands.send(
        RELAY, False, actor="policy:curfew", reason="23:00 curfew", source="policy"
    )
    assert result == CommandResult(RELAY, False, True, False, None)
    assert driver.writes == [("dorm-1.101.elec", "relay", False)]
    assert await audit.get_batch() == [
        CommandCompleted(
            RELAY, False, True, "policy:curfew", "23:00 curfew", 1_780_000_000.0, None, "policy"
        )
    ]


@pytest.mark.parametrize(
    ("entity", "value", "error"),
    [
        ("dorm-1.999.elec.relay", True, "unknown entity dorm-1.999.elec.relay"),
        ("dorm-1.101.elec.energy", 0, "dorm-1.101.elec.energy is not writable"),
        ("dorm-1.102.elec.relay", True, "no driver handles device dorm-1.102.elec"),
        (RELAY, "refuse", "device answered exception 0x02 (illegal address)"),
        (RELAY, "crash", "driver error: ZeroDivisionError: bug in the driver"),
    ],
)
async def test_failures_are_results_not_exceptions(
    core: Core, caplog: pytest.LogCaptureFixture, entity: str, value: Value, error: str
) -> None:
    core.commands.register("dorm-1.101.elec", FakeDriver())
    audit = core.bus.subscribe("audit", [CommandCompleted])
    with caplog.at_level(logging.WARNING):
        result = await core.commands.send(entity, value, actor="staff:wang")
    assert (result.ok, result.error) == (False, error)
    (event,) = await audit.get_batch()
    assert isinstance(event, CommandCompleted)
    assert (event.ok, event.error, event.actor, event.source) == (
        False,
        error,
        "staff:wang",
        "manual",
    )
    assert any(error in message for message in caplog.messages)
