"""The composition root: a site and a few options in, a controller with its components out.

``sanjie run`` (``controller.service``) and ``sanjie demo`` (``controller.demo``) both call
``build_controller``, so they run the same components wired the same way; the demo only adds
emulators around it (Modbus endpoints redirected to them, MQTT emulators on the broker this
module starts). What it builds, in order:

* the Modbus integration (one supervised poller per bus);
* the DL/T 645 and CJ/T 188 meter integration, when the site has such links;
* for an MQTT link (or the MQTT export's) that names no host, the broker on this machine at
  the link's port: the one already listening there (``sanjie emulate``'s), else one started
  there (``controller.broker.site_brokers``); then one MQTT integration per MQTT link;
* the MQTT export when the site has ``sinks.mqtt``;
* the recorder (InfluxDB or the embedded history, files under ``data_dir``);
* the audit log and the policy engine (SQLite files under ``state_dir``), and the calendar
  watch (the provisional-year alarm; SIGHUP re-reads the holidays file);
* the alarm service: one alarm list, notifications, work orders (``controller.alarms.build``);
* prepaid billing (its ledger under ``state_dir``) when the site has a ``billing:`` section;
* the staff accounts store and the web app's live hub, and the HTTP API serving both, unless
  ``api_port`` is None.

The state folder is made private (0700) and locked for the process's life, so ``sanjie
restore`` refuses to overwrite the files of a running controller.

Servers and files are entered on the caller's ``AsyncExitStack``: they close, in reverse order,
when the caller's stack closes, after the controller has stopped.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from controller.app import Component, Controller
from controller.config import LoadedSite
from controller.core import Clock, SystemClock
from controller.supervise import SupervisionOptions

if TYPE_CHECKING:
    from controller.alarms.component import AlarmService
    from controller.api import ApiServer
    from controller.audit import AuditLog
    from controller.billing import BillingComponent
    from controller.broker import LinkBroker
    from controller.integrations.meters import MeterIntegration
    from controller.integrations.modbus import ModbusIntegration
    from controller.integrations.mqtt import MqttIntegration
    from controller.integrations.mqtt_export import MqttExport
    from controller.policies.engine import PolicyEngine
    from controller.recorder import Recorder

__all__ = ["Assembly", "ControllerOptions", "build_controller"]

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class ControllerOptions:
    """What differs between a service and a demo: where files go, where the API listens,
    where Modbus links really are, and the supervision rhythm.

    ``data_dir``: the recorder's base (relative sink paths resolve against it).
    ``state_dir``: the policy store and audit log (default ``data_dir``).
    ``api_port``: None runs no API. ``modbus_endpoints``: link id → (host, port), e.g. emulators;
    ``meter_endpoints`` the same for DL/T 645 and CJ/T 188 links (a serial link's host is the
    device to open, e.g. an emulator's pseudo-terminal). ``mqtt_free_ports``: a link without a
    host gets a private broker on a free port rather than the one at its port (the demo, which
    runs its emulators on it, and tests that run side by side).
    """

    data_dir: Path
    state_dir: Path | None = None
    api_host: str = "127.0.0.1"
    api_port: int | None = 8123
    modbus_endpoints: Mapping[str, tuple[str, int]] = field(default_factory=dict)
    meter_endpoints: Mapping[str, tuple[str, int]] = field(default_factory=dict)
    mqtt_free_ports: bool = False
    supervision: SupervisionOptions = field(default_factory=SupervisionOptions)


@dataclass
class Assembly:
    """The controller and its components, by role (the demo and tests reach into them)."""

    controller: Controller
    modbus: ModbusIntegration
    mqtt: list[MqttIntegration]
    recorder: Recorder
    audit: AuditLog
    engine: PolicyEngine
    brokers: dict[str, LinkBroker] = field(default_factory=dict)
    export: MqttExport | None = None
    api: ApiServer | None = None
    alarms: AlarmService | None = None
    billing: BillingComponent | None = None
    meters: MeterIntegration | None = None

    def describe(self) -> list[str]:
        """One line per part, for the start-up log and the demo's banner."""
        lines = [f"Modbus integration: {len(self.modbus.pollers)} buses polled"]
        if self.meters is not None:
            lines.append(
                f"DL/T 645 / CJ/T 188 integration: {len(self.meters.pollers)} buses polled"
            )
        for address in sorted(
            {(b.host, b.port, b.protocol, b.started) for b in self.brokers.values()}, key=str
        ):
            host, port, protocol, started = address
            where = str(started) if started else f"{host}:{port} (MQTT {protocol}, already running)"
            lines.append(f"MQTT broker: {where}")
        lines += [
            f"MQTT link {i.name}: {len(i.device_ids)} devices, "
            f"{len(i.driver.filters)} subscription filters"
            for i in self.mqtt
        ]
        if self.export is not None:
            lines.append(f"MQTT export: {self.export.name}")
        lines.append(f"Recorder: {self.recorder.backend}")
        units = sum(len(p.units) for p in self.engine.core.policies)
        lines.append(f"Policies: {len(self.engine.core.policies)} policies on {units} units")
        if self.alarms is not None:
            lines.append(f"Alarms: {self.alarms.describe()}")
        if self.billing is not None:
            lines.append(f"Billing: {len(self.billing.config.tariffs)} tariffs, prepaid ledger")
        if self.api is not None:
            lines.append(
                f"API: http://{self.api.host}:{self.api.port}/docs (OpenAPI), /api/site, "
                "/api/metrics"
            )
        return lines


def _reports(controller: Controller, recorder: Recorder, audit: AuditLog) -> Component:
    """Campaign reports: on request and on the site's schedules, stored beside the audit log."""
    from controller.reports.service import ReportService

    return ReportService(controller, recorder, audit)


async def build_controller(
    site: LoadedSite,
    options: ControllerOptions,
    stack: contextlib.AsyncExitStack,
    *,
    clock: Clock | None = None,
) -> Assembly:
    """Build the controller of ``site`` with every component the site asks for (not started:
    run it with ``async with assembly.controller.running()``)."""
    from controller.alarms.build import build_alarms
    from controller.audit import AuditLog
    from controller.backup import hold_lock
    from controller.billing import billing_component
    from controller.broker import site_brokers
    from controller.calendar_watch import CalendarWatch
    from controller.core.files import private_dir
    from controller.integrations.mqtt import mqtt_integrations, mqtt_links
    from controller.integrations.mqtt_export import export_link, mqtt_export
    from controller.policies.engine import PolicyEngine
    from controller.recorder import Recorder

    controller = Controller(site, clock, supervision=options.supervision)
    modbus, meters = _bus_integrations(controller, options)

    links = mqtt_links(site)
    exported = export_link(site)
    served = [*links, exported] if exported and exported not in links else links
    brokers = await site_brokers(site, stack, free_ports=options.mqtt_free_ports, links=served)
    mqtt = mqtt_integrations(
        controller, brokers={k: (b.host, b.port, b.protocol) for k, b in brokers.items()}
    )
    for integration in mqtt:
        controller.add(integration)
    out = brokers.get(exported.id) if exported else None
    export = mqtt_export(controller, host=out.host if out else None, port=out.port if out else None)
    if export is not None:
        controller.add(_with_commands(export, site, options.state_dir or options.data_dir))

    recorder = Recorder.from_site(controller, data_dir=options.data_dir)
    controller.add(recorder)
    state = private_dir(options.state_dir or options.data_dir)  # audit log, policies, accounts
    stack.enter_context(hold_lock(state))  # `sanjie restore` refuses to run under us
    audit = AuditLog(state / "audit.sqlite3", controller.clock, controller.bus)
    stack.callback(audit.close)
    engine = PolicyEngine(controller, store_path=state / "policies.sqlite3", audit=audit)
    stack.callback(engine.close)
    calendar = CalendarWatch(controller, engine.ctx.calendar)
    for component in (audit, engine, calendar, _reports(controller, recorder, audit)):
        controller.add(component)
    alarms = build_alarms(
        controller, state, engine=engine, audit=audit, recorder=recorder, mqtt=mqtt
    )
    stack.callback(alarms.close)
    controller.add(alarms)  # the one alarm list, notifications, work orders
    # Billing charges the recorder's hours; its routes join the API built below.
    billing = billing_component(controller, lambda: recorder.consumption, state, audit, alarms)
    if billing is not None:
        controller.add(billing)

    api = _api(controller, options, state, stack)
    return Assembly(
        controller,
        modbus,
        mqtt,
        recorder,
        audit,
        engine,
        brokers,
        export,
        api,
        billing=billing,
        alarms=alarms,
        meters=meters,
    )


def _bus_integrations(
    controller: Controller, options: ControllerOptions
) -> tuple[ModbusIntegration, MeterIntegration | None]:
    """The Modbus integration, and the DL/T 645 and CJ/T 188 one when the site has such
    links (both added to the controller)."""
    from controller.integrations.meters import MeterIntegration
    from controller.integrations.modbus import ModbusIntegration

    modbus = ModbusIntegration(controller, endpoints=options.modbus_endpoints)
    controller.add(modbus)
    meters = MeterIntegration(controller, endpoints=options.meter_endpoints)
    if not meters.pollers:
        return modbus, None
    controller.add(meters)
    return modbus, meters


def _api(
    controller: Controller,
    options: ControllerOptions,
    state: Path,
    stack: contextlib.AsyncExitStack,
) -> ApiServer | None:
    """The HTTP API with the staff accounts and the web app's live hub, unless no port."""
    from controller.accounts import AccountStore
    from controller.api import ApiServer
    from controller.web.live import LiveHub

    if options.api_port is None:
        return None
    # Sessions and lock-outs are wall-clock matters, also in an accelerated demo.
    accounts = AccountStore(state / "accounts.sqlite3", SystemClock())
    stack.callback(accounts.close)
    live = LiveHub(controller)
    controller.add(live)
    api = ApiServer(controller, options.api_host, options.api_port, accounts=accounts, live=live)
    controller.add(api)
    return api


def _with_commands(export: MqttExport, site: LoadedSite, state: Path) -> MqttExport:
    """The export, taking commands as the account ``sinks.mqtt.commands_as`` names (if any)."""
    from controller.accounts import AccountError, AccountStore
    from controller.integrations.mqtt_export import CommandAccountError

    name = site.sinks.mqtt.commands_as if site.sinks.mqtt is not None else None
    if name is None:
        return export
    path = state / "accounts.sqlite3"
    if not path.exists():
        raise CommandAccountError(
            f"sinks.mqtt.commands_as: no account {name!r}: {path} does not exist yet "
            "(create the account with `sanjie user add`)"
        )
    store = AccountStore(path, SystemClock())
    try:
        export.use_account(store.get(name))
    except AccountError:
        raise CommandAccountError(
            f"sinks.mqtt.commands_as: no account {name!r} (create it with `sanjie user add`)"
        ) from None
    finally:
        store.close()
    return export
