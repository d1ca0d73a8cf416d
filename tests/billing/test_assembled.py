"""Billing as ``sanjie run`` builds it: the composition root adds it for a site with a
``billing:`` section, and the assembled controller warns, charges, cuts and restores.

One dorm room's prepaid meter on the Modbus emulator (2 kW on its sockets), the embedded
history as the recorder, the real HTTP API on a free port with a payment platform's token from
the accounts store the service uses, all under a fake clock stepped by the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import textwrap
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal as D  # noqa: N817 (figures read better short)
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from controller.accounts import AccountStore, Role, TokenScope
from controller.assemble import Assembly, ControllerOptions, build_controller
from controller.billing import EntryKind
from controller.billing.money import to_cents
from controller.cli import app
from controller.config import load_site
from controller.core import FakeClock, SystemClock
from controller.service import ServiceOptions, run_service, state_dir
from emulators.modbus import SiteEmulator
from tests.servers import free_port

from .conftest import at
from .test_e2e_modbus import ROOM, one_busy_room

pytestmark = pytest.mark.integration

SCAN_S = 5
METER = f"{ROOM}.elec"
BILLING = {
    "tariffs": [
        {
            "id": "elec",
            "utility": "electricity",
            "effective_from": "2026-03-01",
            "pricing": {"type": "flat", "price": "1.00"},
        }
    ],
    "opening_balance": "1",
    "warn_at": ["2"],
    "settle_s": 120,
    "interval_s": 30,
}


def _site(
    tmp_path: Path,
    billing: dict[str, object] | None,
    rooms: tuple[str, ...] = ("101",),
    scan_s: float = SCAN_S,
) -> Path:
    """A dorm with ``rooms`` on floor 1, each with its prepaid meter on one Modbus gateway."""
    listed = ", ".join(f'{{id: "{room}", floor: 1, occupants: 4}}' for room in rooms)
    meters = "".join(
        f"""  - {{id: dorm-1.{room}.elec, profile: generic/dorm-prepaid-meter, building: dorm-1,
     room: "{room}", circuit: sockets, link: gw-1, unit_id: {unit}, scan_interval: {scan_s}}}
"""
        for unit, room in enumerate(rooms, start=1)
    )
    site = tmp_path / "site.yaml"
    site.write_text(
        textwrap.dedent(
            f"""\
            campus: {{id: bill, name: {{zh: 计费测试}}, timezone: Asia/Shanghai}}
            buildings:
              - {{id: dorm-1, kind: dorm, name: {{zh: 一号楼}}, rooms: [{listed}]}}
            links:
              - {{id: gw-1, type: modbus_tcp, host: 127.0.0.1, port: {free_port()}, timeout: 1}}
            devices:
            """
        )
        + meters
        + (f"billing: {json.dumps(billing)}\n" if billing is not None else ""),
        encoding="utf-8",
    )
    return site


def _tokens(state: Path) -> tuple[str, str]:
    """A top-up token and a viewer's, made the way `sanjie user add` / `sanjie token create`
    make them."""
    accounts = AccountStore(state / "accounts.sqlite3", SystemClock())
    try:
        accounts.add("alipay", Role.OPERATOR, "correct horse battery")
        accounts.add("warden", Role.VIEWER, "correct horse battery")
        return (
            accounts.create_token("alipay", scope=TokenScope.TOP_UP)[1],
            accounts.create_token("warden")[1],
        )
    finally:
        accounts.close()


@contextlib.asynccontextmanager
async def assembled(
    tmp_path: Path, clock: FakeClock, billing: dict[str, object] | None = BILLING
) -> AsyncIterator[tuple[Assembly, SiteEmulator, tuple[str, str]]]:
    """The controller ``sanjie run`` would build (API on a free port), running; the API's URL."""
    site = load_site(_site(tmp_path, billing))
    port = free_port()
    state = tmp_path / "data" / "var"
    tokens = _tokens(state)
    options = ControllerOptions(
        mqtt_free_ports=True, data_dir=tmp_path / "data", state_dir=state, api_port=port
    )
    async with (
        SiteEmulator(site, clock, latency=0) as emulator,
        contextlib.AsyncExitStack() as stack,
    ):
        one_busy_room(emulator)
        assembly = await build_controller(site, options, stack, clock=clock)
        async with assembly.controller.running():
            yield assembly, emulator, tokens


class Stepper:
    """Moves the fake clock on, giving loopback round trips a few ms of real time; the
    recorder flushes every step, since its 5 s flush timer runs on wall time."""

    def __init__(self, clock: FakeClock, assembly: Assembly) -> None:
        self.clock = clock
        self.assembly = assembly

    async def step(self, by: float) -> None:
        self.clock.set(self.clock.time() + by)
        states = self.assembly.controller.states
        deadline = time.monotonic() + 5  # the poll at this clock time, however loaded we are
        while time.monotonic() < deadline:
            await asyncio.sleep(0.002)
            state = states.get(f"{METER}.energy")
            if state is not None and state.timestamp >= self.clock.time() - SCAN_S:
                break
        await self.assembly.recorder.flush()
        for _ in range(2):
            await asyncio.sleep(0.002)

    async def until(
        self, condition: Callable[[], bool], what: str, *, by: float, limit: float
    ) -> float:
        """Step until ``condition``; how much clock time that took."""
        start = self.clock.time()
        while not condition():
            if self.clock.time() - start > limit:
                raise AssertionError(f"{what}: not within {limit:g} s of clock time")
            await self.step(by)
        return self.clock.time() - start


async def api_up(port: int) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5)
    deadline = time.monotonic() + 15
    while True:
        try:
            await client.get("/api/site")
            return client
        except httpx.TransportError:
            if time.monotonic() > deadline:
                await client.aclose()
                raise
            await asyncio.sleep(0.05)


async def test_the_assembled_controller_warns_charges_cuts_and_restores(tmp_path: Path) -> None:
    clock = FakeClock(at(2026, 3, 2, 0, 0, 0))
    async with assembled(tmp_path, clock) as (assembly, emulator, (token, viewer)):
        billing = assembly.billing
        assert billing is not None
        assert any(line.startswith("Billing:") for line in assembly.describe())
        await billing.wait_ready()
        store = billing.store
        assert store is not None
        relay = emulator.devices[METER].bound.model.state  # type: ignore[attr-defined]
        states = assembly.controller.states
        assert assembly.api is not None
        api = await api_up(assembly.api.port)
        steps = Stepper(clock, assembly)
        try:
            # 1 yuan on opening, below the 2-yuan warning line: warned at the first cycle.
            await steps.until(
                lambda: bool(billing.limits and ROOM in billing.limits.state.warned),
                "warning",
                by=SCAN_S,
                limit=120,
            )
            # 2 kW for an hour is 2 kWh = 2 yuan: charged once the hour settles, then cut.
            took = await steps.until(lambda: not relay.relay, "cut-off", by=60, limit=2 * 3600)
            assert took <= 3600 + 300  # hour 00–01 charged once it settled (120 s + a cycle)
            charges = store.entries(ROOM, kinds=[EntryKind.CHARGE])
            assert charges
            assert store.balance(ROOM) <= 0
            await steps.until(
                lambda: states.value(f"{METER}.relay") is False,
                "cut read back",
                by=1,
                limit=3 * SCAN_S,
            )

            viewing = {"Authorization": f"Bearer {viewer}"}
            floor = await api.get("/b/dorm-1", params={"format": "json"}, headers=viewing)
            (marked,) = floor.json()["floors"][0]["rooms"]
            assert marked["billing"] == {
                "balance": str(to_cents(store.balance(ROOM))),
                "cut_off": True,
                "low": True,
            }

            # The payment platform tops up through the real API; restored within a poll cycle.
            reply = await api.post(
                f"/api/billing/accounts/{ROOM}/top-up",
                json={"amount": "20.00", "key": "alipay-1"},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert reply.status_code == 201, reply.text
            topped_up = clock.time()
            deadline = time.monotonic() + 10  # restored without the clock moving at all
            while not relay.relay:
                assert time.monotonic() < deadline, "not restored"
                await asyncio.sleep(0.002)
            assert clock.time() == topped_up
            assert store.balance(ROOM) == D(1) + D(20) + sum((e.amount for e in charges), D(0))
            assert store.verify() == []
            (audited,) = assembly.audit.query(action="billing.top_up")
            assert (audited.actor, audited.target, audited.details["amount"]) == (
                "alipay",
                ROOM,
                "20.00",
            )

            # The web app's room page shows the balance (its JSON twin, and the page).
            room = await api.get("/b/dorm-1/r/101", params={"format": "json"}, headers=viewing)
            shown = room.json()["billing"]
            assert shown["balance"] == str(to_cents(store.balance(ROOM)))
            assert shown["cut_off"] is False
            assert [e["kind"] for e in shown["recent"]][:1] == ["top_up"]
            page = await api.get("/b/dorm-1/r/101", headers=viewing)
            assert "预付费账户" in page.text
            assert shown["balance"] in page.text
            # utilities and entry kinds in the reader's words, not the data's identifiers
            assert "<th>电</th>" in page.text
            assert "充值" in page.text
            assert "electricity" not in page.text
            assert "top_up" not in page.text
        finally:
            await api.aclose()


async def test_a_site_without_billing_runs_no_billing(tmp_path: Path) -> None:
    clock = FakeClock(at(2026, 3, 2, 0, 0, 0))
    async with assembled(tmp_path, clock, billing=None) as (assembly, _emulator, (_, viewer)):
        assert assembly.billing is None
        assert not (tmp_path / "data" / "var" / "billing.sqlite3").exists()
        assert assembly.api is not None
        api = await api_up(assembly.api.port)
        try:
            assert (await api.get("/api/billing/accounts")).status_code == 404
            room = await api.get(
                "/b/dorm-1/r/101",
                params={"format": "json"},
                headers={"Authorization": f"Bearer {viewer}"},
            )
            assert room.json()["billing"] is None
            floor = await api.get(
                "/b/dorm-1",
                params={"format": "json"},
                headers={"Authorization": f"Bearer {viewer}"},
            )
            assert floor.json()["floors"][0]["rooms"][0]["billing"] is None
        finally:
            await api.aclose()


async def test_sanjie_run_serves_billing_and_the_cli_reads_its_ledger(tmp_path: Path) -> None:
    """The service (`sanjie run`) on the wall clock: billing's routes answer with the tokens
    `sanjie token create` makes, the CLI refuses to import under it, and reads its ledger."""
    site_path = _site(tmp_path, BILLING)
    site = load_site(site_path)
    data = tmp_path / "data"
    _, viewer = _tokens(state_dir(data))
    port = free_port()
    stop = asyncio.Event()
    batch = tmp_path / "batch.csv"
    batch.write_text("txn_id,account,amount\nC-1,dorm-1.101,5\n", encoding="utf-8")
    where = ("--site", str(site_path), "--data-dir", str(data))
    async with SiteEmulator(site, SystemClock(), latency=0), asyncio.TaskGroup() as group:
        service = group.create_task(
            run_service(ServiceOptions(site_path, data, "127.0.0.1", port), stop, site=site)
        )
        api = await api_up(port)
        try:
            headers = {"Authorization": f"Bearer {viewer}"}
            deadline = time.monotonic() + 15
            while True:
                reply = await api.get("/api/billing/accounts", headers=headers)
                if reply.status_code == 200:
                    break
                assert time.monotonic() < deadline, reply.text
                await asyncio.sleep(0.05)
            (account,) = reply.json()["items"]
            assert (account["id"], account["balance"]) == (ROOM, "1")
            refused = CliRunner().invoke(app, ["billing", "import", str(batch), *where])
            assert refused.exit_code == 1
            assert "POST /api/billing/import" in refused.output
        finally:
            await api.aclose()
            stop.set()
    await service
    shown = CliRunner().invoke(app, ["billing", "statement", ROOM, "--format", "json", *where])
    assert shown.exit_code == 0, shown.output
    statement = json.loads(shown.output)
    assert (statement["account"]["id"], statement["closing"]) == (ROOM, "1.00")
    imported = CliRunner().invoke(app, ["billing", "import", str(batch), *where])
    assert imported.exit_code == 0, imported.output
    assert "1 applied (5.00 yuan)" in imported.output
