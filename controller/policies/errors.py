"""The errors the policy engine raises on purpose, under one root (``PolicyError``).

Callers (the HTTP API, the web app, billing, alarms) translate exactly these: ``NotFound`` is an
unknown id, ``Invalid`` a bad argument (with the field and the reason), ``Refused`` a valid
request the engine's current state does not allow. Anything else escaping the engine is a bug
and must surface as one (the API logs it and answers 500), never as a misleading "not found".
"""

from __future__ import annotations

from pydantic import ValidationError

__all__ = ["Invalid", "NotFound", "PolicyError", "Refused"]


class PolicyError(Exception):
    """Root of the errors the policy engine raises deliberately."""


class NotFound(PolicyError):
    """No ``kind`` (policy, override, alarm, room) with id ``key`` is known or active."""

    def __init__(self, kind: str, key: str) -> None:
        super().__init__(f"unknown {kind} {key}")
        self.kind = kind
        self.key = key


class Invalid(PolicyError):
    """An argument is wrong: ``field`` names it (dotted path), ``reason`` says why.

    ``issues`` holds every (field, reason) pair when validation found more than one; the first
    is also ``field`` and ``reason``.
    """

    def __init__(
        self, field: str, reason: str, *, issues: tuple[tuple[str, str], ...] = ()
    ) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.field = field
        self.reason = reason
        self.issues = issues or ((field, reason),)

    @classmethod
    def from_validation(cls, err: ValidationError, prefix: str = "") -> Invalid:
        """The pydantic errors of a configuration or scope, fields under ``prefix``."""
        issues = tuple(
            (".".join(str(p) for p in (prefix, *e["loc"]) if p != ""), e["msg"])
            for e in err.errors(include_url=False, include_context=False, include_input=False)
        )
        field, reason = issues[0] if issues else (prefix, str(err))
        return cls(field, reason, issues=issues)


class Refused(PolicyError):
    """The request is well formed but the engine's state does not allow it; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
