"""Fixtures of the browser tests: one headless Chromium (Debian's, via Playwright) for the whole
session, and a fresh browser context per page (``harness.new_page``) closed after each test.

Starting Playwright's driver and Chromium cost about 2 s per test on the shared 2-core machine
(16 browser tests); a test only needs its own cookies and storage, which a context gives it.
The browser tests therefore run on pytest-asyncio's session loop (``harness.SESSION_LOOP``),
where the session's Chromium lives; their campus fixtures run there too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from playwright.async_api import Browser

from .harness import chromium


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def _session_chromium() -> AsyncIterator[Browser]:
    async with chromium() as b:
        yield b


@pytest_asyncio.fixture(loop_scope="session")
async def browser(_session_chromium: Browser) -> AsyncIterator[Browser]:
    """The session's Chromium; every context a test opened is closed after it."""
    yield _session_chromium
    for context in list(_session_chromium.contexts):
        await context.close()
