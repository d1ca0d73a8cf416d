"""Duration histograms: each observation counted once, under its smallest bound."""

from __future__ import annotations

import pytest

from drivers.timing import Durations


@pytest.mark.parametrize(
    ("observed", "cumulative"),
    [
        ([], [(1.0, 0), (10.0, 0), (float("inf"), 0)]),
        ([0.5, 1.0], [(1.0, 2), (10.0, 2), (float("inf"), 2)]),  # a bound includes itself
        ([0.5, 5.0, 50.0], [(1.0, 1), (10.0, 2), (float("inf"), 3)]),  # above all: +Inf only
    ],
)
def test_cumulative_counts(observed: list[float], cumulative: list[tuple[float, int]]) -> None:
    durations = Durations((1.0, 10.0))
    for seconds in observed:
        durations.observe(seconds)
    assert durations.cumulative() == cumulative
    assert durations.count == len(observed)
    assert durations.total == pytest.approx(sum(observed))
    assert durations.last == (observed[-1] if observed else None)
