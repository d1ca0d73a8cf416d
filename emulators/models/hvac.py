"""A split AC unit behind an AC-to-Modbus gateway, with occupants who use it.

Room temperature drifts toward the outdoor temperature (plus gains from people) with a time
constant of a few hours, and toward the setpoint while the unit runs. Power depends on mode
and on the gap between room and setpoint. Occupants switch the unit on when the room is too
hot or cold, often at a setpoint below the 26 °C rule, and sometimes forget it when they
leave: the behaviour the AC policies exist to correct. While the gateway's remote-control
disablement is set (``remote_lock``), the occupants' remote does nothing.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping

from .base import CommandRejected, DeviceModel, ModelClock, ModelValue, number, switch
from .daily import outdoor_temperature

__all__ = ["AC_FANS", "AC_MODES", "AcUnit"]

AC_MODES = ("auto", "heat", "dry", "fan", "cool")
AC_FANS = ("auto", "low", "medium", "high")
_FAN_FACTOR = {"auto": 1.0, "low": 0.85, "medium": 1.0, "high": 1.15}
_ENVELOPE_S = 3 * 3600.0
_COOLING_K_PER_S = 3.0 / 600.0  # a running unit moves the room by up to 3 K in 10 minutes
_COMFORT_SETPOINTS = (22.0, 24.0, 25.0, 26.0, 26.0, 27.0)
_SWITCH_ON_PER_S = 1 / 150.0
"""Occupants in a hot (cold) room switch the unit on after 2.5 minutes on average."""
_FORGET_PER_S = 1 / 600.0
"""Once everyone has left, the unit is switched off after 10 minutes on average."""


def _happens(rng: random.Random, rate_per_s: float, dt: float) -> bool:
    """Whether an event of a Poisson process happens within ``dt`` seconds.

    Per time, not per step: the model is stepped whenever it is read, and a read-back a second
    after a write must not give the occupants the chance a 30-second poll gives them (that made
    policy commands fail read-back in the demo).
    """
    return dt > 0 and rng.random() < -math.expm1(-rate_per_s * dt)


class AcUnit(DeviceModel):
    """Canonical values: power_switch, mode, fan, setpoint, room_temperature, power, energy,
    and the gateway's remote_lock, window_contact, alarm, error_code, real_setpoint and
    auto_mode (what an ``auto`` unit is doing)."""

    def __init__(
        self,
        clock: ModelClock,
        rng: random.Random,
        *,
        occupants: int = 0,
        energy: float | None = None,
        tz: str = "Asia/Shanghai",
    ) -> None:
        super().__init__(clock, rng, tz)
        self.occupants = occupants
        self.on = False
        self.mode = "cool"
        self.fan = "auto"
        self.setpoint = 26.0
        self.energy = rng.uniform(100, 1500) if energy is None else energy
        self.room = self._outdoor(self._t) + rng.uniform(-1, 1)
        self.power = 0.0
        self.remote_locked = False

    def _outdoor(self, t: float) -> float:
        return outdoor_temperature(self.day_of_year(t), self.local_hour(t))

    def _effective_mode(self) -> str:
        if self.mode != "auto":
            return self.mode
        return "cool" if self.room > self.setpoint else "heat"

    def _run(self, dt: float) -> tuple[float, float]:
        """(temperature change, power) from the unit over ``dt`` seconds."""
        if not self.on:
            return 0.0, 0.0
        mode = self._effective_mode()
        factor = _FAN_FACTOR[self.fan]
        if mode == "fan":
            return 0.0, 40.0 * factor
        if mode == "dry":
            return -0.3 * _COOLING_K_PER_S * dt, 350.0 * factor
        gap = self.room - self.setpoint if mode == "cool" else self.setpoint - self.room
        if gap <= 0.3:
            return 0.0, 120.0 * factor  # compressor idling at the setpoint
        move = min(gap, _COOLING_K_PER_S * dt * factor)
        power = (250.0 + 180.0 * min(gap, 5.0)) * factor
        return (-move if mode == "cool" else move), power

    def _occupants_act(self, t: float, dt: float) -> None:
        if self.remote_locked:
            return
        present = self.presence(t) * self.occupants
        if not self.on and present >= 1 and _happens(self.rng, _SWITCH_ON_PER_S, dt):
            if self.room > 28.0:
                self.on, self.mode = True, "cool"
                self.setpoint = self.rng.choice(_COMFORT_SETPOINTS)
            elif self.room < 14.0:
                self.on, self.mode = True, "heat"
                self.setpoint = self.rng.choice(_COMFORT_SETPOINTS[:4])
        elif self.on and present < 0.5 and _happens(self.rng, _FORGET_PER_S, dt):
            self.on = False  # most remember to switch off when they leave

    def _step(self, t: float, dt: float) -> None:
        if self.occupants:
            self._occupants_act(t, dt)
        gains = 0.6 * self.presence(t) * self.occupants
        drift = (self._outdoor(t) + gains - self.room) * dt / _ENVELOPE_S
        move, self.power = self._run(dt)
        self.room += drift + move
        self.energy += self.power * dt / 3.6e6

    def _snapshot(self) -> Mapping[str, ModelValue]:
        return {
            "power_switch": "on" if self.on else "off",
            "mode": self.mode,
            "fan": self.fan,
            "setpoint": round(self.setpoint, 1),
            "room_temperature": round(self.room, 1),
            "power": round(self.power),
            "energy": round(self.energy, 3),
            "remote_lock": "locked" if self.remote_locked else "unlocked",
            "window_contact": "closed",
            "alarm": "ok",
            "error_code": 0,
            "real_setpoint": round(self.setpoint, 1),
            "auto_mode": self._effective_mode(),
        }

    def _apply(self, key: str, value: ModelValue) -> None:
        if key == "power_switch":
            self.on = switch(key, value)
        elif key == "mode" and value in AC_MODES:
            self.mode = str(value)
        elif key == "fan" and value in AC_FANS:
            self.fan = str(value)
        elif key == "setpoint":
            self.setpoint = number(key, value, 16.0, 32.0)
        elif key == "remote_lock" and value in ("locked", "unlocked"):
            self.remote_locked = value == "locked"
        elif key == "window_contact" and value in ("open", "closed"):
            pass  # a contact the controller may report to the unit; nothing to model
        else:
            raise CommandRejected(key, value, "not a valid AC command")
        _, self.power = self._run(0.0)
