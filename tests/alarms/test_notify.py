"""Notifications to real local receivers: signatures, durability across a restart, quiet hours,
escalation. The fake clock drives time; the HTTP and SMTP servers are real sockets."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from controller.alarms import AlarmManager, AlarmStore
from controller.alarms.notify import (
    Channel,
    DingTalkChannel,
    Notifier,
    Outbox,
    QuietHours,
    Route,
    WebhookChannel,
    WeComChannel,
    redact_url,
)
from controller.alarms.notify.router import Escalation
from controller.core import FakeClock
from controller.core.events import AvailabilityChanged

from .receivers import HttpReceiver, dingtalk_signed, http_receiver, webhook_signed

BUSES = {"gw-1": ["m1", "m2"]}
SECRET = "s3cret-hmac"
DING_SECRET = "SECdingding"
NOON = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def _setup(
    tmp: Path, clock: FakeClock, rx: HttpReceiver, **kw: object
) -> tuple[AlarmManager, Notifier]:
    channels: dict[str, Channel] = {
        "hook": WebhookChannel("hook", f"{rx.url}/hook", SECRET),
        "wecom": WeComChannel("wecom", f"{rx.url}/wecom?key=abc"),
        "ding": DingTalkChannel("ding", f"{rx.url}/ding?access_token=t", DING_SECRET, clock=clock),
    }
    manager = AlarmManager(AlarmStore(tmp / "alarms.db"), clock, buses=BUSES, grace_s=60)
    notifier = Notifier(
        Outbox(tmp / "outbox.db", clock),
        channels,
        clock,
        [Route(("hook", "wecom", "ding"))],
        **kw,  # type: ignore[arg-type]
    )
    manager.listeners.append(notifier)
    return manager, notifier


def _gateway_down(m: AlarmManager, clock: FakeClock) -> None:
    for dev in BUSES["gw-1"]:
        m.handle(AvailabilityChanged(dev, False, clock.time()))
    clock.set(clock.time() + 61)
    m.tick()


def test_gateway_down_reaches_every_receiver_signed_then_recovery(tmp_path: Path) -> None:
    clock = FakeClock(NOON)
    with http_receiver() as rx:
        m, n = _setup(tmp_path, clock, rx)
        _gateway_down(m, clock)
        assert n.deliver() == 3
        by_path = {r.path.split("?")[0]: r for r in rx.got}
        hook = by_path["/hook"]
        body = hook.json()
        assert body["key"] == "bus:gw-1"
        assert body["change"] == "raised"
        assert webhook_signed(hook, SECRET)
        assert by_path["/wecom"].json()["msgtype"] == "text"
        ding = next(r for r in rx.got if r.path.startswith("/ding"))
        assert dingtalk_signed(ding, DING_SECRET)
        m.handle(AvailabilityChanged("m1", True, clock.time()))
        assert n.deliver() == 3
        assert [r.json()["change"] for r in rx.got if r.path == "/hook"] == ["raised", "cleared"]


def test_restart_between_raise_and_delivery_neither_loses_nor_repeats(tmp_path: Path) -> None:
    clock = FakeClock(NOON)
    with http_receiver() as rx:
        m, n = _setup(tmp_path, clock, rx)
        _gateway_down(m, clock)
        m.store.close()
        n.outbox.close()  # the controller stops before anything was sent
        m2, n2 = _setup(tmp_path, clock, rx)
        m2.tick()  # the bus is still down after the restart: same alarm, not raised again
        m2.raise_(
            "bus:gw-1",
            kind="bus_down",
            severity="critical",
            scope="bus",
            target="gw-1",
            message_en="again",
        )
        assert n2.deliver() == 3
        assert n2.deliver() == 0
        assert len([r for r in rx.got if r.path == "/hook"]) == 1


def test_failed_attempts_are_recorded_and_retried_with_backoff(tmp_path: Path) -> None:
    clock = FakeClock(NOON)
    with http_receiver() as rx:
        m, n = _setup(tmp_path, clock, rx)
        rx.fail_next = 3
        _gateway_down(m, clock)
        assert n.deliver() == 0
        pending = n.outbox.deliveries("pending")
        assert len(pending) == 3
        assert all(d.attempts == 1 for d in pending)
        assert n.deliver() == 0  # not due yet: backoff
        clock.set(clock.time() + 31)
        assert n.deliver() == 3
        assert [ok for _, ok, _ in n.outbox.attempts(pending[0].id)] == [False, True]


def test_quiet_hours_hold_a_warning_but_not_a_critical(tmp_path: Path) -> None:
    night = NOON.replace(hour=23)
    clock = FakeClock(night)
    with http_receiver() as rx:
        quiet = QuietHours.parse("22:00", "07:00", "critical")
        m, n = _setup(tmp_path, clock, rx, quiet=quiet)
        m.raise_("w", kind="x", severity="warning", scope="site", target="s", message_en="warn")
        m.raise_("c", kind="x", severity="critical", scope="site", target="s", message_en="crit")
        n.deliver()
        assert {r.json()["key"] for r in rx.got if r.path == "/hook"} == {"c"}
        clock.set(night.replace(hour=7) + dt.timedelta(days=1))
        n.deliver()
        assert {r.json()["key"] for r in rx.got if r.path == "/hook"} == {"c", "w"}


def test_escalation_fires_once_when_nobody_acknowledges(tmp_path: Path) -> None:
    clock = FakeClock(NOON)
    with http_receiver() as rx:
        esc = Escalation(after_s=900, channels=("hook",))
        m, n = _setup(tmp_path, clock, rx, escalation=esc)
        m.raise_("a", kind="x", severity="warning", scope="site", target="s", message_en="x")
        m.raise_("b", kind="x", severity="warning", scope="site", target="s", message_en="y")
        m.ack("b", actor="li.na")
        clock.set(clock.time() + 901)
        n.check(m)
        n.check(m)
        n.deliver()
        escalated = [r.json()["key"] for r in rx.got if r.json().get("change") == "escalated"]
        assert escalated == ["a"]


def test_logged_urls_lose_their_query() -> None:
    url = "https://oapi.dingtalk.com/robot/send?access_token=T&timestamp=1&sign=abc"
    assert redact_url(url) == "https://oapi.dingtalk.com/robot/send"


def test_the_daily_digest_goes_once_after_its_hour(tmp_path: Path) -> None:
    clock = FakeClock(NOON.replace(hour=7))
    with http_receiver() as rx:
        m, n = _setup(tmp_path, clock, rx, digest_channels=("hook",), digest_hour=8)
        m.raise_("a", kind="x", severity="warning", scope="site", target="s", message_en="x")
        n.check(m)
        n.deliver()
        assert [r.json()["change"] for r in rx.got if r.path == "/hook"] == ["raised"]
        clock.set(NOON.replace(hour=8, minute=5))
        n.check(m)
        n.check(m)
        n.deliver()
        digests = [r.json() for r in rx.got if r.path == "/hook" and r.json()["change"] == "digest"]
        assert len(digests) == 1
        assert [a["key"] for a in digests[0]["alarms"]] == ["a"]


def test_deliveries_done_long_ago_are_pruned(tmp_path: Path) -> None:
    clock = FakeClock(NOON)
    with http_receiver() as rx:
        m, n = _setup(tmp_path, clock, rx)
        _gateway_down(m, clock)
        assert n.deliver() == 3
        clock.set(clock.time() + 91 * 86400)
        n.deliver()
        assert n.outbox.deliveries() == []
