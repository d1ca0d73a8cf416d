"""YAML loading that remembers where every value came from.

Validation errors must name file, line and column, and configs may be split with ``!include``,
so every mapping and sequence we build carries the source position of its children. The data
itself stays plain ``dict``/``list`` subclasses, so pydantic validates it unchanged.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "Located",
    "LocatedDict",
    "LocatedList",
    "Position",
    "YamlSourceError",
    "load_yaml",
    "load_yaml_file",
]


@dataclass(frozen=True, slots=True)
class Position:
    """A place in a source file; line and column are 1-based as editors show them."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


class YamlSourceError(Exception):
    """A file could not be read or parsed as YAML."""

    def __init__(self, position: Position, message: str) -> None:
        super().__init__(f"{position} {message}")
        self.position = position
        self.message = message


class Located:
    """Mixin for containers that know their own position and those of their children."""

    position: Position
    child_positions: dict[Any, Position]

    def position_of(self, key: Any) -> Position:
        return self.child_positions.get(key, self.position)


class LocatedDict(dict[Any, Any], Located):
    """A mapping from YAML with per-key positions (the position of the value, or the key)."""


class LocatedList(list[Any], Located):
    """A sequence from YAML with per-item positions."""


def _pos(mark: yaml.Mark, file: str) -> Position:
    return Position(file, mark.line + 1, mark.column + 1)


_BaseLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available


class _Loader(_BaseLoader):  # type: ignore[misc,valid-type]
    """SafeLoader that builds Located containers and resolves ``!include``."""

    source_file: str = "<string>"
    base_dir: Path = Path()
    include_stack: tuple[Path, ...] = ()


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LocatedDict:
    loader.flatten_mapping(node)
    result = LocatedDict()
    result.position = _pos(node.start_mark, loader.source_file)
    result.child_positions = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in result:
            raise YamlSourceError(
                _pos(key_node.start_mark, loader.source_file), f"duplicate key {key!r}"
            )
        value = loader.construct_object(value_node, deep=True)
        if isinstance(value, _Splice):
            value = value.as_list(_pos(value_node.start_mark, loader.source_file))
        result[key] = value
        result.child_positions[key] = _pos(value_node.start_mark, loader.source_file)
    return result


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> LocatedList:
    result = LocatedList()
    result.position = _pos(node.start_mark, loader.source_file)
    result.child_positions = {}
    for item in node.value:
        value = loader.construct_object(item, deep=True)
        if (
            isinstance(item, yaml.ScalarNode)
            and item.tag == "!include"
            and isinstance(value, _Splice)
        ):
            # A glob include inside a list splices its files' lists in place.
            for sub in value.items:
                result.child_positions[len(result)] = value.positions.get(id(sub), result.position)
                result.append(sub)
            continue
        result.child_positions[len(result)] = _pos(item.start_mark, loader.source_file)
        result.append(value)
    return result


class _Splice:
    """Items of several included lists, to be spliced into the enclosing list."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self.positions: dict[int, Position] = {}

    def as_list(self, position: Position) -> LocatedList:
        """The spliced items as a list of their own (a glob include as a mapping value)."""
        out = LocatedList(self.items)
        out.position = position
        out.child_positions = {
            i: self.positions.get(id(item), position) for i, item in enumerate(self.items)
        }
        return out


def _construct_include(loader: _Loader, node: yaml.ScalarNode) -> Any:
    pattern = loader.construct_scalar(node)
    here = _pos(node.start_mark, loader.source_file)
    if not isinstance(pattern, str) or not pattern:
        raise YamlSourceError(here, "!include needs a file name")
    if any(ch in pattern for ch in "*?["):
        matches = sorted(glob.glob(str(loader.base_dir / pattern)))
        if not matches:
            raise YamlSourceError(here, f"!include {pattern!r} matches no file")
        splice = _Splice()
        for match in matches:
            data = _load_file(Path(match), loader.include_stack, here)
            if not isinstance(data, list):
                raise YamlSourceError(
                    here, f"{match}: a glob !include needs each file to be a list"
                )
            for i, item in enumerate(data):
                splice.items.append(item)
                if isinstance(data, LocatedList):
                    splice.positions[id(item)] = data.position_of(i)
        return splice
    return _load_file(loader.base_dir / pattern, loader.include_stack, here)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)  # type: ignore[arg-type]
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)  # type: ignore[arg-type]
_Loader.add_constructor("!include", _construct_include)  # type: ignore[arg-type]


def _display_name(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _load_file(path: Path, stack: tuple[Path, ...], included_from: Position | None) -> Any:
    resolved = path.resolve()
    where = included_from or Position(_display_name(path), 1, 1)
    if resolved in stack:
        raise YamlSourceError(where, f"!include cycle through {path}")
    try:
        text = resolved.read_text(encoding="utf-8")
    except OSError as err:
        raise YamlSourceError(where, f"cannot read {path}: {err.strerror or err}") from err
    except UnicodeDecodeError as err:
        raise YamlSourceError(where, f"{path} is not UTF-8: {err.reason}") from err
    return load_yaml(text, _display_name(path), resolved.parent, (*stack, resolved))


def load_yaml(
    text: str,
    source_file: str = "<string>",
    base_dir: Path | None = None,
    include_stack: tuple[Path, ...] = (),
) -> Any:
    """Parse one YAML document into Located containers; ``!include`` paths are relative to base_dir."""
    loader = _Loader(text)
    loader.source_file = source_file
    loader.base_dir = base_dir or Path()
    loader.include_stack = include_stack
    try:
        return loader.get_single_data()
    except YamlSourceError:
        raise
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        position = _pos(mark, source_file) if mark else Position(source_file, 1, 1)
        raise YamlSourceError(position, f"YAML syntax: {err.problem or err.context}") from err
    finally:
        loader.dispose()


def load_yaml_file(path: Path) -> Any:
    """Load a YAML file (with includes); errors carry the file name and position."""
    return _load_file(path, (), None)
