"""The issue's "done when", on the emulated example campus with real local receivers.

The bathhouse gateway (Modbus TCP, its meters, valves and the hot-water heat meter) is
emulated on the wire; notifications go to a real HTTP server shaped as a webhook, a WeCom and a
DingTalk robot, and to a real SMTP server (aiosmtpd) with a login. Secrets come through
``!env`` in the site file, as a deployment would give them.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from controller.alarms import AlarmRecord
from controller.alarms.notify.outbox import Delivery
from emulators.modbus import SiteEmulator
from emulators.modbus.inject import inject

from .campus import (
    BATH,
    HOT_WATER,
    SMTP_PASSWORD,
    SMTP_USER,
    Inbox,
    Running,
    ShiftedClock,
    bath_devices,
    example_site,
    running_controller,
    smtp_server,
    wait_until,
)
from .receivers import HttpReceiver, dingtalk_signed, http_receiver, webhook_signed

HOOK_SECRET = "hook-hmac-Zr81"
DING_SECRET = "SEC-ding-44Kp"
BUS_KEY = f"bus:{BATH}"
RULE = "hot-water-low"
ROBOTS = ("/hook", "/cgi-bin", "/robot")  # the webhook, WeCom- and DingTalk-shaped paths


def _sections(rx: str, smtp_port: int, *, quiet: bool = False) -> str:
    quiet_hours = '  quiet_hours: {start: "23:00", end: "07:00", breakthrough: critical}\n'
    return f"""
alarms:
  grace_s: 30
  rules:
    - {{id: {RULE}, entity: {HOT_WATER}.supply_temperature, below: 55, hysteresis: 2,
       for_s: 60}}
notify:
  retry_s: 1
  channels:
    - {{id: hook, type: webhook, url: "{rx}/hook", secret: !env SANJIE_T_HOOK_SECRET}}
    - {{id: wecom, type: wecom, url: "{rx}/cgi-bin/webhook/send?key=wecom-key-123"}}
    - id: ding
      type: dingtalk
      url: "{rx}/robot/send?access_token=ding-token-456"
      secret: !env SANJIE_T_DING_SECRET
    - id: mail
      type: email
      host: 127.0.0.1
      port: {smtp_port}
      starttls: false
      sender: sanjie@campus.example
      to: [duty@campus.example]
      username: {SMTP_USER}
      password: !env SANJIE_T_SMTP_PASSWORD
  routes:
    - {{channels: [hook, wecom, ding, mail], min_severity: warning}}
  escalation: {{after_s: 600, channels: [mail]}}
{quiet_hours if quiet else ""}workorders:
  auto_kinds: [bus_down]
"""


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANJIE_T_HOOK_SECRET", HOOK_SECRET)
    monkeypatch.setenv("SANJIE_T_DING_SECRET", DING_SECRET)
    monkeypatch.setenv("SANJIE_T_SMTP_PASSWORD", SMTP_PASSWORD)


def _posts(rx: HttpReceiver, where: str, change: str, about: str = BATH) -> list[dict[str, Any]]:
    """Messages of ``change`` about ``about`` (a key's target) one receiver path got; the
    robots' by their text (head and target), the webhook's by its JSON."""
    out = []
    for got in rx.got:
        if not got.path.startswith(where):
            continue
        body = got.json()
        if where == "/hook":
            if body["change"] == change and about in body["key"]:
                out.append(body)
        else:
            head = {"raised": "[告警]", "cleared": "[恢复]", "escalated": "[升级]"}[change]
            text = body["text"]["content"]
            if text.startswith(head) and about in text:
                out.append(body)
    return out


def _mails(inbox: Inbox, change: str, about: str = BATH) -> list[dict[str, Any]]:
    bodies = [json.loads(m.get_content()) for m in inbox.mails]
    return [b for b in bodies if b["change"] == change and about in b["key"]]


def _plant_alarms(run: Running) -> list[AlarmRecord]:
    """Active alarms but the provisional-calendar one, which depends on today's date."""
    return [a for a in run.alarms.manager.active() if a.kind != "calendar_provisional"]


def _pending(run: Running, key: str) -> list[Delivery]:
    outbox = run.alarms.outbox
    assert outbox is not None
    return [d for d in outbox.deliveries("pending") if d.message.get("key") == key]


def _all_up(run: Running, devices: list[str]) -> bool:
    return all(run.controller.states.is_available(d) for d in devices)


def _all_down(run: Running, devices: list[str]) -> bool:
    return not any(run.controller.states.is_available(d) for d in devices)


async def _bus_alarm_raised(run: Running, clock: ShiftedClock, devices: list[str]) -> None:
    await wait_until(lambda: _all_down(run, devices), "every bathhouse device offline")
    clock.shift(31)  # past the 30 s grace
    await wait_until(lambda: run.alarms.manager.get(BUS_KEY) is not None, "the bus alarm")


async def test_gateway_down_one_alarm_signed_everywhere_survives_a_restart_and_clears(
    tmp_path: Path,
) -> None:
    clock = ShiftedClock()
    state = tmp_path / "var"
    async with smtp_server() as (inbox, smtp_port):
        with http_receiver() as rx:
            site = example_site(tmp_path, _sections(rx.url, smtp_port))
            devices = bath_devices(site)
            async with SiteEmulator(site, clock, free_ports=True, links=[BATH]) as emu:
                # first life: the gateway stops; every receiver is down when the alarm is raised
                async with running_controller(site, emu, state, clock) as run:
                    await wait_until(lambda: _all_up(run, devices), "the bathhouse online")
                    rx.fail_next, inbox.fail = 10_000, True
                    inject(emu, f"{BATH}:refuse")
                    await _bus_alarm_raised(run, clock, devices)
                    await wait_until(
                        lambda: (
                            len(_pending(run, BUS_KEY)) == 4
                            and all(d.attempts >= 1 for d in _pending(run, BUS_KEY))
                        ),
                        "four failed first attempts",
                    )
                    active = _plant_alarms(run)
                    assert [a.key for a in active] == [BUS_KEY]  # one alarm, not one per device
                    assert active[0].evidence["devices"] == devices
                # second life, same files: receivers are back, the gateway is still down
                rx.fail_next, inbox.fail = 0, False
                async with running_controller(site, emu, state, clock) as run:
                    clock.shift(300)  # the retry is due (its backoff grew in the first life)
                    await wait_until(
                        lambda: (
                            len(_posts(rx, "/hook", "raised")) == 1
                            and len(_posts(rx, "/cgi-bin", "raised")) == 1
                            and len(_posts(rx, "/robot", "raised")) == 1
                            and len(_mails(inbox, "raised")) == 1
                        ),
                        "the raise delivered once to each receiver",
                    )
                    hook = next(r for r in rx.got if r.path == "/hook")
                    assert webhook_signed(hook, HOOK_SECRET)
                    assert hook.json()["key"] == BUS_KEY
                    assert hook.json()["message_en"].startswith(f"bus {BATH}: no device answers")
                    assert all(
                        dingtalk_signed(r, DING_SECRET)
                        for r in rx.got
                        if r.path.startswith("/robot")
                    )
                    orders = run.alarms.workorders.store.list()
                    assert [o.alarm_key for o in orders] == [BUS_KEY]  # opened once, not twice
                    # recovery clears the alarm and tells everyone, once
                    inject(emu, f"{BATH}:clear")
                    await wait_until(
                        lambda: (
                            len(_posts(rx, "/hook", "cleared")) == 1
                            and len(_posts(rx, "/cgi-bin", "cleared")) == 1
                            and len(_posts(rx, "/robot", "cleared")) == 1
                            and len(_mails(inbox, "cleared")) == 1
                        ),
                        "the clear delivered to each receiver",
                    )
                    assert _plant_alarms(run) == []
                    # and the audit log has both, as it has every alarm
                    await wait_until(
                        lambda: bool(run.audit.query(action="alarm.clear", target=BUS_KEY)),
                        "the clear in the audit log",
                    )
                    assert run.audit.query(action="alarm.raise", target=BUS_KEY)
    # the raise went out exactly once per channel over both lives
    assert len(_posts(rx, "/hook", "raised")) == 1
    assert len(_mails(inbox, "raised")) == 1


async def test_a_bus_whose_devices_are_all_silent_says_so_and_is_one_alarm(
    tmp_path: Path,
) -> None:
    clock = ShiftedClock()
    site = example_site(tmp_path, "alarms: {grace_s: 30}\n")
    devices = bath_devices(site)
    async with (
        SiteEmulator(site, clock, free_ports=True, links=[BATH]) as emu,
        running_controller(site, emu, tmp_path / "var", clock) as run,
    ):
        await wait_until(lambda: _all_up(run, devices), "the bathhouse online")
        for device in devices:  # the RS-485 side is cut: TCP still answers
            inject(emu, f"{device}:no_reply")
        await _bus_alarm_raised(run, clock, devices)
        line = run.modbus.status()["buses"][BATH]
        assert line["state"] == "connected (no device answers)"
        assert [a.key for a in _plant_alarms(run)] == [BUS_KEY]


def _at_local(clock: ShiftedClock, hour: int, minute: int = 0) -> None:
    """Move ``clock`` forward to the next ``hour:minute`` local time."""
    now = clock.now()
    target = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if target <= now:
        target += dt.timedelta(days=1)
    clock.shift((target - now).total_seconds())


def _hot_water(run: Running, supply_c: float) -> None:
    run.meter_emulator.devices[HOT_WATER].bound.model.supply_c = supply_c


def _supply(run: Running) -> float | None:
    value = run.controller.states.value(f"{HOT_WATER}.supply_temperature")
    return None if value is None else float(value)


async def test_quiet_hours_hold_a_warning_not_a_critical_and_escalation_fires(
    tmp_path: Path,
) -> None:
    clock = ShiftedClock()
    _at_local(clock, 23, 30)
    async with smtp_server() as (inbox, smtp_port):
        with http_receiver() as rx:
            site = example_site(tmp_path, _sections(rx.url, smtp_port, quiet=True))
            devices = bath_devices(site)
            async with (
                SiteEmulator(site, clock, free_ports=True, links=[BATH]) as emu,
                running_controller(site, emu, tmp_path / "var", clock) as run,
            ):
                await wait_until(lambda: _all_up(run, devices), "the bathhouse online")
                # a warning at night: the heater fails, the rule raises, nobody is woken
                _hot_water(run, 48.0)
                await wait_until(lambda: (_supply(run) or 99) < 55, "water below 55 °C")
                clock.shift(61)
                await wait_until(
                    lambda: run.alarms.manager.get(f"rule:{RULE}") is not None, "rule alarm"
                )
                # a critical at night: the gateway stops; it breaks through at once
                inject(emu, f"{BATH}:refuse")
                await _bus_alarm_raised(run, clock, devices)
                await wait_until(
                    lambda: (
                        all(len(_posts(rx, w, "raised")) == 1 for w in ROBOTS)
                        and len(_mails(inbox, "raised")) == 1
                    ),
                    "the critical sent on every channel",
                )
                assert _posts(rx, "/hook", "raised")[0]["key"] == BUS_KEY
                held = _pending(run, f"rule:{RULE}")
                assert len(held) == 4  # queued for 07:00 on every channel
                # the inbox has the mail a moment before the outbox records it sent; a held
                # critical would stay pending until 07:00 and time this out
                await wait_until(
                    lambda: _pending(run, BUS_KEY) == [], "the critical's deliveries recorded"
                )
                # nobody acknowledged the bus alarm in 10 minutes: the duty mail escalates;
                # the acknowledged rule alarm does not
                run.alarms.ack(f"rule:{RULE}", "王丽 (wangli)")
                clock.shift(601)
                await wait_until(lambda: len(_mails(inbox, "escalated")) == 1, "escalation")
                assert _mails(inbox, "escalated")[0]["key"] == BUS_KEY
                # after quiet hours the held warning goes out
                _at_local(clock, 7, 1)
                await wait_until(
                    lambda: bool(_posts(rx, "/hook", "raised", about=RULE)),
                    "the held warning sent at 07:00",
                )
                assert len(_mails(inbox, "escalated")) == 1  # once, not every tick


async def test_threshold_rule_on_hot_water_raises_and_clears_with_hysteresis(
    tmp_path: Path,
) -> None:
    clock = ShiftedClock()
    sections = (
        "alarms:\n  rules:\n"
        f"    - {{id: {RULE}, entity: {HOT_WATER}.supply_temperature, below: 55,"
        " hysteresis: 2, for_s: 1800}\n"
    )
    site = example_site(tmp_path, sections)
    async with (
        SiteEmulator(site, clock, free_ports=True, links=[BATH]) as emu,
        running_controller(site, emu, tmp_path / "var", clock) as run,
    ):
        key = f"rule:{RULE}"
        manager = run.alarms.manager
        await wait_until(lambda: (_supply(run) or 0) > 55, "hot water at its normal 58 °C")
        _hot_water(run, 48.0)
        await wait_until(lambda: (_supply(run) or 99) < 55, "water below 55 °C")
        clock.shift(1000)  # below, but not yet for 30 minutes
        await wait_until(lambda: (_supply(run) or 99) < 55, "a later reading below 55 °C")
        assert manager.get(key) is None
        clock.shift(801)
        await wait_until(lambda: manager.get(key) is not None, "the rule alarm")
        # back just over the threshold but inside the hysteresis band: still raised
        _hot_water(run, 55.8)  # readings 54.3-57.3 °C: never the 57 °C that clears
        await wait_until(lambda: 55 <= (_supply(run) or 0) < 57, "water at 55-57 °C")
        assert manager.get(key).active  # type: ignore[union-attr]
        _hot_water(run, 61.0)  # readings 59.5-62.5 °C
        await wait_until(lambda: not manager.get(key).active, "the clear")  # type: ignore[union-attr]
        cleared = manager.get(key)
        assert cleared is not None
        assert cleared.cleared_at is not None
