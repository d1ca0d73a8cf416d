"""The live view: today's consumption without double counting, generic status panels."""

from __future__ import annotations

from rich.console import Console

from controller.app import Controller
from controller.config import PointKind, load_site
from controller.core import AvailabilityChanged, CommandCompleted, FakeClock
from controller.liveview import DailyCounters, LiveView, status_panel
from tests.conftest import EXAMPLE_SITE


def test_daily_counters_use_top_level_meters_and_survive_resets() -> None:
    site = load_site(EXAMPLE_SITE)
    controller = Controller(site, FakeClock(1_783_000_000))
    daily = DailyCounters.for_controller(controller)
    electricity = daily.members["dorm-1"][PointKind.ACTIVE_ENERGY]
    assert electricity == ["dorm-1.main.energy"]  # the incomer, not every room's sub-meter
    water = daily.members["dorm-1"][PointKind.WATER_VOLUME]
    assert "dorm-1.hot-water.volume" in water  # building-level hot water
    assert "dorm-1.101.hot.volume" not in water  # its rooms' sub-meters are not added again
    assert "dorm-1.101.cold.volume" in water  # no building-level cold meter: rooms add up
    states = controller.states
    states.set("dorm-1.main.energy", 1000.0)
    daily.update(controller)
    states.set("dorm-1.main.energy", 1012.5)
    daily.update(controller)
    states.set("dorm-1.main.energy", 2.0)  # meter replaced
    daily.update(controller)
    assert daily.today("dorm-1", PointKind.ACTIVE_ENERGY) == 14.5


def test_status_panels_render_scalars_and_tables() -> None:
    console = Console(width=100, record=True)
    console.print(
        status_panel(
            "modbus",
            {"links": 2, "errors": 0, "buses": {"gw-1": {"state": "connected", "busy": "40%"}}},
        )
    )
    text = console.export_text()
    assert "links" in text
    assert "gw-1" in text
    assert "connected" in text


def test_the_view_renders_before_any_reading() -> None:
    site = load_site(EXAMPLE_SITE)
    controller = Controller(site, FakeClock(1_783_000_000))
    console = Console(width=120, record=True)
    console.print(LiveView(controller, speed=60).render())
    text = console.export_text()
    assert "dorm-1" in text
    assert "0/" in text  # nothing online yet


def test_the_compact_view_fits_an_80_by_24_terminal_and_lists_only_errors() -> None:
    site = load_site(EXAMPLE_SITE)
    controller = Controller(site, FakeClock(1_783_000_000))
    banner = "网页 Web http://127.0.0.1:8123/  demo-admin / Zx3-q9Yk2LmNa0Bc"
    view = LiveView(controller, speed=60, banner=banner)
    ok = CommandCompleted("dorm-1.101.ac.setpoint", 26.0, True, "policy:ac-limits", "limit", 0.0)
    failed = CommandCompleted(
        "dorm-2.102.ac.setpoint",
        26.0,
        False,
        "policy:ac-limits",
        "limit",
        0.0,
        error="no answer from the gateway",
    )
    back = AvailabilityChanged("dorm-1.101.ac", True, 0.0)
    for event in [ok, failed] * 10 + [back]:
        view.note(event)
    console = Console(width=80, height=24, record=True)
    console.print(view.render(console.height))
    lines = console.export_text().rstrip("\n").split("\n")
    assert len(lines) <= 23  # Live keeps the last line for its cursor
    assert lines[1] == banner  # the web address and account stay on screen
    assert all(console.measure(line).maximum <= 80 for line in lines)
    dorm_1 = next(line for line in lines if line.startswith("学生公寓1号楼"))
    dorm_2 = next(line for line in lines if line.startswith("学生公寓2号楼"))
    assert "101" not in dorm_1  # a confirmed command and a device coming back are no errors
    assert "102.ac.setpoint ✗ no" in dorm_2  # the failure, without the value written
