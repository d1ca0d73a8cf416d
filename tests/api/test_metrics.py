"""``/api/metrics`` scraped from a controller polling the emulated campus, parsed with
prometheus_client's own parser: types, names and labels are what a Prometheus server sees."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from controller.api import create_api
from controller.app import Controller
from controller.config import load_site
from controller.core import FakeClock
from controller.policies.engine import PolicyEngine
from emulators.modbus.inject import inject
from tests.conftest import EXAMPLE_SITE
from tests.integrations.modbus_harness import running_campus, wait_until

from .test_api import SITE

pytestmark = pytest.mark.integration

METERS = "gw-canteen-1"
VALVES = "gw-canteen-1-valves"
TARGET = "canteen-1.handwash.v07"


async def _scrape(app: object) -> dict[str, Metric]:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        reply = await client.get("/api/metrics")
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/plain; version=")
    return {family.name: family for family in text_string_to_metric_families(reply.text)}


def _value(family: Metric, suffix: str = "", **labels: str) -> float:
    found = [
        s.value
        for s in family.samples
        if s.name == family.name + suffix and all(s.labels.get(k) == v for k, v in labels.items())
    ]
    assert len(found) == 1, (family.name, suffix, labels, family.samples[:5])
    return found[0]


async def test_scrape_has_counters_gauges_and_cycle_histograms() -> None:
    site = load_site(EXAMPLE_SITE)
    async with running_campus(site, links=[METERS, VALVES], scan_interval=0.1) as run:
        modbus = run.modbus
        await wait_until(
            lambda: all(p.link.counters.cycles >= 2 for p in modbus.pollers.values()),
            "two full cycles on every bus",
        )
        inject(run.emulator, f"{TARGET}:no_reply")
        states = run.controller.states
        await wait_until(lambda: not states.is_available(TARGET), f"{TARGET} offline")
        families = await _scrape(create_api(run.controller))

    assert families["sanjie_modbus_requests"].type == "counter"
    assert _value(families["sanjie_modbus_requests"], "_total", bus=METERS) > 0
    assert _value(families["sanjie_modbus_timeouts"], "_total", bus=VALVES) >= 1
    errors = families["sanjie_modbus_errors"]
    assert {s.labels["kind"] for s in errors.samples if s.labels["bus"] == VALVES}

    cycle = families["sanjie_modbus_cycle_seconds"]
    assert cycle.type == "histogram"
    count = _value(cycle, "_count", bus=METERS)
    assert count >= 2
    assert _value(cycle, "_bucket", bus=METERS, le="+Inf") == count
    assert _value(cycle, "_sum", bus=METERS) > 0

    assert families["sanjie_modbus_devices"].type == "gauge"
    assert _value(families["sanjie_modbus_devices"], bus=METERS) == 7
    assert _value(families["sanjie_devices_unavailable"]) == 1
    available = families["sanjie_device_available"]
    assert _value(available, device=TARGET, building="canteen-1") == 0
    assert _value(available, device="canteen-1.handwash.v01") == 1

    assert families["sanjie_events_published"].type == "counter"
    assert families["sanjie_bus_queue_depth"].type == "gauge"
    for family in families.values():  # labels say what they are: never a generic "key"
        for sample in family.samples:
            assert "key" not in sample.labels, sample


async def test_policy_evaluations_are_a_histogram(tmp_path: Path) -> None:
    site_file = tmp_path / "site.yaml"
    site_file.write_text(SITE, encoding="utf-8")
    ctrl = Controller(load_site(site_file), FakeClock(1_780_000_000))
    engine = PolicyEngine(ctrl, store_path=tmp_path / "policies.sqlite3")
    ctrl.add(engine)
    try:
        for _ in range(3):
            engine.evaluate()
        families = await _scrape(create_api(ctrl))
    finally:
        engine.close()
    evaluations = families["sanjie_policy_evaluation_seconds"]
    assert evaluations.type == "histogram"
    assert _value(evaluations, "_count") == 3
    assert _value(evaluations, "_bucket", le="+Inf") == 3
    assert _value(families["sanjie_policy_evaluations"], "_total") == 3
