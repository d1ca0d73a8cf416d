"""The running controller's collector settings (controller/collector.py)."""

from __future__ import annotations

import gc
import weakref

from controller.collector import GEN0, GEN1, GEN2, long_lived


class Node:
    """An object that can take part in a reference cycle."""

    def __init__(self) -> None:
        self.other: Node | None = None


def test_long_lived_freezes_spaces_collections_and_restores() -> None:
    before = gc.get_threshold()
    kept = Node()
    with long_lived():
        assert gc.get_threshold() == (GEN0, GEN1, GEN2)
        assert gc.get_freeze_count() > 0
        assert not any(o is kept for o in gc.get_objects())  # frozen: out of the scans
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
    assert any(o is kept for o in gc.get_objects())


def test_garbage_cycles_made_before_the_freeze_are_collected_not_frozen() -> None:
    a, b = Node(), Node()
    a.other, b.other = b, a
    gone = weakref.ref(a)
    del a, b
    with long_lived():
        assert gone() is None  # collected on the way in, not frozen for good


def test_cycles_made_while_running_are_still_collected() -> None:
    with long_lived():
        a, b = Node(), Node()
        a.other, b.other = b, a
        gone = weakref.ref(a)
        del a, b
        gc.collect()
        assert gone() is None
