"""Exact money and quantities: ``Decimal`` everywhere, one rounding rule.

Amounts are kept to 0.0001 yuan (a tenth of a 分) per ledger entry so hourly charges do not each
lose up to half a 分; statements show 分. Quantities come from the recorder as floats rounded to
1e-6 and are taken through their decimal text, so 0.1 kWh is exactly ``Decimal("0.1")``.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from .errors import BadAmount

__all__ = ["CENT", "MILL", "ZERO", "amount", "parse_top_up", "quantity", "to_cents"]

ZERO = Decimal(0)
MILL = Decimal("0.0001")
CENT = Decimal("0.01")
QUANTUM = Decimal("0.000001")
MAX_TOP_UP = Decimal(100_000)


def amount(value: Decimal) -> Decimal:
    """An entry's amount: rounded half up to 0.0001 yuan."""
    return value.quantize(MILL, rounding=ROUND_HALF_UP) + ZERO


def to_cents(value: Decimal) -> Decimal:
    """A figure for people and the finance office: whole 分."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP) + ZERO


def quantity(value: float) -> Decimal:
    """A recorder figure (float, 1e-6 resolution) as an exact decimal."""
    return Decimal(repr(round(value, 6))).quantize(QUANTUM) + ZERO


def parse_top_up(value: object, field: str = "amount") -> Decimal:
    """A top-up or refund amount: positive yuan, at most 2 decimals, at most 100,000."""
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal | float):
        raise BadAmount(field, "give the amount in yuan as a number or a string like '50.00'")
    try:
        parsed = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
    except InvalidOperation:
        raise BadAmount(field, f"{value!r} is not a number") from None
    if not parsed.is_finite() or parsed <= 0:
        raise BadAmount(field, "must be more than 0")
    if parsed != parsed.quantize(CENT):
        raise BadAmount(field, "at most 2 decimals (分)")
    if parsed > MAX_TOP_UP:
        raise BadAmount(field, f"at most {MAX_TOP_UP} yuan at once")
    return parsed.quantize(CENT)
