"""The API served by uvicorn inside the controller's TaskGroup, stopped with it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from controller.api import ApiServer
from controller.app import Controller
from controller.config import load_site
from tests.servers import free_port

from .test_api import SITE


async def test_served_and_stopped_with_the_controller(tmp_path: Path) -> None:
    site_file = tmp_path / "site.yaml"
    site_file.write_text(SITE, encoding="utf-8")
    ctrl = Controller(load_site(site_file))
    port = free_port()
    server = ApiServer(ctrl, port=port)
    ctrl.add(server)
    async with ctrl.running(), httpx.AsyncClient() as client:
        for _ in range(100):
            if server.started:
                break
            await asyncio.sleep(0.02)
        reply = await client.get(f"http://127.0.0.1:{port}/api/health")
        assert reply.json()["ok"] is True
        assert ctrl.status()["api"]["started"] is True
    async with httpx.AsyncClient() as client:
        try:
            await client.get(f"http://127.0.0.1:{port}/api/health", timeout=1)
            still_up = True
        except httpx.ConnectError:
            still_up = False
    assert not still_up
