"""A device offline for several polls logs one WARNING naming it, then nothing above DEBUG
until it answers again, and its recovery once (the emulated campus on the wire)."""

from __future__ import annotations

import logging

import pytest

from controller.config import load_site
from controller.logs import OneLineFormatter
from emulators.modbus.inject import inject
from tests.conftest import EXAMPLE_SITE
from tests.integrations.modbus_harness import running_campus, wait_until

pytestmark = pytest.mark.integration

VALVES = "gw-canteen-1-valves"
TARGET = "canteen-1.handwash.v07"


def _about(caplog: pytest.LogCaptureFixture, level: int) -> list[logging.LogRecord]:
    return [
        r for r in caplog.records if r.levelno == level and getattr(r, "device", None) == TARGET
    ]


async def test_offline_for_many_polls_logs_once_and_logs_the_recovery(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="drivers")
    site = load_site(EXAMPLE_SITE)
    async with running_campus(
        site, links=[VALVES], scan_interval=0.1, fail_threshold=2, backoff_max=0.1
    ) as run:
        poller = run.modbus.pollers[VALVES]
        target = poller.devices[TARGET]
        states = run.controller.states
        await wait_until(lambda: states.get(f"{TARGET}.valve") is not None, "first poll")
        inject(run.emulator, f"{TARGET}:no_reply")
        await wait_until(lambda: target.failed_polls >= 6, "six failed polls")
        assert not states.is_available(TARGET)
        inject(run.emulator, f"{TARGET}:clear")
        await wait_until(lambda: states.is_available(TARGET), f"{TARGET} back")

    warnings = _about(caplog, logging.WARNING)
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "unavailable after 2 failed polls" in warnings[0].getMessage()
    assert len(_about(caplog, logging.DEBUG)) >= 4  # the failures in between, quietly
    recoveries = _about(caplog, logging.INFO)
    assert len(recoveries) == 1
    assert "answers again" in recoveries[0].getMessage()
    assert all(r.levelno < logging.WARNING for r in caplog.records if r not in warnings), [
        r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING
    ]

    line = OneLineFormatter(journald=False).format(warnings[0])
    stamp, level, component, where, *_ = line.split(" ")
    assert stamp[10] == "T"  # ISO 8601 timestamp first
    assert (level, component, where) == ("WARNING", "drivers.link.schedule", f"[{TARGET}]:")
    assert "\n" not in line
