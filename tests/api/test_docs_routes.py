"""docs/api.md names every route the API serves, so a script writer finds each one there.

A route counts as named when its path stands in the routes table (path parameters may be
named differently: ``{entity}`` for ``{entity_id}``), or falls under a documented family
(``/api/billing/…``).
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from tests.api.test_api import accounts, client, controller, staff

# the fixtures of the API tests, on their small site
__all__ = ["accounts", "client", "controller", "staff"]

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def _shape(path: str) -> str:
    """A path with every parameter as ``{}``: ``/api/states/{}``."""
    return re.sub(r"\{[^}]*\}", "{}", path)


def _documented() -> tuple[set[str], tuple[str, ...]]:
    """Paths named in the doc's code spans, and the families written ``/api/x/…``."""
    spans = re.findall(r"`(?:[A-Z]+ )?(/api/[^`?\s]*)", DOC.read_text(encoding="utf-8"))
    paths = {_shape(s) for s in spans if not s.endswith("…")}
    families = tuple(s.removesuffix("…") for s in spans if s.endswith("…"))
    return paths | {f.rstrip("/") for f in families}, families


async def test_every_route_is_in_the_api_doc(client: httpx.AsyncClient) -> None:
    served = (await client.get("/openapi.json")).json()["paths"]
    assert "/api/buildings" in served  # the walk sees the routes
    paths, families = _documented()
    missing = sorted(
        path
        for path in served
        if path.startswith("/api/") and _shape(path) not in paths and not path.startswith(families)
    )
    assert not missing, f"routes docs/api.md does not name: {missing}"
