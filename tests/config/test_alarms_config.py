"""The alarms/notify/workorders sections: defaults, ``!env`` secrets, positioned errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from controller.redaction import site_secrets
from tests.config.sites import issues_of, loads

SiteWith = Callable[[str], Path]

DEVICES = """\
- {id: dorm-1.101.elec, profile: eastron/sdm120, building: dorm-1, room: "101", link: gw-1,
   unit_id: 1}
"""
# the site head is 12 lines, "devices:" line 13, the device lines 14-15: sections start at 16
ALARMS = """\
alarms:
  grace_s: 60
  rules:
    - {id: hot, entity: dorm-1.101.elec.power, above: 1500, hysteresis: 100, for_s: 30}
notify:
  channels:
    - {id: ops, type: webhook, url: "http://127.0.0.1:9/hook", secret: !env SANJIE_T_HOOK}
    - {id: ding, type: dingtalk, url: "https://oapi.dingtalk.com/robot/send?access_token=x"}
    - id: mail
      type: email
      host: smtp.example.edu.cn
      sender: alarms@example.edu.cn
      to: [duty@example.edu.cn]
      username: alarms
      password: !env SANJIE_T_SMTP
  routes:
    - {channels: [ops, ding], min_severity: warning}
  quiet_hours: {start: "23:00", end: "07:00"}
  escalation: {after_s: 1800, channels: [mail]}
workorders:
  sla_s: {water: 14400}
  auto_kinds: [bus_down]
"""


def _site(site_with: SiteWith, sections: str) -> Path:
    path = site_with(DEVICES)
    path.write_text(path.read_text(encoding="utf-8") + sections, encoding="utf-8")
    return path


def test_sections_load_with_env_secrets(
    site_with: SiteWith, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SANJIE_T_HOOK", "hook-secret-123")
    monkeypatch.setenv("SANJIE_T_SMTP", "smtp-password-456")
    site = loads(_site(site_with, ALARMS))
    assert site.alarms.grace_s == 60
    assert site.alarms.rules[0].above == 1500
    assert [c.id for c in site.notify.channels] == ["ops", "ding", "mail"]
    assert site.workorders is not None
    assert site.workorders.sla_s == {"water": 14400}
    # the secrets are what the redaction table masks in every log line
    assert {"hook-secret-123", "smtp-password-456"} <= site_secrets(site.notify)


def test_a_site_without_the_sections_has_defaults(site_with: SiteWith) -> None:
    site = loads(site_with(DEVICES))
    assert site.alarms.grace_s == 120
    assert site.notify.channels == []
    assert site.workorders is None


def test_field_errors_point_at_file_line_column(site_with: SiteWith) -> None:
    path = _site(
        site_with,
        """\
alarms:
  rules:
    - {id: r2, entity: dorm-1.101.elec.power}
notify:
  channels:
    - {id: ops, type: webhook, url: "ftp://x"}
    - {id: bot, type: wecom, url: "https://qyapi.weixin.qq.com/x", secret: s}
  quiet_hours: {start: "25:00", end: "07:00"}
""",
    )
    assert issues_of(path) == [
        f"{path}:18:7 alarms.rules[0]: give exactly one of below or above",
        f"{path}:21:37 notify.channels[0].url: an http:// or https:// URL",
        f"{path}:22:7 notify.channels[1].wecom: a WeCom robot has no signing secret "
        "(its key is in the URL)",
        f"{path}:23:24 notify.quiet_hours.start: a local time HH:MM",
    ]


def test_references_point_at_file_line_column(site_with: SiteWith) -> None:
    path = _site(
        site_with,
        """\
alarms:
  rules:
    - {id: r1, entity: dorm-9.x.power, below: 5}
    - {id: r1, entity: dorm-1.101.elec.power, below: 5}
notify:
  channels:
    - {id: ops, type: webhook, url: "http://127.0.0.1:9/"}
  routes:
    - {channels: [ops, nobody]}
  escalation: {after_s: 60, channels: [gone]}
""",
    )
    assert issues_of(path) == [
        f"{path}:18:24 alarms.rules[0].entity: no device 'dorm-9.x' in this site",
        f"{path}:19:12 alarms.rules[1].id: duplicate rule id 'r1'",
        f"{path}:24:24 notify.routes[0].channels[1]: unknown channel 'nobody'",
        f"{path}:25:40 notify.escalation.channels[0]: unknown channel 'gone'",
    ]


def test_a_missing_env_secret_names_the_variable(
    site_with: SiteWith, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SANJIE_T_NOPE", raising=False)
    path = _site(
        site_with,
        "notify:\n  channels:\n"
        '    - {id: ops, type: webhook, url: "http://h/", secret: !env SANJIE_T_NOPE}\n',
    )
    (issue,) = issues_of(path)
    assert "environment variable SANJIE_T_NOPE is not set" in issue
    assert issue.startswith(f"{path}:18:")
