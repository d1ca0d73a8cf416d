"""Configuration errors that point at the exact place in the exact file."""

from __future__ import annotations

import contextlib
import difflib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from .common import PATTERN_HELP, StrictModel
from .yamlsrc import Located, LocatedDict, Position

__all__ = [
    "ConfigError",
    "ConfigIssue",
    "error_message",
    "format_path",
    "issues_from_validation",
    "locate",
]


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


def locate(
    data: Any, loc: Sequence[str | int], *, at_key: bool = False
) -> tuple[Position | None, list[str | int]]:
    """Walk ``loc`` through the raw YAML data: the deepest known position and the real path.

    Pydantic's ``loc`` also holds union tags and validator names that are not keys of the data;
    those are skipped, so the path printed is the one the user sees in the file. With
    ``at_key`` the last step points at the key itself (an unknown field) rather than its value.
    """
    position = data.position if isinstance(data, Located) else None
    path: list[str | int] = []
    node = data
    last = len(loc) - 1
    for i, part in enumerate(loc):
        if isinstance(node, dict) and part in node:
            if at_key and i == last and isinstance(node, LocatedDict):
                position = node.key_position_of(part)
            elif isinstance(node, Located):
                position = node.position_of(part)
            node = node[part]
            path.append(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            if isinstance(node, Located):
                position = node.position_of(part)
            node = node[part]
            path.append(part)
        elif isinstance(node, dict) and isinstance(part, str) and i == last:
            path.append(part)  # a missing field: point at its container
        elif isinstance(node, dict | list):
            continue  # a union tag or function name from pydantic
        else:
            break
    return position, path


def _field_names() -> tuple[str, ...]:
    """Every field name of every config model, for "did you mean" hints.

    Not cached: policy models are imported on first use, and typos are rare.
    """
    names: set[str] = set()
    todo: list[type[StrictModel]] = [StrictModel]
    while todo:
        model = todo.pop()
        names.update(model.model_fields)
        todo.extend(model.__subclasses__())
    return tuple(sorted(names))


def _unknown_field(error: Any, ctx: dict[str, Any]) -> str:
    key = str(error["loc"][-1]) if error["loc"] else ""
    close = difflib.get_close_matches(key, _field_names(), n=1, cutoff=0.75)
    return f"unknown field (did you mean {close[0]!r}?)" if close else "unknown field"


def _bad_id(error: Any, ctx: dict[str, Any]) -> str:
    help_text = PATTERN_HELP.get(ctx.get("pattern", ""))
    if help_text is None:
        return str(error["msg"])
    return f"{error['input']!r} {help_text}"


_MESSAGES: dict[str, Callable[[Any, dict[str, Any]], str]] = {
    "extra_forbidden": _unknown_field,
    "missing": lambda error, ctx: "required field is missing",
    "string_pattern_mismatch": _bad_id,
    "enum": lambda error, ctx: f"{error['input']!r} is not allowed; expected {ctx['expected']}",
    "literal_error": lambda error, ctx: (
        f"{error['input']!r} is not allowed; expected {ctx['expected']}"
    ),
    "union_tag_invalid": lambda error, ctx: (
        f"unknown type {ctx['tag']!r}; expected {ctx['expected_tags']}"
    ),
    "union_tag_not_found": lambda error, ctx: f"needs a {ctx['discriminator']} field",
}
"""Pydantic error types whose stock wording reads badly next to a YAML position."""


def error_message(error: Any) -> str:
    """A pydantic error as a short sentence for people editing YAML."""
    special = _MESSAGES.get(error["type"])
    if special is not None:
        with contextlib.suppress(KeyError):
            return special(error, error.get("ctx") or {})
    msg = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        msg = msg.removeprefix(prefix)
    return msg


def issues_from_validation(
    err: ValidationError, data: Any, prefix: Sequence[str | int] = ()
) -> list[ConfigIssue]:
    """Turn a pydantic error about ``data`` into issues with file positions."""
    issues = []
    for error in err.errors():
        at_key = error["type"] == "extra_forbidden"
        position, path = locate(data, error["loc"], at_key=at_key)
        issues.append(ConfigIssue(position, format_path([*prefix, *path]), error_message(error)))
    return issues
