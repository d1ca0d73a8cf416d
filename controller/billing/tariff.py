"""The tariff engine: the price of one account's consumption in one hour.

An hour is priced by the tariff in force at its local start (so a change at midnight prices the
hours on each side by their own tariff) and by what the account has already used that month:
the first ``free_per_bed × beds`` units of a month are free (``vacation_free_per_bed`` in the
site's vacation months), and tiers count the month's *paid* units after the allowance. Charges
are written once and never re-priced; a later revision of an hour is charged at that hour's own
unit price (see ``charger``).
"""

from __future__ import annotations

import bisect
import datetime as dt
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from controller.config.billing import (
    BillingConfig,
    FlatPricing,
    Tariff,
    TieredPricing,
    TouPricing,
    Utility,
)

from .money import ZERO, amount

__all__ = ["Priced", "TariffBook", "month_start"]


def month_start(hour: float, tz: zoneinfo.ZoneInfo) -> float:
    """Epoch seconds of the local midnight that starts the month ``hour`` falls in."""
    local = dt.datetime.fromtimestamp(hour, tz)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp()


@dataclass(frozen=True, slots=True)
class Priced:
    """One hour's consumption priced: free part, paid pieces (quantity, price), amount (≥ 0)."""

    tariff: str
    quantity: Decimal
    free: Decimal
    pieces: tuple[tuple[Decimal, Decimal], ...]
    amount: Decimal

    @property
    def unit_price(self) -> Decimal:
        """The hour's average price per paid unit (what a revision of the hour is charged)."""
        paid = self.quantity - self.free
        return (self.amount / paid) if paid else (self.pieces[0][1] if self.pieces else ZERO)


class TariffBook:
    """The site's tariffs, found by utility and time."""

    def __init__(self, config: BillingConfig, tz: zoneinfo.ZoneInfo) -> None:
        self.tz = tz
        self.vacation_months = frozenset(config.vacation_months)
        self._starts: dict[Utility, list[float]] = {}
        self._tariffs: dict[Utility, list[Tariff]] = {}
        for tariff in sorted(config.tariffs, key=lambda t: t.effective_from):
            midnight = dt.datetime.combine(tariff.effective_from, dt.time(), tz).timestamp()
            self._starts.setdefault(tariff.utility, []).append(midnight)
            self._tariffs.setdefault(tariff.utility, []).append(tariff)

    @property
    def utilities(self) -> Iterable[Utility]:
        return self._tariffs.keys()

    def tariff_for(self, utility: Utility, hour: float) -> Tariff | None:
        """The tariff in force at ``hour`` (None before the first one: not billed)."""
        starts = self._starts.get(utility)
        if not starts:
            return None
        index = bisect.bisect_right(starts, hour) - 1
        return self._tariffs[utility][index] if index >= 0 else None

    def allowance(self, tariff: Tariff, hour: float, beds: int) -> Decimal:
        month = dt.datetime.fromtimestamp(hour, self.tz).month
        per_bed = (
            tariff.vacation_free_per_bed if month in self.vacation_months else tariff.free_per_bed
        )
        return per_bed * beds

    def price(
        self, utility: Utility, hour: float, quantity: Decimal, used: Decimal, beds: int
    ) -> Priced | None:
        """Price ``quantity`` used in ``hour`` after ``used`` units earlier that month."""
        tariff = self.tariff_for(utility, hour)
        if tariff is None:
            return None
        allowance = self.allowance(tariff, hour, beds)
        free = min(max(allowance - used, ZERO), quantity)
        paid = quantity - free
        paid_before = max(used - allowance, ZERO)
        pieces = _pieces(tariff, hour, paid_before, paid, self.tz) if paid > 0 else ()
        total = amount(sum((q * p for q, p in pieces), ZERO))
        return Priced(tariff.id, quantity, free, pieces, total)


def _pieces(
    tariff: Tariff, hour: float, before: Decimal, paid: Decimal, tz: zoneinfo.ZoneInfo
) -> tuple[tuple[Decimal, Decimal], ...]:
    pricing = tariff.pricing
    if isinstance(pricing, FlatPricing):
        return ((paid, pricing.price),)
    if isinstance(pricing, TouPricing):
        local = dt.datetime.fromtimestamp(hour, tz)
        return ((paid, pricing.price_at(local.hour * 3600 + local.minute * 60)),)
    assert isinstance(pricing, TieredPricing)
    pieces: list[tuple[Decimal, Decimal]] = []
    position, left = before, paid
    for tier in pricing.tiers:
        if left <= 0:
            break
        room = left if tier.up_to is None else min(left, max(tier.up_to - position, ZERO))
        if room > 0:
            pieces.append((room, tier.price))
            position += room
            left -= room
    return tuple(pieces)
