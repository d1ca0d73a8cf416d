"""The API docs page works on an intranet: every asset it loads is served by the controller."""

from __future__ import annotations

import re

import httpx

from controller.api.app import STATIC_DIR
from tests.api.test_api import accounts, client, controller, staff

# the fixtures of the API tests, on their small site
__all__ = ["accounts", "client", "controller", "staff"]


async def test_docs_page_loads_only_local_assets(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    assert "sanjie" in page.text
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
    urls += re.findall(r"""url: *["']([^"']+)["']""", page.text)
    assert urls, page.text
    for url in urls:
        assert not re.match(r"^(https?:)?//", url), f"/docs loads {url} from outside the controller"
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 100, url


async def test_no_cdn_redoc_page(client: httpx.AsyncClient) -> None:
    assert (await client.get("/redoc")).status_code == 404


def test_vendored_assets_have_licence_and_manifest() -> None:
    vendor = STATIC_DIR / "vendor"
    manifest = (vendor / "README.md").read_text(encoding="utf-8")
    for folder in (p for p in vendor.iterdir() if p.is_dir()):
        assert (folder / "LICENSE").is_file() or (folder / "LICENSE.txt").is_file(), folder
        assert f"`{folder.name}/`" in manifest, f"{folder.name} is not listed in vendor/README.md"
