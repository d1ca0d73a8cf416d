"""A local MQTT broker for the demo and trials: no set-up when the site names no broker.

``site_brokers`` is the one rule for a link without a host, shared by ``sanjie emulate`` and
``sanjie run`` so that both meet on the same broker: a broker on this machine at the link's
port, the one already listening there or one started there for as long as sanjie runs.

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
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from controller.config import LoadedSite
from controller.config.site import MqttLink
from drivers.mqtt.probe import answers_mqtt

__all__ = [
    "BrokerPortTaken",
    "BrokerStartError",
    "LinkBroker",
    "LocalBroker",
    "find_mosquitto",
    "local_broker",
    "site_brokers",
]

_LOGGER = logging.getLogger(__name__)

BrokerKind = Literal["mosquitto", "amqtt"]
Protocol = Literal["5", "3.1.1"]


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
    protocol: Protocol

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
            listening = await _wait_listening(host, port, start_timeout)
            if not listening or process.returncode is not None:  # exited: someone else listens
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


@dataclass(frozen=True)
class LinkBroker:
    """Where an MQTT link's clients connect and which MQTT version they speak there.

    ``started`` is the broker sanjie started for the link (None: the site names the host, or
    a broker was already listening on the link's port).
    """

    host: str
    port: int
    protocol: Protocol
    started: LocalBroker | None = None


class BrokerPortTaken(OSError):
    """A hostless link's port is held by something that does not answer as an MQTT broker."""


def _configured_protocol(link: MqttLink) -> Protocol | None:
    """The version the site file sets for ``link``, None when it leaves the default."""
    return link.protocol if "protocol" in link.model_fields_set else None


async def site_brokers(
    site: LoadedSite,
    stack: contextlib.AsyncExitStack,
    *,
    free_ports: bool = False,
    links: Iterable[MqttLink] | None = None,
) -> dict[str, LinkBroker]:
    """Link id → broker for ``links`` (default: the site's MQTT links that have devices).

    The rule ``sanjie emulate`` and ``sanjie run`` share, so that the two meet: a link that
    names a host uses it; one that does not means a broker on this machine at the link's port.
    An MQTT broker already listening there is used (spoken to in the link's configured
    version, else MQTT 5); a free port gets a broker started there and kept until ``stack``
    closes; a port held by anything else raises ``BrokerPortTaken``. ``free_ports`` (the demo,
    tests) starts a private broker on a free port instead. Links sharing a port share a broker.
    """
    if links is None:
        used = {d.link for d in site.devices.values()}
        links = [
            link for link in site.links.values() if isinstance(link, MqttLink) and link.id in used
        ]
    out: dict[str, LinkBroker] = {}
    local: dict[int, LinkBroker] = {}  # link port → the broker serving it on this machine
    for link in links:
        if link.host:
            out[link.id] = LinkBroker(link.host, link.port, link.protocol)
            continue
        if link.port not in local:
            local[link.port] = await _local_for(link, stack, free_port=free_ports)
        out[link.id] = local[link.port]
    return out


async def _local_for(
    link: MqttLink, stack: contextlib.AsyncExitStack, *, free_port: bool
) -> LinkBroker:
    """The broker on this machine that serves hostless ``link`` (see ``site_brokers``)."""
    host = "127.0.0.1"
    configured = _configured_protocol(link)
    if not free_port:
        found = await answers_mqtt(host, link.port)
        if found is False:
            raise BrokerPortTaken(
                f"MQTT link {link.id} names no host, so it means a broker on this machine at "
                f"port {link.port}, but what listens on {host}:{link.port} is not an MQTT "
                "broker (free the port, or set the link's host or port)"
            )
        if found:
            protocol: Protocol = configured or "5"
            how = "configured" if configured else "default"
            _LOGGER.warning(
                "MQTT link %s names no broker: using the one already listening on %s:%d "
                "(MQTT %s, the %s version)",
                link.id,
                host,
                link.port,
                protocol,
                how,
            )
            return LinkBroker(host, link.port, protocol)
    broker = await stack.enter_async_context(
        local_broker(host=host, port=None if free_port else link.port)
    )
    protocol = "3.1.1" if broker.protocol == "3.1.1" else configured or broker.protocol
    _LOGGER.warning(
        "MQTT link %s names no broker: started %s, kept while sanjie runs (clients speak MQTT %s)",
        link.id,
        broker,
        protocol,
    )
    return LinkBroker(broker.host, broker.port, protocol, broker)
