"""YAML with positions: the fast event-based builder, ``!include``, and exact error places."""

from __future__ import annotations

import datetime as dt
import math
import textwrap
from pathlib import Path

import pytest
import yaml

from controller.config.yamlsrc import (
    LocatedDict,
    LocatedList,
    Position,
    YamlSourceError,
    load_yaml,
    load_yaml_file,
)

REPO = Path(__file__).resolve().parents[2]


def write(base: Path, name: str, text: str) -> Path:
    path = base / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def error_of(path: Path) -> str:
    with pytest.raises(YamlSourceError) as info:
        load_yaml_file(path)
    return str(info.value)


def test_positions_of_keys_values_and_items() -> None:
    data = load_yaml(
        textwrap.dedent(
            """\
            campus:
              id: demo
              name: {zh: 示范, en: Demo}
            devices:
              - id: a
                unit_id: 300
              - {id: b, unit_id: 2}
            """
        ),
        "site.yaml",
    )
    assert isinstance(data, LocatedDict)
    assert data.position == Position("site.yaml", 1, 1)
    assert str(data["campus"].position_of("id")) == "site.yaml:2:7"
    # Columns count characters, not bytes or display width.
    assert str(data["campus"]["name"].position_of("en")) == "site.yaml:3:22"
    devices = data["devices"]
    assert isinstance(devices, LocatedList)
    assert str(devices.position_of(1)) == "site.yaml:7:5"
    assert str(devices[0].position_of("unit_id")) == "site.yaml:6:14"
    assert str(devices[0].key_position_of("unit_id")) == "site.yaml:6:5"
    # Unknown keys and indexes fall back to the container's own position.
    assert devices[0].position_of("nope") == devices[0].position
    assert devices.position_of(9) == devices.position


SCALARS = """\
- ~
- null
- ""
- yes
- No
- on
- OFF
- true
- 0x1F
- 0o17
- 017
- 1_000
- -42
- +7
- 1.5e3
- 3.25
- .inf
- -.Inf
- 2026-09-01
- 2001-12-14t21:59:43.10-05:00
- "12"
- '~'
- !!str 12
- !!int "7"
- !!float "2"
- 190:20:30
- <<x
- 0.5.1
- dorm-1.101.elec
- 学生公寓
- '0x10'
"""


def test_scalars_are_typed_like_safe_load() -> None:
    ours = load_yaml(SCALARS)
    assert ours == yaml.safe_load(SCALARS)
    assert [type(v) for v in ours] == [type(v) for v in yaml.safe_load(SCALARS)]
    assert (ours[3], ours[8], ours[18]) == (True, 31, dt.date(2026, 9, 1))


def test_nan_is_typed_like_safe_load() -> None:
    value = load_yaml("[.nan, .NaN]")
    assert all(isinstance(v, float) and math.isnan(v) for v in value)


def test_anchors_aliases_and_merge_keys() -> None:
    data = load_yaml(
        textwrap.dedent(
            """\
            base: &modbus {table: holding, type: float32, order: ABCD}
            other: &more {scale: 10}
            voltage:
              <<: *modbus
              address: 0
              type: uint16
            power:
              <<: [*more, *modbus, {scale: 99, offset: 1}]
            list: &l [1, 2]
            again: *l
            """
        )
    )
    assert data["voltage"] == {"table": "holding", "type": "uint16", "order": "ABCD", "address": 0}
    # Explicit keys win, then earlier merge sources.
    assert data["power"] == {
        "scale": 10,
        "table": "holding",
        "type": "float32",
        "order": "ABCD",
        "offset": 1,
    }
    assert data["again"] is data["list"]
    # A merged key points at where it was written: in the anchored mapping.
    assert data["voltage"].position_of("order").line == 1


def test_include_of_a_file_keeps_that_files_positions(tmp_path: Path) -> None:
    write(tmp_path, "links.yaml", "- id: gw-1\n  port: 502\n")
    site = write(tmp_path, "site.yaml", "campus: x\nlinks: !include links.yaml\n")
    data = load_yaml_file(site)
    assert data["links"] == [{"id": "gw-1", "port": 502}]
    assert data["links"][0].position_of("port") == Position(str(tmp_path / "links.yaml"), 2, 9)
    # The value of ``links`` is written in site.yaml: the include itself.
    assert data.position_of("links") == Position(str(site), 2, 8)


def test_glob_include_splices_lists_in_file_order(tmp_path: Path) -> None:
    write(tmp_path, "devices/b.yaml", "- {id: b1}\n- {id: b2}\n")
    write(tmp_path, "devices/a.yaml", "- {id: a1}\n")
    write(tmp_path, "devices/empty.yaml", "# nothing here yet\n")
    site = write(
        tmp_path,
        "site.yaml",
        """
        devices:
          - {id: first}
          - !include devices/*.yaml
          - {id: last}
        all: !include devices/*.yaml
        """,
    )
    data = load_yaml_file(site)
    assert [d["id"] for d in data["devices"]] == ["first", "a1", "b1", "b2", "last"]
    assert [d["id"] for d in data["all"]] == ["a1", "b1", "b2"]
    devices = data["devices"]
    assert devices.position_of(1) == Position(str(tmp_path / "devices/a.yaml"), 1, 3)
    assert devices.position_of(3) == Position(str(tmp_path / "devices/b.yaml"), 2, 3)
    assert devices.position_of(4) == Position(str(site), 4, 5)
    assert data["all"].position_of(2).file == str(tmp_path / "devices/b.yaml")


def test_include_cycle_names_the_chain(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "b: !include b.yaml\n")
    write(tmp_path, "b.yaml", "a: !include a.yaml\n")
    message = error_of(tmp_path / "a.yaml")
    b = tmp_path / "b.yaml"
    a = tmp_path / "a.yaml"
    assert message == f"{b}:1:4 !include cycle: {a} → {b} → {a}"


def test_missing_include_points_at_the_include(tmp_path: Path) -> None:
    site = write(tmp_path, "site.yaml", "campus: x\nlinks: !include nope.yaml\n")
    message = error_of(site)
    assert message.startswith(f"{site}:2:8 cannot read {tmp_path / 'nope.yaml'}: ")
    assert "No such file" in message


def test_glob_include_that_matches_nothing(tmp_path: Path) -> None:
    site = write(tmp_path, "site.yaml", "devices: !include devices/*.yaml\n")
    assert error_of(site) == f"{site}:1:10 !include 'devices/*.yaml' matches no file"


def test_glob_include_of_a_mapping_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "d/x.yaml", "id: x\n")
    site = write(tmp_path, "site.yaml", "devices: !include d/*.yaml\n")
    assert error_of(site) == (
        f"{site}:1:10 a glob !include needs each file to hold a list: {tmp_path / 'd/x.yaml'} "
        "does not"
    )


def test_duplicate_key_points_at_the_second_one(tmp_path: Path) -> None:
    site = write(tmp_path, "site.yaml", "campus:\n  id: a\n  name: x\n  id: b\n")
    assert error_of(site) == f"{site}:4:3 duplicate key 'id'"


def test_duplicate_key_in_an_included_file_names_that_file(tmp_path: Path) -> None:
    inc = write(tmp_path, "inc.yaml", "- {id: a, id: b}\n")
    site = write(tmp_path, "site.yaml", "devices: !include inc.yaml\n")
    assert error_of(site) == f"{inc}:1:11 duplicate key 'id'"


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("a: [1, 2\nb: 3\n", "2:2", "YAML syntax: did not find expected ',' or ']'"),
        ("a: 1\n  b: 2\n", "2:4", "YAML syntax: mapping values are not allowed in this context"),
        ("a: *nope\n", "1:4", "unknown alias *nope (anchors must come first)"),
        ("a: !secret x\n", "1:4", "unknown tag !secret"),
        ("a: 1\n---\nb: 2\n", "2:1", "expected a single document in the file"),
        ("? [1, 2]\n: x\n", "1:3", "mapping keys must be plain values"),
        (
            "a: !!int abc\n",
            "1:4",
            "bad scalar 'abc': invalid literal for int() with base 10: 'abc'",
        ),
    ],
)
def test_syntax_and_structure_errors_have_positions(
    tmp_path: Path, text: str, where: str, message: str
) -> None:
    site = write(tmp_path, "bad.yaml", text)
    assert error_of(site) == f"{site}:{where} {message}"


def test_not_utf8(tmp_path: Path) -> None:
    site = tmp_path / "latin1.yaml"
    site.write_bytes("name: caf\xe9\n".encode("latin-1"))
    assert error_of(site).startswith(f"{site}:1:1 {site} is not UTF-8")


def test_empty_document_is_none() -> None:
    assert load_yaml("") is None
    assert load_yaml("# only a comment\n") is None


SHIPPED = sorted(
    path
    for path in [*REPO.glob("profiles/**/*.yaml"), *REPO.glob("examples/campus/**/*.yaml")]
    if "!include" not in path.read_text(encoding="utf-8")  # safe_load cannot read those
)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(REPO)))
def test_shipped_yaml_reads_the_same_as_safe_load(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert load_yaml(text, str(path)) == yaml.safe_load(text)


def test_env_tag_reads_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from controller.config.yamlsrc import YamlSourceError, load_yaml_file

    path = tmp_path / "s.yaml"
    path.write_text("password: !env SANJIE_TEST_SECRET\n", encoding="utf-8")
    monkeypatch.setenv("SANJIE_TEST_SECRET", "s3cret")
    assert load_yaml_file(path) == {"password": "s3cret"}
    monkeypatch.delenv("SANJIE_TEST_SECRET")
    with pytest.raises(YamlSourceError) as info:
        load_yaml_file(path)
    assert str(info.value) == f"{path}:1:11 environment variable SANJIE_TEST_SECRET is not set"
