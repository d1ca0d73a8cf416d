"""Log lines for journald and shippers: one per event, level first, no secrets."""

from __future__ import annotations

import logging

import pytest

from controller.logs import OneLineFormatter, configure_logging, redact


def _record(message: str, level: int = logging.WARNING, exc: bool = False) -> logging.LogRecord:
    info = None
    if exc:
        try:
            raise ValueError("bad\nvalue")
        except ValueError:
            import sys

            info = sys.exc_info()
    return logging.LogRecord("controller.recorder", level, __file__, 1, message, (), info)


def test_an_event_with_a_traceback_is_one_line_with_its_priority() -> None:
    line = OneLineFormatter(journald=True).format(_record("write failed", exc=True))
    assert "\n" not in line
    assert line.startswith("<4>WARNING controller.recorder: write failed | Traceback")
    assert "ValueError: bad | value" in line


def test_without_journald_lines_start_with_a_timestamp() -> None:
    line = OneLineFormatter(journald=False).format(_record("ok", logging.INFO))
    stamp, rest = line.split(" ", 1)
    assert len(stamp) >= 28
    assert stamp[10] == "T"
    assert rest == "INFO controller.recorder: ok"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (
            "POST http://db:8086/write?db=s&u=w&p=hunter2 204",
            "POST http://db:8086/write?db=s&u=w&p=*** 204",
        ),
        ("mqtt://sanjie:hunter2@broker:1883", "mqtt://sanjie:***@broker:1883"),
        ("login password=hunter2, retrying", "login password=***, retrying"),
        ("token=abc.def done", "token=*** done"),
        ("nothing secret here: p95=3 ms", "nothing secret here: p95=3 ms"),
    ],
)
def test_secrets_are_masked(text: str, shown: str) -> None:
    assert redact(text) == shown
    assert "hunter2" not in OneLineFormatter(journald=True).format(_record(text))


def test_http_request_lines_are_not_logged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOURNAL_STREAM", "8:1234")
    configure_logging("info")
    try:
        assert not logging.getLogger("httpx").isEnabledFor(logging.INFO)
        assert logging.getLogger("controller").isEnabledFor(logging.INFO)
        handler = logging.getLogger().handlers[0]
        assert isinstance(handler.formatter, OneLineFormatter)
        assert handler.formatter.journald
    finally:
        logging.getLogger().handlers.clear()
        for name in ("httpx", "httpcore"):
            logging.getLogger(name).setLevel(logging.NOTSET)
