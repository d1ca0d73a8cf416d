"""Collecting validated items and every issue from the raw site document.

The loader validates each section through a ``Collector``, which keeps the good items (with
where they were written, ``Origin``) and every problem, so the cross-checks
(``controller.config.checks``) still run beside a bad neighbour and report at the right place.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from .errors import ConfigIssue, format_path, issues_from_validation
from .yamlsrc import Located, Position

__all__ = ["MAX_ISSUES_PER_TEMPLATE", "Collector", "Entry", "Origin"]

MAX_ISSUES_PER_TEMPLATE = 5
"""A broken template would otherwise repeat its error once per room."""

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Origin:
    """Where an item's fields were written: its own mapping, or the template that made it."""

    raw: Any
    path: tuple[str | int, ...]
    made: str | None = None
    """For a device made by a template: its id, named in every message."""

    def issue(self, key: str, message: str) -> ConfigIssue:
        raw = self.raw
        if (
            self.made is not None
            and key == "unit_id"
            and isinstance(raw, dict)
            and "unit_id_start" in raw
        ):
            key = "unit_id_start"
        position = raw.position_of(key) if isinstance(raw, Located) else None
        if self.made is not None:
            message = f"{message} (device {self.made})"
        return ConfigIssue(position, format_path([*self.path, key]), message)

    @property
    def position(self) -> Position | None:
        return self.raw.position if isinstance(self.raw, Located) else None


@dataclass(frozen=True, slots=True)
class Entry(Generic[T]):
    item: T
    origin: Origin


class Collector:
    """Validates pieces of the raw document, keeping good items and every issue."""

    def __init__(self, root: Any) -> None:
        self.root = root
        self.issues: list[ConfigIssue] = []
        self._per_template: dict[tuple[str | int, ...], int] = {}

    def add(self, position: Position | None, path: list[str | int], message: str) -> None:
        self.issues.append(ConfigIssue(position, format_path(path), message))

    def position(self, container: Any, key: Any) -> Position | None:
        if isinstance(container, Located):
            return container.position_of(key)
        return None

    def one(self, model: Callable[[Any], M], data: Any, path: list[str | int]) -> M | None:
        try:
            return model(data)
        except ValidationError as err:
            self.issues.extend(issues_from_validation(err, data, path))
            return None

    def items(self, section: str, model: Callable[[Any], M]) -> Iterator[Entry[M]]:
        raw = self.root.get(section)
        if raw is None:
            return
        if not isinstance(raw, list):
            self.add(self.position(self.root, section), [section], "must be a list")
            return
        for index, item in enumerate(raw):
            parsed = self.one(model, item, [section, index])
            if parsed is not None:
                yield Entry(parsed, Origin(item, (section, index)))

    def from_origin(self, origin: Origin, key: str, message: str) -> None:
        """An issue about an item; a template's issues are capped (one per room is noise)."""
        if origin.made is not None:
            seen = self._per_template.get(origin.path, 0)
            self._per_template[origin.path] = seen + 1
            if seen >= MAX_ISSUES_PER_TEMPLATE:
                return
        self.issues.append(origin.issue(key, message))

    def template_summaries(self) -> None:
        for path, count in self._per_template.items():
            if count > MAX_ISSUES_PER_TEMPLATE:
                self.add(
                    None,
                    list(path),
                    f"{count - MAX_ISSUES_PER_TEMPLATE} more problems with devices made by "
                    f"this template (the first {MAX_ISSUES_PER_TEMPLATE} are listed)",
                )
