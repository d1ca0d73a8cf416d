"""YAML loading that remembers where every value came from.

Validation errors must name file, line and column, and configs may be split with ``!include``,
so every mapping and sequence we build carries the source position of its children. The data
itself stays plain ``dict``/``list`` subclasses, so pydantic validates it unchanged.

Speed matters: a 10,000-room campus is ~700k YAML nodes. PyYAML's composer and generic
constructor cost several microseconds per node, so we read libyaml's event stream and build the
containers in one tight pass, resolving plain scalars with a first-character test that leaves
ordinary words alone and a per-file cache for the rest. Semantics follow ``yaml.safe_load``
(YAML 1.1 scalars, anchors, aliases, ``<<`` merge keys) plus ``!include`` and ``!env NAME`` (the
value of an environment variable: passwords stay out of the site file).
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
    StreamStartEvent,
)
from yaml.nodes import ScalarNode

__all__ = [
    "Located",
    "LocatedDict",
    "LocatedList",
    "Position",
    "YamlSourceError",
    "load_yaml",
    "load_yaml_file",
]

_BITS = 24
_MASK = (1 << _BITS) - 1
_STR_TAG = "tag:yaml.org,2002:str"
_MAP_TAGS = (None, "!", "tag:yaml.org,2002:map")
_SEQ_TAGS = (None, "!", "tag:yaml.org,2002:seq")
MAX_DEPTH = 64
"""Nesting limit of mappings and sequences: a site file is about 6 levels deep, and a hostile
one 5,000 levels deep would otherwise exhaust the builder's recursion with a ``RecursionError``."""


@dataclass(frozen=True, slots=True)
class Position:
    """A place in a source file; line and column are 1-based as editors show them."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


class YamlSourceError(Exception):
    """A file could not be read, parsed as YAML, or its ``!include`` resolved."""

    def __init__(self, position: Position, message: str) -> None:
        super().__init__(f"{position} {message}")
        self.position = position
        self.message = message


def _pack(mark: Any) -> int:
    """A mark as one int (line, column 1-based): cheaper to keep than 700k Position objects."""
    line: int = mark.line
    column: int = mark.column
    return ((line + 1) << _BITS) | min(column + 1, _MASK)


class Located:
    """Mixin for containers that know their own position and those of their children.

    Child positions are stored packed relative to ``file``; children spliced in from another
    file (glob ``!include``) keep a full ``Position``.
    """

    __slots__ = ()

    file: str
    _at: int
    _children: dict[Any, int | Position]

    @property
    def position(self) -> Position:
        """Where this mapping or sequence starts."""
        return Position(self.file, self._at >> _BITS, self._at & _MASK)

    def position_of(self, key: Any) -> Position:
        """Where the value at ``key`` (or index) starts; this container's position if unknown."""
        at = self._children.get(key)
        if at is None:
            return self.position
        if isinstance(at, Position):
            return at
        return Position(self.file, at >> _BITS, at & _MASK)


class LocatedDict(dict[Any, Any], Located):
    """A mapping from YAML with the positions of its keys and of their values."""

    __slots__ = ("_at", "_children", "_keys", "file")

    _keys: dict[Any, int]

    def key_position_of(self, key: Any) -> Position:
        """Where ``key`` itself is written (for unknown or duplicate keys)."""
        at = self._keys.get(key)
        if at is None:
            return self.position_of(key)
        return Position(self.file, at >> _BITS, at & _MASK)


class LocatedList(list[Any], Located):
    """A sequence from YAML with per-item positions."""

    __slots__ = ("_at", "_children", "file")


def _new_dict(file: str, at: int) -> LocatedDict:
    out = LocatedDict()
    out.file = file
    out._at = at
    out._children = {}
    out._keys = {}
    return out


def _new_list(file: str, at: int) -> LocatedList:
    out = LocatedList()
    out.file = file
    out._at = at
    out._children = {}
    return out


class _Splice:
    """The items of the lists a glob ``!include`` matched, spliced into the enclosing list."""

    __slots__ = ("items", "positions")

    def __init__(self) -> None:
        self.items: list[Any] = []
        self.positions: list[Position] = []


# Plain scalars whose first character cannot start a null, bool, number, date or merge key
# are strings: that test settles most words of a site file without running any regex.
_IMPLICIT = yaml.resolver.Resolver.yaml_implicit_resolvers
_SPECIAL_FIRST = frozenset(ch for ch in _IMPLICIT if ch)
_SAFE = yaml.constructor.SafeConstructor()


def _construct_tagged(tag: str, value: str) -> Any:
    """A scalar with a standard tag, built by PyYAML's own safe constructors."""
    build = _SAFE.yaml_constructors.get(tag)
    if build is None or tag == "tag:yaml.org,2002:value":
        raise ValueError(f"unsupported tag {tag}")
    return build(_SAFE, ScalarNode(tag, value))


def _resolve_plain(value: str) -> Any:
    """Type a plain scalar exactly as ``yaml.safe_load`` would (YAML 1.1 rules)."""
    candidates = _IMPLICIT.get(value[0] if value else "", [])
    for tag, regexp in [*candidates, *_IMPLICIT.get(None, [])]:
        if regexp.match(value):
            if tag == "tag:yaml.org,2002:merge":
                return value
            return _construct_tagged(tag, value)
    return value


class _Builder:
    """Turns one file's event stream into Located containers (one pass, no node tree).

    Events come from libyaml's C parser and are typed ``Any``: the hot loops read their
    attributes directly (marks are never None from a parser).
    """

    def __init__(
        self, text: str, source_file: str, base_dir: Path, include_stack: tuple[Path, ...]
    ) -> None:
        loader_class: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        self._parser = loader_class(text)
        self._next: Callable[[], Any] = self._parser.get_event
        self.file = source_file
        self.base_dir = base_dir
        self.include_stack = include_stack
        self._anchors: dict[str, Any] = {}
        self._plain: dict[str, Any] = {}
        self._depth = 0

    def close(self) -> None:
        self._parser.dispose()

    def _here(self, event: Any) -> Position:
        mark = event.start_mark
        return Position(self.file, mark.line + 1, mark.column + 1)

    def document(self) -> Any:
        next_event = self._next
        if not isinstance(next_event(), StreamStartEvent):
            raise YamlSourceError(Position(self.file, 1, 1), "not a YAML stream")
        event = next_event()
        if isinstance(event, StreamEndEvent):
            return None
        if not isinstance(event, DocumentStartEvent):
            raise YamlSourceError(self._here(event), "expected a YAML document")
        data = self._value(next_event())
        if isinstance(data, _Splice):
            data = self._splice_list(data, event)
        if not isinstance(next_event(), DocumentEndEvent):
            raise YamlSourceError(self._here(event), "expected the document to end")
        event = next_event()
        if not isinstance(event, StreamEndEvent):
            raise YamlSourceError(self._here(event), "expected a single document in the file")
        return data

    def _value(self, event: Any) -> Any:
        """The value that starts with ``event`` (a scalar, a container or an alias)."""
        kind = type(event)
        if kind is ScalarEvent:
            return self._scalar(event)
        if kind is MappingStartEvent or kind is SequenceStartEvent:
            return self._container(event)
        if kind is AliasEvent:
            return self._alias(event)
        raise YamlSourceError(self._here(event), f"unexpected {kind.__name__}")

    def _scalar(self, event: Any) -> Any:
        tag = event.tag
        value: str = event.value
        result: Any
        if tag is None:
            if not event.implicit[0]:
                result = value  # quoted: always a string
            elif not value or value[0] in _SPECIAL_FIRST:
                plain = self._plain
                if value in plain:
                    result = plain[value]
                else:
                    result = plain[value] = self._typed(event, _resolve_plain, value)
            else:
                result = value
        elif tag in ("!", _STR_TAG):
            result = value
        elif tag == "!include":
            result = self._include(event)
        elif tag == "!env":
            result = self._env(event)
        elif tag.startswith("tag:yaml.org,2002:"):
            result = self._typed(event, lambda v: _construct_tagged(tag, v), value)
        else:
            raise YamlSourceError(self._here(event), f"unknown tag {tag}")
        if event.anchor is not None:
            self._anchors[event.anchor] = result
        return result

    def _env(self, event: Any) -> str:
        """``!env NAME``: a secret kept out of the file (the service's environment holds it)."""
        name = event.value.strip()
        if not name:
            raise YamlSourceError(self._here(event), "!env needs a variable name")
        value = os.environ.get(name)
        if value is None:
            raise YamlSourceError(self._here(event), f"environment variable {name} is not set")
        return value

    def _typed(self, event: Any, build: Callable[[str], Any], value: str) -> Any:
        try:
            return build(value)
        except (ValueError, yaml.YAMLError) as err:
            raise YamlSourceError(self._here(event), f"bad scalar {value!r}: {err}") from err

    def _alias(self, event: Any) -> Any:
        try:
            return self._anchors[event.anchor]
        except KeyError:
            raise YamlSourceError(
                self._here(event), f"unknown alias *{event.anchor} (anchors must come first)"
            ) from None

    def _key(self, event: Any) -> Any:
        """A key that is not a plain word: typed (``0: off``), tagged or quoted."""
        if event.tag == "!include":
            raise YamlSourceError(self._here(event), "a key cannot be an !include")
        return self._scalar(event)

    def _container(self, start: Any) -> LocatedDict | LocatedList:
        """A mapping or sequence, at most ``MAX_DEPTH`` levels deep."""
        if self._depth >= MAX_DEPTH:
            raise YamlSourceError(self._here(start), f"nested more than {MAX_DEPTH} levels deep")
        self._depth += 1
        try:
            if type(start) is MappingStartEvent:
                return self._mapping(start)
            return self._sequence(start)
        finally:
            self._depth -= 1

    def _mapping(self, start: Any) -> LocatedDict:
        if start.tag not in _MAP_TAGS:
            raise YamlSourceError(self._here(start), f"unsupported tag {start.tag} on a mapping")
        mark: Any = start.start_mark
        value: Any
        out = _new_dict(self.file, ((mark.line + 1) << _BITS) | (mark.column + 1))
        children = out._children
        keys = out._keys
        merges: list[tuple[Any, Any]] = []
        next_event = self._next
        special = _SPECIAL_FIRST
        while True:
            event = next_event()
            if type(event) is not ScalarEvent:
                if type(event) is MappingEndEvent:
                    break
                raise YamlSourceError(self._here(event), "mapping keys must be plain values")
            key = event.value
            if event.tag is not None or not event.implicit[0] or not key or key[0] in special:
                if key == "<<" and event.tag is None and event.implicit[0]:
                    value_event = next_event()
                    merges.append((value_event, self._value(value_event)))
                    continue
                key = self._key(event)
            if key in keys:
                raise YamlSourceError(self._here(event), f"duplicate key {key!r}")
            mark = event.start_mark
            keys[key] = ((mark.line + 1) << _BITS) | (mark.column + 1)
            event = next_event()
            value = event.value if type(event) is ScalarEvent else None
            # The common case inline: a plain word needs no typing and no dispatch.
            if not (
                value
                and event.tag is None
                and event.implicit[0]
                and event.anchor is None
                and value[0] not in special
            ):
                value = self._value(event)
                if isinstance(value, _Splice):
                    value = self._splice_list(value, event)
            out[key] = value
            mark = event.start_mark
            children[key] = ((mark.line + 1) << _BITS) | (mark.column + 1)
        if merges:
            self._merge(out, merges)
        if start.anchor is not None:
            self._anchors[start.anchor] = out
        return out

    def _merge(self, out: LocatedDict, merges: list[tuple[Any, Any]]) -> None:
        """``<<: *base`` (or a list of them): explicit keys win, then earlier merges."""
        sources: list[Any] = []
        for event, value in merges:
            items = value if isinstance(value, list) else [value]
            for item in items:
                if not isinstance(item, LocatedDict):
                    raise YamlSourceError(self._here(event), "<< merges mappings only")
                sources.append(item)
        for source in sources:
            for key, value in source.items():
                if key not in out:
                    out[key] = value
                    out._children[key] = source.position_of(key)
                    out._keys[key] = source._keys.get(key, source._at)

    def _sequence(self, start: Any) -> LocatedList:
        if start.tag not in _SEQ_TAGS:
            raise YamlSourceError(self._here(start), f"unsupported tag {start.tag} on a sequence")
        out = _new_list(self.file, _pack(start.start_mark))
        children = out._children
        next_event = self._next
        while True:
            event = next_event()
            if type(event) is SequenceEndEvent:
                break
            if type(event) is ScalarEvent and event.tag is None:
                value = self._scalar(event)  # the common case, without the dispatch
            else:
                value = self._value(event)
            if isinstance(value, _Splice):
                for item, position in zip(value.items, value.positions, strict=True):
                    children[len(out)] = position
                    out.append(item)
                continue
            children[len(out)] = _pack(event.start_mark)
            out.append(value)
        if start.anchor is not None:
            self._anchors[start.anchor] = out
        return out

    def _splice_list(self, splice: _Splice, event: Any) -> LocatedList:
        """A glob include used as a single value (not inside a list): a list of its own."""
        out = _new_list(self.file, _pack(event.start_mark))
        for i, (item, position) in enumerate(zip(splice.items, splice.positions, strict=True)):
            out.append(item)
            out._children[i] = position
        return out

    def _include(self, event: Any) -> Any:
        pattern = event.value
        here = self._here(event)
        if not pattern:
            raise YamlSourceError(here, "!include needs a file name")
        if not any(ch in pattern for ch in "*?["):
            return _load_file(self.base_dir / pattern, self.include_stack, here)
        matches = sorted(glob.glob(str(self.base_dir / pattern)))
        if not matches:
            raise YamlSourceError(here, f"!include {pattern!r} matches no file")
        splice = _Splice()
        for match in matches:
            data = _load_file(Path(match), self.include_stack, here)
            if data is None:
                continue  # an empty file adds nothing
            if not isinstance(data, LocatedList):
                raise YamlSourceError(
                    here, f"a glob !include needs each file to hold a list: {match} does not"
                )
            splice.items.extend(data)
            splice.positions.extend(data.position_of(i) for i in range(len(data)))
        return splice


def _display_name(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _load_file(path: Path, stack: tuple[Path, ...], included_from: Position | None) -> Any:
    resolved = path.resolve()
    where = included_from or Position(_display_name(path), 1, 1)
    if resolved in stack:
        chain = " → ".join(_display_name(p) for p in (*stack, resolved))
        raise YamlSourceError(where, f"!include cycle: {chain}")
    try:
        text = resolved.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise YamlSourceError(where, f"{path} is not UTF-8: {err.reason}") from err
    except OSError as err:
        raise YamlSourceError(where, f"cannot read {path}: {err.strerror or err}") from err
    return load_yaml(text, _display_name(path), resolved.parent, (*stack, resolved))


def load_yaml(
    text: str,
    source_file: str = "<string>",
    base_dir: Path | None = None,
    include_stack: tuple[Path, ...] = (),
) -> Any:
    """Parse one YAML document into Located containers.

    ``!include`` paths are relative to ``base_dir``; ``include_stack`` holds the including files.
    """
    builder = _Builder(text, source_file, base_dir or Path(), include_stack)
    try:
        return builder.document()
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        position = (
            Position(source_file, mark.line + 1, mark.column + 1)
            if mark
            else Position(source_file, 1, 1)
        )
        raise YamlSourceError(position, f"YAML syntax: {err.problem or err.context}") from err
    except yaml.YAMLError as err:
        raise YamlSourceError(Position(source_file, 1, 1), f"YAML: {err}") from err
    finally:
        builder.close()


def load_yaml_file(path: Path) -> Any:
    """Load a YAML file (with includes); errors carry the file name and position."""
    return _load_file(path, (), None)
