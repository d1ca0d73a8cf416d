"""The shared backoff: doubling from ``initial``, capped at ``maximum``, jittered (upper half)."""

from __future__ import annotations

import random

import pytest

from drivers.backoff import Backoff


@pytest.mark.parametrize(
    ("failures", "ceiling"),
    [(0, 0.5), (1, 0.5), (2, 1.0), (3, 2.0), (6, 16.0), (7, 30.0), (10_000, 30.0)],
)
def test_the_ceiling_doubles_up_to_the_cap(failures: int, ceiling: float) -> None:
    assert Backoff(0.5, 30.0).ceiling(failures) == ceiling


def test_delays_are_jittered_in_the_upper_half_of_the_ceiling() -> None:
    backoff = Backoff(1.0, 8.0)
    rng = random.Random(7)
    delays = [backoff.delay(3, rng) for _ in range(1000)]
    assert min(delays) >= 2.0
    assert max(delays) <= 4.0
    assert len(set(delays)) > 900  # jittered, not one value


@pytest.mark.parametrize("args", [(0.0, 1.0), (2.0, 1.0), (1.0, 2.0, 0.5)])
def test_nonsense_is_refused(args: tuple[float, ...]) -> None:
    with pytest.raises(ValueError, match="backoff"):
        Backoff(*args)
