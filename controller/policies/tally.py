"""Points held per group (a building) and winning policy, kept as the holds change.

The web overview shows, per building, which policies hold how many points now. At night a big
campus holds tens of thousands of points (the curfew's socket relays) and the holds change
several times a second while the curfew's commands go out, so recounting them per page cost
more than the rest of the page. The planner tells the tally whenever a point's winning policy
changes; a reader then gets the exact figures without walking a single hold.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

__all__ = ["HoldTally"]

GroupOf = Callable[[str], str | None]
"""Entity id → its group (a building id), or None for a point counted nowhere."""


def _no_group(entity_id: str) -> str | None:
    return None


class HoldTally:
    """Group → policy id → points whose winning want is that policy's."""

    def __init__(self, group_of: GroupOf | None = None) -> None:
        self._group_of = group_of or _no_group
        self._won: dict[str, tuple[str | None, str]] = {}
        """Held point → (its group, the policy winning it)."""
        self.counts: dict[str, Counter[str]] = {}
        """Only groups with a held point; only policies holding one (no zero counts)."""

    @property
    def group_of(self) -> GroupOf:
        return self._group_of

    def won(self, entity_id: str, policy_id: str | None) -> None:
        """``entity_id`` is now won by ``policy_id`` (None: nobody holds it)."""
        old = self._won.get(entity_id)
        if old is not None and old[1] == policy_id:
            return
        if old is not None:
            group = old[0]
            del self._won[entity_id]
        else:
            group = self._group_of(entity_id)
        if old is not None and group is not None:
            per_policy = self.counts[group]
            per_policy[old[1]] -= 1
            if not per_policy[old[1]]:
                del per_policy[old[1]]
                if not per_policy:
                    del self.counts[group]
        if policy_id is None:
            return
        self._won[entity_id] = (group, policy_id)
        if group is not None:
            self.counts.setdefault(group, Counter())[policy_id] += 1

    def __len__(self) -> int:
        """Points held now (counted in a group or not)."""
        return len(self._won)
