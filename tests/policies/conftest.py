"""Fixtures for policy tests: a small generated campus, policy builders and fake devices."""

from __future__ import annotations

import asyncio
import datetime as dt
import zoneinfo
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from controller.app import Controller
from controller.calendar import SiteCalendar
from controller.config import LoadedSite, load_site
from controller.config.policies import policy_adapter
from controller.config.site import DateSpan
from controller.core.events import State, Value
from controller.policies.base import Policy
from controller.policies.scope import SiteIndex
from controller.policies.types import build_policy
from controller.sitegen import SiteShape, write_site

TZ = zoneinfo.ZoneInfo("Asia/Shanghai")

SMALL = SiteShape(rooms=4, rooms_per_floor=2, floors=2, canteen_valves=2, shower_valves=2)
"""dorm-1 rooms 101, 102, 201, 202 (4 beds each), a canteen and a bathhouse."""


def at(*parts: int) -> dt.datetime:
    """Local (Asia/Shanghai) time: ``at(2026, 3, 2, 23, 0)``."""
    return dt.datetime(*parts, tzinfo=TZ)  # type: ignore[misc]


def ts(*parts: int) -> float:
    return at(*parts).timestamp()


@pytest.fixture(scope="session")
def site_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("small-site")
    write_site(out, SMALL)
    return out


@pytest.fixture(scope="session")
def site(site_dir: Path) -> LoadedSite:
    return load_site(site_dir / "site.yaml")


@pytest.fixture(scope="session")
def index(site: LoadedSite) -> SiteIndex:
    return SiteIndex.from_site(site)


@pytest.fixture(scope="session")
def calendar() -> SiteCalendar:
    """2026 spring semester and summer vacation, the library's public holidays."""
    return SiteCalendar(
        semesters=[DateSpan(name="2026 春", start=dt.date(2026, 3, 2), end=dt.date(2026, 7, 3))],
        vacations=[DateSpan(name="2026 暑假", start=dt.date(2026, 7, 4), end=dt.date(2026, 8, 31))],
    )


@pytest.fixture
def make_policy(index: SiteIndex, calendar: SiteCalendar) -> Any:
    """Build a bound policy from raw config data."""

    def make(data: Mapping[str, Any]) -> Policy[Any, Any]:
        return build_policy(policy_adapter().validate_python(dict(data)), index, calendar)

    return make


def states(when: float, **values: Value) -> dict[str, State]:
    """States from keyword pairs where ``__`` stands for ``.`` in entity ids."""
    return {key.replace("__", "."): State(value, when) for key, value in values.items()}


class FakeDevices:
    """Devices that apply every write to the state store at once (the driver's read-back).

    For the engine's own logic; the end-to-end tests use the real emulators instead.
    """

    def __init__(self, controller: Controller) -> None:
        self.controller = controller
        self.writes: list[tuple[str, Value]] = []

    async def write(self, device_id: str, point_key: str, value: Value) -> Value:
        await asyncio.sleep(0)
        entity = f"{device_id}.{point_key}"
        self.writes.append((entity, value))
        self.controller.states.set(entity, value)
        return value


def attach_fake_devices(controller: Controller) -> FakeDevices:
    devices = FakeDevices(controller)
    for device_id in controller.site.devices:
        controller.commands.register(device_id, devices)
    return devices


async def settle(rounds: int = 30) -> None:
    """Let woken tasks run (evaluation, commands, their results)."""
    for _ in range(rounds):
        await asyncio.sleep(0)
