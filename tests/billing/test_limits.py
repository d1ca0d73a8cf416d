"""Limit decisions on the controller's own command router: warning levels, the overdraft,
exemptions, the guard against switching a cut room back on, the notification hook, and the
kept state across a restart.

The relay's driver here is a stand-in that confirms each write and stores the value as its read
back (the Modbus path with a real meter is in ``test_e2e_modbus`` and ``test_assembled``).
"""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal as D  # noqa: N817 (figures read better short)
from pathlib import Path
from typing import Any

import pytest

from controller.app import Controller
from controller.billing import (
    BalanceCutOff,
    BalanceLow,
    BalanceRestored,
    BillingComponent,
    Limits,
    LimitState,
    Notice,
    TopUps,
)
from controller.billing.meters import Meters
from controller.billing.model import Account
from controller.config import LoadedSite
from controller.config.billing import Utility
from controller.core import FakeClock
from controller.core.events import AlarmCleared, AlarmRaised, Event, Value
from controller.supervise import SupervisionOptions
from drivers.backoff import Backoff

from .conftest import ts
from .test_api import NoHistory

ROOM = "dorm-1.101"
RELAY = f"{ROOM}.elec.relay"


class ConfirmingRelay:
    """Confirms every write and reports the value as read back, like a healthy meter."""

    def __init__(self, controller: Controller) -> None:
        self.controller = controller
        self.writes: list[tuple[str, Value]] = []

    async def write(self, device_id: str, point_key: str, value: Value) -> Value:
        entity_id = f"{device_id}.{point_key}"
        self.writes.append((entity_id, value))
        self.controller.states.set(entity_id, value)
        return value


class Rig:
    def __init__(self, site: LoadedSite, **limits: Any) -> None:
        self.clock = FakeClock(ts(2026, 3, 2, 12))
        self.controller = Controller(site, self.clock)
        self.relay = ConfirmingRelay(self.controller)
        self.controller.commands.register(f"{ROOM}.elec", self.relay)
        self.controller.states.set(RELAY, True)
        self.account = Account(ROOM, "dorm-1", "101", 4)
        self.meters = Meters(site, [self.account])
        self.notices: list[Notice] = []
        self.events = self.controller.bus.subscribe(
            "test", [BalanceLow, BalanceCutOff, BalanceRestored, AlarmRaised, AlarmCleared]
        )
        self.limits = self.make(**limits)

    def make(self, state: LimitState | None = None, **limits: Any) -> Limits:
        options: dict[str, Any] = {
            "warn_at": [D(10), D(5)],
            "overdraft": D(0),
            "cut_off": [Utility.ELECTRICITY],
            **limits,
        }
        return Limits(
            self.controller.bus,
            self.controller.commands,
            self.controller.states,
            self.clock,
            self.meters,
            state=state,
            notify=self.notices.append,
            **options,
        )

    async def check(self, balance: str, account: Account | None = None) -> None:
        await self.limits.check([account or self.account], {ROOM: D(balance)})

    async def seen(self) -> list[Event]:
        found: list[Event] = []
        while self.events.stats.depth:
            found.extend(await self.events.get_batch(100))
        return found


@pytest.fixture
def rig(site: LoadedSite) -> Rig:
    return Rig(site)


async def test_each_warning_level_is_given_once(rig: Rig) -> None:
    for balance in ("12", "9", "8", "4.5", "4", "6"):
        await rig.check(balance)
    warned = [(e.balance, e.threshold) for e in await rig.seen() if isinstance(e, BalanceLow)]
    assert warned == [("9", "10"), ("4.5", "5")]
    assert [n.what for n in rig.notices] == ["low_balance", "low_balance"]
    await rig.check("30")  # topped up: the levels are armed again
    await rig.check("9.5")
    assert rig.limits.state.warned == {ROOM: "10"}
    assert rig.relay.writes == []
    assert [n.dedup for n in rig.notices] == [  # a new round after the warnings cleared
        f"billing:low_balance:{ROOM}:10@0",
        f"billing:low_balance:{ROOM}:5@0",
        f"billing:low_balance:{ROOM}:10@1",
    ]


async def test_a_notice_given_again_after_a_crash_has_the_same_key(rig: Rig) -> None:
    """State lost between the notice and its save (a crash): the notice derived again is
    the same one, so the outbox, keyed on it, sends it once."""
    await rig.check("30")
    saved = rig.limits.state.dumps()
    await rig.check("0")
    before = [n.dedup for n in rig.notices]
    rig.limits = rig.make(state=LimitState.loads(saved))
    await rig.check("0")
    assert [n.dedup for n in rig.notices] == before * 2
    assert before == [f"billing:low_balance:{ROOM}:5@0", f"billing:cut_off:{ROOM}:@0"]


async def test_the_overdraft_lets_the_balance_go_below_zero_first(site: LoadedSite) -> None:
    rig = Rig(site, overdraft=D(5))
    await rig.check("-4.99")
    assert rig.relay.writes == []
    await rig.check("-5")
    assert rig.relay.writes == [(RELAY, False)]
    await rig.check("-6")  # already cut, read back as cut: nothing more is sent
    assert rig.relay.writes == [(RELAY, False)]
    cut = [e for e in await rig.seen() if isinstance(e, BalanceCutOff)]
    assert [(e.balance, e.points) for e in cut] == [("-5", (RELAY,))]
    message = rig.notices[-1].message()
    assert (message["event"], message["account"], message["balance"]) == ("cut_off", ROOM, "-5")
    assert message["points"] == [RELAY]
    assert (message["change"], message["severity"], message["target"]) == (
        "raised",
        "warning",
        ROOM,
    )
    assert "已断电" in message["message_zh"]


async def test_nobody_else_switches_a_cut_room_back_on(rig: Rig) -> None:
    rig.controller.commands.add_guard(rig.limits.guard_for(lambda e: ROOM if e == RELAY else None))
    await rig.check("0")
    refused = await rig.controller.commands.send(RELAY, True, actor="policy:morning")
    assert not refused.ok
    assert "top it up first" in (refused.error or "")
    off = await rig.controller.commands.send(RELAY, False, actor="staff:li")
    assert off.ok  # switching it off is always allowed
    await rig.check("20")  # a top-up: billing restores it
    assert rig.relay.writes[-1] == (RELAY, True)
    again = await rig.controller.commands.send(RELAY, True, actor="staff:li")
    assert again.ok
    seen = await rig.seen()
    restored = [e for e in seen if isinstance(e, BalanceRestored)]
    assert [(e.balance, e.reason) for e in restored] == [("20", "top_up")]
    alarms = [
        (type(e).__name__, e.alarm_id) for e in seen if isinstance(e, AlarmRaised | AlarmCleared)
    ]
    assert alarms == [
        ("AlarmRaised", f"billing:low_balance:{ROOM}"),
        ("AlarmRaised", f"billing:cut_off:{ROOM}"),
        ("AlarmCleared", f"billing:low_balance:{ROOM}"),
        ("AlarmCleared", f"billing:cut_off:{ROOM}"),
    ]


async def test_an_exemption_restores_and_its_end_cuts_again(rig: Rig) -> None:
    await rig.check("-3")
    assert rig.relay.writes == [(RELAY, False)]
    exempt = Account(ROOM, "dorm-1", "101", 4, exempt_until=rig.clock.time() + 3600)
    await rig.check("-3", exempt)
    assert rig.relay.writes[-1] == (RELAY, True)
    rig.clock.set(rig.clock.time() + 3601)
    await rig.check("-3", exempt)
    assert rig.relay.writes[-1] == (RELAY, False)
    reasons = [e.reason for e in await rig.seen() if isinstance(e, BalanceRestored)]
    assert reasons == ["exempt"]


async def test_an_offline_meter_is_cut_once_it_is_back(rig: Rig) -> None:
    rig.controller.states.set_available(f"{ROOM}.elec", False, "no reply")
    await rig.check("-1")
    await rig.check("-1")
    assert rig.relay.writes == []  # nothing sent that could not be confirmed
    assert rig.limits.counters["deferred_offline"] == 2
    assert ROOM in rig.limits.state.cut  # announced and kept all the same
    rig.controller.states.set_available(f"{ROOM}.elec", True)
    await rig.check("-1")
    assert rig.relay.writes == [(RELAY, False)]


async def test_a_restart_keeps_the_cut_and_the_warnings(rig: Rig) -> None:
    await rig.check("-1")
    kept = rig.limits.state.dumps()
    await rig.seen()
    rig.limits = rig.make(state=LimitState.loads(kept))
    await rig.check("-1")
    assert await rig.seen() == []  # neither warned nor announced again
    assert rig.relay.writes == [(RELAY, False)]


async def test_billing_restarts_under_supervision_and_keeps_its_state(
    site: LoadedSite, tmp_path: Path
) -> None:
    """A failing cycle stops the component; the supervisor starts it again with a fresh
    database thread and the same ledger, cut-offs and warnings."""
    clock = FakeClock(ts(2026, 3, 2, 12))
    fast = SupervisionOptions(backoff=Backoff(0.05, 0.2), settle=0.3)
    controller = Controller(site, clock, supervision=fast)
    billing = BillingComponent(
        controller, store_path=tmp_path / "billing.sqlite3", source=NoHistory()
    )
    controller.add(billing)
    alarms = controller.bus.subscribe("test", [AlarmRaised, AlarmCleared])
    original = billing.check_limits
    failures: list[int] = []

    async def failing_once() -> None:
        if not failures:
            failures.append(1)
            raise RuntimeError("injected: the disk is full")
        await original()

    async with controller.running():
        await billing.wait_ready()
        await eventually(lambda: bool(billing.limits and billing.limits.state.cut))
        cut = set(billing.limits.state.cut) if billing.limits else set()
        billing.check_limits = failing_once  # type: ignore[method-assign]
        billing.wake()
        seen: list[Event] = []
        deadline = time.monotonic() + 10
        while not any(
            isinstance(e, AlarmCleared) and e.alarm_id == "component.billing" for e in seen
        ):
            assert time.monotonic() < deadline, seen
            seen.extend(await asyncio.wait_for(alarms.get_batch(100), 10))
        assert any(isinstance(e, AlarmRaised) and e.alarm_id == "component.billing" for e in seen)
        await billing.wait_ready()
        assert billing.limits is not None
        assert billing.limits.state.cut == cut  # kept in the ledger file across the restart
        store = billing.store
        assert store is not None
        entry, applied = await billing.call(
            TopUps(store).top_up, ROOM, "5", key="after-restart", actor="op"
        )
        assert applied
        assert entry.balance_after == D(5)


async def eventually(check: Any, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "condition not met"
        await asyncio.sleep(0.01)
