"""Payload decoding: JSON paths, plain values, value maps, scale/offset, validity, timestamps.

Fields are compiled once (``CompiledField``) so that decoding a message costs a dict walk and a
multiply per field. Problems with a payload raise ``PayloadProblem``; they are counted by the
caller, never propagated out of the driver.
"""

from __future__ import annotations

import datetime as dt
import math
import zoneinfo
from enum import StrEnum

from .spec import FieldSpec, TimestampFormat, Value

__all__ = [
    "CompiledField",
    "PayloadProblem",
    "Problem",
    "canonical_text",
    "compile_path",
    "extract",
    "parse_timestamp",
]


class Problem(StrEnum):
    """What was wrong with a payload; each kind is counted per device."""

    BAD_JSON = "bad_json"
    MISSING_FIELD = "missing_field"
    WRONG_TYPE = "wrong_type"
    UNKNOWN_VALUE = "unknown_value"
    OUT_OF_RANGE = "out_of_range"
    DUPLICATE = "duplicate"
    OUT_OF_ORDER = "out_of_order"
    BAD_TIMESTAMP = "bad_timestamp"
    BAD_STATUS = "bad_status"


class PayloadProblem(Exception):
    """One problem with one payload (internal: caught and counted by the driver)."""

    def __init__(self, problem: Problem, detail: str) -> None:
        super().__init__(detail)
        self.problem = problem
        self.detail = detail


PathPart = tuple[str, int | None]


def compile_path(path: tuple[str, ...]) -> tuple[PathPart, ...]:
    """Pre-split a dotted path; numeric parts may also index JSON arrays."""
    return tuple((part, int(part) if part.isdigit() else None) for part in path)


def extract(doc: object, path: tuple[PathPart, ...], dotted: str) -> object:
    """The value at ``path`` in a decoded JSON document, or PayloadProblem(MISSING_FIELD)."""
    for key, index in path:
        if type(doc) is dict:
            if key not in doc:
                raise PayloadProblem(Problem.MISSING_FIELD, f"no field {dotted!r}")
            doc = doc[key]
        elif index is not None and type(doc) is list and -len(doc) <= index < len(doc):
            doc = doc[index]
        else:
            raise PayloadProblem(Problem.MISSING_FIELD, f"no field {dotted!r}")
    return doc


def canonical_text(raw: object) -> str:
    """The text a value map is keyed by: ``4``/``4.0`` → "4", ``True`` → "true", "ON" → "ON"."""
    kind = type(raw)
    if kind is str:
        return raw  # type: ignore[return-value]
    if kind is bool:
        return "true" if raw else "false"
    if kind is int:
        return str(raw)
    if kind is float and raw.is_integer():  # type: ignore[attr-defined]
        return str(int(raw))  # type: ignore[call-overload]
    return repr(raw)


class CompiledField:
    """A ``FieldSpec`` prepared for the hot path."""

    __slots__ = (
        "dotted",
        "first",
        "high",
        "identity",
        "key",
        "low",
        "offset",
        "path",
        "ref",
        "scale",
        "single",
        "spec",
        "values",
    )

    def __init__(self, spec: FieldSpec) -> None:
        self.spec = spec
        self.key = spec.key
        self.ref = spec.ref
        self.dotted = ".".join(spec.path)
        self.path = compile_path(spec.path)
        self.single = len(spec.path) == 1
        self.first = spec.path[0] if spec.path else ""
        self.scale = spec.scale
        self.offset = spec.offset
        self.identity = spec.scale == 1.0 and spec.offset == 0.0
        self.values = dict(spec.values) if spec.values is not None else None
        low, high = spec.valid_range if spec.valid_range is not None else (-math.inf, math.inf)
        self.low = low
        self.high = high

    def read(self, doc: object) -> tuple[Value, bool]:
        """This field of a decoded JSON document → (engineering value, good).

        The common case (a top-level number) is inlined: this runs for every field of every
        message.
        """
        if self.single and type(doc) is dict:
            if self.first not in doc:
                raise PayloadProblem(Problem.MISSING_FIELD, f"no field {self.dotted!r}")
            raw = doc[self.first]
        else:
            raw = extract(doc, self.path, self.dotted)
        kind = type(raw)
        if self.values is None and (kind is float or kind is int):
            number = raw if self.identity else raw * self.scale + self.offset
            return number, self.low <= number <= self.high and math.isfinite(number)
        return self.convert(raw)

    def convert(self, raw: object) -> tuple[Value, bool]:
        """A JSON value → (engineering value, good). Bad quality is a value, not an error."""
        values = self.values
        if values is not None:
            label = values.get(canonical_text(raw))
            if label is None:
                raise PayloadProblem(
                    Problem.UNKNOWN_VALUE, f"{self.key}: {raw!r} is not one of {sorted(values)}"
                )
            return label, True
        kind = type(raw)
        if kind is int or kind is float:
            number: float = raw if self.identity else raw * self.scale + self.offset  # type: ignore[operator, assignment]
            return number, self.low <= number <= self.high and math.isfinite(number)
        if kind is bool:
            return raw, True  # type: ignore[return-value]
        raise PayloadProblem(
            Problem.WRONG_TYPE, f"{self.key}: expected a number, got {type(raw).__name__} {raw!r}"
        )

    def convert_text(self, text: str) -> tuple[Value, bool]:
        """A plain payload (``23.5``, ``ON``) → (engineering value, good)."""
        if self.values is not None:
            return self.convert(text)
        try:
            raw: float = int(text)
        except ValueError:
            try:
                raw = float(text)
            except ValueError:
                raise PayloadProblem(
                    Problem.WRONG_TYPE, f"{self.key}: expected a number, got {text[:40]!r}"
                ) from None
        return self.convert(raw)


def parse_timestamp(raw: object, fmt: TimestampFormat, tz: zoneinfo.ZoneInfo) -> float:
    """A device timestamp → epoch seconds; naive ISO times are in ``tz``."""
    if fmt == "iso":
        if type(raw) is not str:
            raise PayloadProblem(Problem.BAD_TIMESTAMP, f"expected an ISO time, got {raw!r}")
        try:
            when = dt.datetime.fromisoformat(raw)
        except ValueError:
            raise PayloadProblem(Problem.BAD_TIMESTAMP, f"bad ISO time {raw[:40]!r}") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=tz)
        return when.timestamp()
    if type(raw) not in (int, float):
        raise PayloadProblem(Problem.BAD_TIMESTAMP, f"expected epoch seconds, got {raw!r}")
    seconds = float(raw)  # type: ignore[arg-type]
    if fmt == "epoch_ms":
        seconds /= 1000.0
    if not math.isfinite(seconds) or seconds <= 0:
        raise PayloadProblem(Problem.BAD_TIMESTAMP, f"bad epoch time {raw!r}")
    return seconds
