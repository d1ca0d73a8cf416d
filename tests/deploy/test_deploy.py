"""The deployment files: the compose stack validates and has no default secrets; the systemd
unit passes ``systemd-analyze verify``."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
COMPOSE = DEPLOY / "docker-compose.yml"
UNIT = DEPLOY / "sanjie.service"
INSTALLED = "/opt/sanjie/venv/bin/sanjie"


def _compose() -> list[str]:
    """``docker compose`` (v2) where it works, else Debian's docker-compose (v1.29)."""
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run(
            [docker, "compose", "version"], capture_output=True, check=False
        ).returncode
        == 0
    ):
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    if legacy is None:
        pytest.fail("no docker compose: apt-get install docker-compose (./run ensure_servers)")
    return [legacy]


def _env_file(tmp_path: Path, blank: bool) -> Path:
    lines = []
    for line in (DEPLOY / ".env.example").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            lines.append(f"{key}={'' if blank else value or 'not-a-real-secret'}")
    env = tmp_path / ".env"
    env.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return env


def _config(tmp_path: Path, env: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_compose(), "--env-file", str(env), "-f", str(COMPOSE), "config"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )


def test_compose_file_validates_with_the_operators_secrets(tmp_path: Path) -> None:
    done = _config(tmp_path, _env_file(tmp_path, blank=False))
    assert done.returncode == 0, done.stderr
    stack = yaml.safe_load(done.stdout)
    assert set(stack["services"]) == {
        "influxdb",
        "mosquitto",
        "victoriametrics",
        "grafana",
        "controller",
    }
    assert stack["services"]["grafana"]["environment"]["SANJIE_INFLUX_PASSWORD"] == (
        "not-a-real-secret"
    )
    assert "controller-data" in stack["volumes"]


def test_compose_file_has_no_default_passwords(tmp_path: Path) -> None:
    done = _config(tmp_path, _env_file(tmp_path, blank=True))
    assert done.returncode != 0
    assert "in .env" in done.stderr
    text = COMPOSE.read_text(encoding="utf-8")
    for line in text.splitlines():
        if "PASSWORD" in line and "${" in line:
            assert ":?" in line or line.strip().startswith(("SANJIE_", "GF_")), line


def test_mosquitto_keeps_messages_and_wants_passwords() -> None:
    conf = (DEPLOY / "mosquitto.conf").read_text(encoding="utf-8").split("\n")
    assert "allow_anonymous false" in conf
    assert "persistence true" in conf
    assert any(line.startswith("password_file ") for line in conf)


def test_systemd_unit_verifies(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.fail("no systemd-analyze: apt-get install systemd (./run ensure_servers)")
    text = UNIT.read_text(encoding="utf-8")
    assert INSTALLED in text
    assert "User=sanjie" in text
    assert "NoNewPrivileges=yes" in text
    # verify checks that ExecStart exists: point it at this checkout's installed entry point
    sanjie = Path(sys.executable).with_name("sanjie")
    unit = tmp_path / "sanjie.service"
    unit.write_text(text.replace(INSTALLED, str(sanjie)), encoding="utf-8")
    done = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60, check=False
    )
    problems = [line for line in done.stderr.splitlines() if "sanjie.service" in line]
    assert done.returncode == 0, done.stderr
    assert problems == [], problems
