"""How the running controller uses Python's cyclic garbage collector.

A campus's controller holds millions of objects for as long as it runs (the site, the
registry, profiles, series keys, policy memories) and replaces one small object per entity at
every reading (its ``State``). Each new state outlives the young generations (it is kept until
the entity's next reading, 30-60 s later), so under the default thresholds the oldest
generation's "grown by a quarter" rule is met every few seconds, and a full collection walks
every tracked object with the event loop stopped: at 10,000 rooms about a million objects
outside the frozen set, 0.5 s a pass on the 2-core test machine, several times a minute (what
the overview page's p95 and the longest policy ticks were made of).

Nothing the steady state allocates needs the cycle collector soon: states, events and readings
are freed by reference counting the moment they are replaced. So, once started:

* what exists is frozen (``gc.freeze``: never scanned again, still freed by reference count);
* young collections run less often (``GEN0`` allocations instead of 700), so short-lived
  objects (a request's future, a batch's list) die before a collection sees them;
* a full collection waits for ``GEN2`` collections of the middle generation (instead of 10):
  cyclic garbage that lived through two collections is rare here, and reclaiming it a few
  minutes later costs memory, not correctness.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

__all__ = ["GEN0", "GEN1", "GEN2", "long_lived"]

GEN0 = 10_000
"""Net allocations of tracked objects between young collections (CPython's default: 700)."""
GEN1 = 20
"""Young collections between collections of the middle generation (default: 10)."""
GEN2 = 1_000
"""Middle-generation collections before a full one may run (default: 10); at 10,000 rooms
that is a full collection every few tens of minutes instead of every few seconds."""


@contextlib.contextmanager
def long_lived() -> Iterator[None]:
    """Freeze what exists and space collections out while the block runs; restore on exit."""
    was = gc.get_threshold()
    gc.collect()  # what is garbage now must not be frozen with the rest
    gc.freeze()
    gc.set_threshold(GEN0, GEN1, GEN2)
    try:
        yield
    finally:
        gc.set_threshold(*was)
        gc.unfreeze()
