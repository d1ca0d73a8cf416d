"""The billing component: charges settled hours, enforces limits, serves top-ups.

One loop runs every ``interval_s`` of the controller's clock, or at once when a top-up or an
exemption asks (``wake``): charge what has settled, then warn, cut or restore as the balances
say. A top-up therefore restores a cut account within one poll cycle (the command goes out at
once; the driver's read-back confirms it). The store lives on its own database thread; the
API's top-ups, imports and statements run there too, in order with the charging. Warnings and
cut-offs are queued for people in the alarm service's notification outbox (``notices``), which
sends and retries them; billing itself does no network I/O.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from controller.config import LoadedSite
from controller.config.billing import BillingConfig
from controller.recorder.dbthread import DbThread
from controller.recorder.query import ConsumptionSource

from .accounts import sync_accounts
from .charger import Charger, ChargeReport
from .limits import STATE_KEY, Limits, LimitState
from .meters import Meters
from .notices import OutboxNotices
from .store import LedgerStore
from .tariff import TariffBook

if TYPE_CHECKING:
    from controller.alarms.component import AlarmService
    from controller.app import Controller
    from controller.audit import AuditLog

__all__ = ["STORE_NAME", "BillingComponent", "billing_component"]

_LOGGER = logging.getLogger(__name__)

T = TypeVar("T")
STORE_NAME = "billing.sqlite3"
"""The ledger's file in the controller's state folder (next to the audit log)."""
SourceLike = ConsumptionSource | Callable[[], ConsumptionSource]


class BillingComponent:
    """Prepaid billing of one site inside the controller (``controller.add``)."""

    name = "billing"

    def __init__(
        self,
        controller: Controller,
        *,
        store_path: Path | str,
        source: SourceLike,
        config: BillingConfig | None = None,
        audit: AuditLog | None = None,
        notices: OutboxNotices | None = None,
    ) -> None:
        """``notices``: where warnings and cut-offs are queued for people (``billing.notify``)."""
        site: LoadedSite = controller.site
        config = config or site.billing
        if config is None:
            raise ValueError("the site has no billing section")
        self.controller = controller
        self.config = config
        self.store_path = Path(store_path)
        self.audit = audit
        self._source = source
        self.book = TariffBook(config, controller.clock.tz)
        self.db = DbThread("billing-db")
        self._fresh_db = True
        self.store: LedgerStore | None = None
        self.meters: Meters | None = None
        self.limits: Limits | None = None
        self.charger: Charger | None = None
        self._wake = asyncio.Event()
        self._ready = asyncio.Event()
        self.notices = notices
        self.last_report = ChargeReport()
        self.errors = 0

    # -- life cycle --------------------------------------------------------------------------

    async def open(self) -> None:
        """Open the store, create missing room accounts, build meters and limits."""
        ctrl = self.controller
        if not self._fresh_db:  # a supervised restart after close(): a new thread
            self.db = DbThread("billing-db")
        self._fresh_db = False
        store = self.store = await self.db.call(LedgerStore, self.store_path, ctrl.clock)
        await self.db.call(sync_accounts, store, ctrl.site, self.config)
        meters = self.meters = Meters(ctrl.site, await self.db.call(store.accounts))
        state = LimitState.loads(await self.db.call(store.get_state, STATE_KEY))
        self.limits = Limits(
            ctrl.bus,
            ctrl.commands,
            ctrl.states,
            ctrl.clock,
            meters,
            warn_at=self.config.warn_at,
            overdraft=self.config.overdraft,
            cut_off=self.config.cut_off,
            state=state,
            notify=self.notices,
        )
        self._guard = self.limits.guard_for(self._account_of_entity)
        ctrl.commands.add_guard(self._guard)
        self.charger = Charger(
            store,
            self.book,
            meters,
            _LazySource(self._source),
            settle_s=self.config.settle_s,
            lookback_hours=self.config.lookback_hours,
            db=self.db,
        )
        self._ready.set()

    async def run(self) -> None:
        try:
            await self.open()
            await self._loop()
        finally:
            await self.close()

    async def close(self) -> None:
        """Remove the guard, close the store and its thread (``run`` does this itself)."""
        self._ready.clear()
        if self.limits is not None:
            self.controller.commands.remove_guard(self._guard)
            self.limits = None
        if self.store is not None:
            with contextlib.suppress(RuntimeError):
                await self.db.call(self.store.close)
            self.store = None
        self.db.close()

    async def wait_ready(self) -> None:
        await self._ready.wait()

    def wake(self) -> None:
        """Charge and check limits now (after a top-up, an exemption, an account change)."""
        self._wake.set()

    def changed(
        self, actor: str, action: str, account: str, reason: str = "", **details: Any
    ) -> None:
        """After a change through the API: into the controller's audit log (``billing.*``,
        besides the ledger and the account's events), and limits checked at once."""
        if self.audit is not None:
            self.audit.record(
                actor, f"billing.{action}", account, reason=reason, source="api", details=details
            )
        self.wake()

    async def _loop(self) -> None:
        clock = self.controller.clock
        while True:
            await self.cycle()
            sleeper = asyncio.ensure_future(clock.sleep(self.config.interval_s))
            waker = asyncio.ensure_future(self._wake.wait())
            try:
                await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                sleeper.cancel()
                waker.cancel()
            self._wake.clear()

    async def cycle(self) -> ChargeReport | None:
        """One round: charge settled hours (when the source answers), then the limits."""
        assert self.charger is not None
        assert self.limits is not None
        report = None
        try:
            report = self.last_report = await self.charger.run_once(self.controller.clock.time())
        except RuntimeError as err:  # the recorder is not running (yet): limits still apply
            _LOGGER.debug("Billing cannot charge yet: %s", err)
        except Exception:  # the boundary: one bad cycle must not stop the cut-offs
            self.errors += 1
            _LOGGER.exception("Billing could not charge this cycle")
        await self.check_limits()
        return report

    async def check_limits(self) -> None:
        assert self.limits is not None
        assert self.store is not None
        store = self.store
        accounts = await self.db.call(store.accounts)
        balances = await self.db.call(store.balances)
        if await self.limits.check(accounts, balances):
            state = self.limits.state.dumps()
            await self.db.call(_save_state, store, state)

    # -- services for the API and the CLI ----------------------------------------------------

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn`` on the store's thread (after everything queued before it)."""
        await self.wait_ready()
        return await self.db.call(fn, *args, **kwargs)

    def rebuild_meters(self) -> None:
        """After accounts change: which meters bill which account."""
        assert self.meters is not None
        assert self.store is not None
        self.meters.rebuild(self.store.accounts())

    def _account_of_entity(self, entity_id: str) -> str | None:
        device = entity_id.rsplit(".", 1)[0]
        return None if self.meters is None else self.meters.account_of.get(device)

    def status(self) -> dict[str, Any]:
        limits = self.limits
        report = self.last_report
        return {
            "accounts": len(self.meters.cut_points) if self.meters else 0,
            "cut_off": len(limits.state.cut) if limits else 0,
            "warned": len(limits.state.warned) if limits else 0,
            "charged_through": report.watermark,
            "last_cycle_charges": report.charges,
            "errors": self.errors,
            "notices_queued": self.notices.queued if self.notices else 0,
        }


def _save_state(store: LedgerStore, text: str) -> None:
    with store.transaction():
        store.set_state(STATE_KEY, text)


class _LazySource:
    """The recorder's consumption query exists only while the recorder runs: ask each time."""

    def __init__(self, source: SourceLike) -> None:
        self._source = source

    async def consumption(self, query: Any) -> Any:
        source = self._source() if callable(self._source) else self._source
        return await source.consumption(query)


def billing_component(
    controller: Controller,
    source: SourceLike,
    state_dir: Path,
    audit: AuditLog | None = None,
    alarms: AlarmService | None = None,
) -> BillingComponent | None:
    """The site's billing, when its file has a ``billing:`` section (else None).

    ``source``: the recorder's consumption query, or a callable returning it (the recorder's
    ``consumption`` exists only while it runs; billing asks again each cycle). ``audit``: the
    controller's audit log, which also records every change made through the API. ``alarms``:
    the alarm service whose notification outbox carries the ``billing.notify`` notices.
    """
    config = controller.site.billing
    if config is None:
        return None
    notices = None
    if config.notify:
        notifier = alarms.notifier if alarms is not None else None
        if notifier is None:  # the loader checks the channels exist, so a notifier does
            raise ValueError("billing.notify names channels, but there is no notifier")
        notices = OutboxNotices(notifier.outbox, config.notify, controller.clock, notifier.quiet)
    return BillingComponent(
        controller,
        store_path=state_dir / STORE_NAME,
        source=source,
        audit=audit,
        notices=notices,
    )
