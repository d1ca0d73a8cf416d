"""Low-balance and cut-off notices through the alarm service's durable notification outbox.

A real HTTP receiver (the alarm tests' one) stands for an SMS gateway's webhook. It refuses
every notice at first: the outbox keeps them and retries with backoff. The controller stops
and starts again on the same files (the billing state even wiped, as if the process had died
before saving it, so every notice is derived again); the receiver now accepts, and each notice
arrives exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from controller.alarms.build import build_alarms
from controller.alarms.notify import Outbox, QuietHours
from controller.app import Controller
from controller.assemble import ControllerOptions, build_controller
from controller.billing import BillingComponent, Notice, OutboxNotices, billing_component
from controller.config import LoadedSite, load_site
from controller.config.alarms import NotifyConfig
from controller.core import FakeClock
from tests.alarms.receivers import HttpReceiver, http_receiver

from . import test_assembled
from .conftest import billing, ts
from .test_api import NoHistory

pytestmark = pytest.mark.integration

ROOMS = ("dorm-1.101", "dorm-1.102", "dorm-1.201", "dorm-1.202")
RETRY_S = 30.0
REFUSE_ALL = 1_000_000


def _site(site: LoadedSite, url: str) -> LoadedSite:
    notify = NotifyConfig.model_validate(
        {
            "channels": [{"id": "sms-gw", "type": "webhook", "url": f"{url}/sms"}],
            "retry_s": RETRY_S,
        }
    )
    return dataclasses.replace(
        site, notify=notify, billing=billing(notify=["sms-gw"], warn_at=["10"])
    )


@contextlib.asynccontextmanager
async def _controller(
    site: LoadedSite, state: Path, clock: FakeClock
) -> AsyncIterator[BillingComponent]:
    """The alarm service and billing as ``build_controller`` wires them, running."""
    controller = Controller(site, clock)
    alarms = build_alarms(controller, state, tick_s=0.02)
    try:
        controller.add(alarms)
        found = billing_component(controller, NoHistory(), state, alarms=alarms)
        assert found is not None
        controller.add(found)
        async with controller.running():
            await found.wait_ready()
            yield found
    finally:
        alarms.close()


def _deliveries(state: Path) -> list[tuple[str, int, str]]:
    db = sqlite3.connect(f"file:{state / 'notify.sqlite3'}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT dedup, attempts, state FROM deliveries ORDER BY dedup")
        return [(str(d), int(a), str(s)) for d, a, s in rows.fetchall()]
    finally:
        db.close()


async def _until(condition: Callable[[], bool], clock: FakeClock, what: str) -> None:
    """Move the clock a retry interval at a time until ``condition`` (10 s of wall time)."""
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, what
        clock.advance(RETRY_S / 4)
        await asyncio.sleep(0.02)


def _refused(receiver: HttpReceiver) -> int:
    return REFUSE_ALL - receiver.fail_next


async def test_a_refused_notice_is_retried_and_survives_a_restart(
    site: LoadedSite, tmp_path: Path
) -> None:
    clock = FakeClock(ts(2026, 3, 2, 12))
    state = tmp_path / "var"
    state.mkdir()
    with http_receiver() as receiver:
        receiver.fail_next = REFUSE_ALL
        wired = _site(site, receiver.url)
        async with _controller(wired, state, clock) as first:
            # 4 rooms at 0 yuan: each warned (10-yuan line) and cut: 8 notices, all refused,
            # each tried at least twice
            await _until(
                lambda: (
                    len(_deliveries(state)) == 8
                    and all(attempts >= 2 for _, attempts, _ in _deliveries(state))
                ),
                clock,
                "every notice refused twice",
            )
            assert first.notices is not None
            assert first.notices.queued == 8
        assert receiver.got == []
        pending = _deliveries(state)
        assert {s for _, _, s in pending} == {"pending"}
        assert _refused(receiver) >= 16

        # As if the controller had died before it saved the warnings it gave: billing derives
        # every notice again after the restart; the outbox already has each one.
        db = sqlite3.connect(state / "billing.sqlite3")
        with db:
            db.execute("DELETE FROM state WHERE key = 'limits'")
        db.close()

        receiver.fail_next = 0
        async with _controller(wired, state, clock) as second:
            await _until(lambda: len(receiver.got) >= 8, clock, "every notice delivered")
            await _until(
                lambda: {s for _, _, s in _deliveries(state)} == {"sent"}, clock, "all sent"
            )
            assert second.limits is not None
            assert second.limits.state.cut == set(ROOMS)  # derived again: cut, warned
            assert second.notices is not None
            assert second.limits.counters["warnings"] == 4
            assert second.notices.queued == 0  # each was in the outbox already

    bodies = [got.json() for got in receiver.got]
    assert sorted((b["account"], b["event"]) for b in bodies) == sorted(
        (room, event) for room in ROOMS for event in ("cut_off", "low_balance")
    )
    assert {got.path for got in receiver.got} == {"/sms"}
    assert len({got.headers["X-Sanjie-Delivery"] for got in receiver.got}) == 8
    warning = next(b for b in bodies if b["event"] == "low_balance")
    assert (warning["balance"], warning["threshold"], warning["severity"]) == ("0", "10", "warning")
    assert "预付费余额不足" in warning["message_zh"]
    assert [dedup for dedup, _, _ in _deliveries(state)] == [d for d, _, _ in pending]


async def test_the_composition_root_queues_notices_in_the_alarm_outbox(tmp_path: Path) -> None:
    path = test_assembled._site(tmp_path, {**test_assembled.BILLING, "notify": ["sms-gw"]})
    with path.open("a", encoding="utf-8") as out:
        out.write("notify: {channels: [{id: sms-gw, type: webhook, url: 'http://127.0.0.1:9/'}]}\n")
    state = tmp_path / "var"
    options = ControllerOptions(
        mqtt_free_ports=True, data_dir=tmp_path, state_dir=state, api_port=None
    )
    async with contextlib.AsyncExitStack() as stack:
        assembly = await build_controller(load_site(path), options, stack, clock=FakeClock(0))
        assert assembly.billing is not None
        assert assembly.alarms is not None
        assert assembly.alarms.notifier is not None
        notices = assembly.billing.notices
        assert notices is not None
        assert notices.channels == ("sms-gw",)
        assert notices.outbox is assembly.alarms.notifier.outbox


def test_quiet_hours_hold_billing_notices_until_they_end(tmp_path: Path) -> None:
    """A warning at 23:30 waits for 07:00 (billing notices are warnings: no breakthrough)."""
    clock = FakeClock(ts(2026, 3, 2, 23, 30))
    outbox = Outbox(tmp_path / "notify.sqlite3", clock)
    try:
        notices = OutboxNotices(
            outbox, ["sms-gw", "wecom"], clock, QuietHours.parse("22:00", "07:00")
        )
        notice = Notice("low_balance", "dorm-1.101", "4", "余额不足", "low", "k@0")
        notices(notice)
        notices(notice)  # offered again: the same rows
        held = outbox.deliveries()
        assert [(d.dedup, d.channel) for d in held] == [
            ("k@0:sms-gw", "sms-gw"),
            ("k@0:wecom", "wecom"),
        ]
        assert {d.next_at for d in held} == {ts(2026, 3, 3, 7)}
        assert notices.queued == 2
    finally:
        outbox.close()
