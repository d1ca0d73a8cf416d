"""The report's tables, part 2: buildings, floors, rooms, circuits and the rankings.

Each place counts its meters once through the hierarchy (``Places``): a meter belongs to a
building, floor or room total when its parent meter lies outside that place.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from .i18n import CIRCUIT_NAMES, named
from .model import Column, Table
from .tables import RoomFigure, Tables, change, ratio

__all__ = ["buildings", "circuits", "floors", "room_figures", "rooms", "stars", "top_users"]


def buildings(m: Tables) -> Table:
    now = m.grouped(m.period, m.by_building)
    before = m.grouped(m.baseline, m.by_building)
    kgce = m.settings.kgce_per_kwh
    table = Table(
        "buildings",
        m.t("t_buildings"),
        (
            m.col("building", "text"),
            m.col("people", "int"),
            *m.use_columns(),
            Column(m.t("energy_kgce") + " kgce"),
            Column(m.t("kgce_m2"), "num3"),
        ),
    )
    m.per_capita.clear()
    for (building_id,), q in sorted(now.items()):
        people = m.people_of(building_id)
        area = m.site.buildings[building_id].floor_area_m2
        b = before.get((building_id,), {})
        m.per_capita.append(
            (
                m.building_name(building_id),
                m.ppd(b.get("electricity"), people, m.base_days),
                m.ppd(q["electricity"], people, m.days),
            )
        )
        table.rows.append(
            (
                m.building_name(building_id),
                people,
                *m.use_cells(q, b, people),
                q["electricity"] * kgce,
                ratio(q["electricity"] * kgce, area or 0.0),
            )
        )
    return table


def floors(m: Tables) -> Table:
    now = m.grouped(m.period, m.by_floor)
    before = m.grouped(m.baseline, m.by_floor)
    table = Table(
        "floors",
        m.t("t_floors"),
        (
            m.col("building", "text"),
            m.col("floor", "int"),
            m.col("people", "int"),
            *m.use_columns(),
        ),
    )
    for (building_id, floor), q in sorted(now.items(), key=lambda i: (i[0][0], int(i[0][1]))):
        people = m.people_of(building_id, int(floor))
        b = before.get((building_id, floor), {})
        table.rows.append(
            (m.building_name(building_id), int(floor), people, *m.use_cells(q, b, people))
        )
    return table


def room_figures(m: Tables) -> list[RoomFigure]:
    now = m.grouped(m.period, m.by_room)
    before = m.grouped(m.baseline, m.by_room)
    out = []
    floors = {
        (b.id, r.id): (r.floor, r.occupancy) for b in m.site.buildings.values() for r in b.rooms
    }
    for (building_id, room), q in sorted(now.items()):
        floor, people = floors.get((building_id, room), (0, 0))
        out.append(
            (
                building_id,
                room,
                floor,
                people,
                dict(q),
                dict(before.get((building_id, room), {})),
            )
        )
    return out


def rooms(m: Tables, figures: Sequence[RoomFigure]) -> Table:
    table = Table(
        "rooms",
        m.t("t_rooms"),
        (
            m.col("building", "text"),
            m.col("room", "text"),
            m.col("floor", "int"),
            m.col("people", "int"),
            *m.use_columns(),
        ),
    )
    for building_id, room, floor, people, q, b in figures:
        table.rows.append(
            (
                m.building_name(building_id),
                room,
                floor,
                people,
                *m.use_cells(q, b, people),
            )
        )
    return table


def circuits(m: Tables) -> Table:
    """Electricity per circuit category of each building's sub-meters (not the mains)."""
    sums: dict[tuple[str, str], float] = defaultdict(float)
    seen: dict[str, str] = {}
    for (device, _, circuit, quantity), _amount in m.period.meters.items():
        if quantity == "electricity":
            seen[device] = circuit
    for (device, parent, circuit, quantity), amount in m.period.meters.items():
        place = m.places.of(device)
        if quantity != "electricity" or place is None or circuit in ("", "main"):
            continue
        if not m.places.in_scope(device, m.scope):
            continue
        # counted once per circuit: skip a sub-meter whose parent meters the same circuit
        if parent and seen.get(parent) == circuit:
            continue
        sums[(place.building, circuit)] += amount
    totals: dict[str, float] = defaultdict(float)
    for (building_id, _), amount in sums.items():
        totals[building_id] += amount
    table = Table(
        "circuits",
        m.t("t_circuits"),
        (
            m.col("building", "text"),
            m.col("circuit", "text"),
            Column(m.t("electricity") + " kWh"),
            Column("%", "share"),
        ),
    )
    for (building_id, circuit), amount in sorted(sums.items()):
        table.rows.append(
            (
                m.building_name(building_id),
                named(CIRCUIT_NAMES, circuit, m.lang),
                amount,
                ratio(amount, totals[building_id]),
            )
        )
    return table


def stars(
    m: Tables,
    figures: Sequence[RoomFigure],
    key: str,
    quantities: tuple[str, ...],
) -> Table:
    """Rooms with the largest drop in use per person-day against the baseline."""
    changes = []
    for building_id, room, _, people, q, b in figures:
        now = m.ppd(sum(q.get(x, 0.0) for x in quantities), people, m.days)
        before = m.ppd(sum(b.get(x, 0.0) for x in quantities), people, m.base_days)
        drop = change(now, before)
        if drop is not None:
            changes.append((drop, building_id, room, before, now))
    changes.sort(key=lambda c: (c[0], c[1], c[2]))
    table = Table(
        key,
        m.t("t_" + key),
        (
            m.col("rank", "int"),
            m.col("building", "text"),
            m.col("room", "text"),
            m.col("b_ppd", "num3"),
            m.col("p_ppd", "num3"),
            m.col("change", "pct"),
        ),
    )
    for rank, (drop, building_id, room, before, now) in enumerate(
        changes[: m.settings.rankings], start=1
    ):
        table.rows.append((rank, m.building_name(building_id), room, before, now, drop))
    return table


def top_users(m: Tables, figures: Sequence[RoomFigure]) -> Table:
    users = [
        (
            m.ppd(q.get("electricity", 0.0), people, m.days) or 0.0,
            b,
            room,
            q.get("electricity", 0.0),
        )
        for b, room, _, people, q, _ in figures
        if people > 0
    ]
    users.sort(key=lambda u: (-u[0], u[1], u[2]))
    table = Table(
        "top_users",
        m.t("t_top_users"),
        (
            m.col("rank", "int"),
            m.col("building", "text"),
            m.col("room", "text"),
            Column(m.t("electricity") + " kWh"),
            m.col("p_ppd", "num3"),
        ),
    )
    for rank, (ppd, b, room, kwh) in enumerate(users[: m.settings.rankings], start=1):
        table.rows.append((rank, m.building_name(b), room, kwh, ppd))
    return table
