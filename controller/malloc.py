"""How many malloc arenas glibc may give the controller's threads.

glibc gives each thread that allocates while another holds the main arena an arena of its own
(up to eight per core), and memory freed into one arena is reused only by that arena. The
controller's threads (the InfluxDB writer joining and gzipping batches, SQLite's history and
outbox, FastAPI's thread pool) each build large short-lived buffers, so every one of them keeps
an arena's high-water mark resident. The interpreter's lock lets one thread run Python at a
time, so the contention arenas exist to avoid hardly arises here: two arenas are enough.

``M_ARENA_MAX`` is set through ``mallopt`` at start, before the threads exist (the
``MALLOC_ARENA_MAX`` environment variable does the same for a process that is started with
it). ``SANJIE_MALLOC_ARENAS`` overrides the number; 0 leaves glibc's default. Anywhere but
glibc (musl, macOS) this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os

__all__ = ["ARENAS", "limit_arenas"]

_LOGGER = logging.getLogger(__name__)

ARENAS = 2
"""The controller's default: the main arena and one for all its threads."""

_M_ARENA_MAX = -8
"""glibc's ``mallopt`` parameter number for the arena limit (malloc.h)."""


def _wanted() -> int:
    text = os.environ.get("SANJIE_MALLOC_ARENAS", "")
    if not text:
        return ARENAS
    try:
        wanted = int(text)
    except ValueError:
        _LOGGER.warning("SANJIE_MALLOC_ARENAS=%r is not a whole number: using %d", text, ARENAS)
        return ARENAS
    return max(wanted, 0)


def limit_arenas() -> int | None:
    """Set glibc's arena limit; the limit set, or None where nothing was set."""
    wanted = _wanted()
    if wanted == 0 or os.environ.get("MALLOC_ARENA_MAX"):
        return None  # glibc's default, or the operator's own MALLOC_ARENA_MAX
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return None
    if not hasattr(libc, "gnu_get_libc_version"):  # glibc only: musl has mallopt too
        return None
    mallopt = libc.mallopt
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    if mallopt(_M_ARENA_MAX, wanted) != 1:
        return None
    return wanted
