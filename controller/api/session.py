"""Sign in and out: ``POST /api/login`` sets the session cookie, ``POST /api/logout`` ends it,
``GET /api/me`` tells the page who is signed in (and the CSRF token its forms must send)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from controller.accounts import AccountStore, BadCredentials, LockedOut

from .auth import COOKIE, Caller, LoginLimiter, Viewer, caller
from .errors import responses

__all__ = ["session_routes"]


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=64)]
    password: Annotated[str, Field(min_length=1, max_length=1024)]


def _me(found: Caller) -> dict[str, Any]:
    account = found.account
    return {
        "name": account.name,
        "display_name": account.display_name,
        "role": account.role.value,
        "buildings": sorted(account.buildings) if account.buildings is not None else None,
        "lang": account.lang,
        "csrf": found.csrf,
    }


def _secure(request: Request) -> bool:
    """Served over TLS, directly or behind a reverse proxy that says so."""
    proto = request.headers.get("x-forwarded-proto", request.url.scheme)
    return proto.split(",")[0].strip() == "https"


def session_routes(store: AccountStore, limiter: LoginLimiter | None = None) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["session"])
    limits = limiter or LoginLimiter()

    @router.post(
        "/login",
        responses=responses(401, 423, 429),
    )
    async def login(body: LoginRequest, request: Request, response: Response) -> dict[str, Any]:
        address = request.client.host if request.client else "?"
        if not limits.allow(address):
            raise HTTPException(429, "too many sign-in attempts; wait a few minutes")
        try:
            account = store.authenticate(body.name, body.password)
        except LockedOut as err:
            raise HTTPException(423, str(err)) from None
        except BadCredentials as err:
            raise HTTPException(401, str(err)) from None
        secret, session = store.open_session(account)
        response.set_cookie(
            COOKIE,
            secret,
            httponly=True,
            samesite="strict",
            secure=_secure(request),
            max_age=int(store.session_max),
            path="/",
        )
        return _me(Caller(account, "session", csrf=session.csrf))

    @router.post("/logout", status_code=204, responses=responses(401, 403))
    async def logout(request: Request, response: Response) -> None:
        await caller(request)  # a signed-in session with its CSRF token
        secret = request.cookies.get(COOKIE)
        if secret:
            store.close_session(secret)
        response.delete_cookie(COOKIE, path="/")

    @router.get("/me", responses=responses(401, 403))  # 403: a top-up-only token
    async def me(found: Viewer) -> dict[str, Any]:
        return _me(found)

    return router
