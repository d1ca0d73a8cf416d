"""The campus generator: the shipped example campus is exactly what it writes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from controller.sitegen import SiteShape, write_site
from tests.conftest import EXAMPLE_SITE


def test_the_example_campus_is_generated_not_hand_edited(tmp_path: Path) -> None:
    write_site(tmp_path, SiteShape())
    shipped = EXAMPLE_SITE.parent
    names = sorted(p.relative_to(shipped).as_posix() for p in shipped.rglob("*.yaml"))
    assert names == sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.yaml"))
    for name in names:
        assert (shipped / name).read_text(encoding="utf-8") == (tmp_path / name).read_text(
            encoding="utf-8"
        ), f"regenerate with: sanjie gen-site --out examples/campus ({name} differs)"


def test_english_names_are_english() -> None:
    """An en campus shows every name in English (the hot-water buses were ``1号楼 hot-water
    meters``)."""
    from controller.config import load_site

    site = load_site(EXAMPLE_SITE)
    named = [*site.links.values(), *site.buildings.values(), *site.devices.values()]
    mixed = [
        (x.id, x.name.en)
        for x in named
        if x.name is not None and x.name.en and re.search(r"[\u4e00-\u9fff]", x.name.en)
    ]
    assert not mixed


def test_shape_limits() -> None:
    with pytest.raises(ValueError, match="at most 20 rooms per floor"):
        SiteShape(rooms_per_floor=21)
    with pytest.raises(ValueError, match="positive"):
        SiteShape(rooms=0)


def test_generated_campuses_bill_every_dorm_room_and_some_start_low(tmp_path: Path) -> None:
    from decimal import Decimal

    from controller.config import load_site

    site = load_site(write_site(tmp_path / "b", SiteShape(rooms=30, rooms_per_floor=10)))
    assert site.billing is not None
    assert {t.utility.value for t in site.billing.tariffs} == {
        "electricity",
        "cold_water",
        "hot_water",
    }
    low = site.billing.opening_balances
    assert sorted(low) == ["dorm-1.101", "dorm-1.102", "dorm-1.103", "dorm-1.104"]
    assert all(v < max(site.billing.warn_at) for v in low.values())  # warned at once
    assert site.billing.opening_balance == Decimal(50)
    plain = load_site(write_site(tmp_path / "b", SiteShape(rooms=30, billing=False)))
    assert plain.billing is None  # and the stale billing.yaml is gone
    assert not (tmp_path / "b" / "billing.yaml").exists()


def test_the_example_campus_has_a_reading_rule_and_a_night_rule_on_aggregates() -> None:
    """The issue's own examples: hot water below 55 °C for 30 minutes, and a room's night
    consumption (sockets between 00:00 and 06:00), evaluated from the hourly statistics."""
    from controller.config import load_site

    site = load_site(EXAMPLE_SITE)
    [rule] = site.alarms.rules
    assert (rule.entity, rule.below, rule.for_s) == (
        "bath-1.hot-water.supply_temperature",
        55,
        1800,
    )
    assert rule.entity in {f"{d}.supply_temperature" for d in site.devices}
    [night] = site.alarms.aggregates
    assert (night.id, night.per, night.quantity, night.above) == (
        "night-sockets",
        "room",
        "active_energy",
        2,
    )


def test_a_generated_campus_can_carry_its_dlt645_relay_password(tmp_path: Path) -> None:
    """Without a password the DL/T 645 floor refuses the curfew's relay commands ("no relay
    password configured"); a benchmark's or trial's campus writes one both its emulators and
    its controller read. The shipped example keeps none (the demo makes one per run)."""
    from controller.config import load_site
    from controller.config.site import Dlt645Link
    from controller.sitegen import random_relay_password

    password = random_relay_password()
    assert len(password) == 6
    assert password.isdigit()
    site = load_site(write_site(tmp_path / "p", SiteShape(rooms=120, relay_password=password)))
    meters = [link for link in site.links.values() if isinstance(link, Dlt645Link)]
    assert meters
    assert all(
        link.relay_password is not None and link.relay_password.get_secret_value() == password
        for link in meters
    )
    example = load_site(EXAMPLE_SITE)
    assert all(
        link.relay_password is None
        for link in example.links.values()
        if isinstance(link, Dlt645Link)
    )
    with pytest.raises(ValueError, match="6 digits"):
        SiteShape(relay_password="12345")
