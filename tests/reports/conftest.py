"""One seeded 70-day campus per test session (two seconds to make, read by every report test)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .seed import Seeded, seed


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    return seed(tmp_path_factory.mktemp("campus"), influx_lines=True)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    folder = Path(__file__).parents[2] / ".artifacts" / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
