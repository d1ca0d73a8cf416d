"""Supervision: a component that fails at run time is restarted, not allowed to stop the site.

One meter bus whose gateway sends garbage, a full disk under the recorder or a bug in one policy
must not stop the polling of every other bus. ``Supervisor.run()`` runs one job (a component's
``run``, or one bus of the Modbus integration) and, when it raises:

* marks the devices the job drives unavailable (their values are no longer being refreshed);
* raises one alarm (``AlarmRaised``, id ``component.<name>``, severity ``critical``) per outage;
* waits ``Backoff.delay(failures)`` (capped, jittered; see ``drivers.backoff``) and runs it again;
* once a restarted run has lasted ``settle`` seconds, counts the job as recovered: the failure
  count resets and the alarm is cleared (``AlarmCleared`` with the same id). The job itself
  brings its devices back, with fresh readings.

Errors at start-up still stop the process, because restarting cannot fix them: anything a job
raises before the controller has finished starting (``Controller.running`` sets ``started``),
and, during a job's first run, the configuration errors in ``FATAL`` (an invalid site, a broker
refusing our credentials). A job that returns normally is finished and is not restarted.

Supervision runs on the event loop's (monotonic) time, not the site clock: a demo at 60× speed
must not restart a component 60 times faster than a real broker can come back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from controller.config import ConfigError
from controller.core import AlarmCleared, AlarmRaised, Clock, EventBus, StateStore
from drivers.backoff import Backoff
from drivers.mqtt import AuthenticationFailed

__all__ = ["FATAL", "SupervisionOptions", "Supervisor", "SupervisorState"]

_LOGGER = logging.getLogger(__name__)

FATAL: tuple[type[Exception], ...] = (ConfigError, AuthenticationFailed)
"""Errors that stop the process when a job raises them in its first run."""


def _fatal(err: BaseException) -> bool:
    """A configuration error, also inside the exception group of a component's TaskGroup."""
    if isinstance(err, BaseExceptionGroup):
        return any(_fatal(e) for e in err.exceptions)
    return isinstance(err, FATAL)


@dataclass(frozen=True, slots=True)
class SupervisionOptions:
    """``backoff``: waits between restarts. ``settle``: seconds a restarted run must last to
    count as recovered (then the alarm clears and the next failure waits ``initial`` again)."""

    backoff: Backoff = field(default_factory=lambda: Backoff(1.0, 60.0))
    settle: float = 10.0


class SupervisorState(StrEnum):
    STARTING = "starting"
    RUNNING = "running"
    RECOVERING = "recovering"  # restarted, not yet settled
    BACKOFF = "backoff"
    STOPPED = "stopped"


class Supervisor:
    """Runs ``job`` (a fresh coroutine per attempt) until cancelled, restarting it on failure.

    ``devices``: the device ids the job drives (marked unavailable while it is down).
    ``started``: set by the controller once start-up is over (failures before are fatal).
    """

    def __init__(
        self,
        name: str,
        job: Callable[[], Awaitable[None]],
        *,
        bus: EventBus,
        states: StateStore,
        clock: Clock,
        started: asyncio.Event,
        devices: Collection[str] = (),
        options: SupervisionOptions | None = None,
    ) -> None:
        self.name = name
        self.alarm_id = f"component.{name}"
        self.devices = tuple(devices)
        self.options = options or SupervisionOptions()
        self.state = SupervisorState.STARTING
        self.restarts = 0
        self.failures = 0
        self.last_error: str | None = None
        self._job = job
        self._bus = bus
        self._states = states
        self._clock = clock
        self._started = started
        self._alarmed = False

    async def run(self) -> None:
        """Run the job, restarting it after failures, until cancelled or it returns."""
        first = True
        try:
            while True:
                if first:
                    self.state = SupervisorState.RUNNING
                settled = None if first else self._settle_timer()
                try:
                    await self._job()
                except Exception as err:
                    if not self._started.is_set() or (first and _fatal(err)):
                        raise
                    delay = self._failed(err)
                else:
                    return  # finished: nothing to restart
                finally:
                    if settled is not None:
                        settled.cancel()
                first = False
                self.state = SupervisorState.BACKOFF
                await asyncio.sleep(delay)
                self.restarts += 1
                self.state = SupervisorState.RECOVERING
                _LOGGER.info("Restarting %s (restart %d)", self.name, self.restarts)
        finally:
            self.state = SupervisorState.STOPPED

    def status(self) -> dict[str, Any]:
        return {
            "state": str(self.state),
            "restarts": self.restarts,
            "failures": self.failures,
            "alarm": self._alarmed,
            "last_error": self.last_error,
        }

    def _settle_timer(self) -> asyncio.TimerHandle:
        return asyncio.get_running_loop().call_later(self.options.settle, self._recovered)

    def _failed(self, err: Exception) -> float:
        self.failures += 1
        cause: BaseException = err
        while isinstance(cause, BaseExceptionGroup) and len(cause.exceptions) == 1:
            cause = cause.exceptions[0]  # a component's TaskGroup wraps the real error
        self.last_error = f"{type(cause).__name__}: {cause}"
        delay = self.options.backoff.delay(self.failures)
        if self.failures == 1:
            _LOGGER.error("%s failed; restarting in %.2f s", self.name, delay, exc_info=err)
        else:
            _LOGGER.warning(
                "%s failed again (%d in a row): %s; restarting in %.2f s",
                self.name,
                self.failures,
                self.last_error,
                delay,
            )
        reason = f"{self.name} failed: {self.last_error}"
        for device_id in self.devices:
            self._states.set_available(device_id, False, reason)
        if not self._alarmed:
            self._alarmed = True
            self._bus.publish(
                AlarmRaised(
                    self.alarm_id,
                    "critical",
                    f"控制器组件 {self.name} 故障，正在自动重启",
                    f"Controller component {self.name} failed and is being restarted",
                    self._clock.time(),
                    evidence={
                        "component": self.name,
                        "error": self.last_error,
                        "devices": len(self.devices),
                    },
                )
            )
        return delay

    def _recovered(self) -> None:
        """The restarted job has run ``settle`` seconds without failing."""
        self.state = SupervisorState.RUNNING
        _LOGGER.info("%s is running again after %d failure(s)", self.name, self.failures)
        self.failures = 0
        if self._alarmed:
            self._alarmed = False
            self._bus.publish(
                AlarmCleared(
                    self.alarm_id,
                    self._clock.time(),
                    f"控制器组件 {self.name} 已恢复",
                    f"Controller component {self.name} is running again",
                )
            )
