"""One thread that owns the recorder's SQLite connections, so the event loop never blocks on disk.

Jobs run one at a time in submission order, which is what keeps the outbox and the history
consistent: a flush's writes finish before the next flush's start.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

__all__ = ["DbThread"]

T = TypeVar("T")


class DbThread:
    """A single worker thread for blocking database work, closed explicitly."""

    def __init__(self, name: str) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._closed = False

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn(*args, **kwargs)`` on the thread. Cancelling the caller does not stop a job
        already running; it completes, and later jobs still run after it."""
        if self._closed:
            raise RuntimeError("the database thread is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    def close(self) -> None:
        """Wait for queued jobs and stop the thread."""
        self._closed = True
        self._executor.shutdown(wait=True)
