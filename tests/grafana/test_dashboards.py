"""The shipped Grafana dashboards: generated, well-formed, and every query runs on real InfluxDB."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import pytest

from controller.config import load_site
from controller.core import EntityRegistry
from controller.recorder.lineproto import LineFormatter
from tests.conftest import EXAMPLE_SITE
from tests.servers import InfluxServer

REPO = Path(__file__).resolve().parents[2]
DASHBOARDS = REPO / "grafana" / "dashboards"


def _generated() -> dict[str, str]:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "grafana_generate", REPO / "grafana" / "generate.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rendered: dict[str, str] = module.render()
    return rendered


def _queries(dashboard: dict[str, object]) -> list[str]:
    out = []
    for panel in dashboard["panels"]:  # type: ignore[attr-defined]
        out.extend(t["query"] for t in panel["targets"])
    out.extend(v["query"] for v in dashboard["templating"]["list"])  # type: ignore[index]
    return out


def test_committed_dashboards_are_what_the_generator_writes() -> None:
    for name, text in _generated().items():
        assert (DASHBOARDS / name).read_text(encoding="utf-8") == text, (
            f"{name} is stale: run `python grafana/generate.py`"
        )


def test_dashboards_are_well_formed() -> None:
    for path in DASHBOARDS.glob("*.json"):
        board = json.loads(path.read_text(encoding="utf-8"))
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids)), path.name
        assert board["uid"].startswith("sanjie-")
        for panel in board["panels"]:
            assert panel["datasource"]["uid"] == "sanjie-influx"
            assert panel["targets"], panel["title"]


def _write(influx: InfluxServer, db: str, lines: list[str]) -> None:
    influx.query(f'CREATE DATABASE "{db}"')
    request = urllib.request.Request(
        f"{influx.url}/write?db={db}&precision=ms", data="\n".join(lines).encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as reply:
        assert reply.status == 204


@pytest.mark.integration
def test_every_query_runs_and_the_main_panels_have_data(
    influxdb: InfluxServer, unique_name: str
) -> None:
    registry = EntityRegistry.from_site(load_site(EXAMPLE_SITE))
    fmt = LineFormatter(registry)
    now = time.time()
    hour = now - now % 3600 - 3600
    lines = []
    for entity in registry:
        if entity.building != "dorm-1" or entity.room not in ("101", "102"):
            continue
        if entity.is_cumulative:
            lines.append(fmt.consumption(entity.entity_id, hour, 1.5, 0.0))
        if entity.kind.value in ("active_power", "setpoint", "temperature"):
            lines.append(fmt.reading(entity.entity_id, 26.0, now - 60))
    _write(influxdb, unique_name, [line for line in lines if line])

    for path in DASHBOARDS.glob("*.json"):
        board = json.loads(path.read_text(encoding="utf-8"))
        for query in _queries(board):
            q = (
                query.replace("$timeFilter", "time > now() - 7d")
                .replace("$building", ".*")
                .replace("$__interval", "1h")
            )
            result = influxdb.query(q, db=unique_name)
            statement = result["results"][0]  # type: ignore[index]
            assert "error" not in statement, f"{path.name}: {q}: {statement}"
            if "consumption" in q and "building" in q and 'GROUP BY "building"' in q:
                assert statement.get("series"), f"{path.name}: no data for {q}"
