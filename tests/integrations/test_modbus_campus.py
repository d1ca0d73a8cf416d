"""The whole emulated example campus (every Modbus device, 15 buses) polled by the controller:
every entity arrives, good, available and physically plausible."""

from __future__ import annotations

import pytest

from controller.config import LoadedSite, PointKind, load_site
from controller.core import Quality, ScaledClock
from tests.conftest import EXAMPLE_SITE

from .modbus_harness import running_campus, wait_until

pytestmark = pytest.mark.integration

PLAUSIBLE: dict[PointKind, tuple[float, float]] = {
    PointKind.VOLTAGE: (190.0, 250.0),
    PointKind.FREQUENCY: (49.5, 50.5),
    PointKind.CURRENT: (0.0, 500.0),
    PointKind.POWER_FACTOR: (-1.0, 1.0),
    PointKind.ACTIVE_POWER: (0.0, 200_000.0),
    PointKind.ACTIVE_ENERGY: (0.0, 1e7),
    PointKind.WATER_VOLUME: (0.0, 1e6),
    PointKind.FLOW: (0.0, 100.0),
    PointKind.TEMPERATURE: (-20.0, 70.0),
    PointKind.SETPOINT: (17.0, 30.0),
    PointKind.HEAT_ENERGY: (0.0, 1e8),
}


@pytest.fixture(scope="module")
def campus() -> LoadedSite:
    return load_site(EXAMPLE_SITE)


async def test_every_modbus_entity_of_the_example_campus(campus: LoadedSite) -> None:
    modbus_devices = {
        d.id for d in campus.devices.values() if campus.profile_of(d).protocol == "modbus"
    }
    assert len(modbus_devices) > 950  # one floor and the hot-water meters speak DL/T 645, CJ/T 188
    clock = ScaledClock(30.0, tz=campus.campus.timezone)
    async with running_campus(campus, clock=clock, scan_interval=30.0, link_timeout=0.5) as run:
        registry, states = run.controller.registry, run.controller.states
        entities = [e for d in modbus_devices for e in registry.of_device(d)]
        assert len(run.modbus.pollers) == 15
        await wait_until(
            lambda: all(states.get(e.entity_id) is not None for e in entities),
            "a reading of every entity",
            limit=30,
        )
        status = run.modbus.status()
    assert status["available"] == status["devices"] == len(modbus_devices)
    assert status["errors"] == 0
    for entity in entities:
        state = states.get(entity.entity_id)
        assert state is not None
        assert state.quality is Quality.GOOD, (entity.entity_id, state)
        assert state.available
        bounds = PLAUSIBLE.get(entity.kind)
        if bounds is not None and entity.tags.get("profile") != "intesis/ac-gateway":
            assert bounds[0] <= state.value <= bounds[1], (entity.entity_id, state.value)  # type: ignore[operator]
    ac_modes = {states.value(e.entity_id) for e in entities if e.kind is PointKind.AC_MODE}
    assert ac_modes <= {"auto", "heat", "dry", "fan", "cool"}
    valves = {states.value(e.entity_id) for e in entities if e.kind is PointKind.VALVE_STATE}
    assert valves <= {"open", "closed"}
