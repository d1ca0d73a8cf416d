"""glibc's arena limit (controller/malloc.py), counted from glibc's own ``malloc_stats``."""

from __future__ import annotations

import platform
import re
import subprocess
import sys
from pathlib import Path

import pytest

from controller import malloc

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(
    platform.libc_ver()[0] != "glibc", reason="the arena limit is a glibc setting"
)

# Six threads allocate, then glibc prints one "Arena N:" block per arena to stderr.
PROBE = """
import ctypes, sys, threading
from controller.malloc import limit_arenas
print(limit_arenas())
def work():
    kept = [bytearray(4096) for _ in range(2000)]
    del kept
threads = [threading.Thread(target=work) for _ in range(6)]
for t in threads: t.start()
for t in threads: t.join()
sys.stdout.flush()
ctypes.CDLL(None).malloc_stats()
"""


def _arenas(env: dict[str, str]) -> tuple[str, int]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={"PATH": "/usr/bin:/bin", **env},
    )
    return done.stdout.strip(), len(re.findall(r"^Arena \d+:", done.stderr, re.M))


def test_threads_share_two_arenas_by_default() -> None:
    said, arenas = _arenas({})
    assert said == "2"
    assert arenas == 2


def test_zero_leaves_glibc_its_own_arenas() -> None:
    said, arenas = _arenas({"SANJIE_MALLOC_ARENAS": "0"})
    assert said == "None"
    assert arenas > 2  # a new thread gets an arena of its own, up to 8 per core


def test_the_operators_malloc_arena_max_wins() -> None:
    said, arenas = _arenas({"MALLOC_ARENA_MAX": "3"})
    assert said == "None"
    assert arenas <= 3


def test_a_bad_number_is_logged_and_the_default_used(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("SANJIE_MALLOC_ARENAS", "two")
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert malloc.limit_arenas() == malloc.ARENAS
    assert "SANJIE_MALLOC_ARENAS='two' is not a whole number" in caplog.text
