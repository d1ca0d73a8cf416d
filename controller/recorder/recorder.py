"""The recorder component: every good reading and hourly consumption, durably stored.

Pipeline (one task each, in the component's TaskGroup):

``consume``  takes ``StateChanged`` events from the bus in batches, formats GOOD readings (line
             protocol with InfluxDB, rows for the embedded history) and feeds cumulative ones to
             the statistics engine; cuts a chunk every ``batch_size`` points.
``tick``     cuts a chunk every ``flush_interval`` seconds (wall time) so data never waits longer;
             every ``partial_interval`` seconds the chunk also carries each counter's running
             hour so far, so "today" includes the current hour (marked partial).
``persist``  writes each chunk on the database thread (outbox + history, see ``storage``), then
             hands the new batch to the sender.
``send``     (InfluxDB only) drains the outbox into InfluxDB, see ``sender``.
``partials`` (InfluxDB only) writes the latest running hours straight to InfluxDB, best effort.
``prune``    applies the history's retention every hour.

Shutdown (the controller cancels ``run``) takes what is left on the bus, persists it, tries to
send the outbox for ``shutdown_timeout`` seconds and closes the files: everything is flushed, and
what the server did not take stays in the outbox for the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import math
import sqlite3
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from controller.config.site import InfluxV1Sink, InfluxV2Sink
from controller.core import (
    BusClosed,
    Clock,
    Quality,
    StateChanged,
)
from controller.core.events import Event

from .alerts import Alerts
from .changes import HourChanges
from .counters import counter_specs
from .dbthread import DbThread
from .errors import RecorderError, WriteError
from .history import History, SeededSpan, StoredReading
from .lineproto import LineFormatter
from .outbox import Outbox, encode_batch
from .sender import Backoff, Sender, SenderStats
from .sources import HistoryConsumption
from .stats import HourStat, MeterSwap, StatisticsEngine, StatsOutput
from .storage import Chunk, Persisted, Storage
from .summary import HourlySummary
from .writers import Writer, make_writer

if TYPE_CHECKING:
    from controller.app import Controller

__all__ = ["Recorder"]

_LOGGER = logging.getLogger(__name__)

_DISK_RETRY = Backoff(1.0, 30.0)
"""Waits between attempts to write the history or outbox while the disk refuses."""

MB = 1024 * 1024
MIN_QUEUE = 200_000
QUEUE_SNAPSHOTS = 2
"""The default queue holds this many readings of every entity (at least ``MIN_QUEUE``): a
fixed 200,000 was less than one reading of each of a 10,000-room campus's 520,000 entities,
so a burst of the whole campus (its first scan, or a stalled database thread) dropped
readings. The queue holds references; memory grows only while readings actually wait."""


def _queue_size(entities: int) -> int:
    """The default bus queue: ``QUEUE_SNAPSHOTS`` readings of every entity, at least
    ``MIN_QUEUE``."""
    return max(MIN_QUEUE, QUEUE_SNAPSHOTS * entities)


_NUMBERS = (float, int)  # exact classes: a bool is not a counter reading


class Recorder:
    """Records readings and hourly consumption into InfluxDB (via the outbox) or SQLite."""

    def __init__(
        self,
        controller: Controller,
        *,
        history_path: Path | str,
        writer: Writer | None = None,
        outbox_path: Path | str | None = None,
        outbox_max_bytes: int = 512 * MB,
        retention_days: float = 400,
        readings_retention_days: float = 35,
        batch_size: int = 5000,
        flush_interval: float = 5.0,
        queue_size: int | None = None,
        gzip_level: int = 1,
        backoff: Backoff | None = None,
        concurrency: int = 2,
        shutdown_timeout: float = 10.0,
        retention_interval: float = 3600.0,
        warn_fill: float = 0.8,
        partial_interval: float = 60.0,
        name: str = "recorder",
    ) -> None:
        if writer is not None and outbox_path is None:
            raise ValueError("a writer needs an outbox_path")
        if batch_size < 1 or flush_interval <= 0 or partial_interval <= 0:
            raise ValueError("batch_size, flush_interval and partial_interval must be positive")
        self.name = name
        self.controller = controller
        self.writer = writer
        self.formatter = LineFormatter(controller.registry)
        self.engine = StatisticsEngine(
            counter_specs(controller.site, controller.registry), controller.clock.tz
        )
        self.backend = "history" if writer is None else writer.name
        self._history_path = Path(history_path)
        self._outbox_path = Path(outbox_path) if outbox_path is not None else None
        self._outbox_max_bytes = outbox_max_bytes
        self._retention = (retention_days, readings_retention_days)
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._gzip_level = gzip_level
        self._backoff = backoff or Backoff()
        self._concurrency = concurrency
        self._shutdown_timeout = shutdown_timeout
        self._retention_interval = retention_interval
        self._partial_interval = partial_interval
        # the first tick writes the running hours at once (a new install's "today" is not
        # empty for a minute); an infinite interval never does (tests comparing two stores)
        self._partials_due = 0.0 if math.isfinite(partial_interval) else math.inf
        self._partial_lines: dict[str, tuple[float, str]] = {}
        """Running hours waiting for the partials task, the latest per entity: a flush can
        land before the task took the one before, and each carries only changed figures."""
        self._partial_wake = asyncio.Event()
        self._partial_errors = 0
        self._sub = controller.bus.subscribe(
            name,
            [StateChanged],
            maxsize=_queue_size(len(controller.registry)) if queue_size is None else queue_size,
        )
        self._engine_lock = asyncio.Lock()
        """Held while the engine is in use off the loop (a staff swap record's backfill)."""
        self._lines: list[str] = []
        self._readings: list[tuple[str, float, Any]] = []
        self._chunks: asyncio.Queue[tuple[Chunk, asyncio.Future[None] | None]] = asyncio.Queue(4)
        self._db: DbThread | None = None
        self._storage: Storage | None = None
        self._sender: Sender | None = None
        self._running = False
        self._started = asyncio.Event()
        self._stopped = False
        self._received = 0
        self._skipped = 0
        self._stored = 0
        self._persist_errors = 0
        self._in_flight: asyncio.Future[None] | None = None
        self._summary = HourlySummary(controller.registry)
        self.hour_changes = HourChanges()
        """The hours written so far, as versions (readers keep what a span gave them)."""
        self._seeded: SeededSpan | None = None
        self._alerts = Alerts(controller.bus, controller.clock, self._outbox_path, warn_fill)

    @classmethod
    def from_site(
        cls, controller: Controller, data_dir: Path | str | None = None, **options: Any
    ) -> Recorder:
        """InfluxDB when the site configures one, else the embedded history only.

        Relative paths in the site's sinks are resolved against ``data_dir`` (default: the
        current directory). ``options`` override the constructor's keyword arguments.
        """
        base = Path.cwd() if data_dir is None else Path(data_dir)
        sinks = controller.site.sinks
        kwargs: dict[str, Any] = {
            "history_path": base / sinks.history.path,
            "retention_days": sinks.history.retention_days,
            "readings_retention_days": sinks.history.readings_retention_days,
            "partial_interval": sinks.history.partial_interval,
        }
        influx = sinks.influxdb
        if isinstance(influx, InfluxV1Sink | InfluxV2Sink):
            kwargs.update(
                writer=make_writer(influx),
                outbox_path=base / influx.outbox_path,
                outbox_max_bytes=int(influx.outbox_max_mb * MB),
                batch_size=influx.batch_size,
                flush_interval=influx.flush_interval,
            )
        kwargs.update(options)
        return cls(controller, **kwargs)

    # -- lifecycle -------------------------------------------------------------------------

    async def run(self) -> None:
        """Record until cancelled. After a failure (the controller restarts it) the bus
        subscription and the writer stay open, so readings queue until it is back."""
        db = self._db = DbThread(f"{self.name}-db")
        stopping = True
        try:
            storage = self._storage = await db.call(self._open_storage)
            restored = self.engine.restore(await db.call(storage.history.load_states))
            if restored:
                _LOGGER.info("Recorder resumed the statistics of %d counter(s)", restored)
            if self.writer is not None and storage.outbox is not None:
                self._sender = Sender(
                    self.writer,
                    storage.outbox,
                    db,
                    backoff=self._backoff,
                    concurrency=self._concurrency,
                )
            self._running = True
            self._started.set()
            _LOGGER.info("Recorder writing to %s", self.backend)
            async with asyncio.TaskGroup() as group:
                group.create_task(self._consume(), name=f"{self.name}.consume")
                group.create_task(self._tick(), name=f"{self.name}.tick")
                group.create_task(self._persist_loop(db, storage), name=f"{self.name}.persist")
                group.create_task(self._prune_loop(db, storage.history), name=f"{self.name}.prune")
                if self._sender is not None:
                    group.create_task(self._sender.run(), name=f"{self.name}.send")
                    group.create_task(self._partials_loop(), name=f"{self.name}.partials")
        except Exception:
            stopping = False
            raise
        finally:
            self._running = False
            self._stopped = stopping
            self._started.clear()
            await self._shutdown(db, stopping=stopping)

    def _open_storage(self) -> Storage:
        keys = self.formatter.keys
        history = History(self._history_path, keys, *self._retention)
        outbox = None
        if self._outbox_path is not None:
            try:
                outbox = Outbox(self._outbox_path, self._outbox_max_bytes)
            except RecorderError:
                history.close()
                raise
        return Storage(history, outbox, self.formatter, self._gzip_level)

    async def _shutdown(self, db: DbThread, *, stopping: bool = True) -> None:
        """Save what was received; when ``stopping`` (not a failure) also send what is left
        and close the subscription and the writer."""
        try:
            if self._storage is not None:
                await self._flush_everything(db, self._storage)
            if self._sender is not None and stopping:
                await self._final_send(self._sender)
        finally:
            if stopping:
                self._sub.close()
            if self._storage is not None:
                with contextlib.suppress(sqlite3.Error):
                    await db.call(self._storage.close)
                if not stopping:
                    self._storage = None  # reopened by the restart
            db.close()
            if self.writer is not None and stopping:
                await self.writer.aclose()
            _LOGGER.info("Recorder stopped: %s", self._describe())

    async def _flush_everything(self, db: DbThread, storage: Storage) -> None:
        async with self._engine_lock:
            while self._sub.stats.depth:
                self._ingest(await self._sub.get_batch(self._batch_size))
            last = self._cut()
        pending: list[tuple[Chunk, asyncio.Future[None] | None]] = []
        while not self._chunks.empty():
            pending.append(self._chunks.get_nowait())
        pending.append((last, None))
        for chunk, done in pending:
            try:
                if chunk:
                    self._after_persist(await db.call(storage.persist, chunk), chunk)
            except (sqlite3.Error, OSError, RecorderError):
                _LOGGER.exception(
                    "Recorder could not save %d reading(s) at shutdown",
                    len(chunk.lines) + len(chunk.readings),
                )
            if done is not None and not done.done():
                done.set_result(None)
        # a flush() whose chunk the cancelled persist task was writing: done by now
        if self._in_flight is not None and not self._in_flight.done():
            self._in_flight.set_result(None)

    async def _final_send(self, sender: Sender) -> None:
        try:
            async with asyncio.timeout(self._shutdown_timeout):
                emptied = await sender.drain()
        except TimeoutError:
            emptied = False
        stats = sender.outbox_stats
        if not emptied and stats.batches:
            _LOGGER.warning(
                "Recorder stopping with %d batch(es), %d point(s) in the outbox %s; "
                "they will be sent after the next start",
                stats.batches,
                stats.points,
                self._outbox_path,
            )

    # -- the pipeline ----------------------------------------------------------------------

    async def _consume(self) -> None:
        sub = self._sub
        while True:
            try:
                events = await sub.get_batch(self._batch_size)
            except BusClosed:
                return
            async with self._engine_lock:  # uncontended (no yield) unless a swap is applied
                self._ingest(events)
                chunk = (
                    self._cut(states=False)
                    if len(self._lines) + len(self._readings) >= self._batch_size
                    else None
                )
            if chunk is not None:
                await self._chunks.put((chunk, None))

    def _ingest(self, events: Sequence[Event]) -> None:
        """Format GOOD readings and feed counters: the hot path, kept free of objects."""
        if self.writer is not None:
            skipped = self.formatter.format_events(events, self._lines)
        else:
            skipped = self._rows(events)
        counters = self.engine.entity_ids
        observe = self.engine.observe
        good = Quality.GOOD
        for event in events:
            if event.__class__ is not StateChanged or event.entity_id not in counters:
                continue
            new = event.new
            if new.quality is good and new.available and new.value.__class__ in _NUMBERS:
                observe(event.entity_id, new.timestamp, float(new.value))
        self._received += len(events)
        self._skipped += skipped

    def _rows(self, events: Sequence[Event]) -> int:
        """History mode: GOOD readings as (entity, time, value) rows; returns those skipped."""
        rows = self._readings
        good = Quality.GOOD
        skipped = 0
        for event in events:
            if event.__class__ is not StateChanged:
                continue
            new = event.new
            value = new.value
            if (
                new.quality is not good
                or not new.available
                or value is None
                or (value.__class__ is float and not math.isfinite(value))
            ):
                skipped += 1
            else:
                rows.append((event.entity_id, new.timestamp, value))
        return skipped

    def _cut(self, states: bool = True, partials: bool = False) -> Chunk:
        """Take everything buffered (readings, statistics, counter states) as one chunk.

        Size-triggered cuts leave the counters' states for the next timed one: saving a few
        thousand states per 5,000 points would cost a third of the recorder's CPU, and a state
        up to one flush interval old only means that, after a crash, the first new reading is
        spread back over a slightly longer interval (hours already written are rewritten).
        """
        out = self.engine.drain()
        if partials:
            out.partials = self.engine.partial_hours()
        dirty = self.engine.drain_dirty() if states else {}
        chunk = Chunk(time.time(), self._lines, self._readings, out, dirty)
        self._lines = []
        self._readings = []
        if out:
            self._alerts.statistics(out)
        return chunk

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self._flush_interval)
            now = time.monotonic()
            partials = now >= self._partials_due
            if partials:
                self._partials_due = now + self._partial_interval
            if self._lines or self._readings or self.engine.dirty or partials:
                async with self._engine_lock:
                    chunk = self._cut(partials=partials)
                await self._chunks.put((chunk, None))

    async def _persist_loop(self, db: DbThread, storage: Storage) -> None:
        failures = 0
        while True:
            chunk, done = await self._chunks.get()
            self._in_flight = done
            while chunk:
                try:
                    persisted = await db.call(storage.persist, chunk)
                except (sqlite3.Error, OSError, RecorderError) as err:
                    failures += 1
                    self._persist_errors += 1
                    log = _LOGGER.error if failures == 1 else _LOGGER.debug
                    log("Recorder cannot write %s: %s (will retry)", self._history_path, err)
                    await asyncio.sleep(_DISK_RETRY.delay(failures + 1))
                    continue
                if failures:
                    _LOGGER.info("Recorder writes again after %d failure(s)", failures)
                    failures = 0
                self._after_persist(persisted, chunk)
                break
            if done is not None and not done.done():
                done.set_result(None)

    def _after_persist(self, persisted: Persisted, chunk: Chunk) -> None:
        self._stored += persisted.readings
        self._summary.add(chunk.stats.hours)
        self.hour_changes.note(
            [*(h.hour for h in persisted.hours), *(h.hour for h in chunk.stats.partials)]
        )
        if persisted.outbox is not None:
            self._alerts.outbox(persisted.outbox)
        if self._sender is not None:
            if persisted.outbox is not None:
                self._sender.outbox_stats = persisted.outbox
            self._sender.offer(persisted.batch)
            if persisted.partial_lines:
                self._partial_lines.update(
                    (eid, (hour, line)) for eid, hour, line in persisted.partial_lines
                )
                self._partial_wake.set()

    async def _partials_loop(self) -> None:
        """Write the latest running hours to InfluxDB; a failure only waits for the next ones.

        Not retried and not queued behind the outbox: the complete hour, which follows through
        the outbox, replaces whatever running figure got through. Two rules keep a running
        figure from overwriting its complete row: a figure whose hour has closed since it was
        taken is dropped (the complete row is already cut), and while one is in flight the
        sender starts no batch (a batch cut later, which may close the hour, lands after it).
        """
        assert self.writer is not None
        assert self._sender is not None
        while True:
            await self._partial_wake.wait()
            self._partial_wake.clear()
            items, self._partial_lines = self._partial_lines, {}
            if not items:
                continue
            if self._sender.stats.up is False:
                await self._undelivered(items)
                continue
            async with self._engine_lock:  # no cut between the check and the hold
                running = self.engine.running_hour
                current = {eid: line for eid, (hour, line) in items.items() if running(eid) == hour}
                if not current:
                    continue
                self._sender.hold()
            try:
                await self.writer.send(encode_batch(list(current.values()), self._gzip_level))
            except WriteError as err:
                self._partial_errors += 1
                log = _LOGGER.warning if self._partial_errors == 1 else _LOGGER.debug
                log("Recorder could not write the running hour to %s: %s", self.backend, err)
                await self._undelivered(current)
            finally:
                self._sender.release()

    async def _undelivered(self, entity_ids: Iterable[str]) -> None:
        """Running hours that did not reach InfluxDB: the next partial tick writes them
        again, changed or not (it leaves out unchanged figures it knows were written)."""
        async with self._engine_lock:
            self.engine.forget_partials(entity_ids)

    async def _prune_loop(self, db: DbThread, history: History) -> None:
        while True:
            try:
                now = self.controller.clock.time()
                readings, hours = await db.call(history.prune, now)
            except sqlite3.Error as err:
                _LOGGER.warning("History retention failed: %s", err)
            else:
                if hours:
                    self.hour_changes.pruned(now - self._retention[0] * 86400)
                if readings or hours:
                    _LOGGER.info("History retention removed %d readings, %d hours", readings, hours)
            await asyncio.sleep(self._retention_interval)

    # -- public API ------------------------------------------------------------------------

    async def wait_started(self) -> None:
        """Return once the files are open and the pipeline runs."""
        if self._stopped:
            raise RuntimeError("the recorder has stopped")
        await self._started.wait()

    async def flush(self, partials: bool = False) -> None:
        """Persist everything received so far (returns once it is on disk); with ``partials``
        the running hours too (the partial tick does this every ``partial_interval``)."""
        await self.wait_started()
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        async with self._engine_lock:
            while self._sub.stats.depth:
                self._ingest(await self._sub.get_batch(self._batch_size))
            chunk = self._cut(partials=partials)
        await self._chunks.put((chunk, done))
        await done

    async def record_meter_swap(
        self,
        entity_id: str,
        at: float | dt.datetime,
        old_final: float,
        new_start: float,
        actor: str = "staff",
    ) -> MeterSwap:
        """Staff record of a meter replacement; durable when this returns.

        Raises ``SwapRecordError`` when the record does not fit the readings (see
        ``StatisticsEngine.record_swap``).
        """
        await self.wait_started()
        when = at.timestamp() if isinstance(at, dt.datetime) else float(at)
        async with self._engine_lock:
            while self._sub.stats.depth:
                self._ingest(await self._sub.get_batch(self._batch_size))
            # The hours it fills are bounded but can be thousands: off the event loop, with
            # the pipeline kept away from the engine by the lock meanwhile.
            work = asyncio.ensure_future(
                asyncio.to_thread(
                    self.engine.record_swap,
                    entity_id,
                    when,
                    old_final,
                    new_start,
                    actor,
                    now=self.controller.clock.time(),
                )
            )
            try:
                swap = await asyncio.shield(work)
            except asyncio.CancelledError:
                await asyncio.wait([work])  # the engine is the thread's until it is done
                raise
        await self.flush()
        return swap

    async def seed_history(
        self, seed_id: str, days: Iterable[Sequence[HourStat]], note: str
    ) -> SeededSpan | None:
        """Write made-up closed hours (the demo's month) through the recorder's own path, the
        history and InfluxDB's outbox when there is one, and mark them seeded; once per
        ``seed_id``: None when the history already holds that seed.

        ``days`` is consumed one list at a time (a month of a campus is ~750,000 hours), each
        list committed on the database thread. Should a crash come before the marker, a second
        run writes the same hours again, which replaces rows with the same key instead of
        adding to them.
        """
        await self.wait_started()
        db, storage = self._db, self._storage
        assert db is not None
        assert storage is not None
        if any(span.id == seed_id for span in await db.call(storage.history.seeded)):
            return None
        start, end, rows = math.inf, -math.inf, 0
        made = iter(days)
        # each day is made on a worker thread and written on the database thread: the event
        # loop goes on polling meanwhile
        while (hours := await asyncio.to_thread(next, made, None)) is not None:
            if not hours:
                continue
            chunk = Chunk(time.time(), stats=StatsOutput(hours=list(hours)))
            self._after_persist(await db.call(storage.persist, chunk), chunk)
            stamps = [h.hour for h in hours]
            start = min(start, *stamps)
            end = max(end, *(stamp + 3600.0 for stamp in stamps))
            rows += len(hours)
        if not rows:
            return None
        span = SeededSpan(seed_id, start, end, rows, note, self.controller.clock.time())
        await db.call(storage.history.mark_seeded, span)
        self._seeded = span
        _LOGGER.info("Recorder seeded %d hours (%s): %s", rows, seed_id, note)
        return span

    @property
    def running(self) -> bool:
        """Whether the files are open and the pipeline takes readings and records."""
        return self._running

    @property
    def history_path(self) -> Path:
        """The embedded history's file (reports read its meter events)."""
        return self._history_path

    @property
    def consumption(self) -> HistoryConsumption:
        """The consumption query over the embedded history (which always has the hours)."""
        if self._storage is None or self._db is None or not self._running:
            raise RuntimeError("the recorder is not running")
        return HistoryConsumption(self._storage.history, self._db, self.controller.clock.tz)

    async def readings(
        self, entity_ids: Sequence[str], start: float, end: float
    ) -> dict[str, list[StoredReading]]:
        """Each entity's stored readings in [start, end), oldest first, read on the database
        thread (the web app replays a policy over them before it is saved)."""
        if self._storage is None or self._db is None or not self._running:
            raise RuntimeError("the recorder is not running")
        history = self._storage.history

        def read() -> dict[str, list[StoredReading]]:
            return {e: history.readings(e, start, end) for e in entity_ids}

        return await self._db.call(read)

    def last_hour(self) -> tuple[float, dict[str, dict[str, float]]]:
        """The last complete local hour and its consumption per building and kind (from the
        meters ``building_meters`` picks), as far as the meters have reported it."""
        hour = self.engine.hour_of(self.controller.clock.time()) - 3600.0
        return hour, self._summary.hour(hour)

    def status(self) -> dict[str, Any]:
        """Flat figures for the live view, metrics and the API; the last hour per building
        is a table (building → kind → consumption)."""
        hour, by_building = self.last_hour()
        sub = self._sub.stats
        status: dict[str, Any] = {
            "backend": self.backend,
            "running": self._running,
            "points_received": self._received,
            "points_skipped": self._skipped,
            "points_written": self._stored,
            "queue_depth": sub.depth,
            "queue_dropped": sub.dropped,
            "persist_errors": self._persist_errors,
            "counters": len(self.engine),
            "meter_swaps": self._alerts.swaps,
            "consumption_anomalies": self._alerts.anomalies,
            "rollovers": self.engine.rollovers,
            "running_hours_unchanged": self.engine.unchanged_partials,
            "last_hour": _iso(hour, self.controller.clock),
            "consumption_last_hour": by_building,
        }
        if self._seeded is not None:
            status["seeded"] = {
                "id": self._seeded.id,
                "start": _iso(self._seeded.start, self.controller.clock),
                "end": _iso(self._seeded.end, self.controller.clock),
                "hours": self._seeded.rows,
                "note": self._seeded.note,
            }
        if self.writer is not None:
            sent = self._sender.stats if self._sender else SenderStats()
            box = self._sender.outbox_stats if self._sender else None
            status.update(
                points_written=sent.points_written,
                backend_up=sent.up,
                write_errors=sent.write_errors,
                last_error=sent.last_error,
                quarantined_batches=box.quarantined if box else 0,
                outbox_batches=box.batches if box else 0,
                outbox_points=box.points if box else 0,
                outbox_bytes=box.bytes if box else 0,
                outbox_fill=round(box.fill, 4) if box else 0.0,
                outbox_dropped_points=box.dropped_points if box else 0,
                partial_write_errors=self._partial_errors,
            )
        return status

    def _describe(self) -> str:
        return (
            f"{self._received} received, {self._stored} stored"
            + (f", {self._sender.stats.points_written} written" if self._sender else "")
            + (f", {self._alerts.swaps} meter swap(s)" if self._alerts.swaps else "")
        )


def _iso(timestamp: float, clock: Clock) -> str:
    return dt.datetime.fromtimestamp(timestamp, clock.tz).isoformat(timespec="seconds")
