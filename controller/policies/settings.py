"""Actuation limits and timings shared by all policies (``EngineSettings``)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["EngineSettings"]


@dataclass(frozen=True)
class EngineSettings:
    """How the engine paces and confirms its commands; see docs/policies.md."""

    tick_s: float = 30.0
    """Safety-net evaluation interval (edges and deadlines have their own wake-ups)."""
    min_interval_s: float = 10.0
    """Between two commands to the same point."""
    max_per_device_hour: int = 30
    min_on_s: float = 60.0
    """A point switched on is not switched off sooner (unless a safety policy demands it)."""
    min_off_s: float = 60.0
    """A point switched off is not switched back on sooner."""
    settle_s: float = 120.0
    """How long a confirmed command waits for a reading that shows it before it is repeated."""
    retry_base_s: float = 15.0
    retry_max_s: float = 900.0
    alarm_after_failures: int = 3
    manual_override_s: float = 3600.0
    override_sources: frozenset[str] = frozenset({"manual", "api"})
    """Command sources that are staff: against a policy they become a manual override.
    Commands from any other source (a student app, a card system) that break a policy are
    refused; the engine's own commands use source ``policy``."""
    safety_priority: int = 80
    max_parallel_commands: int = 16
    startup_grace_s: float = 120.0
    """After a start, readings trickle in: restores and clearing old alarms wait this long."""
    eval_gap_s: float = 0.1
    """Seconds from one evaluation to the next at the soonest, by the wall clock or the
    controller's, whichever moved more (unless a sweep continues): readings that arrive
    meanwhile are decided together (at 1,000 rooms they came ~86 times a second, each
    evaluation paying its fixed cost); a reaction is at most this much later."""
    sweep_chunk: int = 2000
    """Units one evaluation decides when a whole policy is re-evaluated (a window opens), and
    points it plans: the rest follow in the next evaluations, so the event loop is never
    blocked for long."""
