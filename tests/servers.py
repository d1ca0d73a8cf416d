"""Real servers for integration tests: Mosquitto, InfluxDB 1.x and VictoriaMetrics.

Each runs from Debian's binary on a free loopback port with its own temp dir and config,
and is stopped afterwards. A missing binary is a failure that says how to install it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from pathlib import Path

__all__ = [
    "InfluxServer",
    "MosquittoServer",
    "ServerError",
    "VictoriaMetricsServer",
    "free_port",
]


class ServerError(RuntimeError):
    """A test server is missing or did not start."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def find_binary(name: str, package: str, extra: tuple[str, ...] = ()) -> str:
    found = shutil.which(name) or next((p for p in extra if os.access(p, os.X_OK)), None)
    if not found:
        raise ServerError(
            f"{name} is not installed: run `apt-get install {package}` (./run test does this)"
        )
    return found


def _port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
        return True
    return False


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=0.5) as reply:
            return bool(reply.status < 300)
    except (urllib.error.URLError, OSError):
        return False


class _Process(ABC):
    """A server subprocess with a log file, started and stopped on demand."""

    name = "server"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / f"{self.name}.log"

    @abstractmethod
    def command(self) -> list[str]:
        """The server's command line."""

    def ready(self) -> bool:
        return _port_open(self.port)

    def start(self, timeout: float = 30.0) -> None:
        if self.proc is not None and self.proc.poll() is None:
            return
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerError(f"{self.name} exited at start-up:\n{self.tail()}")
            if self.ready():
                return
            time.sleep(0.05)
        self.stop()
        raise ServerError(
            f"{self.name} not ready on port {self.port} in {timeout}s:\n{self.tail()}"
        )

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


class MosquittoServer(_Process):
    """Mosquitto 2 with persistence (so QoS 1 sessions survive a restart)."""

    name = "mosquitto"

    def __init__(self, workdir: Path, extra_config: str = "", allow_anonymous: bool = True) -> None:
        super().__init__(workdir)
        self.binary = find_binary("mosquitto", "mosquitto", ("/usr/sbin/mosquitto",))
        self.config_path = workdir / "mosquitto.conf"
        self.config_path.write_text(
            f"listener {self.port} 127.0.0.1\n"
            f"allow_anonymous {'true' if allow_anonymous else 'false'}\n"
            "persistence true\n"
            # As root, mosquitto drops to the 'mosquitto' user, which cannot write our temp dir.
            "user root\n"
            f"persistence_location {workdir}/\n"
            "autosave_interval 1\n"
            "max_queued_messages 100000\n"
            "log_dest stdout\n"
            f"{extra_config}\n"
        )

    def command(self) -> list[str]:
        return [self.binary, "-c", str(self.config_path)]

    def add_user(self, username: str, password: str) -> Path:
        """Create a password file with one user; pass ``password_file`` in extra_config."""
        passwd = find_binary("mosquitto_passwd", "mosquitto", ("/usr/bin/mosquitto_passwd",))
        path = self.workdir / "passwd"
        subprocess.run(
            [passwd, "-b", "-c", str(path), username, password], check=True, capture_output=True
        )
        path.chmod(0o600)
        return path


class InfluxServer(_Process):
    """InfluxDB 1.x (Debian's ``influxdb``) with HTTP on a free port."""

    name = "influxd"

    def __init__(self, workdir: Path, *, auth: bool = False) -> None:
        """``auth``: refuse unauthenticated requests (create the first admin with ``query``)."""
        super().__init__(workdir)
        self.binary = find_binary("influxd", "influxdb")
        self.rpc_port = free_port()
        self.config_path = workdir / "influxdb.conf"
        self.config_path.write_text(
            "reporting-disabled = true\n"
            f'bind-address = "127.0.0.1:{self.rpc_port}"\n'
            f'[meta]\n  dir = "{workdir}/meta"\n  logging-enabled = false\n'
            f'[data]\n  dir = "{workdir}/data"\n  wal-dir = "{workdir}/wal"\n'
            '  query-log-enabled = false\n  wal-fsync-delay = "0s"\n'
            f'[http]\n  bind-address = "127.0.0.1:{self.port}"\n  log-enabled = false\n'
            "  max-body-size = 0\n"
            f"  auth-enabled = {'true' if auth else 'false'}\n"
            "[monitor]\n  store-enabled = false\n"
            "[subscriber]\n  enabled = false\n"
            "[continuous_queries]\n  enabled = false\n"
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [self.binary, "-config", str(self.config_path)]

    def ready(self) -> bool:
        return _http_ok(f"{self.url}/ping")

    def query(
        self, q: str, db: str | None = None, auth: tuple[str, str] | None = None
    ) -> dict[str, object]:
        """Run InfluxQL and return the decoded JSON answer."""
        import base64
        import json
        import urllib.parse

        params = {"q": q, "epoch": "ns"}
        if db:
            params["db"] = db
        data = urllib.parse.urlencode(params).encode()
        request = urllib.request.Request(f"{self.url}/query", data=data)
        if auth:
            basic = base64.b64encode(":".join(auth).encode()).decode()
            request.add_header("Authorization", f"Basic {basic}")
        with urllib.request.urlopen(request, timeout=30) as reply:
            result: dict[str, object] = json.loads(reply.read())
            return result


class VictoriaMetricsServer(_Process):
    """VictoriaMetrics: a real server that accepts InfluxDB's ``/api/v2/write``."""

    name = "victoria-metrics"

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir)
        self.binary = find_binary("victoria-metrics", "victoria-metrics")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [
            self.binary,
            f"-httpListenAddr=127.0.0.1:{self.port}",
            f"-storageDataPath={self.workdir}/data",
            "-retentionPeriod=100y",
            "-search.latencyOffset=0s",
        ]

    def ready(self) -> bool:
        return _http_ok(f"{self.url}/health")
