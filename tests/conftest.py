"""Shared fixtures: real servers (session-scoped) and a leak check after every test."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.servers import (
    InfluxServer,
    MosquittoServer,
    ServerError,
    VictoriaMetricsServer,
)

pytest_plugins = ["pytester"]  # tests/test_fixtures_servers.py checks the leak checks below

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_SITE = REPO / "examples" / "campus" / "site.yaml"


def _started(server: MosquittoServer | InfluxServer | VictoriaMetricsServer) -> None:
    try:
        server.start()
    except ServerError as err:
        pytest.fail(str(err), pytrace=False)


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoServer]:
    """A real Mosquitto for the whole session; use a unique topic per test."""
    try:
        server = MosquittoServer(tmp_path_factory.mktemp("mosquitto"))
    except ServerError as err:
        pytest.fail(str(err), pytrace=False)
    _started(server)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def influxdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxServer]:
    """A real InfluxDB 1.x for the whole session; use a unique database per test."""
    try:
        server = InfluxServer(tmp_path_factory.mktemp("influxdb"))
    except ServerError as err:
        pytest.fail(str(err), pytrace=False)
    _started(server)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def victoria(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VictoriaMetricsServer]:
    """A real VictoriaMetrics accepting the InfluxDB v2 write API."""
    try:
        server = VictoriaMetricsServer(tmp_path_factory.mktemp("victoria"))
    except ServerError as err:
        pytest.fail(str(err), pytrace=False)
    _started(server)
    yield server
    server.stop()


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> str:
    """A name unique to this test, for topics and databases."""
    import re
    import uuid

    base = re.sub(r"[^A-Za-z0-9]+", "_", request.node.name)[:40]
    return f"t_{base}_{uuid.uuid4().hex[:8]}"


@pytest.fixture(autouse=True)
def _no_leaked_threads() -> Iterator[None]:
    """Every test ends with no stray threads (tasks are checked in ``_no_leaked_tasks``)."""
    before = set(threading.enumerate())
    yield
    deadline = 20  # tenths of a second for threads that are just finishing
    leaked: list[threading.Thread] = []
    for _ in range(deadline):
        leaked = [
            t
            for t in threading.enumerate()
            if t not in before and t.is_alive() and not t.daemon and not _loop_worker(t)
        ]
        if not leaked:
            break
        threading.Event().wait(0.1)
    assert not leaked, f"test leaked threads: {[t.name for t in leaked]}"


def _loop_worker(thread: threading.Thread) -> bool:
    """A worker of an event loop's default executor (``getaddrinfo``, ``to_thread``).

    The loop owns it and joins it when pytest-asyncio closes the loop, after this check.
    """
    return thread.name.startswith("asyncio_")


@pytest.fixture(autouse=True)
async def _no_leaked_tasks() -> AsyncIterator[None]:
    """Every test ends with no stray asyncio tasks: structured concurrency or it fails."""
    yield
    leaked: set[asyncio.Task[object]] = set()
    for _ in range(20):
        leaked = pending_tasks()
        if not leaked:
            return
        await asyncio.sleep(0.05)
    for task in leaked:
        task.cancel()
    pytest.fail(f"test leaked tasks: {sorted(t.get_name() for t in leaked)}")


def pending_tasks() -> set[asyncio.Task[object]]:
    """Tasks still running on the current loop other than the caller."""
    current = asyncio.current_task()
    return {t for t in asyncio.all_tasks() if t is not current and not t.done()}
