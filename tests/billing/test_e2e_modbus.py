"""End to end: an emulated dorm floor under a fake clock, recorded, charged, cut and restored.

The floor's meters answer real Modbus frames on loopback; the recorder turns their energy
counters into hourly statistics; billing charges those hours, warns, opens the relay through
the command router (confirmed by the meter's read-back) and closes it again when a top-up
arrives through the API with a payment platform's token.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP
from decimal import Decimal as D  # noqa: N817 (figures read better short)
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher

from controller.accounts import AccountStore, Role, TokenScope
from controller.api.app import create_api
from controller.app import Controller
from controller.audit import AuditLog
from controller.billing import BillingComponent, EntryKind, Utility
from controller.config import LoadedSite
from controller.core import FakeClock
from controller.integrations.modbus import ModbusIntegration
from controller.recorder import Recorder
from emulators.modbus import SiteEmulator
from emulators.models import LoadProfile

from .conftest import at, energy_hours, with_billing

pytestmark = pytest.mark.integration

FLOOR_1 = "gw-dorm-1-f1"  # rooms 101 and 102
SCAN_S = 5.0
ROOM = "dorm-1.101"
PASSWORD = "correct horse battery"


def one_busy_room(emulator: SiteEmulator) -> None:
    """Room 101 draws a steady 2 kW on its sockets; nothing else uses anything."""
    for device_id, device in emulator.devices.items():
        model = device.bound.model
        if device_id.endswith(".ac"):
            model.occupants = 0
        elif device_id.endswith(".elec"):
            watts = 2000.0 if device_id == f"{ROOM}.elec" else 0.0
            model.load = LoadProfile(base_w=watts, base_pf=1.0, noise=0.0)
            model.state.running.clear()
            model.trip_w = None
            model.detect_loads = False
            model.prepaid = False
        elif device_id.endswith((".cold", ".hot")):
            model.people = 0


@dataclass
class World:
    emulator: SiteEmulator
    controller: Controller
    billing: BillingComponent
    recorder: Recorder
    audit: AuditLog
    clock: FakeClock
    api: httpx.AsyncClient
    token: str

    async def advance(self, seconds: float, step: float) -> None:
        end = self.clock.time() + seconds
        while self.clock.time() < end:
            self.clock.set(min(end, self.clock.time() + step))
            await self.settle()

    async def settle(self) -> None:
        """Let the meter's poll at this clock time complete and reach the recorder (real time,
        bounded: a loaded machine takes longer than a few ms for a loopback round trip)."""
        energy = f"{ROOM}.elec.energy"
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            await _pause()
            state = self.controller.states.get(energy)
            if state is not None and state.timestamp >= self.clock.time() - SCAN_S:
                break
        await self.recorder.flush()
        for _ in range(2):
            await _pause()

    async def wait_real(self, condition: Any, what: str, within: float = 10.0) -> None:
        """Wait for ``condition`` without moving the clock (real time, bounded)."""
        deadline = time.monotonic() + within
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: not within {within:g} s without the clock moving")
            await _pause()

    async def until(self, condition: Any, what: str, *, step: float, limit: float) -> float:
        start = self.clock.time()
        while not condition():
            if self.clock.time() - start > limit:
                raise AssertionError(f"{what}: not within {limit:g} s of clock time")
            await self.advance(step, step)
        return self.clock.time() - start


async def _pause() -> None:
    import asyncio

    await asyncio.sleep(0.002)


@contextlib.asynccontextmanager
async def world(site: LoadedSite, tmp_path: Path, clock: FakeClock) -> AsyncIterator[World]:
    async with SiteEmulator(site, clock, free_ports=True, latency=0.0, links=[FLOOR_1]) as emu:
        one_busy_room(emu)
        controller = Controller(site, clock)
        modbus = ModbusIntegration(
            controller,
            endpoints={k: (e.host, e.port) for k, e in emu.endpoints.items()},
            scan_interval=SCAN_S,
            links=list(emu.gateways),
            timeout=1.0,
            inter_frame_gap=0.0,
        )
        recorder = Recorder(
            controller, history_path=tmp_path / "history.sqlite3", flush_interval=0.02
        )
        audit = AuditLog(tmp_path / "audit.sqlite3", clock, controller.bus)
        billing = BillingComponent(
            controller,
            store_path=tmp_path / "billing.sqlite3",
            source=lambda: recorder.consumption,
        )
        for component in (modbus, recorder, audit, billing):
            controller.add(component)
        accounts = AccountStore(
            tmp_path / "accounts.sqlite3",
            clock,
            hasher=PasswordHasher(time_cost=1, memory_cost=8, parallelism=1),
        )
        accounts.add("pay", Role.OPERATOR, PASSWORD)
        _, token = accounts.create_token("pay", scope=TokenScope.TOP_UP)
        app = create_api(controller)
        app.state.accounts = accounts
        try:
            async with (
                controller.running(),
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url="http://t"
                ) as api,
            ):
                w = World(emu, controller, billing, recorder, audit, clock, api, token)
                await billing.wait_ready()
                started = time.monotonic()
                while controller.states.value(f"{ROOM}.elec.energy") is None:
                    assert time.monotonic() - started < 10, "the meter was never polled"
                    await w.advance(1.0, 1.0)
                yield w
        finally:
            audit.close()
            accounts.close()


def expected(hourly: list[D], free: D, tiers: list[tuple[D | None, D]]) -> list[D]:
    """Independent of the tariff engine: walk the month's units through free, tier 1, tier 2."""
    bounds = [(free, D(0))] + [((free + b) if b else None, p) for b, p in tiers]
    out, used = [], D(0)
    for q in hourly:
        total, lower = D(0), D(0)
        for bound, price in bounds:
            upper = used + q if bound is None else bound
            total += max(min(used + q, upper) - max(used, lower), D(0)) * price
            lower = upper
        out.append(total.quantize(D("0.0001"), rounding=ROUND_HALF_UP))
        used += q
    return out


async def test_allowance_tier_warning_cut_off_top_up_and_statement(
    site: LoadedSite, tmp_path: Path
) -> None:
    tariff = {
        "id": "elec",
        "utility": "electricity",
        "effective_from": "2026-03-01",
        "free_per_bed": "0.5",  # 4 beds: the first 2 kWh of the month are free
        "pricing": {
            "type": "tiered",
            "tiers": [{"up_to": "2", "price": "1.00"}, {"price": "2.00"}],
        },
    }
    site = with_billing(site, tariffs=[tariff], opening_balance="5", warn_at=["3.5"], settle_s=120)
    clock = FakeClock(at(2026, 3, 2, 0, 0, 0))
    async with world(site, tmp_path, clock) as w:
        meter = w.emulator.devices[f"{ROOM}.elec"].bound.model
        store = w.billing.store
        assert store is not None

        def balance() -> D:
            return store.balance(ROOM)

        # Hour 0 is free, hour 1 costs ~2 yuan (balance ~3: warning), hour 2 ~4 yuan: cut.
        await w.until(lambda: balance() <= D("3.5"), "low balance", step=60, limit=3 * 3600)

        def warned() -> list[str]:
            raised = w.audit.query(action="alarm.raise")
            return [e.details["alarm_id"] for e in raised if ROOM in e.target]

        # The charge is posted first; the cycle then warns, and the audit log records it.
        await w.wait_real(warned, "warning audited")
        assert warned() == [f"billing:low_balance:{ROOM}"]
        assert meter.state.relay
        took = await w.until(lambda: not meter.state.relay, "relay cut", step=60, limit=2 * 3600)
        assert balance() <= 0
        await w.advance(3 * SCAN_S, 1.0)
        assert w.controller.states.value(f"{ROOM}.elec.relay") is False  # read back from the meter
        cut = [e for e in w.audit.query(target=f"{ROOM}.elec.relay") if e.action == "command"]
        assert [(e.actor, e.result, e.details["value"]) for e in cut] == [("billing", "ok", False)]
        assert took <= 3600 + 60  # charged once the next hour settles

        # Someone tries to switch it back on by hand: refused while the account is empty.
        refused = await w.controller.commands.send(f"{ROOM}.elec.relay", True, actor="staff:li")
        assert not refused.ok
        assert "top it up" in (refused.error or "")

        # The payment platform tops up 10 yuan, and retries the same request.
        headers = {"Authorization": f"Bearer {w.token}"}
        body = {"amount": "10.00", "key": "alipay-20260302-0001", "reason": "支付宝充值"}
        first = await w.api.post(f"/api/billing/accounts/{ROOM}/top-up", json=body, headers=headers)
        again = await w.api.post(f"/api/billing/accounts/{ROOM}/top-up", json=body, headers=headers)
        assert (first.status_code, again.status_code) == (201, 200), first.text
        assert (first.json()["applied"], again.json()["applied"]) == (True, False)
        topped_up = clock.time()
        # Restored within one poll cycle: in fact without the clock moving at all (the top-up
        # wakes billing, the command goes out, the meter confirms it by read-back).
        await w.wait_real(lambda: meter.state.relay, "relay restored")
        assert clock.time() - topped_up <= SCAN_S
        await w.until(
            lambda: w.controller.states.value(f"{ROOM}.elec.relay") is True,
            "restore read back",
            step=1,
            limit=2 * SCAN_S,
        )
        top_ups = store.entries(ROOM, kinds=[EntryKind.TOP_UP])
        assert [(e.amount, e.actor) for e in top_ups] == [(D("10.00"), "pay")]
        reads = await w.api.get(f"/api/billing/accounts/{ROOM}", headers=headers)
        assert reads.status_code == 403  # a top-up token may not read

        # The statement equals a computation from the recorder's own hourly figures.
        now = clock.time()
        await w.advance(3600, 60)
        await w.recorder.flush()
        await w.billing.cycle()
        rows = await w.recorder.consumption.consumption(
            energy_hours(f"{ROOM}.elec", at(2026, 3, 2, 0), at(2026, 3, 2, 23))
        )
        charged_until = w.billing.charger.watermark() if w.billing.charger else None
        assert charged_until is not None
        hourly = [
            D(repr(round(r.consumption, 6)))
            for r in rows
            if r.period_start.timestamp() < charged_until and r.consumption > 0
        ]
        amounts = expected(hourly, D(2), [(D(2), D("1.00")), (None, D("2.00"))])
        st = (
            await w.api.get(
                f"/api/billing/accounts/{ROOM}/statement",
                params={"start": at(2026, 3, 1).timestamp(), "end": now + 7200},
                headers={"Authorization": f"Bearer {_viewer_token(w)}"},
            )
        ).json()
        (elec,) = [u for u in st["utilities"] if u["utility"] == Utility.ELECTRICITY.value]
        assert D(elec["quantity"]) == sum(hourly, D(0))
        assert D(elec["amount"]) == sum(amounts, D(0)).quantize(D("0.01"), ROUND_HALF_UP)
        total = sum(amounts, D(0))
        assert store.balance(ROOM) == D(5) + D(10) - total
        assert D(st["closing"]) == (D(15) - total).quantize(D("0.01"), ROUND_HALF_UP)
        assert store.verify() == []


def _viewer_token(w: World) -> str:
    accounts: AccountStore = w.api._transport.app.state.accounts  # type: ignore[attr-defined]
    if "finance" not in {a.name for a in accounts.accounts()}:
        accounts.add("finance", Role.VIEWER, PASSWORD)
    _, token = accounts.create_token("finance")
    return token
