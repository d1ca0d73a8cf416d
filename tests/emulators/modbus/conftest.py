"""Fixtures for the Modbus emulator tests: the example campus, loaded once."""

from __future__ import annotations

import pytest

from controller.config import LoadedSite, load_site
from tests.conftest import EXAMPLE_SITE


@pytest.fixture(scope="session")
def campus() -> LoadedSite:
    return load_site(EXAMPLE_SITE)
