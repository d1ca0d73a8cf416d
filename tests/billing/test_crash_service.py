"""The whole controller SIGKILLed while it charges an hour, restarted: no charge lost or doubled.

A real ``sanjie run`` process (the console script's entry point) on a two-room site whose
prepaid meters answer Modbus on loopback (the emulator, in this process), on an emulated clock
1800 times faster than the wall (an hour in two seconds) so it charges hours within seconds.
The first run's ledger announces every charge and holds the hour's transaction open for a
moment (``run_child``); the test SIGKILLs the process as soon as the first charge of its third
hour is announced, checks by SQL that the hour was rolled back, restarts the plain ``sanjie
run`` on the same files, lets it charge a few more hours and stops it with SIGTERM.

The reference is an uninterrupted run: the same billing charging the same recorder history
(the statistics billing charges from, as the restarted controller left them) into a fresh
ledger in one go. The two ledgers are compared by plain SQL: the same charges with the same
amounts, every hour of every account charged exactly once, the same balances.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import sys
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal as D  # noqa: N817 (figures read better short)
from pathlib import Path
from typing import Any

import pytest

from controller.billing import Charger, LedgerStore, Meters, TariffBook, sync_accounts
from controller.config import LoadedSite, load_site
from controller.core import FakeClock, ScaledClock
from controller.recorder.sources import HistoryConsumption
from emulators.modbus import SiteEmulator
from emulators.models import LoadProfile
from tests.servers import free_port

from . import test_assembled
from .conftest import TZ, at

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SANJIE = Path(sys.executable).with_name("sanjie")
SPEED = 3600.0
HOUR = 3600
LOADS_W = {"dorm-1.101.elec": 2000.0, "dorm-1.102.elec": 1000.0}
ACCOUNTS = ("dorm-1.101", "dorm-1.102")
BILLING = {
    **test_assembled.BILLING,  # one flat electricity tariff
    "opening_balance": "100",
    "warn_at": ["1"],
    "settle_s": 6 * 3600,  # the recorder flushes every 5 s of wall time: 5 emulated hours
    "interval_s": 600,
}


def _steady_loads(emulator: SiteEmulator) -> None:
    """Room 101 draws 2 kW, room 102 1 kW, all the time: both are charged every hour."""
    for device_id, device in emulator.devices.items():
        model: Any = device.bound.model
        model.load = LoadProfile(base_w=LOADS_W[device_id], base_pf=1.0, noise=0.0)
        model.state.running.clear()
        model.trip_w = None
        model.detect_loads = False
        model.prepaid = False


class Ledger:
    """Plain SQL over a ledger file (read-only, beside a running controller)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _rows(self, sql: str, *args: object) -> list[tuple[object, ...]]:
        db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=10)
        try:
            return db.execute(sql, args).fetchall()
        finally:
            db.close()

    def charges(self) -> dict[str, D]:
        rows = self._rows("SELECT key, amount FROM ledger WHERE kind = 'charge'")
        return {str(key): D(str(amount)) for key, amount in rows}

    def charged_hours(self) -> dict[str, list[int]]:
        """Account → the hours charged, in order (an hour charged twice appears twice)."""
        out: dict[str, list[int]] = {}
        for account, hour in self._rows(
            "SELECT account, hour FROM ledger WHERE kind = 'charge' ORDER BY account, hour"
        ):
            out.setdefault(str(account), []).append(int(str(hour)))
        return out

    def doubled(self) -> list[tuple[object, ...]]:
        return self._rows(
            "SELECT account, utility, hour, COUNT(*) FROM ledger WHERE kind IN"
            " ('charge', 'correction') GROUP BY account, utility, hour HAVING COUNT(*) > 1"
        )

    def kinds(self) -> set[str]:
        return {str(kind) for (kind,) in self._rows("SELECT DISTINCT kind FROM ledger")}

    def balances(self) -> dict[str, D]:
        """The last entry's balance of each account, checked against the sum of amounts."""
        last = self._rows(
            "SELECT account, balance_after FROM ledger WHERE seq IN"
            " (SELECT MAX(seq) FROM ledger GROUP BY account)"
        )
        sums: dict[str, D] = {}
        for account, value in self._rows("SELECT account, amount FROM ledger"):
            sums[str(account)] = sums.get(str(account), D(0)) + D(str(value))
        out = {str(account): D(str(value)) for account, value in last}
        assert out == sums
        return out

    def state(self, key: str) -> float | None:
        rows = self._rows("SELECT value FROM state WHERE key = ?", key)
        return float(str(rows[0][0])) if rows else None


async def _wait_for(condition: Callable[[], bool], what: str, limit: float = 40) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {limit:g} s"
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def _sanjie(
    command: list[str], site: Path, data: Path, clock: ScaledClock, log: Path
) -> AsyncIterator[asyncio.subprocess.Process]:
    """``sanjie run`` on the emulator's clock (from its time now); killed if still running."""
    with log.open("a") as errors:
        proc = await asyncio.create_subprocess_exec(
            *command,
            "run",
            str(site),
            "--data-dir",
            str(data),
            "--api-port",
            str(free_port()),
            "--log-level",
            "warning",
            "--speed",
            str(SPEED),
            "--start",
            repr(clock.time()),
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=errors,
        )
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def _kill_inside_third_hour(proc: asyncio.subprocess.Process) -> tuple[str, list[str]]:
    """Read the announced charges; SIGKILL at the first of the third hour charged."""
    assert proc.stdout is not None
    hours: list[str] = []
    announced: list[str] = []
    async with asyncio.timeout(40):
        while True:
            line = (await proc.stdout.readline()).decode()
            assert line, "sanjie run ended before it charged three hours"
            if not line.startswith("posted charge:"):
                continue
            key = line.split()[1]
            announced.append(key)
            hour = key.rsplit(":", 1)[1]
            if hour not in hours:
                hours.append(hour)
                if len(hours) == 3:
                    os.kill(proc.pid, signal.SIGKILL)
                    return key, announced


async def _reference(
    site: LoadedSite, history: Path, out: Path, started: float, end: float
) -> None:
    """The uninterrupted run: ``[started, end)`` charged from the final history in one go."""
    assert site.billing is not None
    store = LedgerStore(out, FakeClock(started))
    try:
        sync_accounts(store, site, site.billing)
        async with HistoryConsumption.open(history, TZ) as source:
            charger = Charger(
                store,
                TariffBook(site.billing, TZ),
                Meters(site, store.accounts()),
                source,
                settle_s=site.billing.settle_s,
            )
            charger.start_at(started)
            report = await charger.run_once(end + site.billing.settle_s)
            assert report.watermark == end
        assert store.verify() == []
    finally:
        store.close()


async def test_sigkill_of_sanjie_run_mid_hour_neither_loses_nor_doubles(tmp_path: Path) -> None:
    site_path = test_assembled._site(tmp_path, BILLING, rooms=("101", "102"), scan_s=600)
    site = load_site(site_path)
    data = tmp_path / "data"
    ledger = Ledger(data / "var" / "billing.sqlite3")
    log = tmp_path / "sanjie.log"
    clock = ScaledClock(SPEED, start=at(2026, 3, 2, 0, 40).timestamp(), tz=str(TZ))
    child = [sys.executable, "-m", "tests.billing.run_child"]
    async with SiteEmulator(site, clock, latency=0, refresh=0.05) as emulator:
        _steady_loads(emulator)

        async with _sanjie(child, site_path, data, clock, log) as first:
            killed_at, announced = await _kill_inside_third_hour(first)
            assert await first.wait() == -signal.SIGKILL
        charged = ledger.charges()
        assert killed_at not in charged, "the kill came after the hour's commit"
        assert set(charged) == set(announced) - {killed_at}  # the earlier hours all committed
        assert len({key.rsplit(":", 1)[1] for key in charged}) == 2

        async with _sanjie([str(SANJIE)], site_path, data, clock, log) as second:
            killed_hour = int(killed_at.rsplit(":", 1)[1])

            def caught_up() -> bool:
                """Three hours past the killed one charged, and every hour up to there."""
                end, started = ledger.state("charged_through"), ledger.state("charging_started")
                if end is None or started is None or end < killed_hour + 4 * HOUR:
                    return False
                # the first hour may lack a meter's first two readings: it is compared below
                every = list(range(int(started) + HOUR, int(end), HOUR))
                charged = ledger.charged_hours()
                return all(charged.get(a, [])[-len(every) :] == every for a in ACCOUNTS)

            await _wait_for(caught_up, "charging after the restart", 40)
            second.send_signal(signal.SIGTERM)
            async with asyncio.timeout(30):
                assert await second.wait() == 0, log.read_text()

    started, end = ledger.state("charging_started"), ledger.state("charged_through")
    assert started is not None
    assert end is not None
    clean = Ledger(tmp_path / "uninterrupted.sqlite3")
    await _reference(site, data / "var" / "history.sqlite3", clean.path, started, end)

    assert ledger.doubled() == []
    assert ledger.kinds() == {"opening", "charge"}  # nothing needed a correction
    assert ledger.charges() == clean.charges()
    assert ledger.charged_hours() == clean.charged_hours()
    assert ledger.balances() == clean.balances()
    hours = (end - started) / HOUR
    assert hours >= 5
    spent = {a: D(100) - b for a, b in ledger.balances().items()}
    assert spent["dorm-1.101"] > spent["dorm-1.102"] > 0  # 2 kW and 1 kW at 1 yuan/kWh
    store = LedgerStore(ledger.path, FakeClock(end))
    try:
        assert store.verify() == []
    finally:
        store.close()
