"""Hostile site files: deep nesting and arbitrary bytes end in a positioned message, never a
traceback (issue 11, defect 4)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controller.config import ConfigError, load_site
from controller.config.yamlsrc import MAX_DEPTH, YamlSourceError, load_yaml


def test_five_thousand_nested_mappings_are_a_positioned_error(tmp_path: Path) -> None:
    site = tmp_path / "site.yaml"
    site.write_text("campus: " + "{a: " * 5000 + "1" + "}" * 5000 + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_site(site)
    (issue,) = info.value.issues
    assert issue.position is not None
    assert issue.position.line == 1
    assert f"nested more than {MAX_DEPTH} levels deep" in str(issue)


def test_deep_sequences_are_refused_too() -> None:
    with pytest.raises(YamlSourceError, match=r"x\.yaml:1:\d+ nested more than"):
        load_yaml("- " * 3000 + "1", "x.yaml")


def test_nesting_up_to_the_limit_loads() -> None:
    depth = MAX_DEPTH
    data = load_yaml("{a: " * depth + "1" + "}" * depth, "x.yaml")
    for _ in range(depth):
        data = data["a"]
    assert data == 1


_YAMLISH = st.lists(
    st.sampled_from([*"{}[]:-,&*!|>'\"#%@` \n\tab01.\\", "!include ", "<<", "campus", "  "]),
    max_size=120,
).map("".join)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=st.binary(max_size=400) | _YAMLISH.map(lambda t: t.encode()))
def test_any_bytes_end_in_a_positioned_config_error(tmp_path: Path, raw: bytes) -> None:
    site = tmp_path / "site.yaml"
    site.write_bytes(raw)
    with pytest.raises(ConfigError) as info:  # no campus can come out of these bytes
        load_site(site)
    assert info.value.issues
    assert all(issue.position is not None or issue.path for issue in info.value.issues)
    assert all(issue.message for issue in info.value.issues)
