"""Move what a running campus keeps for good out of the cyclic collector's sight, again.

The controller freezes what exists once its components have started (site, registry,
profiles). What they make in their first minutes lives as long: the recorder's series key of
every entity (made at its first reading), the bus planners' expected replies and decoders, the
policies' actuations and memories, billing's cut points — 490,000 objects at 5,000 rooms a
minute after start, besides the 170,000 current states. CPython's full collections walked all
of them every few seconds during a run (``bench/campus.py --rooms 5000``: 26 full collections
in 130 s, 0.3–2.3 s each on the loaded 2-core VM, each holding the event loop: polls, policy
evaluations and web pages waited behind them).

So the controller collects and freezes again a few times after start (``REFREEZE_AFTER_S``),
once the first scans have made what lasts. A frozen object is still freed when its last
reference goes (a state replaced by the next reading); only one that is alive now and later
ends in a reference cycle is never collected, a one-off bounded by what exists at these few
moments.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Sequence

__all__ = ["REFREEZE_AFTER_S", "refreeze"]

_LOGGER = logging.getLogger(__name__)

REFREEZE_AFTER_S = (60.0, 300.0, 900.0)
"""Wall seconds after start: after the 30–60 s scans, after the 300 s ones, and once settled."""


async def refreeze(after: Sequence[float] = REFREEZE_AFTER_S) -> None:
    """Collect and freeze at each of ``after`` (wall seconds from now), then return."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    for delay in sorted(after):
        await asyncio.sleep(max(0.0, started + delay - loop.time()))
        took = time.perf_counter()
        gc.collect()
        gc.freeze()
        _LOGGER.info(
            "Frozen %d long-lived objects %.0f s after start (collect and freeze: %.0f ms)",
            gc.get_freeze_count(),
            delay,
            (time.perf_counter() - took) * 1000,
        )
