"""Fixtures for billing tests: the small generated campus with a billing section, a real
embedded history to charge from, and a fast account store for API tests."""

from __future__ import annotations

import dataclasses
import datetime as dt
import zoneinfo
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from controller.config import LoadedSite, load_site
from controller.config.billing import BillingConfig
from controller.core import EntityRegistry
from controller.recorder.history import History
from controller.recorder.lineproto import LineFormatter
from controller.recorder.query import ConsumptionQuery, Period
from controller.recorder.stats import HourStat
from controller.sitegen import SiteShape, write_site

TZ = zoneinfo.ZoneInfo("Asia/Shanghai")
SMALL = SiteShape(
    rooms=4, rooms_per_floor=2, floors=2, canteen_valves=2, shower_valves=2, billing=False
)
"""dorm-1 rooms 101, 102, 201, 202 (4 beds each), a canteen and a bathhouse."""

BILLING: dict[str, Any] = {
    "tariffs": [
        {
            "id": "elec-2026",
            "utility": "electricity",
            "effective_from": "2026-03-01",
            "free_per_bed": "2",
            "pricing": {
                "type": "tiered",
                "tiers": [{"up_to": "10", "price": "0.50"}, {"price": "0.80"}],
            },
        },
        {
            "id": "cold-2026",
            "utility": "cold_water",
            "effective_from": "2026-03-01",
            "free_per_bed": "0.5",
            "pricing": {"type": "flat", "price": "3.00"},
        },
    ],
    "warn_at": ["5"],
    "settle_s": 300,
    "interval_s": 60,
}


def at(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=TZ)  # type: ignore[misc]


def ts(*parts: int) -> float:
    return at(*parts).timestamp()


def energy_hours(device: str, start: dt.datetime, end: dt.datetime) -> ConsumptionQuery:
    """One meter's hourly energy in [start, end), as the recorder's own query gives it."""
    return ConsumptionQuery(
        start=start,
        end=end,
        period=Period.HOUR,
        group_by=("device",),
        where={"kind": "active_energy", "device": device},
    )


def billing(**changes: Any) -> BillingConfig:
    return BillingConfig.model_validate({**BILLING, **changes})


@pytest.fixture(scope="session")
def site_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("billing-site")
    write_site(out, SMALL)
    return out


@pytest.fixture(scope="session")
def plain_site(site_dir: Path) -> LoadedSite:
    return load_site(site_dir / "site.yaml")


@pytest.fixture(scope="session")
def site(plain_site: LoadedSite) -> LoadedSite:
    return dataclasses.replace(plain_site, billing=billing())


def with_billing(site: LoadedSite, **changes: Any) -> LoadedSite:
    return dataclasses.replace(site, billing=billing(**changes))


class HistoryFile:
    """A real embedded history: tests write hourly statistics as the recorder would."""

    def __init__(self, site: LoadedSite, path: Path) -> None:
        self.keys = LineFormatter(EntityRegistry.from_site(site)).keys
        self.path = path
        history = History(path, self.keys)
        history.close()

    def write(
        self,
        hours: Mapping[tuple[str, float], float | tuple[float, float]],
        *,
        partial: bool = False,
    ) -> None:
        """``{(entity_id, hour): consumption or (consumption, held_out)}``; rewrites as the
        statistics do when they revise or close an hour (``partial``: a running hour)."""
        stats = []
        for (entity_id, hour), value in hours.items():
            used, held = value if isinstance(value, tuple) else (value, 0.0)
            stats.append(HourStat(entity_id, hour, used, held, partial=partial))
        history = History(self.path, self.keys)
        try:
            history.commit(hours=stats)
        finally:
            history.close()


@pytest.fixture
def history(site: LoadedSite, tmp_path: Path) -> Iterator[HistoryFile]:
    return HistoryFile(site, tmp_path / "history.sqlite3")
