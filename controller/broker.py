"""A local MQTT broker for the demo and trials: no set-up when the site names no broker.

Prefers the ``mosquitto`` binary (started on a loopback port with its own temporary folder
and configuration); without it, runs amqtt's broker inside this process. amqtt speaks MQTT
3.1.1 only, so ``LocalBroker.protocol`` tells clients which version to use.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import socket
import sys
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from controller.config import LoadedSite
from controller.config.site import MqttLink

__all__ = ["BrokerStartError", "LocalBroker", "find_mosquitto", "local_broker", "site_brokers"]

_LOGGER = logging.getLogger(__name__)

BrokerKind = Literal["mosquitto", "amqtt"]


class BrokerStartError(OSError):
    """The local broker did not come up; ``log`` holds its last output lines."""

    def __init__(self, kind: str, reason: str, log: str = "") -> None:
        super().__init__(f"{kind} broker did not start: {reason}" + (f"\n{log}" if log else ""))
        self.kind = kind
        self.reason = reason
        self.log = log


@dataclass(frozen=True)
class LocalBroker:
    """Where the local broker listens and what it is."""

    host: str
    port: int
    kind: BrokerKind
    protocol: Literal["5", "3.1.1"]

    def __str__(self) -> str:
        return f"{self.kind} on {self.host}:{self.port} (MQTT {self.protocol})"


def find_mosquitto() -> str | None:
    """The mosquitto binary (Debian installs it in /usr/sbin, often not on PATH)."""
    found = shutil.which("mosquitto")
    if found:
        return found
    return "/usr/sbin/mosquitto" if os.access("/usr/sbin/mosquitto", os.X_OK) else None


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


async def _listening(host: str, port: int) -> bool:
    """Poll until something accepts connections on ``host:port`` (bound by the caller)."""
    while True:
        try:
            _, writer = await asyncio.open_connection(host, port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return True


async def _wait_listening(host: str, port: int, within: float) -> bool:
    try:
        async with asyncio.timeout(within):
            return await _listening(host, port)
    except TimeoutError:
        return False


@contextlib.asynccontextmanager
async def local_broker(
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    prefer: BrokerKind | None = None,
    start_timeout: float = 10.0,
    mosquitto_config: str = "",
) -> AsyncIterator[LocalBroker]:
    """Run a broker while the block runs: mosquitto if installed (or ``prefer``), else amqtt.

    ``mosquitto_config`` adds lines to mosquitto's configuration (benchmarks raise limits).
    """
    port = port or _free_port(host)
    binary = find_mosquitto()
    kind: BrokerKind = prefer or ("mosquitto" if binary else "amqtt")
    if kind == "mosquitto":
        if binary is None:
            raise BrokerStartError("mosquitto", "not installed (apt-get install mosquitto)")
        async with _mosquitto(binary, host, port, start_timeout, mosquitto_config) as broker:
            yield broker
    else:
        async with _amqtt(host, port, start_timeout) as broker:
            yield broker


def _dies_with_us(*command: str) -> tuple[str, ...]:
    """``command`` so that the kernel stops it when this process dies, even by SIGKILL.

    A ``finally`` cannot run after SIGKILL, and a broker left behind keeps its port. Linux's
    parent-death signal does it; ``setpriv`` (util-linux, essential on Debian) sets it and then
    execs the command, so no Python runs between fork and exec (``preexec_fn`` is unsafe with
    threads). The signal follows the thread that forked: the event loop's, which lives as long
    as the broker should. Without ``setpriv`` the command runs as it is.
    """
    setpriv = shutil.which("setpriv") if sys.platform == "linux" else None
    if setpriv is None:
        return command
    return (setpriv, "--pdeathsig", "TERM", "--", *command)


@contextlib.asynccontextmanager
async def _mosquitto(
    binary: str, host: str, port: int, start_timeout: float, extra: str
) -> AsyncIterator[LocalBroker]:
    with tempfile.TemporaryDirectory(prefix="sanjie-mosquitto-") as folder:
        config = Path(folder) / "mosquitto.conf"
        log_path = Path(folder) / "mosquitto.log"
        lines = [
            f"listener {port} {host}",
            "allow_anonymous true",
            "persistence false",
            "max_queued_messages 1000000",
            "log_dest stdout",
        ]
        if os.geteuid() == 0:
            lines.append("user root")  # else it drops to a user who cannot read our folder
        config.write_text("\n".join(lines) + "\n" + extra + "\n")
        with log_path.open("wb") as log:
            process = await asyncio.create_subprocess_exec(
                *_dies_with_us(binary, "-c", str(config)),
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
            )
        try:
            if not await _wait_listening(host, port, start_timeout):
                raise BrokerStartError(
                    "mosquitto", f"not listening on {host}:{port}", _tail(log_path)
                )
            broker = LocalBroker(host, port, "mosquitto", "5")
            _LOGGER.info("Started %s", broker)
            yield broker
        finally:
            if process.returncode is None:
                process.terminate()
                try:
                    async with asyncio.timeout(5):
                        await process.wait()
                except TimeoutError:
                    process.kill()
                    await process.wait()


@contextlib.asynccontextmanager
async def _amqtt(host: str, port: int, start_timeout: float) -> AsyncIterator[LocalBroker]:
    from amqtt.broker import Broker

    config: dict[str, Any] = {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }
    broker = Broker(config)
    try:
        await broker.start()
    except Exception as err:
        raise BrokerStartError("amqtt", str(err)) from err
    try:
        if not await _wait_listening(host, port, start_timeout):
            raise BrokerStartError("amqtt", f"not listening on {host}:{port}")
        local = LocalBroker(host, port, "amqtt", "3.1.1")
        _LOGGER.info("Started %s", local)
        yield local
    finally:
        await broker.shutdown()


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


async def site_brokers(
    site: LoadedSite, stack: contextlib.AsyncExitStack, *, free_ports: bool = False
) -> dict[str, tuple[str, int]]:
    """Link id → broker address for a site's MQTT links that have devices.

    A link that names a host uses it; one that does not gets a local broker (on the link's
    port, or a free one), kept running until ``stack`` closes.
    """
    used = {d.link for d in site.devices.values()}
    out: dict[str, tuple[str, int]] = {}
    for link in site.links.values():
        if not isinstance(link, MqttLink) or link.id not in used:
            continue
        if link.host:
            out[link.id] = (link.host, link.port)
            continue
        broker = await stack.enter_async_context(
            local_broker(port=None if free_ports else link.port)
        )
        _LOGGER.warning("MQTT link %s names no broker: started %s", link.id, broker)
        out[link.id] = (broker.host, broker.port)
    return out
