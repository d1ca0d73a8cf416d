"""Device behaviour models, independent of any protocol.

Each model takes a clock (anything with ``time()``: ``FakeClock``, ``ScaledClock``) and a
seeded ``random.Random``; ``values()`` integrates up to the clock's time and returns
engineering values; ``command(key, value)`` applies a command or raises ``CommandRejected``.

Canonical value names (what profiles' point keys resolve to, see ``binding.model_key``):

- electricity: energy, export_energy, reactive_energy (kWh), power, reactive_power (W, var),
  voltage, voltage_a/b/c (V), current, current_a/b/c (A), power_factor, frequency (Hz),
  relay (bool), balance (kWh), overload_trip, load_trip (bool)
- water meter: volume (m³), flow (m³/h), valve ("open"/"closed"), low_battery
- heat meter: flow (m³/h), volume, volume_fraction (counts of totaliser_unit ×
  totaliser_multiplier, m³ ×1 by default), heat_power (kW), heat_energy (counts of energy_unit ×
  energy_multiplier, kWh ×1 by default), supply_temperature, return_temperature (°C),
  error_code, low_battery
- AC unit: power_switch ("on"/"off"), mode, fan, setpoint, room_temperature (°C), power (W),
  energy (kWh)
- delayed-closing valve: valve, command, delay, max_open (s), enabled ("on"/"off"), presses,
  volume (m³), flow (L/min), stuck_open, low_battery

``build_model(site, device, clock, seed)`` picks the model for a site's device and
``BoundDevice`` serves a profile's points from it, with value-level fault injection.
"""

from .base import CommandRejected, DeviceModel, ModelClock, ModelValue, device_rng
from .binding import BoundDevice, ValueFaults, model_key
from .catalog import build_model, build_models
from .electricity import Appliance, ElectricityMeter, LoadProfile
from .hvac import AcUnit
from .valve import DelayValve
from .water import HeatMeter, WaterMeter, WaterUse

__all__ = [
    "AcUnit",
    "Appliance",
    "BoundDevice",
    "CommandRejected",
    "DelayValve",
    "DeviceModel",
    "ElectricityMeter",
    "HeatMeter",
    "LoadProfile",
    "ModelClock",
    "ModelValue",
    "ValueFaults",
    "WaterMeter",
    "WaterUse",
    "build_model",
    "build_models",
    "device_rng",
    "model_key",
]
