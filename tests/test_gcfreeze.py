"""What the components make once started is frozen again after ``refreeze_after_s``, so the
collector's full passes stop walking it (they held the event loop for up to seconds)."""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path

from controller.app import Controller
from controller.config import load_site
from controller.core import FakeClock
from tests.api.test_api import SITE


class _Kept:
    """Something a component keeps for good, made after start (a series key, a memory)."""


async def test_objects_made_after_start_are_frozen_again(tmp_path: Path) -> None:
    site_file = tmp_path / "site.yaml"
    site_file.write_text(SITE, encoding="utf-8")
    ctrl = Controller(load_site(site_file), FakeClock(1_780_000_000), refreeze_after_s=(0.05,))
    async with ctrl.running():
        kept = [_Kept() for _ in range(1000)]  # made after the first freeze
        assert any(o.__class__ is _Kept for o in gc.get_objects())
        for _ in range(100):
            await asyncio.sleep(0.02)
            if not any(o.__class__ is _Kept for o in gc.get_objects()):
                break
        assert not any(o.__class__ is _Kept for o in gc.get_objects()), "not frozen"
        assert len(kept) == 1000
    assert any(o.__class__ is _Kept for o in gc.get_objects())  # unfrozen when stopped
