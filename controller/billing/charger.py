"""Charging: each settled hour of the recorder's consumption, posted once per account.

The recorder's hourly statistics are the meter of record: an hour is charged as they record it,
estimated hours and meter swaps included, and the part they hold out as implausible is noted
(a ``held`` entry) but not charged. An hour the recorder still marks ``partial`` (its meter has
not reported since the hour ended) is not charged until the statistics close it, by the
lookback below. An hour is charged once it has ``settle_s`` behind it; the
ledger's unique keys (account, utility, hour) make a repeated or recomputed hour post nothing,
and each hour's postings and the watermark commit in one transaction, so a crash leaves every
hour either fully charged or not at all.

When the watermark moves, the last ``lookback_hours`` are read again: an hour the statistics
have revised since (a late reading filled an estimate, a swap was recorded after the fact, staff
released a held amount) gets a ``correction`` entry for the difference, and an hour that was
partial then, or missing, is charged now. Hours closed or revised later than the lookback are
not billed (raise ``lookback_hours`` for meters that stay offline for days). More consumption is
priced like new consumption of that hour (its own tariff, the month's usage so far); less is
credited at the unit price the hour was charged, so nothing already billed is re-priced.
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from controller.recorder.dbthread import DbThread
from controller.recorder.query import ConsumptionQuery, ConsumptionSource, Period

from .meters import BILLED_KINDS, Meters
from .model import EntryKind, LedgerEntry, Utility
from .money import ZERO, amount, quantity
from .store import LedgerStore
from .tariff import TariffBook, month_start

__all__ = ["ACTOR", "ChargeReport", "Charger", "HourUse", "apply_hour", "hour_start"]

_LOGGER = logging.getLogger(__name__)

ACTOR = "billing"
WATERMARK = "charged_through"
STARTED = "charging_started"
T = TypeVar("T")
HOUR = 3600.0
MAX_HOURS_PER_RUN = 24 * 7
"""Catching up after a long outage is done a week at a time (bounded memory per query)."""
EPSILON = Decimal("0.000001")


def hour_start(timestamp: float, tz: zoneinfo.ZoneInfo) -> float:
    """The local hour's start (whole-hour offsets only, like the recorder)."""
    local = dt.datetime.fromtimestamp(timestamp, tz)
    return local.replace(minute=0, second=0, microsecond=0).timestamp()


@dataclass(frozen=True, slots=True)
class HourUse:
    """One account's consumption of one utility in one hour, as the statistics record it."""

    account: str
    utility: Utility
    quantity: Decimal
    held: Decimal = ZERO


@dataclass(slots=True)
class ChargeReport:
    hours: int = 0
    charges: int = 0
    corrections: int = 0
    held: int = 0
    charged: Decimal = ZERO
    watermark: float | None = None
    accounts: set[str] = field(default_factory=set)


def apply_hour(
    store: LedgerStore,
    book: TariffBook,
    hour: float,
    uses: Sequence[HourUse],
    *,
    watermark: float | None = None,
    report: ChargeReport | None = None,
) -> list[LedgerEntry]:
    """Post one hour's uses in one transaction (new charges, corrections, held amounts)."""
    report = report if report is not None else ChargeReport()
    month = month_start(hour, book.tz)
    posted: list[LedgerEntry] = []
    with store.transaction():
        existing = store.charged_hours(hour, hour + 1)
        for use in uses:
            account = store.account(use.account)
            if not account.open:
                continue
            before = existing.get((use.account, use.utility, hour))
            entry = (
                _first_charge(store, book, hour=hour, month=month, use=use, beds=account.beds)
                if before is None
                else _revision(
                    store,
                    book,
                    hour=hour,
                    month=month,
                    use=use,
                    charged_qty=before,
                    beds=account.beds,
                )
            )
            if entry is not None:
                posted.append(entry)
                report.accounts.add(use.account)
                report.charged -= entry.amount
                if entry.kind is EntryKind.CHARGE:
                    report.charges += 1
                else:
                    report.corrections += 1
            if use.held > 0:
                key = f"held:{use.account}:{use.utility.value}:{round(hour)}"
                if store.by_key(key) is None:
                    store.post(
                        use.account,
                        EntryKind.HELD,
                        ZERO,
                        ACTOR,
                        "implausible consumption held out by the statistics, not charged",
                        key=key,
                        utility=use.utility,
                        hour=hour,
                        quantity=use.held,
                    )
                    report.held += 1
        if watermark is not None:
            store.set_state(WATERMARK, repr(watermark))
    return posted


def _first_charge(
    store: LedgerStore,
    book: TariffBook,
    *,
    hour: float,
    month: float,
    use: HourUse,
    beds: int,
) -> LedgerEntry | None:
    if use.quantity <= 0:
        return None
    used = store.month_used(use.account, use.utility, month)
    priced = book.price(use.utility, hour, use.quantity, used, beds)
    if priced is None:
        return None  # no tariff for this utility yet: not billed
    store.add_usage(use.account, use.utility, month, use.quantity)
    store.set_charged(use.account, use.utility, hour, use.quantity, priced.unit_price, 0)
    return store.post(
        use.account,
        EntryKind.CHARGE,
        -priced.amount,
        ACTOR,
        key=f"charge:{use.account}:{use.utility.value}:{round(hour)}",
        utility=use.utility,
        hour=hour,
        quantity=use.quantity,
        free=priced.free,
        tariff=priced.tariff,
        details={"pieces": [[str(q), str(p)] for q, p in priced.pieces]},
    )


def _revision(
    store: LedgerStore,
    book: TariffBook,
    *,
    hour: float,
    month: float,
    use: HourUse,
    charged_qty: Decimal,
    beds: int,
) -> LedgerEntry | None:
    delta = use.quantity - charged_qty
    if abs(delta) < EPSILON:
        return None
    found = store.charged(use.account, use.utility, hour)
    assert found is not None
    _, unit_price, revisions = found
    if delta > 0:
        used = store.month_used(use.account, use.utility, month)
        priced = book.price(use.utility, hour, delta, used, beds)
        change = -(priced.amount if priced is not None else ZERO)
        free = priced.free if priced is not None else delta
        tariff = priced.tariff if priced is not None else None
    else:
        change = amount(-delta * unit_price)
        free, tariff = ZERO, None
    store.add_usage(use.account, use.utility, month, delta)
    store.set_charged(use.account, use.utility, hour, use.quantity, unit_price, revisions + 1)
    return store.post(
        use.account,
        EntryKind.CORRECTION,
        change,
        ACTOR,
        f"the statistics revised this hour from {charged_qty} to {use.quantity}",
        key=f"correction:{use.account}:{use.utility.value}:{round(hour)}:{revisions + 1}",
        utility=use.utility,
        hour=hour,
        quantity=delta,
        free=free,
        tariff=tariff,
    )


class Charger:
    """Reads settled hours from a consumption source and posts them to the store.

    ``db`` (optional) is the thread that owns the store: every store call goes through it so
    the event loop never waits on SQLite; without it, store calls run inline (tests, the CLI).
    """

    def __init__(
        self,
        store: LedgerStore,
        book: TariffBook,
        meters: Meters,
        source: ConsumptionSource,
        *,
        settle_s: float = 300.0,
        lookback_hours: int = 48,
        db: DbThread | None = None,
    ) -> None:
        self.store = store
        self.book = book
        self.meters = meters
        self.source = source
        self.settle_s = settle_s
        self.lookback = lookback_hours * HOUR
        self.db = db

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return self.book.tz

    async def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if self.db is None:
            return fn(*args, **kwargs)
        return await self.db.call(fn, *args, **kwargs)

    def watermark(self) -> float | None:
        """Hours before this one are charged (None: nothing charged yet)."""
        text = self.store.get_state(WATERMARK)
        return None if text is None else float(text)

    def started(self) -> float | None:
        """The first hour billing charged: the lookback never reaches before it."""
        text = self.store.get_state(STARTED)
        return None if text is None else float(text)

    def start_at(self, when: float) -> float:
        """Charge from the hour of ``when`` on, unless charging started already; the watermark."""
        found = self.watermark()
        if found is not None:
            return found
        first = hour_start(when, self.tz)
        with self.store.transaction():
            self.store.set_state(WATERMARK, repr(first))
            self.store.set_state(STARTED, repr(first))
        return first

    def settled_until(self, now: float) -> float:
        """The start of the first hour not yet settled at ``now``."""
        return hour_start(now - self.settle_s, self.tz)

    async def uses(self, start: float, end: float) -> dict[float, list[HourUse]]:
        """Consumption per hour and account in [start, end) from the source."""
        query = ConsumptionQuery(
            start=dt.datetime.fromtimestamp(start, self.tz),
            end=dt.datetime.fromtimestamp(end, self.tz),
            period=Period.HOUR,
            group_by=("device", "kind", "circuit"),
            where={"kind": BILLED_KINDS},
        )
        rows = await self.source.consumption(query)
        sums: dict[float, dict[tuple[str, Utility], list[Decimal]]] = defaultdict(dict)
        account_of, utility_of = self.meters.account_of, self.meters.utility
        for row in rows:
            if row.partial:
                continue  # a running hour (the recorder has not closed it): not settled
            device = row.group[0][1]
            account = account_of.get(device)
            if account is None:
                continue
            key = (account, utility_of[device])
            acc = sums[row.period_start.timestamp()].setdefault(key, [ZERO, ZERO])
            acc[0] += quantity(row.consumption)
            acc[1] += quantity(row.held_out)
        return {
            hour: [HourUse(a, u, q, h) for (a, u), (q, h) in sorted(per.items())]
            for hour, per in sums.items()
        }

    async def run_once(self, now: float) -> ChargeReport:
        """Charge every settled hour after the watermark, after re-reading the lookback."""
        report = ChargeReport()
        start = await self._call(self.start_at, now)
        first = await self._call(self.started) or start
        end = min(self.settled_until(now), start + MAX_HOURS_PER_RUN * HOUR)
        report.watermark = start
        if end <= start:
            return report
        since = max(start - self.lookback, first)
        if since < start:
            revised = await self.uses(since, start)
            for hour in sorted(revised):
                await self._call(
                    apply_hour, self.store, self.book, hour, revised[hour], report=report
                )
        new = await self.uses(start, end)
        hour = start
        while hour < end:
            following = hour_start(hour + HOUR + 1, self.tz)
            await self._call(
                apply_hour,
                self.store,
                self.book,
                hour,
                new.get(hour, []),
                watermark=following,
                report=report,
            )
            report.hours += 1
            hour = following
        report.watermark = end
        return report
