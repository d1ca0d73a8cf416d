"""Recorder test helpers: small sites, a controller on a fake clock, polling for conditions."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from controller.app import Controller
from controller.config import LoadedSite
from controller.core import FakeClock
from tests.recorder.sites import make_site

H = 1_767_225_600.0  # 2026-01-01 08:00 Asia/Shanghai, an hour boundary


async def until(condition: Callable[[], bool], within: float = 15.0, what: str = "") -> None:
    """Poll ``condition`` until it holds; fail after ``within`` seconds of wall time."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what or condition}")
        await asyncio.sleep(0.02)


@pytest.fixture(scope="session")
def small_site(tmp_path_factory: pytest.TempPathFactory) -> LoadedSite:
    """Ten dorm rooms in two buildings, one prepaid meter each."""
    return make_site(tmp_path_factory.mktemp("small-site"), 10, rooms_per_floor=5, buildings=2)


@pytest.fixture
def controller(small_site: LoadedSite) -> Controller:
    return Controller(small_site, FakeClock(H))


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "var"
