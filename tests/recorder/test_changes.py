"""``HourChanges``: a span's version moves exactly when an hour in it is written or pruned
(the web overview keeps a day's figures until then)."""

from __future__ import annotations

from controller.recorder.changes import HourChanges

DAY = 86400.0
D0 = 1_780_000_000.0 - 1_780_000_000.0 % DAY


def test_a_span_moves_only_when_one_of_its_hours_is_written() -> None:
    changes = HourChanges()
    yesterday = (D0 - DAY, D0)
    today = (D0, D0 + DAY)
    before = changes.version(*yesterday), changes.version(*today)
    changes.note([D0 + 3600, D0 + 7200])  # today's running hours
    assert changes.version(*yesterday) == before[0]
    assert changes.version(*today) != before[1]
    kept = changes.version(*today)
    changes.note([D0 - 3600])  # a late hour (an adjustment) of yesterday
    assert changes.version(*yesterday) != before[0]
    assert changes.version(*today) == kept
    changes.note([])  # nothing written: nothing moves
    assert changes.version(*today) == kept


def test_pruning_moves_every_span() -> None:
    changes = HourChanges()
    changes.note([D0 - 10 * DAY, D0])
    old, today = changes.version(D0 - 10 * DAY, D0 - 9 * DAY), changes.version(D0, D0 + DAY)
    changes.pruned(D0 - 9 * DAY)
    assert changes.version(D0 - 10 * DAY, D0 - 9 * DAY) != old
    assert changes.version(D0, D0 + DAY) != today
