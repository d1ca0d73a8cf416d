"""The example campus, loaded once, and a fresh state core on a fake clock per test."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from controller.config import LoadedSite, load_site
from controller.core import CommandRouter, EntityRegistry, EventBus, FakeClock, StateStore
from tests.conftest import EXAMPLE_SITE


@pytest.fixture(scope="session")
def campus() -> LoadedSite:
    return load_site(EXAMPLE_SITE)


@pytest.fixture(scope="session")
def registry(campus: LoadedSite) -> EntityRegistry:
    return EntityRegistry.from_site(campus)


@dataclass
class Core:
    registry: EntityRegistry
    bus: EventBus
    clock: FakeClock
    states: StateStore
    commands: CommandRouter


@pytest.fixture
def core(registry: EntityRegistry) -> Core:
    bus = EventBus()
    clock = FakeClock(1_780_000_000)
    return Core(
        registry,
        bus,
        clock,
        StateStore(registry, bus, clock),
        CommandRouter(registry, bus, clock),
    )
