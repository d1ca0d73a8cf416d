"""The ``sanjie`` command line: check-config, schema and gen-site, with meaningful exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from controller.cli import app
from controller.config.paths import builtin_dir
from controller.config.yamlsrc import load_yaml_file
from tests.conftest import EXAMPLE_SITE

runner = CliRunner()


def test_check_config_of_the_example_campus_prints_a_summary() -> None:
    result = runner.invoke(app, ["check-config", str(EXAMPLE_SITE)])
    assert result.exit_code == 0, result.output
    assert "4 buildings, 240 rooms, 20 links, 1044 devices, 12700 entities" in result.output
    assert "generic/dorm-prepaid-meter" in result.output
    assert "OK " in result.output


def test_check_config_of_a_broken_site_prints_every_error_and_exits_1(tmp_path: Path) -> None:
    site = tmp_path / "site.yaml"
    site.write_text(
        "campus: {id: t, name: {zh: 测试}}\n"
        "buildings: [{id: b1, kind: dorm, name: {zh: 楼}}]\n"
        "links: [{id: gw, type: modbus_tcp, host: 127.0.0.1}]\n"
        "devices:\n"
        "  - {id: m1, profile: eastron/sdm120, building: b1, link: gw, unit_id: 0}\n"
        "  - {id: m2, profile: eastron/sdm120, building: b2, link: gw, unit_id: 2}\n"
        "  - {id: m3, profile: eastron/sdm999, building: b1, link: gw, unit_id: 3}\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["check-config", str(site)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert f"{site}:5:72 devices[0].unit_id: must be 1–247" in lines
    assert f"{site}:6:49 devices[1].building: unknown building 'b2'" in lines
    assert any(
        line.startswith(f"{site}:7:23 devices[2].profile: unknown profile") for line in lines
    )
    assert f"3 error(s) in {site}" in lines


def test_check_config_of_a_missing_file(tmp_path: Path) -> None:
    result = runner.invoke(app, ["check-config", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 1
    assert "cannot read" in result.output


def test_usage_errors_exit_2() -> None:
    assert runner.invoke(app, ["check-config"]).exit_code == 2
    assert runner.invoke(app, ["no-such-command"]).exit_code == 2


def _plain(data: object) -> object:
    """YAML data as JSON sees it (dates become strings, as editors treat them)."""
    return json.loads(json.dumps(data, default=str))


def test_schema_writes_two_valid_json_schemas_that_accept_the_examples(tmp_path: Path) -> None:
    result = runner.invoke(app, ["schema", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    site_schema = json.loads((tmp_path / "site.schema.json").read_text(encoding="utf-8"))
    profile_schema = json.loads((tmp_path / "profile.schema.json").read_text(encoding="utf-8"))
    for schema in (site_schema, profile_schema):
        jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(_plain(load_yaml_file(EXAMPLE_SITE)), site_schema)
    for path in builtin_dir("profiles").rglob("*.yaml"):
        jsonschema.validate(
            _plain(yaml.safe_load(path.read_text(encoding="utf-8"))), profile_schema
        )
    # The schema knows the templates, so editors can complete them too.
    building = site_schema["$defs"]["Building"]["properties"]
    assert {"room_layout", "room_devices", "floor_devices"} <= set(building)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"campus": {"id": "x", "name": {"zh": "x"}}, "devise": []}, site_schema)


@pytest.mark.parametrize("extra", [[], ["--explicit"]])
def test_gen_site_output_passes_check_config(tmp_path: Path, extra: list[str]) -> None:
    out = tmp_path / "campus"
    result = runner.invoke(app, ["gen-site", "--rooms", "130", "--out", str(out), *extra])
    assert result.exit_code == 0, result.output
    check = runner.invoke(app, ["check-config", str(out / "site.yaml")])
    assert check.exit_code == 0, check.output
    # Two dorms (120 + 10 rooms), the canteen and the bathhouse; 11 Modbus and MQTT links,
    # one DL/T 645 floor bus and three CJ/T 188 hot-water meter buses.
    assert "4 buildings, 130 rooms, 15 links, 599 devices" in check.output


def test_gen_site_removes_stale_device_files(tmp_path: Path) -> None:
    assert runner.invoke(app, ["gen-site", "--rooms", "300", "--out", str(tmp_path)]).exit_code == 0
    assert (tmp_path / "devices" / "dorm-3.yaml").exists()
    assert runner.invoke(app, ["gen-site", "--rooms", "100", "--out", str(tmp_path)]).exit_code == 0
    assert not (tmp_path / "devices" / "dorm-3.yaml").exists()
    assert runner.invoke(app, ["check-config", str(tmp_path / "site.yaml")]).exit_code == 0


def test_run_refuses_an_invalid_site_and_a_bad_log_level(tmp_path: Path) -> None:
    site = tmp_path / "site.yaml"
    site.write_text("campus: {id: t}\n", encoding="utf-8")
    result = runner.invoke(app, ["run", str(site), "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert f"{site}:1:9 campus.name: required field is missing" in result.output
    assert not (tmp_path / "var").exists()
    assert runner.invoke(app, ["run", str(EXAMPLE_SITE), "--log-level", "loud"]).exit_code == 2


def test_python_dash_m_controller_runs_the_command_of_this_tree() -> None:
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-m", "controller", "--version"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("sanjie ")


@pytest.mark.integration
def test_emulate_serves_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    """`sanjie emulate` under kill/systemd: SIGTERM closes its servers and local broker, exit 0."""
    import signal
    import subprocess
    import sys
    import time

    sanjie = Path(sys.executable).with_name("sanjie")
    log = tmp_path / "emulate.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(sanjie), "emulate", str(EXAMPLE_SITE), "--free-ports"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while "Ctrl-C stops" not in log.read_text() and time.monotonic() < deadline:
                assert proc.poll() is None, log.read_text()
                time.sleep(0.1)
            text = log.read_text()
            assert "981 devices on 15 gateways" in text
            # one dorm floor on DL/T 645 (20 rooms and its lighting), three CJ/T 188 meters
            assert "24 DL/T 645 and CJ/T 188 meters on 4 buses" in text
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0, log.read_text()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
