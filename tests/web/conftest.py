"""Fixtures of the browser tests: one headless Chromium per test (Debian's, via Playwright)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser

from .harness import chromium


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as b:
        yield b
