"""Configuration errors that point at the exact place in the exact file."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from .yamlsrc import Located, Position

__all__ = ["ConfigError", "ConfigIssue", "issues_from_validation"]


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem: ``site.yaml:41:7 devices[12].unit_id: must be 1–247``."""

    position: Position | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.position} " if self.position else ""
        field = f"{self.path}: " if self.path else ""
        return f"{where}{field}{self.message}"


class ConfigError(Exception):
    """The configuration is invalid; ``issues`` lists every problem found."""

    def __init__(self, issues: Sequence[ConfigIssue]) -> None:
        self.issues = list(issues)
        count = len(self.issues)
        lines = "\n".join(f"  {issue}" for issue in self.issues)
        super().__init__(f"{count} configuration error{'s' if count != 1 else ''}:\n{lines}")


def format_path(parts: Iterable[str | int]) -> str:
    """``("devices", 12, "unit_id")`` → ``devices[12].unit_id``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def locate(data: Any, loc: Sequence[str | int]) -> tuple[Position | None, list[str | int]]:
    """Walk ``loc`` through the raw YAML data: the deepest known position and the real path.

    Pydantic's ``loc`` also holds union tags and validator names that are not keys of the data;
    those are skipped, so the path printed is the one the user sees in the file.
    """
    position = data.position if isinstance(data, Located) else None
    path: list[str | int] = []
    node = data
    for part in loc:
        if (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        ):
            if isinstance(node, Located):
                position = node.position_of(part)
            node = node[part]
            path.append(part)
        elif isinstance(node, dict) and isinstance(part, str) and part == loc[-1]:
            path.append(part)  # a missing or extra field: point at its container
        elif isinstance(node, dict | list):
            continue  # a union tag or function name from pydantic
        else:
            break
    return position, path


def _message(error: Any) -> str:
    msg = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    if error["type"] == "extra_forbidden":
        return "unknown field (check the spelling)"
    if error["type"] == "missing":
        return "required field is missing"
    return msg


def issues_from_validation(
    err: ValidationError, data: Any, prefix: Sequence[str | int] = ()
) -> list[ConfigIssue]:
    """Turn a pydantic error about ``data`` into issues with file positions."""
    issues = []
    for error in err.errors():
        position, path = locate(data, error["loc"])
        issues.append(ConfigIssue(position, format_path([*prefix, *path]), _message(error)))
    return issues
