"""Runs the API with uvicorn inside the controller's TaskGroup."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Generator
from typing import Any

import uvicorn

from controller.accounts import AccountStore
from controller.app import Controller
from controller.web import LiveHub

from .app import create_api
from .limits import DEFAULT_MAX_BODY, DEFAULT_TIMEOUT

__all__ = ["ApiServer"]

_LOGGER = logging.getLogger(__name__)


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its own signal handling: the controller process owns Ctrl-C."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class ApiServer:
    """A Component serving the API on ``host:port`` until cancelled."""

    name = "api"

    def __init__(
        self,
        ctrl: Controller,
        host: str = "127.0.0.1",
        port: int = 8123,
        *,
        accounts: AccountStore | None = None,
        live: LiveHub | None = None,
        max_body: int = DEFAULT_MAX_BODY,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.host = host
        self.port = port
        self.accounts = accounts
        config = uvicorn.Config(
            create_api(ctrl, accounts=accounts, live=live, max_body=max_body, timeout=timeout),
            host=host,
            port=port,
            log_level="warning",
            lifespan="off",
            access_log=False,
        )
        self._server = _EmbeddedServer(config)

    async def run(self) -> None:
        serving = asyncio.create_task(self._server.serve(), name="api-uvicorn")
        try:
            await asyncio.shield(serving)
        finally:
            self._server.should_exit = True
            await serving
            _LOGGER.info("API on %s:%d stopped", self.host, self.port)

    @property
    def started(self) -> bool:
        return bool(self._server.started)

    def status(self) -> dict[str, Any]:
        return {"url": f"http://{self.host}:{self.port}", "started": self.started}
