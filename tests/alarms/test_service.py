"""``sanjie run`` with the site's alarm sections: a gateway nobody answers on becomes one bus
alarm that reaches a real local webhook, signed, and is in the API's one list."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from pathlib import Path

import pytest

from controller.accounts import Role
from controller.service import ServiceOptions, run_service, state_dir
from tests.auth_helpers import service_token
from tests.servers import free_port
from tests.test_service import _site

from .campus import wait_until
from .receivers import http_receiver, webhook_signed

pytestmark = pytest.mark.integration

SECRET = "svc-hook-secret-91"


def _get_json(url: str, headers: dict[str, str]) -> object:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=2) as reply:
        return json.loads(reply.read())


async def test_sanjie_run_raises_and_delivers_a_bus_alarm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SANJIE_T_SVC_SECRET", SECRET)
    with http_receiver() as rx:
        extra = f"""\
            alarms: {{grace_s: 1}}
            notify:
              channels:
                - id: hook
                  type: webhook
                  url: "{rx.url}/hook"
                  secret: !env SANJIE_T_SVC_SECRET
              routes:
                - {{channels: [hook]}}
            workorders: {{auto_kinds: [bus_down]}}
            """
        site_path = _site(tmp_path, free_port(), extra=extra)  # no gateway listens there
        api_port = free_port()
        options = ServiceOptions(site_path, tmp_path / "data", "127.0.0.1", api_port)
        token = service_token(options.data_dir, role=Role.VIEWER)
        stop = asyncio.Event()
        async with asyncio.TaskGroup() as group:
            service = group.create_task(run_service(options, stop), name="service")
            await wait_until(
                lambda: any(r.path == "/hook" and r.json()["key"] == "bus:gw-1" for r in rx.got),
                "the bus alarm at the webhook",
                limit=30,
            )
            listed = await asyncio.to_thread(
                _get_json, f"http://127.0.0.1:{api_port}/api/alarms", token
            )
            stop.set()
        controller = service.result()
    hook = next(r for r in rx.got if r.path == "/hook" and r.json()["key"] == "bus:gw-1")
    assert webhook_signed(hook, SECRET)
    assert SECRET not in hook.body.decode()
    assert isinstance(listed, dict)
    assert "bus:gw-1" in [a["key"] for a in listed["items"]]
    assert "alarms" in [c.name for c in controller.components]
    files = {p.name for p in state_dir(tmp_path / "data").iterdir()}
    assert {"alarms.sqlite3", "notify.sqlite3", "workorders.sqlite3"} <= files
