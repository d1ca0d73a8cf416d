"""Limits: low-balance warnings, the cut-off at zero (or below, with an overdraft), restores.

Cut-offs and restores are ordinary commands through the controller's ``CommandRouter`` with
actor ``billing``: the audit log records them, other guards (the policy engine) may refuse
them, and the driver confirms each by reading the point back. While an account is cut, the
``guard`` refuses anyone else's command that would switch its supply back on, so a policy's
morning reclose or a stray API call cannot undo the cut; an exemption (audited in the store)
lifts the cut until it expires.

Which accounts are cut and which warnings were given are kept in the store, so a restart
neither forgets a cut nor repeats every warning. Each warning and cut-off is also handed to
``notify`` as a ``Notice`` whose ``dedup`` key names the account, the level and the account's
*round* (a counter moved on when its warnings clear or its supply is restored, kept with the
rest): a notice re-derived after a crash, before the state was saved, has the same key, so a
durable queue keyed on it (``notices``) sends it once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from controller.core.bus import EventBus
from controller.core.clock import Clock
from controller.core.commands import CommandRouter
from controller.core.entity import Entity
from controller.core.events import AlarmCleared, AlarmRaised, Value
from controller.core.state import StateStore

from .events import BalanceCutOff, BalanceLow, BalanceRestored, Notice
from .meters import CutPoint, Meters
from .model import Account, Utility

__all__ = ["LimitState", "Limits"]

_LOGGER = logging.getLogger(__name__)

ACTOR = "billing"
STATE_KEY = "limits"


@dataclass(slots=True)
class LimitState:
    """Accounts cut off, the lowest warning level each has been warned about, and each
    account's notice round (see the module docstring)."""

    cut: set[str] = field(default_factory=set)
    warned: dict[str, str] = field(default_factory=dict)
    rounds: dict[str, int] = field(default_factory=dict)

    def dumps(self) -> str:
        return json.dumps({"cut": sorted(self.cut), "warned": self.warned, "rounds": self.rounds})

    @classmethod
    def loads(cls, text: str | None) -> LimitState:
        if not text:
            return cls()
        data = json.loads(text)
        return cls(
            set(data.get("cut", [])), dict(data.get("warned", {})), dict(data.get("rounds", {}))
        )

    def next_round(self, account: str) -> None:
        self.rounds[account] = self.rounds.get(account, 0) + 1


class Limits:
    """Decides, for each account and balance, whether to warn, cut or restore, and does it."""

    def __init__(
        self,
        bus: EventBus,
        commands: CommandRouter,
        states: StateStore,
        clock: Clock,
        meters: Meters,
        *,
        warn_at: Iterable[Decimal],
        overdraft: Decimal,
        cut_off: Iterable[Utility],
        state: LimitState | None = None,
        notify: Callable[[Notice], None] | None = None,
    ) -> None:
        self.bus = bus
        self.commands = commands
        self.states = states
        self.clock = clock
        self.meters = meters
        self.warn_at = sorted(set(warn_at), reverse=True)
        self.floor = -overdraft
        self.cut_off = frozenset(cut_off)
        self.state = state or LimitState()
        self.notify = notify
        self.counters = {
            "warnings": 0,
            "cut_offs": 0,
            "restores": 0,
            "commands_failed": 0,
            "deferred_offline": 0,
        }

    # -- decisions ---------------------------------------------------------------------------

    def should_cut(self, account: Account, balance: Decimal, now: float) -> bool:
        return account.open and balance <= self.floor and not account.exempt(now)

    def _level(self, balance: Decimal) -> Decimal | None:
        """The lowest warning level at or above ``balance`` (None: above every level)."""
        hit = [t for t in self.warn_at if balance <= t]
        return hit[-1] if hit else None

    def points(self, account_id: str) -> list[CutPoint]:
        return [p for p in self.meters.cut_points.get(account_id, []) if p.utility in self.cut_off]

    # -- acting ------------------------------------------------------------------------------

    async def check(self, accounts: Iterable[Account], balances: dict[str, Decimal]) -> bool:
        """Warn, cut and restore as the balances say; True when the kept state changed."""
        now = self.clock.time()
        changed = False
        for account in accounts:
            balance = balances.get(account.id, Decimal(0))
            changed |= self._warn(account, balance, now)
            if self.should_cut(account, balance, now):
                if account.id not in self.state.cut:
                    self.state.cut.add(account.id)
                    changed = True
                    self._announce_cut(account, balance, now)
                await self._enforce(account, balance, cut=True)
            elif account.id in self.state.cut:
                self.state.cut.discard(account.id)
                self.state.next_round(account.id)
                changed = True
                reason = "exempt" if account.exempt(now) else "top_up"
                self.counters["restores"] += 1
                self.bus.publish(BalanceRestored(account.id, str(balance), now, reason))
                self._clear(
                    "cut_off",
                    account.id,
                    f"{account.id} 已恢复供电（余额 {balance} 元）",
                    f"{account.id}: supply restored (balance {balance} yuan)",
                )
                await self._enforce(account, balance, cut=False)
        return changed

    def _warn(self, account: Account, balance: Decimal, now: float) -> bool:
        level = self._level(balance)
        before = self.state.warned.get(account.id)
        if level is None:
            if before is not None:
                del self.state.warned[account.id]
                self.state.next_round(account.id)
                self._clear(
                    "low_balance",
                    account.id,
                    f"{account.id} 余额已充足（{balance} 元）",
                    f"{account.id}: balance above the warning levels ({balance} yuan)",
                )
                return True
            return False
        if before is not None and Decimal(before) <= level:
            return False  # already warned at this level or a lower one
        self.state.warned[account.id] = str(level)
        self.counters["warnings"] += 1
        self.bus.publish(BalanceLow(account.id, str(balance), str(level), now))
        self._raise(
            "low_balance",
            "warning",
            account,
            balance,
            f"{account.id} 预付费余额不足：{balance} 元（提醒线 {level} 元）",
            f"{account.id}: prepaid balance {balance} yuan (warning level {level} yuan)",
            threshold=str(level),
        )
        return True

    def _announce_cut(self, account: Account, balance: Decimal, now: float) -> None:
        points = tuple(p.entity_id for p in self.points(account.id))
        self.counters["cut_offs"] += 1
        self.bus.publish(BalanceCutOff(account.id, str(balance), now, points))
        self._raise(
            "cut_off",
            "warning",  # the prepaid rule working as agreed, not an emergency at 3 a.m.
            account,
            balance,
            f"{account.id} 预付费余额用尽（{balance} 元），已断电/关阀",
            f"{account.id}: prepaid balance exhausted ({balance} yuan), supply cut",
            points=list(points),
        )

    def _raise(  # noqa: PLR0917 (one alarm's parts)
        self,
        what: str,
        severity: str,
        account: Account,
        balance: Decimal,
        zh: str,
        en: str,
        **evidence: Any,
    ) -> None:
        """The alarm (audited; ``billing:<what>:<account>``) and the notice."""
        facts = {"account": account.id, "balance": str(balance), **evidence}
        alarm = f"billing:{what}:{account.id}"
        self.bus.publish(AlarmRaised(alarm, severity, zh, en, self.clock.time(), None, facts))
        if self.notify is None:
            return
        level = evidence.get("threshold", "")
        notice = Notice(
            what,
            account.id,
            str(balance),
            zh,
            en,
            dedup=f"{alarm}:{level}@{self.state.rounds.get(account.id, 0)}",
            building=account.building,
            room=account.room,
            evidence=evidence,
        )
        try:
            self.notify(notice)
        except Exception:  # a notification must never stop billing
            _LOGGER.exception("Billing notice for %s could not be queued", account.id)

    def _clear(self, what: str, account_id: str, zh: str, en: str) -> None:
        alarm = f"billing:{what}:{account_id}"
        self.bus.publish(AlarmCleared(alarm, self.clock.time(), zh, en))

    async def _enforce(self, account: Account, balance: Decimal, *, cut: bool) -> None:
        """Send the cut (or restore) to every point not already there, by read-back state.

        A meter the driver reports offline is left alone until it is back (a command to it
        cannot be confirmed); the next cycle after its return sends what is owed.
        """
        for point in self.points(account.id):
            wanted = point.off if cut else point.on
            if self.states.value(point.entity_id) == wanted:
                continue
            if not self.states.is_available(point.entity_id.rsplit(".", 1)[0]):
                self.counters["deferred_offline"] += 1
                continue
            why = (
                f"prepaid balance {balance} yuan: account {account.id} exhausted"
                if cut
                else f"prepaid balance {balance} yuan: account {account.id} restored"
            )
            result = await self.commands.send(
                point.entity_id, wanted, actor=ACTOR, reason=why, source="billing"
            )
            if not result.ok:
                self.counters["commands_failed"] += 1

    # -- the command guard -------------------------------------------------------------------

    def guard_for(self, account_of_entity: Callable[[str], str | None]) -> _CutGuard:
        return _CutGuard(self, account_of_entity)


class _CutGuard:
    """``CommandGuard``: nobody but billing switches a cut account's supply back on."""

    def __init__(self, limits: Limits, account_of: Callable[[str], str | None]) -> None:
        self.limits = limits
        self.account_of = account_of

    def check(self, entity: Entity, value: Value, actor: str, source: str) -> str | None:
        if actor == ACTOR:
            return None
        account = self.account_of(entity.entity_id)
        if account is None or account not in self.limits.state.cut:
            return None
        for point in self.limits.points(account):
            if point.entity_id == entity.entity_id and value == point.on:
                return f"prepaid account {account} has run out: top it up first (billing)"
        return None
