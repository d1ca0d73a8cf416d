"""The controller's event-loop choice (controller/eventloop.py)."""

from __future__ import annotations

import asyncio

import pytest

from controller.eventloop import LOOPS, LoopUnavailable, loop_factory, run, running_loop_name


async def _name() -> str:
    await asyncio.sleep(0.001)
    return running_loop_name()


def test_auto_runs_on_uvloop_where_it_is_installed() -> None:
    assert run(_name()) == "uvloop"
    assert run(_name(), "uvloop") == "uvloop"


def test_asyncio_runs_on_the_stock_loop() -> None:
    assert run(_name(), "asyncio") == "asyncio"
    assert loop_factory("asyncio") is None


def test_the_choices() -> None:
    assert LOOPS == ("auto", "uvloop", "asyncio")


def test_uvloop_insisted_on_but_missing_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "uvloop", None)  # makes the import fail
    with pytest.raises(LoopUnavailable, match="uvloop is not installed"):
        loop_factory("uvloop")
    assert loop_factory("auto") is None
