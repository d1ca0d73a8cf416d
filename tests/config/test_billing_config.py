"""The site's ``billing:`` section: loaded as exact decimals, errors with file:line:col."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from tests.config.sites import issues_of, loads

SiteWith = Callable[[str], Path]

DEVICES = """\
- {id: dorm-1.101.elec, profile: eastron/sdm120, building: dorm-1, room: "101", link: gw-1,
   unit_id: 1}
"""

BILLING = """\
billing:
  warn_at: [10, "2.5"]
  tariffs:
    - id: elec
      utility: electricity
      effective_from: 2026-03-01
      free_per_bed: 8
      pricing:
        type: tiered
        tiers: [{up_to: 50, price: 0.6}, {price: "0.80"}]
"""


def _site(site_with: SiteWith, billing: str) -> Path:
    path = site_with(DEVICES)
    path.write_text(path.read_text(encoding="utf-8") + billing, encoding="utf-8")
    return path


def test_billing_loads_with_exact_decimals(site_with: SiteWith) -> None:
    site = loads(_site(site_with, BILLING))
    assert site.billing is not None
    assert site.billing.warn_at == [Decimal(10), Decimal("2.5")]
    (tariff,) = site.billing.tariffs
    assert tariff.pricing.type == "tiered"
    assert [t.price for t in tariff.pricing.tiers] == [Decimal("0.6"), Decimal("0.80")]


def test_billing_errors_point_at_the_field(site_with: SiteWith) -> None:
    broken = BILLING.replace("utility: electricity", "utility: gas").replace(
        '[{up_to: 50, price: 0.6}, {price: "0.80"}]', "[{up_to: 50, price: -1}]"
    )
    path = _site(site_with, broken)
    first, second = issues_of(path)
    assert first.startswith(f"{path}:20:16 billing.tariffs[0].utility: 'gas'")
    assert second.startswith(f"{path}:25:36 billing.tariffs[0].pricing.tiers[0].price: ")
    assert "greater than or equal to 0" in second


def test_billed_buildings_must_exist(site_with: SiteWith) -> None:
    path = _site(site_with, BILLING.replace("warn_at", "buildings: [dorm-9]\n  warn_at"))
    assert issues_of(path) == [f"{path}:17:15 billing.buildings[0]: unknown building 'dorm-9'"]


def test_two_tariffs_of_a_utility_cannot_start_the_same_day(site_with: SiteWith) -> None:
    twice = BILLING + BILLING.split("tariffs:\n", 1)[1].replace("id: elec", "id: elec-2")
    path = _site(site_with, twice)
    (issue,) = issues_of(path)
    assert "both start 2026-03-01 for electricity" in issue
    assert issue.startswith(f"{path}:")


def test_opening_balances_name_rooms_of_the_site(site_with: SiteWith) -> None:
    good = BILLING.replace("warn_at", 'opening_balances: {dorm-1.101: "0.50"}\n  warn_at')
    site = loads(_site(site_with, good))
    assert site.billing is not None
    assert site.billing.opening_balances == {"dorm-1.101": Decimal("0.50")}
    path = _site(site_with, good.replace("dorm-1.101", "dorm-1.999"))
    assert issues_of(path) == [
        f"{path}:17:34 billing.opening_balances.dorm-1.999: no room 'dorm-1.999': keys are "
        "<building>.<room> of the site's rooms"
    ]


NOTIFY = """\
notify:
  channels:
    - {id: sms-gw, type: webhook, url: "https://sms-gw.example.edu.cn/hook"}
"""


def test_billing_notices_name_channels_of_the_notify_section(site_with: SiteWith) -> None:
    path = _site(site_with, NOTIFY + BILLING.replace("warn_at", "notify: [sms-gw]\n  warn_at"))
    site = loads(path)
    assert site.billing is not None
    assert site.billing.notify == ["sms-gw"]


def test_an_unknown_billing_channel_is_pointed_at(site_with: SiteWith) -> None:
    billing = BILLING.replace("warn_at", "notify: [sms-gw, sms]\n  warn_at")
    path = _site(site_with, NOTIFY + billing)
    assert issues_of(path) == [f"{path}:20:20 billing.notify[1]: unknown channel 'sms' (sms-gw)"]
    alone = _site(site_with, billing)
    assert issues_of(alone) == [
        f"{alone}:17:12 billing.notify[0]: unknown channel 'sms-gw' (none: add notify.channels)",
        f"{alone}:17:20 billing.notify[1]: unknown channel 'sms' (none: add notify.channels)",
    ]


def test_the_one_shot_webhook_says_what_replaced_it(site_with: SiteWith) -> None:
    path = _site(site_with, BILLING.replace("warn_at", "webhook: https://x.example/\n  warn_at"))
    (issue,) = issues_of(path)
    assert issue.startswith(f"{path}:17:12 billing.webhook: ")
    assert "replaced by 'notify'" in issue
