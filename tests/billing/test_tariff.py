"""The tariff engine: allowances, tiers, time of use and effective dates, table-driven."""

from __future__ import annotations

from decimal import Decimal as D  # noqa: N817 (figures read better short)

import pytest

from controller.billing import TariffBook, Utility

from .conftest import TZ, billing, ts

MARCH = ts(2026, 3, 10, 12)
JULY = ts(2026, 7, 10, 12)


@pytest.mark.parametrize(
    ("quantity", "used", "free", "pieces", "amount"),
    [
        ("3", "0", "3", (), "0"),  # inside the 8 kWh allowance (4 beds x 2)
        ("3", "6", "2", (("1", "0.50"),), "0.5"),  # the allowance runs out this hour
        ("4", "16", "0", (("2", "0.50"), ("2", "0.80")), "2.6"),  # crosses tier 1 (8 + 10)
        ("1.25", "30", "0", (("1.25", "0.80"),), "1"),  # deep in tier 2
        ("0.123457", "20", "0", (("0.123457", "0.80"),), "0.0988"),  # rounded to 0.0001
    ],
)
def test_allowance_then_tiers(
    quantity: str, used: str, free: str, pieces: tuple[tuple[str, str], ...], amount: str
) -> None:
    book = TariffBook(billing(), TZ)
    priced = book.price(Utility.ELECTRICITY, MARCH, D(quantity), D(used), beds=4)
    assert priced is not None
    assert priced.free == D(free)
    assert priced.pieces == tuple((D(q), D(p)) for q, p in pieces)
    assert priced.amount == D(amount)


def test_vacation_months_have_their_own_allowance() -> None:
    config = billing()
    book = TariffBook(config, TZ)
    tariff = config.tariffs[0]
    assert book.allowance(tariff, MARCH, 4) == D(8)
    assert book.allowance(tariff, JULY, 4) == D(0)  # July is a vacation month by default
    book = TariffBook(billing(vacation_months=[1]), TZ)
    assert book.allowance(tariff, JULY, 4) == D(8)


def test_time_of_use_prices_by_the_hour_start() -> None:
    config = billing(
        tariffs=[
            {
                "id": "tou",
                "utility": "electricity",
                "effective_from": "2026-03-01",
                "pricing": {
                    "type": "time_of_use",
                    "periods": [
                        {"start": "08:00", "end": "22:00", "price": "0.62"},
                        {"start": "22:00", "end": "08:00", "price": "0.31"},
                    ],
                },
            }
        ]
    )
    book = TariffBook(config, TZ)
    day = book.price(Utility.ELECTRICITY, ts(2026, 3, 5, 21), D(1), D(0), 4)
    night = book.price(Utility.ELECTRICITY, ts(2026, 3, 5, 22), D(1), D(0), 4)
    assert day is not None
    assert night is not None
    assert (day.amount, night.amount) == (D("0.62"), D("0.31"))


def test_a_tariff_starts_at_local_midnight() -> None:
    config = billing(
        tariffs=[
            {
                "id": "old",
                "utility": "electricity",
                "effective_from": "2026-03-01",
                "pricing": {"type": "flat", "price": "0.50"},
            },
            {
                "id": "new",
                "utility": "electricity",
                "effective_from": "2026-03-03",
                "pricing": {"type": "flat", "price": "0.70"},
            },
        ]
    )
    book = TariffBook(config, TZ)
    before = book.tariff_for(Utility.ELECTRICITY, ts(2026, 3, 2, 23))
    after = book.tariff_for(Utility.ELECTRICITY, ts(2026, 3, 3, 0))
    assert before is not None
    assert after is not None
    assert (before.id, after.id) == ("old", "new")
    assert book.tariff_for(Utility.ELECTRICITY, ts(2026, 2, 28, 23)) is None  # not billed yet
    assert book.tariff_for(Utility.HOT_WATER, MARCH) is None
