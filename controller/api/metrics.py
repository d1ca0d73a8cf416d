"""The controller's figures as Prometheus metrics, through ``prometheus_client``.

Each scrape reads the live figures the components already keep (``status()``, the bus
counters): nothing is counted twice, and a scrape costs one pass over them. Totals since start
are counters (``_total``), levels are gauges, bus cycle times are a histogram; labels say what
they are (``bus``, ``device``, ``sink``, ``subscriber``, ``kind``, ``component``). Figures of
components this module does not know are exported as ``sanjie_component_figure`` gauges, so a
new component is visible before it has named metrics.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from controller.app import Controller
from controller.integrations.meters import MeterIntegration
from controller.integrations.modbus import ModbusIntegration
from controller.integrations.mqtt import MqttIntegration
from controller.integrations.mqtt_export import MqttExport
from controller.policies.engine import PolicyEngine
from controller.recorder import Recorder
from drivers.modbus.errors import (
    MalformedReply,
    ModbusConnectionError,
    ModbusExceptionReply,
    ModbusTimeout,
)
from drivers.timing import Durations

__all__ = ["ControllerCollector", "render_metrics"]

_BUS_ERRORS = tuple(
    e.kind for e in (ModbusTimeout, ModbusConnectionError, MalformedReply, ModbusExceptionReply)
)
"""Failure kinds every bus reports, at 0 until one happens (a query over them has rows)."""

_RECORDER_TOTALS = {
    "points_received": "Readings the recorder received.",
    "points_skipped": "Readings not stored (unchanged, bad quality).",
    "points_written": "Points written to the sink.",
    "write_errors": "Failed writes to the sink.",
    "persist_errors": "Failed writes to the embedded history.",
    "queue_dropped": "Events dropped from the recorder's queue (it fell behind).",
    "outbox_dropped_points": "Points dropped from a full outbox.",
    "meter_swaps": "Meter replacements detected or recorded.",
    "consumption_anomalies": "Counter jumps held out of the consumption.",
}
_RECORDER_LEVELS = {
    "queue_depth": "Events waiting in the recorder's queue.",
    "outbox_batches": "Batches waiting in the outbox for the sink.",
    "outbox_points": "Points waiting in the outbox for the sink.",
    "outbox_bytes": "Bytes waiting in the outbox for the sink.",
    "outbox_fill": "Share of the outbox's capacity in use.",
    "quarantined_batches": "Batches the sink refused, kept aside.",
    "backend_up": "1 when the last write to the sink succeeded.",
}


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    return None


class ControllerCollector(Collector):
    """Collects one controller's metrics on each scrape."""

    def __init__(self, ctrl: Controller) -> None:
        self.ctrl = ctrl

    def collect(self) -> Iterable[Metric]:
        yield from self._bus()
        yield from self._devices()
        yield from self._supervision()
        known: set[str] = set()
        for component in self.ctrl.components:
            families: Iterable[Metric]
            if isinstance(component, ModbusIntegration):
                families = _buses(component, "sanjie_modbus")
            elif isinstance(component, MeterIntegration):
                families = _buses(component, "sanjie_meterbus")
            elif isinstance(component, Recorder):
                families = _recorder(component.status())
            elif isinstance(component, PolicyEngine):
                families = _policies(component.status(), component.evaluation_times)
            elif isinstance(component, MqttIntegration):
                families = _mqtt(component.name, component.driver.stats())
            elif isinstance(component, MqttExport):
                families = _export(component.name, component.status())
            else:
                continue
            known.add(component.name)
            yield from families
        yield self._others(known)

    def _bus(self) -> Iterator[Metric]:
        bus = self.ctrl.bus
        published = CounterMetricFamily("sanjie_events_published", "Events published on the bus.")
        published.add_metric([], bus.published)
        yield published
        depth = GaugeMetricFamily(
            "sanjie_bus_queue_depth", "Events waiting per subscriber.", labels=["subscriber"]
        )
        size = GaugeMetricFamily(
            "sanjie_bus_queue_capacity", "Queue size per subscriber.", labels=["subscriber"]
        )
        delivered = CounterMetricFamily(
            "sanjie_bus_delivered", "Events delivered per subscriber.", labels=["subscriber"]
        )
        dropped = CounterMetricFamily(
            "sanjie_bus_dropped",
            "Events dropped because a subscriber fell behind.",
            labels=["subscriber"],
        )
        for s in bus.stats():
            depth.add_metric([s.name], s.depth)
            size.add_metric([s.name], s.maxsize)
            delivered.add_metric([s.name], s.delivered)
            dropped.add_metric([s.name], s.dropped)
        yield from (depth, size, delivered, dropped)

    def _devices(self) -> Iterator[Metric]:
        states = self.ctrl.states
        unavailable = states.unavailable_devices
        total = GaugeMetricFamily("sanjie_devices_unavailable", "Devices not answering now.")
        total.add_metric([], len(unavailable))
        yield total
        each = GaugeMetricFamily(
            "sanjie_device_available",
            "1 while the device answers, 0 while it is unavailable.",
            labels=["device", "building"],
        )
        for device_id in self.ctrl.registry.device_ids:
            device = self.ctrl.site.devices.get(device_id)
            building = device.building if device is not None else ""
            each.add_metric([device_id, building], float(device_id not in unavailable))
        yield each

    def _supervision(self) -> Iterator[Metric]:
        """Per supervised job (a component, or one bus): restarts so far, and whether it is
        failing now (consecutive failures since it last ran ``settle`` seconds)."""
        restarts = CounterMetricFamily(
            "sanjie_component_restarts",
            "Restarts of a supervised component after it failed at run time.",
            labels=["component"],
        )
        failing = GaugeMetricFamily(
            "sanjie_component_failures",
            "Consecutive failures of a supervised component (0 once it runs again).",
            labels=["component"],
        )
        for name, health in self.ctrl.health().items():
            restarts.add_metric([name], health["restarts"])
            failing.add_metric([name], health["failures"])
        yield from (restarts, failing)

    def _others(self, known: set[str]) -> Metric:
        figures = GaugeMetricFamily(
            "sanjie_component_figure",
            "Numeric figures of components without named metrics.",
            labels=["component", "figure"],
        )
        for component in self.ctrl.components:
            if component.name in known:
                continue
            for key, value in component.status().items():
                number = _number(value)
                if number is not None:
                    figures.add_metric([component.name, key], number)
        return figures


def _buses(integration: ModbusIntegration | MeterIntegration, prefix: str) -> Iterator[Metric]:
    """Per-bus figures of the Modbus buses (``sanjie_modbus_*``) or of the DL/T 645 and
    CJ/T 188 buses (``sanjie_meterbus_*``, with bad frames per meter and why)."""

    def counter(name: str, doc: str, *extra: str) -> CounterMetricFamily:
        return CounterMetricFamily(name, doc, labels=["bus", *extra])

    def gauge(name: str, doc: str) -> GaugeMetricFamily:
        return GaugeMetricFamily(name, doc, labels=["bus"])

    requests = counter(f"{prefix}_requests", "Modbus transactions.")
    errors = counter(f"{prefix}_errors", "Failed transactions.", "kind")
    timeouts = counter(f"{prefix}_timeouts", "Transactions timed out.")
    retries = counter(f"{prefix}_retries", "Transactions retried.")
    reconnects = counter(f"{prefix}_reconnects", "Link reconnections.")
    busy = counter(f"{prefix}_busy_seconds", "Time spent on the wire.")
    utilisation = gauge(f"{prefix}_utilisation", "Share of recent time the bus was busy.")
    connected = gauge(f"{prefix}_connected", "1 while the link is up.")
    devices = gauge(f"{prefix}_devices", "Devices on the bus.")
    available = gauge(f"{prefix}_devices_available", "Devices answering on the bus.")
    queued = gauge(f"{prefix}_queued", "Transactions waiting.")
    last_cycle = gauge(f"{prefix}_last_cycle_seconds", "The last full round's time.")
    cycle = HistogramMetricFamily(
        f"{prefix}_cycle_seconds",
        "Time one full round of every healthy device on the bus takes.",
        labels=["bus"],
    )
    for poller in integration.pollers.values():
        st = poller.status()
        bus = [poller.link_id]
        counters = poller.link.counters
        requests.add_metric(bus, st["requests"])
        seen = dict.fromkeys(_BUS_ERRORS, 0) | st["errors"]
        for kind, count in sorted(seen.items()):
            errors.add_metric([*bus, kind], count)
        timeouts.add_metric(bus, st["timeouts"])
        retries.add_metric(bus, st["retries"])
        reconnects.add_metric(bus, st["reconnects"])
        busy.add_metric(bus, counters.busy_seconds)
        utilisation.add_metric(bus, st["utilisation"])
        connected.add_metric(bus, float(st["state"] == "connected"))
        devices.add_metric(bus, st["devices"])
        available.add_metric(bus, st["available"])
        queued.add_metric(bus, st["queued"])
        if counters.last_cycle is not None:
            last_cycle.add_metric(bus, counters.last_cycle)
        _observe(cycle, bus, counters.cycle_times)
    yield from (requests, errors, timeouts, retries, reconnects, busy, utilisation)
    yield from (connected, devices, available, queued, last_cycle, cycle)
    if isinstance(integration, MeterIntegration):
        bad = CounterMetricFamily(
            f"{prefix}_bad_frames",
            "Replies refused per meter and why (checksum, garbage, truncated, address, stale).",
            labels=["bus", "device", "why"],
        )
        for poller in integration.pollers.values():
            for device_id in poller.devices:
                for why, count in sorted(poller.link.bad_frame_counts(device_id).items()):
                    bad.add_metric([poller.link_id, device_id, why], count)
        yield bad


def _observe(family: HistogramMetricFamily, labels: list[str], durations: Durations) -> None:
    buckets = [
        ("+Inf" if le == float("inf") else repr(le), float(n)) for le, n in durations.cumulative()
    ]
    family.add_metric(labels, buckets, durations.total)


def _recorder(status: Mapping[str, Any]) -> Iterator[Metric]:
    sink = [str(status.get("backend", ""))]
    for key, doc in _RECORDER_TOTALS.items():
        if (value := _number(status.get(key))) is not None:
            family = CounterMetricFamily(f"sanjie_recorder_{key}", doc, labels=["sink"])
            family.add_metric(sink, value)
            yield family
    for key, doc in _RECORDER_LEVELS.items():
        if (value := _number(status.get(key))) is not None:
            gauge = GaugeMetricFamily(f"sanjie_recorder_{key}", doc, labels=["sink"])
            gauge.add_metric(sink, value)
            yield gauge


def _policies(status: Mapping[str, Any], durations: Durations) -> Iterator[Metric]:
    totals = {
        "evaluations": "Policy evaluations.",
        "commands": "Commands the policies sent.",
        "failed": "Policy commands that failed.",
        "refused": "Commands the guard refused (rate or conflict limits).",
        "decide_failures": "Policy decisions that raised an error.",
    }
    levels = {
        "policies": "Policies loaded.",
        "units": "Units the policies control.",
        "holds": "Units held by a policy now.",
        "overrides": "Staff overrides in force.",
        "active_alarms": "Alarms active now.",
        "queued_commands": "Policy commands waiting to be sent.",
    }
    for key, doc in totals.items():
        if (value := _number(status.get(key))) is not None:
            family = CounterMetricFamily(f"sanjie_policy_{key}", doc)
            family.add_metric([], value)
            yield family
    for key, doc in levels.items():
        if (value := _number(status.get(key))) is not None:
            gauge = GaugeMetricFamily(f"sanjie_policy_{key}", doc)
            gauge.add_metric([], value)
            yield gauge
    if (ms := _number(status.get("last_eval_ms"))) is not None:
        last = GaugeMetricFamily("sanjie_policy_last_evaluation_seconds", "The last evaluation.")
        last.add_metric([], ms / 1000)
        yield last
    evaluations = HistogramMetricFamily(
        "sanjie_policy_evaluation_seconds", "Time one evaluation of every policy takes."
    )
    _observe(evaluations, [], durations)
    yield evaluations


def _mqtt(name: str, stats: Mapping[str, Any]) -> Iterator[Metric]:
    bus = [name.removeprefix("mqtt:")]
    totals = {
        "received": "MQTT messages received.",
        "connects": "Connections made to the broker.",
        "unknown_topics": "Messages on topics no device claims.",
        "internal_errors": "Messages the driver failed to handle.",
    }
    for key, doc in totals.items():
        family = CounterMetricFamily(f"sanjie_mqtt_{key}", doc, labels=["bus"])
        family.add_metric(bus, float(stats.get(key, 0)))
        yield family
    problems = CounterMetricFamily(
        "sanjie_mqtt_problems", "Unusable messages by problem.", labels=["bus", "kind"]
    )
    for kind, count in stats.get("problems", {}).items():
        problems.add_metric([*bus, kind], count)
    yield problems
    levels = {
        "sanjie_mqtt_devices": ("devices", "MQTT devices on the link."),
        "sanjie_mqtt_devices_available": ("online", "MQTT devices reporting."),
        "sanjie_mqtt_devices_unavailable": ("offline", "MQTT devices gone quiet or offline."),
    }
    for metric, (key, doc) in levels.items():
        gauge = GaugeMetricFamily(metric, doc, labels=["bus"])
        gauge.add_metric(bus, float(stats.get(key, 0)))
        yield gauge


def _export(name: str, status: Mapping[str, Any]) -> Iterator[Metric]:
    sink = [name]
    published = CounterMetricFamily(
        "sanjie_export_published", "Messages published to the export broker.", labels=["sink"]
    )
    published.add_metric(sink, float(status.get("published", 0)))
    connected = GaugeMetricFamily(
        "sanjie_export_connected", "1 while the export is connected.", labels=["sink"]
    )
    connected.add_metric(sink, float(bool(status.get("connected"))))
    yield from (published, connected)
    if (commands := _number(status.get("commands"))) is not None:
        family = CounterMetricFamily(
            "sanjie_export_commands", "Commands received from Home Assistant.", labels=["sink"]
        )
        family.add_metric(sink, commands)
        yield family


def render_metrics(ctrl: Controller) -> bytes:
    """The Prometheus text exposition of ``ctrl`` now."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ControllerCollector(ctrl))
    return generate_latest(registry)
