"""The wire vocabulary: each word order's name says which swaps it means."""

from __future__ import annotations

import pytest

from wire.modbus import REGISTER_COUNT, DataType, Table, WordOrder


@pytest.mark.parametrize("order", list(WordOrder))
def test_word_order_swaps_match_its_name(order: WordOrder) -> None:
    """Lay the bytes A B C D out as the name says they arrive, then undo the swaps."""
    arrived = [order.value[0:2], order.value[2:4]]  # two registers, high byte first
    if order.byte_swap:
        arrived = [word[::-1] for word in arrived]
    if order.word_swap:
        arrived.reverse()
    assert "".join(arrived) == "ABCD"


def test_every_data_type_has_a_register_count() -> None:
    assert set(REGISTER_COUNT) == set(DataType)
    assert REGISTER_COUNT[DataType.FLOAT64] == 4


def test_bit_tables() -> None:
    assert {t for t in Table if t.is_bits} == {Table.COIL, Table.DISCRETE}
