"""The site's ``billing:`` section: prepaid tariffs, allowances, warnings and cut-off.

Pure data like ``controller.config.policies``: the billing package prices hours with these
models and imports them; this module imports nothing above ``controller.config``. Money and
quantities are ``Decimal`` (write prices as quoted strings, ``"0.60"``, to keep them exact;
unquoted YAML numbers are read through their decimal text, so ``0.6`` is 0.6 as well).

A tariff applies from the local midnight of ``effective_from`` until the next tariff of the same
utility begins, so a change at midnight prices each side of it by its own tariff.
"""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from .common import I18nName, Slug, StrictModel
from .policies import ClockTime, EndClockTime

__all__ = [
    "BillingConfig",
    "FlatPricing",
    "Pricing",
    "Tariff",
    "Tier",
    "TieredPricing",
    "TouPeriod",
    "TouPricing",
    "Utility",
]


class Utility(StrEnum):
    """What an account pays for. Electricity in kWh, water in m³."""

    ELECTRICITY = "electricity"
    COLD_WATER = "cold_water"
    HOT_WATER = "hot_water"


def _decimal(value: object) -> object:
    """Read YAML floats through their text: 0.6 is Decimal("0.6"), not 0.59999…"""
    if isinstance(value, bool):
        raise ValueError("a number like '0.60'")  # noqa: TRY004 (pydantic wants ValueError)
    if isinstance(value, float):
        return Decimal(repr(value))
    return value


Money = Annotated[
    Decimal,
    BeforeValidator(_decimal),
    Field(ge=0, le=Decimal("1000000"), max_digits=14, decimal_places=4),
]
"""A non-negative amount in yuan, at most 4 decimals (厘 and below)."""
Price = Annotated[
    Decimal, BeforeValidator(_decimal), Field(ge=0, le=Decimal("1000"), decimal_places=6)
]
"""Yuan per kWh or per m³."""
Quantity = Annotated[
    Decimal, BeforeValidator(_decimal), Field(gt=0, le=Decimal("1000000"), decimal_places=6)
]
Allowance = Annotated[
    Decimal, BeforeValidator(_decimal), Field(ge=0, le=Decimal("100000"), decimal_places=6)
]


class FlatPricing(StrictModel):
    """One price for every unit."""

    type: Literal["flat"]
    price: Price


class Tier(StrictModel):
    """Units of the month's paid consumption up to ``up_to`` cost ``price`` (the last tier has no
    ``up_to``)."""

    up_to: Quantity | None = None
    price: Price


class TieredPricing(StrictModel):
    """阶梯电价: the month's paid consumption (after the free allowance) climbs the tiers."""

    type: Literal["tiered"]
    tiers: list[Tier] = Field(min_length=1)

    @model_validator(mode="after")
    def _ascending(self) -> TieredPricing:
        bounds = [t.up_to for t in self.tiers[:-1]]
        if any(b is None for b in bounds):
            raise ValueError("only the last tier may leave out 'up_to'")
        if self.tiers[-1].up_to is not None:
            raise ValueError("the last tier must leave out 'up_to' (it has no upper bound)")
        if any(b2 <= b1 for b1, b2 in itertools.pairwise(bounds)):  # type: ignore[operator]
            raise ValueError("tier bounds 'up_to' must increase")
        return self


class TouPeriod(StrictModel):
    """A daily window (local time) with its price; a window may cross midnight."""

    start: ClockTime
    end: EndClockTime
    price: Price
    name: I18nName | None = None

    def contains(self, second: int) -> bool:
        if self.end > self.start:
            return self.start <= second < self.end
        return second >= self.start or second < self.end


class TouPricing(StrictModel):
    """分时电价: the price of an hour is that of the period its start falls in, else ``default``."""

    type: Literal["time_of_use"]
    periods: list[TouPeriod] = Field(min_length=1)
    default: Price | None = None

    @model_validator(mode="after")
    def _covered(self) -> TouPricing:
        if self.default is None:
            missing = [h for h in range(24) if not any(p.contains(h * 3600) for p in self.periods)]
            if missing:
                raise ValueError(
                    f"hours {missing} fall in no period: add periods or a 'default' price"
                )
        return self

    def price_at(self, second: int) -> Decimal:
        for period in self.periods:
            if period.contains(second):
                return period.price
        assert self.default is not None  # checked by _covered
        return self.default


Pricing = Annotated[FlatPricing | TieredPricing | TouPricing, Field(discriminator="type")]


class Tariff(StrictModel):
    """How one utility is priced from ``effective_from`` (local midnight) on."""

    id: Slug
    utility: Utility
    effective_from: dt.date
    pricing: Pricing
    free_per_bed: Allowance = Field(
        default=Decimal(0), description="Free units per bed per month (teaching months)."
    )
    vacation_free_per_bed: Allowance = Field(
        default=Decimal(0), description="Free units per bed in the site's vacation months."
    )


class BillingConfig(StrictModel):
    """Prepaid electricity and water for the rooms of ``buildings`` (all dorms when omitted)."""

    buildings: list[Slug] | None = None
    tariffs: list[Tariff] = Field(min_length=1)
    vacation_months: list[Annotated[int, Field(ge=1, le=12)]] = [1, 2, 7, 8]
    warn_at: list[Money] = Field(
        default=[Decimal(10)], description="Balances (yuan) that raise a low-balance warning."
    )
    overdraft: Money = Field(
        default=Decimal(0), description="How far below zero a balance may go before the cut-off."
    )
    cut_off: list[Utility] = Field(
        default=[Utility.ELECTRICITY],
        description="Utilities cut at the limit: electricity opens the relay, water closes "
        "the valves.",
    )
    opening_balance: Money = Decimal(0)
    opening_balances: dict[str, Money] = Field(
        default_factory=dict,
        description="Room account id (``<building>.<room>``) → its opening balance, instead "
        "of ``opening_balance`` (e.g. a term's carried-over balances; the demo's low rooms).",
    )
    settle_s: Annotated[int, Field(ge=0, le=86_400)] = Field(
        default=300, description="Wait after an hour ends before charging it (late readings)."
    )
    interval_s: Annotated[int, Field(ge=1, le=3600)] = Field(
        default=60, description="How often hours are charged and limits checked."
    )
    lookback_hours: Annotated[int, Field(ge=1, le=24 * 62)] = Field(
        default=48, description="Recent hours re-read for revisions (estimates, meter swaps)."
    )
    notify: list[Slug] = Field(
        default=[],
        description="Channels of the site's notify section told of every low-balance warning "
        "and cut-off, through the durable notification outbox (retried, kept across restarts).",
    )
    webhook: None = Field(
        default=None, description="Replaced by 'notify' (a webhook channel of notify.channels)."
    )

    @field_validator("webhook", mode="before")
    @classmethod
    def _webhook_replaced(cls, value: object) -> None:
        if value is not None:
            raise ValueError(
                "replaced by 'notify': add a channel (type: webhook, url: ...) to "
                "notify.channels and name its id in billing.notify"
            )

    @model_validator(mode="after")
    def _one_tariff_a_day(self) -> BillingConfig:
        seen: dict[tuple[Utility, dt.date], str] = {}
        ids: set[str] = set()
        for tariff in self.tariffs:
            if tariff.id in ids:
                raise ValueError(f"duplicate tariff id {tariff.id!r}")
            ids.add(tariff.id)
            key = (tariff.utility, tariff.effective_from)
            if key in seen:
                raise ValueError(
                    f"tariffs {seen[key]!r} and {tariff.id!r} both start {tariff.effective_from} "
                    f"for {tariff.utility.value}"
                )
            seen[key] = tariff.id
        return self
