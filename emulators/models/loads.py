"""Load profiles of the campus circuits: dorm sockets, lighting, building mains, kitchens, plugs.

Figures are order-of-magnitude realistic (``DOMAIN.md`` §2, §6): a dorm room's sockets use
~2 kWh a day, a kettle or immersion heater (热得快) is a resistive step of 1–1.5 kW at power
factor 1 (prohibited), a hair dryer a short 1.2 kW step (allowed).
"""

from __future__ import annotations

from .daily import (
    CANTEEN_COOKING,
    CANTEEN_OPEN,
    CONSTANT,
    DORM_ACTIVITY,
    DORM_SHOWERS,
    LIGHTING,
    Shape,
)
from .electricity import Appliance, LoadProfile

__all__ = [
    "bath_main",
    "canteen_main",
    "dorm_main",
    "dorm_sockets",
    "floor_lighting",
    "kitchen_load",
    "plug_load",
]

_EVENING = Shape(
    (0.3, 0.1, 0.0, 0.0, 0.0, 0.0, 0.2, 1.0, 0.5, 0.2, 0.2, 0.3,
     0.8, 0.5, 0.3, 0.3, 0.3, 0.5, 0.8, 1.0, 1.2, 1.5, 1.5, 0.8)
)  # fmt: skip

DORM_APPLIANCES = (
    Appliance("hair_dryer", 1200.0, 0.99, 5.0, 0.4, _EVENING),
    Appliance("kettle", 1500.0, 1.0, 5.0, 0.05, _EVENING, prohibited=True),
    Appliance("immersion_heater", 1000.0, 1.0, 15.0, 0.02, _EVENING, prohibited=True),
    Appliance("monitor", 60.0, 0.7, 120.0, 0.3, _EVENING),
    # a small resistive load: only a 60–150 W range at PF ≥ 0.97 tells it from a monitor
    Appliance("electric_blanket", 100.0, 1.0, 180.0, 0.03, _EVENING, prohibited=True),
)


def dorm_sockets(people: int) -> LoadProfile:
    """A dorm room's socket circuit: chargers and laptops per present person, appliances."""
    return LoadProfile(
        base_w=8.0,
        base_pf=0.6,
        variable_w=45.0,
        variable_pf=0.85,
        shape=DORM_ACTIVITY,
        people=people,
        appliances=DORM_APPLIANCES,
    )


def floor_lighting(rooms: int) -> LoadProfile:
    """Corridor and washroom lighting of one floor (LED, ~25 W per room served)."""
    return LoadProfile(base_w=20.0, variable_w=25.0 * rooms, variable_pf=0.92, shape=LIGHTING)


def dorm_main(rooms: int) -> LoadProfile:
    """A dorm building's incomer: every room's circuits plus pumps and lifts (three-phase)."""
    return LoadProfile(
        base_w=3000.0,
        base_pf=0.85,
        variable_w=180.0 * rooms,
        variable_pf=0.9,
        shape=DORM_ACTIVITY,
        phases=3,
        noise=0.08,
    )


def canteen_main() -> LoadProfile:
    return LoadProfile(
        base_w=12000.0, variable_w=90000.0, variable_pf=0.92, shape=CANTEEN_OPEN, phases=3
    )


def bath_main() -> LoadProfile:
    """Bathhouse incomer: circulation pumps, ventilation, lighting follow the shower peak."""
    return LoadProfile(base_w=4000.0, variable_w=25000.0, shape=DORM_SHOWERS, phases=3)


_KITCHEN: dict[str, LoadProfile] = {
    "cooking": LoadProfile(
        base_w=500.0, variable_w=45000.0, variable_pf=0.96, shape=CANTEEN_COOKING, phases=3
    ),
    "cold-store": LoadProfile(
        base_w=1500.0,
        appliances=(Appliance("compressor", 4500.0, 0.82, 20.0, 30.0, CONSTANT, False),),
        phases=3,
    ),
    "exhaust": LoadProfile(variable_w=5500.0, variable_pf=0.8, shape=CANTEEN_OPEN, phases=3),
    "dishwasher": LoadProfile(
        base_w=200.0,
        appliances=(Appliance("wash_cycle", 14000.0, 0.97, 25.0, 6.0, CANTEEN_OPEN, False),),
        phases=3,
    ),
    "water-boiler": LoadProfile(
        base_w=30.0,
        appliances=(Appliance("heating", 3000.0, 1.0, 10.0, 40.0, CANTEEN_OPEN, False),),
    ),
}

_PLUGS: dict[str, LoadProfile] = {
    "display-fridge": LoadProfile(
        base_w=15.0,
        appliances=(Appliance("compressor", 180.0, 0.8, 15.0, 40.0, CONSTANT, False),),
    ),
    "drink-cooler": LoadProfile(
        base_w=10.0,
        appliances=(Appliance("compressor", 220.0, 0.8, 20.0, 30.0, CONSTANT, False),),
    ),
    "signage": LoadProfile(variable_w=80.0, variable_pf=0.9, shape=CANTEEN_OPEN),
    "dining-fans": LoadProfile(variable_w=240.0, variable_pf=0.85, shape=CANTEEN_OPEN),
}


def kitchen_load(name: str) -> LoadProfile:
    """A canteen kitchen sub-circuit by name (cooking, cold-store, exhaust, …)."""
    return _KITCHEN.get(name, _KITCHEN["cooking"])


def plug_load(name: str) -> LoadProfile:
    """A smart plug's appliance by name (display-fridge, drink-cooler, signage, dining-fans)."""
    return _PLUGS.get(name, _PLUGS["signage"])
