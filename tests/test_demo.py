"""``sanjie demo`` runs headless for a few seconds and exits cleanly with a summary."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

SANJIE = Path(sys.executable).with_name("sanjie")


def test_demo_runs_headless_and_exits_zero() -> None:
    done = subprocess.run(
        [str(SANJIE), "demo", "--duration", "4", "--speed", "30", "--free-ports", "--headless"],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert "started Modbus emulators: 1005 devices on 15 gateways" in out
    assert "楼宇 Buildings" in out
    assert "dorm-1" in out
    assert "modbus" in out
    assert "Traceback" not in done.stderr
