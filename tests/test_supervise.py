"""Supervision on a running controller: one component kind at a time raises at run time, the
controller keeps polling and recording, the component comes back, and its alarm is raised
and then cleared.

The site has two Modbus gateways (one meter each) served by the real emulator, the embedded
history as the recorder, and for the export and the MQTT link a real Mosquitto (with an emulated
plug), for the meter bus an emulated DL/T 645 gateway. A failure is injected through a real
seam: one method of the live component raises once, when the test arms it.
"""

from __future__ import annotations

import asyncio
import contextlib
import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from controller.api.metrics import render_metrics
from controller.app import Controller
from controller.assemble import Assembly, ControllerOptions, build_controller
from controller.config import load_site
from controller.core import (
    AlarmCleared,
    AlarmRaised,
    AvailabilityChanged,
    Event,
    StateChanged,
    SystemClock,
)
from controller.supervise import SupervisionOptions, SupervisorState
from drivers.backoff import Backoff
from drivers.mqtt import AuthenticationFailed
from emulators.meterbus.site import MeterSiteEmulator
from emulators.modbus import SiteEmulator
from emulators.mqtt import run_site as run_mqtt_devices
from tests.integrations.mqtt_site import eventually
from tests.servers import MosquittoServer, free_port

pytestmark = pytest.mark.integration

FAST = SupervisionOptions(backoff=Backoff(0.05, 0.2), settle=0.5)
METER_1 = "b1.101.elec"  # on gw-1
METER_2 = "b1.102.elec"  # on gw-2
METER_645 = "b1.102.lighting"  # DL/T 645, on m645 (with ``meter``)
PLUG = "b1.102.plug"  # MQTT, on the broker (with ``plug``)


class InjectedFault(RuntimeError):
    """The failure the tests inject (a stand-in for a bug or a broken disk)."""


@dataclass
class Fault:
    """Wraps one method so that, once ``armed``, its next call raises (once)."""

    armed: bool = False
    fired: bool = False

    def _fire(self) -> None:
        if self.armed and not self.fired:
            self.fired = True
            raise InjectedFault("injected failure")

    def sync(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            self._fire()
            return original(*args, **kwargs)

        return wrapper

    def coroutine(self, original: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            self._fire()
            return await original(*args, **kwargs)

        return wrapper


@dataclass
class Watch:
    """Everything the tests look at, collected from the bus as it happens."""

    events: list[Event] = field(default_factory=list)

    def alarms(self, kind: type[AlarmRaised | AlarmCleared], alarm_id: str) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind) and e.alarm_id == alarm_id]

    def readings(self, device_id: str, after: float) -> int:
        return sum(
            1
            for e in self.events
            if isinstance(e, StateChanged)
            and e.entity_id.startswith(device_id + ".")
            and e.new.available
            and e.new.timestamp > after
        )

    def availability(self, device_id: str) -> list[bool]:
        return [
            e.available
            for e in self.events
            if isinstance(e, AvailabilityChanged) and e.device_id == device_id
        ]


def _site(tmp_path: Path, broker_port: int = 0, *, plug: bool = False, meter: bool = False) -> Path:
    """Two Modbus gateways; with ``broker_port`` the MQTT export to it, or (``plug``) an MQTT
    plug on it instead; with ``meter`` a DL/T 645 meter on a bus of its own."""
    links = [
        f"{{id: gw-1, type: modbus_tcp, host: 127.0.0.1, port: {free_port()}, timeout: 0.5}}",
        f"{{id: gw-2, type: modbus_tcp, host: 127.0.0.1, port: {free_port()}, timeout: 0.5}}",
    ]
    extra = devices = ""
    if broker_port:
        links.append(f"{{id: broker, type: mqtt, host: 127.0.0.1, port: {broker_port}}}")
        if not plug:
            extra = f"sinks:\n  mqtt: {{link: broker, prefix: {tmp_path.name}/sanjie}}\n"
    if plug:
        devices += (
            f"  - {{id: {PLUG}, profile: tasmota/energy-plug, building: b1, room: '102',"
            f" link: broker, topic_base: {tmp_path.name}_plug, scan_interval: 1}}\n"
        )
    if meter:
        links.append(
            f"{{id: m645, type: dlt645, transport: tcp, host: 127.0.0.1, port: {free_port()},"
            " timeout: 0.5}"
        )
        devices += (
            f"  - {{id: {METER_645}, profile: chint/ddsu666-dlt645, building: b1, room: '102',"
            " link: m645, address: '202600000001', scan_interval: 0.2}\n"
        )
    site = tmp_path / "site.yaml"
    site.write_text(
        textwrap.dedent(
            f"""\
            campus: {{id: sup, name: {{zh: 监督测试}}}}
            buildings:
              - {{id: b1, kind: dorm, name: {{zh: 一号楼}},
                  rooms: [{{id: "101", floor: 1}}, {{id: "102", floor: 1}}]}}
            devices:
              - {{id: {METER_1}, profile: eastron/sdm120, building: b1, room: "101",
                 link: gw-1, unit_id: 1, scan_interval: 0.2}}
              - {{id: {METER_2}, profile: eastron/sdm120, building: b1, room: "102",
                 link: gw-2, unit_id: 1, scan_interval: 0.2}}
            """
        )
        + devices
        + "links:\n"
        + "".join(f"  - {link}\n" for link in links)
        + extra,
        encoding="utf-8",
    )
    return site


@contextlib.asynccontextmanager
async def running_site(
    tmp_path: Path, broker_port: int = 0, *, plug: bool = False, meter: bool = False
) -> AsyncIterator[tuple[Assembly, Watch]]:
    """The site's controller (built by the composition root) running on the emulators, with
    every meter (and the plug) answering and the recorder started."""
    site = load_site(_site(tmp_path, broker_port, plug=plug, meter=meter))
    watch = Watch()
    answering = [METER_1, METER_2] + [PLUG] * plug + [METER_645] * meter
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(SiteEmulator(site, SystemClock(), latency=0))
        if meter:
            await stack.enter_async_context(MeterSiteEmulator(site, SystemClock(), latency=0))
        if plug:
            await stack.enter_async_context(
                run_mqtt_devices(site, "127.0.0.1", broker_port, SystemClock())
            )
        options = ControllerOptions(
            mqtt_free_ports=True, data_dir=tmp_path / "data", api_port=None, supervision=FAST
        )
        assembly = await build_controller(site, options, stack)
        controller = assembly.controller
        sub = controller.bus.subscribe(
            "test-watch", [AlarmRaised, AlarmCleared, AvailabilityChanged, StateChanged]
        )

        async def collect() -> None:
            with contextlib.suppress(Exception):
                while True:
                    watch.events.extend(await sub.get_batch(1000))

        async with controller.running(), asyncio.TaskGroup() as group:
            collector = group.create_task(collect(), name="test-watch")
            await assembly.recorder.wait_started()
            await eventually(lambda: all(watch.readings(d, 0) > 0 for d in answering), 10)
            try:
                yield assembly, watch
            finally:
                collector.cancel()
                sub.close()


async def _fails_and_recovers(
    assembly: Assembly, watch: Watch, fault: Fault, name: str
) -> tuple[float, float]:
    """Arm the fault; wait for the alarm and its clearing; return their timestamps."""
    alarm_id = f"component.{name}"
    fault.armed = True
    await eventually(lambda: watch.alarms(AlarmRaised, alarm_id), 20)
    await eventually(lambda: watch.alarms(AlarmCleared, alarm_id), 20)
    raised = watch.alarms(AlarmRaised, alarm_id)
    cleared = watch.alarms(AlarmCleared, alarm_id)
    assert len(raised) == 1
    assert len(cleared) == 1
    assert raised[0].severity == "critical"
    assert "InjectedFault" in raised[0].evidence["error"]
    audit = assembly.audit
    for action in ("alarm.raise", "alarm.clear"):
        await eventually(lambda a=action: audit.query(action=a, target=alarm_id), 10)  # type: ignore[misc]
    supervisor = assembly.controller.supervisors[name]
    assert supervisor.restarts == 1
    assert supervisor.state is SupervisorState.RUNNING
    assert supervisor.failures == 0
    return raised[0].timestamp, cleared[0].timestamp


async def _keeps_polling_and_recording(assembly: Assembly, watch: Watch, since: float) -> None:
    """Both meters deliver readings after ``since`` and the recorder takes them in."""
    recorder = assembly.recorder
    received = recorder.status()["points_received"]
    await eventually(
        lambda: watch.readings(METER_1, since) > 0 and watch.readings(METER_2, since) > 0
    )
    await eventually(lambda: recorder.status()["points_received"] > received)
    await recorder.flush()


async def test_a_failed_recorder_is_restarted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_site(tmp_path) as (assembly, watch):
        recorder = assembly.recorder
        fault = Fault()
        monkeypatch.setattr(recorder, "_ingest", fault.sync(recorder._ingest))
        raised, cleared = await _fails_and_recovers(assembly, watch, fault, recorder.name)
        # polling never stopped: readings kept coming while the recorder was down
        assert watch.readings(METER_1, raised) > 0
        # operators of ``sanjie run`` (no live view) see it in the metrics
        metrics = render_metrics(assembly.controller).decode()
        assert 'sanjie_component_restarts_total{component="recorder"} 1.0' in metrics
        assert 'sanjie_component_failures{component="recorder"} 0.0' in metrics
        assert 'sanjie_component_restarts_total{component="modbus.gw-1"} 0.0' in metrics
        assert not watch.availability(METER_1)[1:]  # the recorder drives no device
        await _keeps_polling_and_recording(assembly, watch, cleared)


async def test_a_failed_bus_poller_is_restarted_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_site(tmp_path) as (assembly, watch):
        poller = assembly.modbus.pollers["gw-1"]
        fault = Fault()
        monkeypatch.setattr(poller, "_poll", fault.coroutine(poller._poll))
        raised, cleared = await _fails_and_recovers(assembly, watch, fault, "modbus.gw-1")
        # the other bus kept polling while gw-1 was down; gw-1's meter was unavailable, then back
        assert watch.readings(METER_2, raised) > 0
        await eventually(lambda: watch.availability(METER_1)[-1:] == [True])
        assert watch.availability(METER_1)[-2:] == [False, True]
        assert watch.availability(METER_2) == [True] or not watch.availability(METER_2)
        assert assembly.controller.supervisors["modbus"].restarts == 0
        await _keeps_polling_and_recording(assembly, watch, cleared)
        assert assembly.controller.states.is_available(METER_1)


async def test_a_failed_policy_engine_is_restarted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_site(tmp_path) as (assembly, watch):
        engine = assembly.engine
        evaluations = engine.counters["evaluations"]
        fault = Fault()
        monkeypatch.setattr(engine, "evaluate", fault.sync(engine.evaluate))
        engine.ctx.wake()  # evaluate now rather than at the next reading
        raised, cleared = await _fails_and_recovers(assembly, watch, fault, engine.name)
        assert watch.readings(METER_1, raised) > 0
        await _keeps_polling_and_recording(assembly, watch, cleared)
        await eventually(lambda: engine.counters["evaluations"] > evaluations)


async def test_a_failed_mqtt_export_is_restarted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mosquitto: MosquittoServer
) -> None:
    async with running_site(tmp_path, mosquitto.port) as (assembly, watch):
        export = assembly.export
        assert export is not None
        await asyncio.wait_for(export.connected.wait(), 10)
        fault = Fault()
        monkeypatch.setattr(export, "_publish_event", fault.coroutine(export._publish_event))
        raised, cleared = await _fails_and_recovers(assembly, watch, fault, export.name)
        assert watch.readings(METER_1, raised) > 0
        await _keeps_polling_and_recording(assembly, watch, cleared)
        await asyncio.wait_for(export.connected.wait(), 10)
        published = export.published
        await eventually(lambda: export.published > published)
    await asyncio.get_running_loop().shutdown_default_executor()  # aiomqtt's connect threads


async def test_a_failed_mqtt_integration_is_restarted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mosquitto: MosquittoServer
) -> None:
    """The MQTT driver's loop fails (here its staleness watch): its plug is marked unavailable
    while the Modbus buses keep polling, and announced again by its next telemetry."""
    async with running_site(tmp_path, mosquitto.port, plug=True) as (assembly, watch):
        (integration,) = assembly.mqtt
        driver = integration.driver
        clock = driver._clock
        fault = Fault()
        monkeypatch.setattr(
            driver, "_clock", SimpleNamespace(time=clock.time, sleep=fault.coroutine(clock.sleep))
        )
        raised, cleared = await _fails_and_recovers(assembly, watch, fault, integration.name)
        assert (
            watch.alarms(AlarmRaised, f"component.{integration.name}")[0].evidence["devices"] == 1
        )
        assert watch.readings(METER_1, raised) > 0
        await eventually(lambda: watch.availability(PLUG)[-1:] == [True], 10)
        assert watch.availability(PLUG)[-2:] == [False, True]
        await eventually(lambda: watch.readings(PLUG, cleared) > 0, 10)
        await _keeps_polling_and_recording(assembly, watch, cleared)
    await asyncio.get_running_loop().shutdown_default_executor()  # aiomqtt's connect threads


async def test_a_failed_meter_bus_is_restarted_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A DL/T 645 bus is supervised on its own, like each Modbus bus."""
    async with running_site(tmp_path, meter=True) as (assembly, watch):
        assert assembly.meters is not None
        poller = assembly.meters.pollers["m645"]
        fault = Fault()
        monkeypatch.setattr(poller, "_poll", fault.coroutine(poller._poll))
        raised, cleared = await _fails_and_recovers(assembly, watch, fault, "dlt645.m645")
        assert watch.readings(METER_1, raised) > 0  # the Modbus buses kept polling
        await eventually(lambda: watch.availability(METER_645)[-1:] == [True], 10)
        assert watch.availability(METER_645)[-2:] == [False, True]
        assert assembly.controller.supervisors["modbus.gw-1"].restarts == 0
        await _keeps_polling_and_recording(assembly, watch, cleared)
        await eventually(lambda: watch.readings(METER_645, cleared) > 0, 10)


async def test_a_decode_bug_on_one_device_is_counted_and_the_bus_keeps_polling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Modbus decode → state path is guarded per device, like the MQTT driver's messages:
    a reading the state store refuses is counted and logged, the bus is not restarted."""
    async with running_site(tmp_path) as (assembly, watch):
        poller = assembly.modbus.pollers["gw-1"]
        status = poller.devices[METER_1]
        monkeypatch.setitem(assembly.modbus._entity_ids, METER_1, {})  # every key unknown
        polls = status.polls
        await eventually(lambda: poller.internal_errors >= 2, 20)
        assert status.polls > polls
        assert "internal error" in (status.last_error or "")
        assert assembly.modbus.status()["internal_errors"] == poller.internal_errors
        assert assembly.controller.supervisors["modbus.gw-1"].failures == 0
        assert not watch.alarms(AlarmRaised, "component.modbus.gw-1")
        monkeypatch.undo()
        since = assembly.controller.clock.time()
        await eventually(lambda: watch.readings(METER_1, since) > 0, 20)


class _Broken:
    """A component whose run raises ``error`` once the controller is started (or at once)."""

    def __init__(self, error: Exception, *, at_start: bool = False) -> None:
        self.name = "broken"
        self.error = error
        self.at_start = at_start

    async def run(self) -> None:
        if not self.at_start:
            await asyncio.sleep(0.01)
        raise self.error

    def status(self) -> dict[str, Any]:
        return {}


@pytest.mark.parametrize(
    ("error", "at_start"),
    [
        (RuntimeError("broken at start-up"), True),
        (AuthenticationFailed("127.0.0.1", 1883, "sanjie", "not authorised"), False),
    ],
)
async def test_start_up_errors_stop_the_controller(
    tmp_path: Path, error: Exception, at_start: bool
) -> None:
    """Restarting cannot fix what fails before start-up is over, nor a refused password."""
    controller = Controller(load_site(_site(tmp_path)), supervision=FAST)
    controller.add(_Broken(error, at_start=at_start))
    with pytest.raises(BaseExceptionGroup) as raised:
        async with controller.running():
            await asyncio.sleep(5)
    assert raised.value.exceptions == (error,)
    assert controller.supervisors["broken"].restarts == 0


async def test_a_component_failing_again_and_again_backs_off_and_keeps_one_alarm(
    tmp_path: Path,
) -> None:
    controller = Controller(load_site(_site(tmp_path)), supervision=FAST)
    controller.add(_Broken(RuntimeError("still broken")))
    alarms = controller.bus.subscribe("alarms", [AlarmRaised, AlarmCleared])
    async with controller.running():
        supervisor = controller.supervisors["broken"]
        await eventually(lambda: supervisor.restarts >= 4, 10)
        assert supervisor.failures >= 4
        assert supervisor.state in {SupervisorState.BACKOFF, SupervisorState.RECOVERING}
    events = [e async for e in _drain(alarms)]
    assert [type(e) for e in events] == [AlarmRaised]
    assert controller.health()["broken"]["last_error"] == "RuntimeError: still broken"


async def _drain(sub: Any) -> AsyncIterator[Event]:
    while sub.stats.depth:
        for event in await sub.get_batch(100):
            yield event
