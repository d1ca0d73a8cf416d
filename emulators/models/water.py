"""Water and heat meters: use events (showers, washing) drive flow; volume integrates it.

``WaterMeter`` is a room's cold- or hot-water meter with a motorised valve: each use is a
random event with its own flow and length, so flow is zero most of the time and volume rises
in steps, as on a real meter. ``HeatMeter`` is a building's hot-water heat meter: with
hundreds of users behind it, flow follows the expected demand plus noise, and heat energy is
flow × ΔT × 1.163 kWh/(m³·K).
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field

from .base import CommandRejected, DeviceModel, ModelClock, ModelValue
from .daily import CANTEEN_COOKING, DORM_SHOWERS, DORM_WASHING, Shape
from .electricity import poisson

__all__ = ["COLD_USES", "HOT_USES", "KITCHEN_USES", "HeatMeter", "WaterMeter", "WaterUse"]

WATER_HEAT_KWH_PER_M3K = 1.163
"""Heat to warm 1 m³ of water by 1 K."""


@dataclass(frozen=True, slots=True)
class WaterUse:
    """One kind of water use: a shower, a hand wash, a toilet flush (per person per day)."""

    name: str
    litres_per_min: float
    minutes: float
    per_day: float
    shape: Shape

    @property
    def litres(self) -> float:
        return self.litres_per_min * self.minutes


# ≈ 85 L cold + 70 L hot per person per day: within GB 50015's 100–200 L (DOMAIN.md §6).
COLD_USES = (
    WaterUse("wash", 6.0, 0.6, 6.0, DORM_WASHING),
    WaterUse("flush", 9.0, 0.7, 5.0, DORM_WASHING),
    WaterUse("laundry", 8.0, 3.0, 0.3, DORM_WASHING),
)
HOT_USES = (
    WaterUse("shower", 8.0, 8.0, 0.8, DORM_SHOWERS),
    WaterUse("wash", 5.0, 0.6, 2.0, DORM_WASHING),
)

KITCHEN_USES = (
    WaterUse("sink", 12.0, 3.0, 150.0, CANTEEN_COOKING),
    WaterUse("rinse", 20.0, 5.0, 30.0, CANTEEN_COOKING),
)

_VALVE_WORDS = {"open": True, "closed": False, "close": False}


@dataclass(slots=True)
class _Use:
    use: WaterUse
    start: float
    end: float


@dataclass
class _WaterState:
    volume: float
    valve_open: bool = True
    flow: float = 0.0
    low_battery: bool = False
    running: list[_Use] = field(default_factory=list)


class WaterMeter(DeviceModel):
    """A water meter with valve. Canonical values: volume (m³), flow (m³/h), valve.

    ``people`` users follow the dorm timetable when ``occupied`` (a room); otherwise the uses'
    own daily shapes carry the rhythm (a canteen kitchen).
    """

    def __init__(
        self,
        clock: ModelClock,
        rng: random.Random,
        uses: tuple[WaterUse, ...],
        people: int,
        *,
        occupied: bool = True,
        volume: float | None = None,
        tz: str = "Asia/Shanghai",
    ) -> None:
        super().__init__(clock, rng, tz)
        self.uses = uses
        self.people = people
        self.occupied = occupied
        start = rng.uniform(20, 400) if volume is None else volume
        self.state = _WaterState(volume=start)

    def _present(self, t: float) -> float:
        return self.people * (self.presence(t) if self.occupied else 1.0)

    def _step(self, t: float, dt: float) -> None:
        st = self.state
        end = t + dt
        if st.valve_open:
            hour = self.local_hour(t + dt / 2)
            present = self._present(t)
            for use in self.uses:
                rate = use.shape.per_hour(use.per_day, hour) * present
                for _ in range(poisson(self.rng, rate * dt / 3600.0)):
                    start = t + self.rng.uniform(0, dt)
                    length = use.minutes * 60.0 * self.rng.uniform(0.6, 1.4)
                    st.running.append(_Use(use, start, start + length))
            litres = 0.0
            for run in st.running:
                overlap = max(0.0, min(end, run.end) - max(t, run.start))
                litres += run.use.litres_per_min * overlap / 60.0
            st.volume += litres / 1000.0
        st.running = [r for r in st.running if r.end > end]
        st.flow = sum(r.use.litres_per_min for r in st.running if r.start <= end) * 0.06

    def _snapshot(self) -> Mapping[str, ModelValue]:
        st = self.state
        return {
            "volume": round(st.volume, 5),
            "flow": round(st.flow if st.valve_open else 0.0, 4),
            "valve": "open" if st.valve_open else "closed",
            "valve_open": st.valve_open,
            "valve_closed": not st.valve_open,
            "valve_abnormal": False,
            "low_battery": st.low_battery,
            "reverse_volume": 0.0,
            "pipe_status": 0,
            "battery": 3.6 if not st.low_battery else 3.1,
            "prepaid_remaining": 100.0,  # m³ left on a prepaid meter (campuses rarely use it)
        }

    def _apply(self, key: str, value: ModelValue) -> None:
        if key != "valve":
            raise CommandRejected(key, value, "not a writable point of a water meter")
        if isinstance(value, bool):
            self.state.valve_open = value
        elif isinstance(value, str) and value in _VALVE_WORDS:
            self.state.valve_open = _VALVE_WORDS[value]
        else:
            raise CommandRejected(key, value, "expected 'open' or 'closed'")
        if not self.state.valve_open:
            self.state.running.clear()
            self.state.flow = 0.0


_TOTALISER_M3 = {"m³": 1.0, "L": 0.001, "US gal": 0.003785411784, "ft³": 0.028316846592}
"""m³ per totaliser unit the emulated heat meter can be set to."""

_ENERGY_KWH = {"kWh": 1.0, "GJ": 1e9 / 3.6e6, "kcal": 4186.8 / 3.6e6, "BTU": 1055.05585262 / 3.6e6}
"""kWh per energy-accumulator unit the emulated heat meter can be set to."""


class HeatMeter(DeviceModel):
    """A building's hot-water heat meter (TUF-2000M style) behind ``people`` users.

    Canonical values: flow (m³/h), volume and volume_fraction (the totaliser's whole counts
    and fraction, in ``totaliser_unit`` × ``totaliser_multiplier`` as a real meter counts them),
    heat_power (kW; the binding serves GJ/h to the TUF-2000M's REG3), heat_energy (counts
    of ``energy_unit`` × ``energy_multiplier``; kWh ×1 unless a test sets them),
    supply_temperature and return_temperature (°C), error_code, low_battery (battery-powered
    CJ/T 188 heat meters report it; never set here).
    """

    def __init__(
        self,
        clock: ModelClock,
        rng: random.Random,
        people: int,
        *,
        uses: tuple[WaterUse, ...] = HOT_USES,
        supply_c: float = 58.0,
        volume: float | None = None,
        tz: str = "Asia/Shanghai",
    ) -> None:
        super().__init__(clock, rng, tz)
        self.people = people
        self.uses = uses
        self.supply_c = supply_c
        self.volume = rng.uniform(1000, 20000) if volume is None else volume
        self.heat_energy = self.volume * 40.0 * WATER_HEAT_KWH_PER_M3K
        self.flow = 0.0
        self.supply = supply_c
        self.inlet = 15.0
        self.totaliser_unit = "m³"
        self.totaliser_multiplier = "1"
        self.energy_unit = "kWh"
        self.energy_multiplier = "1"

    def _demand(self, t: float) -> float:
        """Expected flow in m³/h at ``t``."""
        hour = self.local_hour(t)
        litres_per_hour = sum(u.shape.per_hour(u.per_day, hour) * u.litres for u in self.uses)
        return self.people * litres_per_hour / 1000.0

    def _step(self, t: float, dt: float) -> None:
        self.flow = max(0.0, self._demand(t + dt / 2) * self.rng.gauss(1.0, 0.15))
        seasonal = math.cos(2 * math.pi * (self.day_of_year(t) - 20) / 365.25)
        self.inlet = 17.0 - 8.0 * seasonal
        self.supply = self.supply_c + self.rng.uniform(-1.5, 1.5)
        m3 = self.flow * dt / 3600.0
        self.volume += m3
        self.heat_energy += m3 * (self.supply - self.inlet) * WATER_HEAT_KWH_PER_M3K

    def _snapshot(self) -> Mapping[str, ModelValue]:
        heat_kw = self.flow * (self.supply - self.inlet) * WATER_HEAT_KWH_PER_M3K
        counts = self.volume / (
            _TOTALISER_M3[self.totaliser_unit] * float(self.totaliser_multiplier)
        )
        energy_counts = self.heat_energy / (
            _ENERGY_KWH[self.energy_unit] * float(self.energy_multiplier)
        )
        return {
            "flow": round(self.flow, 4),
            "volume": math.floor(counts),
            "volume_fraction": round(counts - math.floor(counts), 4),
            "totaliser_unit": self.totaliser_unit,
            "totaliser_multiplier": self.totaliser_multiplier,
            "heat_power": round(heat_kw, 3),
            "heat_energy": round(energy_counts, 3),  # the int32 register truncates it
            "energy_unit": self.energy_unit,
            "energy_multiplier": self.energy_multiplier,
            "supply_temperature": round(self.supply, 2),
            "return_temperature": round(self.inlet, 2),
            "error_code": 0,
            "low_battery": False,
        }

    def _apply(self, key: str, value: ModelValue) -> None:
        raise CommandRejected(key, value, "a heat meter has no writable points")
