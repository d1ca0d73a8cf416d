"""Policy declarations: typed, validated, and reported with file:line:col."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pydantic import ValidationError

from controller.config import ConfigError, load_site
from controller.config.policies import CurfewPolicy, QuotaPolicy, Window, policy_adapter


def _site_with_policies(site_dir: Path, tmp_path: Path, policies_yaml: str) -> Path:
    target = tmp_path / "site"
    shutil.copytree(site_dir, target)
    (target / "policies.yaml").write_text(policies_yaml, encoding="utf-8")
    return target / "site.yaml"


def _issues(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as err:
        load_site(path)
    return [str(issue) for issue in err.value.issues]


def test_valid_policies_load_typed(site_dir: Path, tmp_path: Path) -> None:
    path = _site_with_policies(
        site_dir,
        tmp_path,
        "- id: night\n"
        "  type: curfew\n"
        "  windows: [{start: 23:00, end: '05:50', days: {include: [workday]}, days_of: end}]\n"
        "- {id: q, type: quota, resource: electricity, per_bed: 8, action: cut}\n",
    )
    site = load_site(path)
    curfew, quota = site.policies
    assert isinstance(curfew, CurfewPolicy)
    assert curfew.windows[0].start == 23 * 3600  # unquoted 23:00 is YAML's 1380 minutes
    assert curfew.windows[0].end == 5 * 3600 + 50 * 60
    assert isinstance(quota, QuotaPolicy)
    assert quota.per_bed == 8


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("- {id: x, type: curfew_typo, windows: []}", "policies.yaml:1:"),
        (
            "- {id: x, type: curfew, windows: [{start: '25:00', end: '05:50'}]}",
            "policies[0].windows[0].start",
        ),
        (
            "- {id: x, type: quota, resource: water, per_bed: 1, per_room: 2}",
            "exactly one of per_bed and per_room",
        ),
        ("- {id: x, type: overload}", "a power limit"),
        (
            "- {id: x, type: leak, threshold_lpm: 0.5, duration_min: 30, bogus: 1}",
            "policies[0].bogus",
        ),
        (
            "- {id: x, type: curfew, windows: [{start: '06:00', end: '06:00'}]}",
            "start and end are equal",
        ),
    ],
)
def test_invalid_policies_are_positioned(
    site_dir: Path, tmp_path: Path, policy: str, expected: str
) -> None:
    issues = _issues(_site_with_policies(site_dir, tmp_path, policy + "\n"))
    assert any(expected in issue for issue in issues), issues
    assert all("policies.yaml:1:" in issue for issue in issues), issues


def test_unknown_places_in_a_scope_are_positioned(site_dir: Path, tmp_path: Path) -> None:
    path = _site_with_policies(
        site_dir,
        tmp_path,
        "- id: x\n"
        "  type: ac_limits\n"
        "  scope:\n"
        "    buildings: [dorm-9]\n"
        "    rooms: [dorm-1/999]\n"
        "    exclude: {devices: [nope]}\n",
    )
    issues = _issues(path)
    assert any("policies.yaml:4:" in i and "unknown building 'dorm-9'" in i for i in issues), issues
    assert any("policies.yaml:5:" in i and "has no room '999'" in i for i in issues), issues
    assert any("scope.exclude.devices[0]: unknown device 'nope'" in i for i in issues), issues


def test_unknown_places_in_ac_exempt_scopes_are_positioned(site_dir: Path, tmp_path: Path) -> None:
    path = _site_with_policies(
        site_dir,
        tmp_path,
        "- id: x\n"
        "  type: ac_limits\n"
        "  exempt:\n"
        "    - {tags: [clinic]}\n"
        "    - {rooms: [dorm-1/999]}\n",
    )
    issues = _issues(path)
    assert any("policies.yaml:5:" in i and "exempt[1].rooms[0]" in i for i in issues), issues
    empty = _site_with_policies(
        site_dir, tmp_path / "empty", "- {id: x, type: ac_limits, exempt: [{}]}\n"
    )
    assert any("would exempt every unit" in i for i in _issues(empty))


def test_round_trip_through_json_keeps_times() -> None:
    adapter = policy_adapter()
    policy = adapter.validate_python(
        {"id": "n", "type": "curfew", "windows": [{"start": "23:00:30", "end": "24:00"}]}
    )
    data = adapter.dump_python(policy, mode="json")
    assert data["windows"][0]["start"] == "23:00:30"
    assert data["windows"][0]["end"] == "24:00"
    assert adapter.validate_python(data) == policy


def test_midnight_as_an_end_means_the_end_of_the_day() -> None:
    window = Window.model_validate({"start": "18:00", "end": "00:00"})
    assert window.end == 24 * 3600
    assert not window.crosses_midnight
    with pytest.raises(ValidationError, match="in quotes"):
        Window.model_validate({"start": 45000, "end": "13:00"})  # YAML's unquoted 12:30:00
