"""The shipped Grafana dashboards: generated, well-formed, and every panel query returns rows
on a real InfluxDB (and VictoriaMetrics for the controller's metrics) filled by an emulated
campus run."""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib.util
import json
import re
import sys
import time
import urllib.parse
import urllib.request
import zoneinfo
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.grafana.campus_run import CampusRun, run_campus
from tests.servers import InfluxServer, VictoriaMetricsServer

REPO = Path(__file__).resolve().parents[2]
DASHBOARDS = REPO / "grafana" / "dashboards"
DATASOURCES = REPO / "grafana" / "provisioning" / "datasources" / "sanjie.yaml"
TZ = zoneinfo.ZoneInfo("Asia/Shanghai")

BUILTIN = {"timeFilter", "__interval", "__interval_ms"}


def _generated() -> dict[str, str]:
    spec = importlib.util.spec_from_file_location(
        "grafana_generate", REPO / "grafana" / "generate.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    rendered: dict[str, str] = module.render()
    return rendered


def _boards() -> dict[str, dict[str, Any]]:
    return {
        path.name: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(DASHBOARDS.glob("*.json"))
    }


def _targets(board: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for panel in board["panels"]:
        for target in panel["targets"]:
            yield panel, target


# -- Grafana's macro substitution ---------------------------------------------------------

_NICE_MS = [10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 15_000, 20_000, 30_000,
            60_000, 120_000, 300_000, 600_000, 900_000, 1_200_000, 1_800_000, 3_600_000,
            7_200_000, 10_800_000, 21_600_000, 43_200_000, 86_400_000]  # fmt: skip


def interval_ms(start_ms: int, end_ms: int, min_ms: int, max_points: int = 1000) -> int:
    """``$__interval``: the range over the data points, rounded up to a nice step, at least
    the datasource's ``timeInterval``."""
    raw = max((end_ms - start_ms) / max_points, min_ms)
    return next((nice for nice in _NICE_MS if nice >= raw), _NICE_MS[-1])


def _duration(ms: int) -> str:
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def regex_value(values: list[str], all_value: str | None) -> str:
    """A template variable inside ``/^$var$/``: All → its allValue; values regex-escaped and,
    when several, as an alternation."""
    if all_value is not None:
        return all_value
    escaped = [re.sub(r"([\\/^$.|?*+()\[\]{}-])", r"\\\1", v) for v in values]
    return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"


def substitute(
    query: str, start_ms: int, end_ms: int, variables: dict[str, str], min_interval_ms: int
) -> str:
    """What Grafana sends for ``query`` over [start, end] with these variable values."""
    step = interval_ms(start_ms, end_ms, min_interval_ms)
    out = query.replace("$timeFilter", f"time >= {start_ms}ms and time <= {end_ms}ms")
    out = out.replace("$__interval_ms", str(step)).replace("$__interval", _duration(step))
    for name in sorted(variables, key=len, reverse=True):
        out = out.replace(f"${{{name}}}", variables[name]).replace(f"${name}", variables[name])
    return out


def test_substitution_matches_grafana() -> None:
    query = 'SELECT mean("value") FROM "x" WHERE "b" =~ /^$building$/ AND $timeFilter GROUP BY time($__interval) LIMIT $__interval_ms'  # noqa: E501
    got = substitute(query, 0, 86_400_000, {"building": regex_value(["dorm-1"], None)}, 10_000)
    assert got == (
        'SELECT mean("value") FROM "x" WHERE "b" =~ /^dorm\\-1$/ AND time >= 0ms and '
        "time <= 86400000ms GROUP BY time(2m) LIMIT 120000"
    )
    assert regex_value(["a.b", "c"], None) == "(a\\.b|c)"
    assert regex_value(["a"], ".*") == ".*"


# -- structure ----------------------------------------------------------------------------


def test_committed_dashboards_are_what_the_generator_writes() -> None:
    generated = _generated()
    assert sorted(generated) == sorted(_boards()), "stale files: run `python grafana/generate.py`"
    for name, text in generated.items():
        assert (DASHBOARDS / name).read_text(encoding="utf-8") == text, (
            f"{name} is stale: run `python grafana/generate.py`"
        )


def _datasource_uids() -> set[str]:
    config = yaml.safe_load(DATASOURCES.read_text(encoding="utf-8"))
    return {ds["uid"] for ds in config["datasources"]}


def test_every_dashboard_is_well_formed() -> None:
    uids = _datasource_uids()
    assert uids == {"sanjie-influx", "sanjie-prometheus"}
    boards = _boards()
    assert len(boards) == 8
    assert len({b["uid"] for b in boards.values()}) == len(boards)
    for name, board in boards.items():
        assert re.search(r"[\u4e00-\u9fff]", board["title"]), name
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids)), f"{name}: panel ids repeat"
        variables = [v["name"] for v in board["templating"].get("list", [])]
        for index, variable in enumerate(board["templating"].get("list", [])):
            assert variable["datasource"]["uid"] in uids
            used = set(re.findall(r"\$(\w+)", variable["query"]))
            assert used <= set(variables[:index]), f"{name}: {variable['name']} uses {used}"
        for panel in board["panels"]:
            where = f"{name} / {panel['title']}"
            assert re.search(r"[\u4e00-\u9fff]", panel["title"]), f"{where}: title not Chinese"
            text = panel["description"]
            assert text, f"{where}: no description"
            assert not re.search(r"[\u4e00-\u9fff]", text), f"{where}: describe in English"
            assert panel["fieldConfig"]["defaults"].get("unit"), f"{where}: no unit"
            assert panel["datasource"]["uid"] in uids, where
            assert panel["targets"], f"{where}: no query"
            for target in panel["targets"]:
                uid = target.get("datasource", panel["datasource"])["uid"]
                assert uid == panel["datasource"]["uid"], where
                text = target.get("query") or target.get("expr") or ""
                used = set(re.findall(r"\$(\w+)", text)) - BUILTIN
                used = {u for u in used if not u.startswith("tag_")}
                assert used <= set(variables), f"{where}: unknown variable(s) {used}"


# -- every query on real data ----------------------------------------------------------------


@pytest.fixture(scope="module")
def campus(influxdb: InfluxServer, tmp_path_factory: pytest.TempPathFactory) -> CampusRun:
    folder = tmp_path_factory.mktemp("campus-run") / "site"
    return asyncio.run(run_campus(folder, influxdb, "grafana_campus"))


def _influx(influx: InfluxServer, query: str) -> dict[str, Any]:
    result: dict[str, Any] = influx.query(query, db="grafana_campus")["results"][0]  # type: ignore[index]
    assert "error" not in result, f"{query}: {result['error']}"
    return result


def _variables(
    influx: InfluxServer, board: dict[str, Any], run: CampusRun, min_ms: int
) -> dict[str, list[str]]:
    """Resolve each variable in order (on All of the ones before it): every one has values."""
    chosen: dict[str, str] = {}
    values: dict[str, list[str]] = {}
    for variable in board["templating"].get("list", []):
        query = substitute(variable["query"], run.start_ms, run.end_ms, chosen, min_ms)
        result = _influx(influx, query)
        found = [row[-1] for s in result.get("series", []) for row in s["values"]]
        assert found, f"{board['uid']}: variable {variable['name']} resolves to nothing"
        values[variable["name"]] = found
        chosen[variable["name"]] = regex_value(found, variable.get("allValue"))
    return values


def _panel_range(panel: dict[str, Any], run: CampusRun) -> tuple[int, int]:
    if panel.get("timeFrom") == "now/d":  # today so far, in the campus's zone
        end = dt.datetime.fromtimestamp(run.end_ms / 1000, TZ)
        midnight = end.replace(hour=0, minute=0, second=0, microsecond=0)
        return int(midnight.timestamp() * 1000), run.end_ms
    return run.start_ms, run.end_ms


@pytest.mark.integration
def test_every_influx_panel_query_returns_rows(campus: CampusRun, influxdb: InfluxServer) -> None:
    checked = expected = 0
    for name, board in _boards().items():
        expected += sum(
            len(p["targets"]) for p in board["panels"] if p["datasource"]["uid"] == "sanjie-influx"
        )
        values = _variables(influxdb, board, campus, 10_000)
        settings: list[dict[str, str]] = [
            dict.fromkeys(values, ".*"),  # All
            {k: regex_value(v[:1], None) for k, v in values.items()},  # the first of each
        ]
        for panel, target in _targets(board):
            if panel["datasource"]["uid"] != "sanjie-influx":
                continue
            start, end = _panel_range(panel, campus)
            for chosen in settings[: 2 if values else 1]:
                query = substitute(target["query"], start, end, chosen, 10_000)
                result = _influx(influxdb, query)
                if chosen is settings[0]:
                    assert result.get("series"), f"{name} / {panel['title']}: no rows for {query}"
                    checked += 1
    assert checked == expected >= 36


@pytest.mark.integration
def test_overview_building_total_is_the_main_meters(
    campus: CampusRun, influxdb: InfluxServer
) -> None:
    board = _boards()["campus-overview.json"]
    panel = next(p for p in board["panels"] if p["title"] == "楼宇用电量")
    query = substitute(
        panel["targets"][0]["query"], campus.start_ms, campus.end_ms, {"building": ".*"}, 10_000
    )

    def per_building(result: dict[str, Any]) -> dict[str, float]:
        return {s["tags"]["building"]: round(s["values"][0][1], 6) for s in result["series"]}

    shown = per_building(_influx(influxdb, query))
    window = f"time >= {campus.start_ms}ms and time <= {campus.end_ms}ms"
    mains = per_building(
        _influx(
            influxdb,
            'SELECT sum("consumption") FROM "consumption_hourly" WHERE "kind" = '
            f"'active_energy' AND \"circuit\" = 'main' AND {window} GROUP BY \"building\"",
        )
    )
    every_meter = per_building(
        _influx(
            influxdb,
            'SELECT sum("consumption") FROM "consumption_hourly" WHERE "kind" = '
            f"'active_energy' AND {window} GROUP BY \"building\"",
        )
    )
    assert shown == mains
    assert set(shown) == {"dorm-1", "dorm-2", "canteen-1", "bath-1"}
    assert every_meter["dorm-1"] > shown["dorm-1"]  # what the old panel showed


def _import_metrics(victoria: VictoriaMetricsServer, run: CampusRun, job: str) -> None:
    for text in run.metrics:
        labelled = re.sub(
            r"^(sanjie_\w+)(\{([^}]*)\})?",
            lambda m: f'{m.group(1)}{{job="{job}"{"," + m.group(3) if m.group(3) else ""}}}',
            text,
            flags=re.MULTILINE,
        )
        request = urllib.request.Request(
            f"{victoria.url}/api/v1/import/prometheus", data=labelled.encode(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=10) as reply:
            assert reply.status == 204
    with urllib.request.urlopen(f"{victoria.url}/internal/force_flush", timeout=10):
        pass
    series = {
        line.rsplit(" ", 1)[0]
        for text in run.metrics
        for line in text.splitlines()
        if line and not line.startswith("#")
    }
    count = urllib.parse.urlencode({"query": f'count({{job="{job}"}})'})
    deadline = time.monotonic() + 30
    while True:  # imported samples become searchable a moment later
        with urllib.request.urlopen(f"{victoria.url}/api/v1/query?{count}", timeout=10) as reply:
            result = json.loads(reply.read())["data"]["result"]
        if result and int(result[0]["value"][1]) >= len(series):
            return
        assert time.monotonic() < deadline, f"VictoriaMetrics shows {result} of {len(series)}"
        time.sleep(0.2)


@pytest.mark.integration
def test_every_prometheus_panel_query_returns_rows(
    campus: CampusRun, victoria: VictoriaMetricsServer, unique_name: str
) -> None:
    _import_metrics(victoria, campus, unique_name)
    checked = 0
    expected = sum(
        len(p["targets"])
        for board in _boards().values()
        for p in board["panels"]
        if p["datasource"]["uid"] == "sanjie-prometheus"
    )
    for name, board in _boards().items():
        for panel, target in _targets(board):
            if panel["datasource"]["uid"] != "sanjie-prometheus":
                continue
            expr = re.sub(r"(sanjie_\w+)", rf'\1{{job="{unique_name}"}}', target["expr"])
            url = f"{victoria.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
            with urllib.request.urlopen(url, timeout=10) as reply:
                answer = json.loads(reply.read())
            assert answer["status"] == "success", f"{name} / {panel['title']}: {answer}"
            assert answer["data"]["result"], f"{name} / {panel['title']}: no rows for {expr}"
            checked += 1
    assert checked == expected >= 13


@pytest.mark.integration
def test_canteen_food_waste_panel_shows_the_dinner_weighing(
    campus: CampusRun, influxdb: InfluxServer
) -> None:
    board = _boards()["canteen.json"]
    panel = next(p for p in board["panels"] if p["title"] == "厨余垃圾")
    query = substitute(panel["targets"][0]["query"], campus.start_ms, campus.end_ms, {}, 10_000)
    series = _influx(influxdb, query)["series"]
    assert [s["tags"]["building"] for s in series] == ["canteen-1"]
    assert sum(v for _, v in series[0]["values"] if v is not None) > 0
    # the diner counter and the plate checker reached the recorder over MQTT too
    window = f"time >= {campus.start_ms}ms AND time <= {campus.end_ms}ms"
    for kind in ("diner_count", "plates_checked", "clean_plates"):
        counted = _influx(
            influxdb,
            f'SELECT sum("consumption") FROM "consumption_hourly" WHERE "kind" = \'{kind}\' '
            f'AND "device" =~ /^canteen-1\\./ AND {window}',
        )
        assert counted["series"][0]["values"][0][1] > 0, kind
