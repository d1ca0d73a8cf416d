"""Open what a report reads for a site: the consumption source, the audit log, meter events.

Outside the controller (the CLI, a scheduled job) the report opens the stores the service
writes under its data folder: InfluxDB 1.x when the site configures it, else the SQLite
history; the audit log and the history's meter events either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import zoneinfo
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from controller.audit import AuditEntry, AuditLog
from controller.billing.component import STORE_NAME
from controller.billing.store import LedgerStore
from controller.config import LoadedSite
from controller.config.site import InfluxV1Sink
from controller.core.clock import SystemClock
from controller.recorder import History, HistoryConsumption, InfluxV1Consumption
from controller.recorder.history import MeterEvent
from controller.recorder.query import ConsumptionSource

from .billing import BillingFigures, fetch_billing
from .diners import DinerCount, DinerStore
from .errors import ReportStoreError
from .span import Scope

__all__ = ["DINERS_NAME", "SiteStores", "open_stores"]

AUDIT_ACTIONS = ("command", "alarm.raise")
DINERS_NAME = "diners.sqlite3"
"""Imported diner counts, beside the audit log in the state folder (``var/``)."""


@dataclass(frozen=True, slots=True)
class SiteStores:
    source: ConsumptionSource
    history_path: Path
    audit_path: Path
    ledger_path: Path | None = None
    """The billing ledger (``var/billing.sqlite3``) when the site bills and it exists."""

    async def billing(
        self, start: float, end: float, scope: Scope, audit: list[AuditEntry]
    ) -> BillingFigures | None:
        """The period's billing figures, or None without a ledger."""
        path = self.ledger_path
        if path is None or not path.exists():
            return None

        def read() -> BillingFigures:
            store = LedgerStore(path, SystemClock())
            try:
                return fetch_billing(store, start, end, scope, audit)
            finally:
                store.close()

        return await asyncio.to_thread(read)

    async def diner_counts(self, first: dt.date, last: dt.date) -> list[DinerCount]:
        """Diner counts imported for the days first..last (none without an import)."""
        path = self.audit_path.parent / DINERS_NAME
        if not path.exists():
            return []

        def read() -> list[DinerCount]:
            store = DinerStore(path)
            try:
                return store.between(first, last)
            finally:
                store.close()

        return await asyncio.to_thread(read)

    async def audit(self, since: float, until: float) -> list[AuditEntry]:
        if not self.audit_path.exists():
            return []

        def read() -> list[AuditEntry]:
            log = AuditLog(self.audit_path, SystemClock())
            try:
                return list(log.between(since, until, AUDIT_ACTIONS))
            finally:
                log.close()

        return await asyncio.to_thread(read)

    async def meter_events(self, since: float, until: float) -> list[MeterEvent]:
        if not self.history_path.exists():
            return []

        def read() -> list[MeterEvent]:
            history = History(self.history_path, {})
            try:
                return [e for e in history.meter_events(since, 1_000_000) if e.timestamp < until]
            finally:
                history.close()

        return await asyncio.to_thread(read)


@contextlib.asynccontextmanager
async def open_stores(site: LoadedSite, data_dir: Path) -> AsyncIterator[SiteStores]:
    tz = zoneinfo.ZoneInfo(site.campus.timezone)
    history_path = data_dir / site.sinks.history.path
    audit_path = data_dir / "var" / "audit.sqlite3"
    ledger = data_dir / "var" / STORE_NAME if site.billing is not None else None
    influx = site.sinks.influxdb
    if isinstance(influx, InfluxV1Sink):
        async with InfluxV1Consumption(
            influx.url,
            influx.database,
            tz,
            retention_policy=influx.retention_policy,
            username=influx.username,
            password=influx.password,
        ) as source:
            yield SiteStores(source, history_path, audit_path, ledger)
        return
    if not history_path.exists():
        raise ReportStoreError(f"no history at {history_path}: has the controller run here?")
    async with HistoryConsumption.open(history_path, tz) as history:
        yield SiteStores(history, history_path, audit_path, ledger)
