"""``sanjie policies SITE`` lists the declared policies and the units each one drives."""

from __future__ import annotations

from typer.testing import CliRunner

from controller.cli import app
from tests.conftest import EXAMPLE_SITE


def test_lists_the_example_campus_policies() -> None:
    result = CliRunner().invoke(app, ["policies", str(EXAMPLE_SITE)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "dorm-curfew" in result.output
    assert "canteen_hours" in result.output
    line = next(row for row in result.output.splitlines() if "dorm-curfew" in row)
    assert "240" in line  # one socket relay per room of the example campus
