"""The event loop the controller runs on: uvloop where it is installed, else asyncio's own.

Everything the controller does happens on one event loop, and at campus scale most of its CPU
is the loop's own work per request and reply (wake-ups, timers, socket reads and writes).
uvloop (libuv underneath, the same asyncio API) does that work in C: measured with
``bench/modbus_poll.py`` it cut the CPU per reading by about a third against stock asyncio, for
the bare pymodbus baseline and the controller alike, and ``bench/campus.py --loop`` compares
the two on a whole campus (docs/performance.md). Nothing here depends on which loop runs: the
drivers use only the public asyncio API (transports duck-typed, see
``drivers/modbus/channel.py``), and the tests run both (``tests/test_eventloop.py``, the
channel tests on uvloop, the service and demo tests as real ``sanjie`` processes).

``--loop asyncio`` (``sanjie run`` and ``sanjie demo``) is the fallback if a platform's uvloop
misbehaves; ``uvloop`` insists on it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Literal, TypeVar, get_args

from controller.malloc import limit_arenas

__all__ = ["LOOPS", "LoopChoice", "LoopUnavailable", "loop_factory", "run", "running_loop_name"]

T = TypeVar("T")
LoopChoice = Literal["auto", "uvloop", "asyncio"]
LOOPS: tuple[str, ...] = get_args(LoopChoice)


class LoopUnavailable(RuntimeError):
    """``uvloop`` was asked for and is not installed."""


def loop_factory(choice: LoopChoice = "auto") -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop factory, or None for asyncio's default loop."""
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError as err:
        if choice == "uvloop":
            raise LoopUnavailable("uvloop is not installed (pip install uvloop)") from err
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def run(main: Coroutine[Any, Any, T], loop: LoopChoice = "auto") -> T:
    """``asyncio.run(main)`` on the chosen loop, with glibc's malloc arenas limited first
    (``controller/malloc.py``: before any thread of the controller's exists)."""
    limit_arenas()
    with asyncio.Runner(loop_factory=loop_factory(loop)) as runner:
        return runner.run(main)


def running_loop_name() -> str:
    """ "uvloop" or "asyncio": what the running loop is, for status pages and logs."""
    module = type(asyncio.get_running_loop()).__module__
    return "uvloop" if module.startswith("uvloop") else "asyncio"
