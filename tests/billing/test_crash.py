"""A charging process SIGKILLed inside an hour's transaction, then restarted on the same files:
no charge is lost and none is doubled (the ledger equals a run that was never interrupted)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from controller.billing import EntryKind, LedgerStore
from controller.core import FakeClock

from .conftest import HistoryFile, ts

ROOT = Path(__file__).resolve().parents[2]
HOURS = 12


def _child(site: Path, history: Path, store: Path, *extra: str) -> subprocess.Popen[str]:
    until = ts(2026, 3, 2, 0) + HOURS * 3600
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.billing.crash_child",
            str(site),
            str(history),
            str(store),
            repr(until),
            *extra,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )


def _ledger(path: Path) -> list[tuple[str | None, str, str]]:
    store = LedgerStore(path, FakeClock(0))
    try:
        assert store.verify() == []
        return [
            (e.key, str(e.amount), str(e.balance_after))
            for e in store.entries()
            if e.kind is not EntryKind.OPENING
        ]
    finally:
        store.close()


def test_sigkill_mid_hour_neither_loses_nor_doubles(
    site_dir: Path, history: HistoryFile, tmp_path: Path
) -> None:
    day = ts(2026, 3, 2, 0)
    hours = {}
    for h in range(HOURS):
        hours[("dorm-1.101.elec.energy", day + h * 3600)] = 1.5 + h * 0.25
        hours[("dorm-1.102.elec.energy", day + h * 3600)] = 0.75
        hours[("dorm-1.101.cold.volume", day + h * 3600)] = 0.1
    history.write(hours)
    site = site_dir / "site.yaml"

    clean = tmp_path / "clean.sqlite3"
    done = _child(site, history.path, clean)
    assert done.wait(60) == 0

    crashed = tmp_path / "crashed.sqlite3"
    child = _child(site, history.path, crashed, "slow")
    assert child.stdout is not None
    charged = posted_after = 0
    deadline = time.monotonic() + 60
    for line in child.stdout:
        assert time.monotonic() < deadline, "the child never got far enough"
        if line.startswith("charged"):
            charged += 1
            posted_after = 0
        elif line.startswith("posted"):
            posted_after += 1
        if charged >= 4 and posted_after == 2:  # inside hour 5's transaction
            os.kill(child.pid, signal.SIGKILL)
            break
    assert child.wait(10) == -signal.SIGKILL
    child.stdout.close()
    partial = _ledger(crashed)
    assert len(partial) < len(_ledger(clean))

    again = _child(site, history.path, crashed)
    assert again.wait(60) == 0
    assert _ledger(crashed) == _ledger(clean)
    keys = [key for key, _, _ in _ledger(crashed)]
    assert len(keys) == len(set(keys)) == 3 * HOURS
