"""Engine errors map to 404/422/409; any other exception in a policy route is a logged 500."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest

from controller.api.errors import policy_error_response
from controller.policies.engine import PolicyEngine
from controller.policies.errors import Invalid, NotFound, PolicyError, Refused

from .test_policies_api import accounts, client, engine

__all__ = ["accounts", "client", "engine"]  # the fixtures, re-used


@pytest.mark.parametrize(
    ("err", "status", "body"),
    [
        (NotFound("alarm", "a1"), 404, {"detail": "unknown alarm a1", "errors": []}),
        (
            Invalid("scope.rooms", "no such room"),
            422,
            {
                "detail": "scope.rooms: no such room",
                "errors": [
                    {"loc": ["scope", "rooms"], "msg": "no such room", "type": "value_error"}
                ],
            },
        ),
        (Refused("policy q is disabled"), 409, {"detail": "policy q is disabled", "errors": []}),
        (
            PolicyError("no status of its own"),
            500,
            {"detail": "internal error in the controller; it is logged", "errors": []},
        ),
    ],
)
def test_each_error_type_has_its_status(err: PolicyError, status: int, body: Any) -> None:
    response = policy_error_response(err)
    assert response.status_code == status
    assert json.loads(bytes(response.body)) == body


async def test_unknown_alarm_is_404(client: httpx.AsyncClient) -> None:
    reply = await client.post("/api/alarms/nope/ack")
    assert reply.status_code == 404
    assert reply.json()["detail"] == "unknown alarm nope"


async def test_invalid_names_the_field_and_reason(client: httpx.AsyncClient) -> None:
    reply = await client.post(
        "/api/overrides", json={"scope": {"rooms": ["dorm-9/999"]}, "reason": "x", "duration_s": 60}
    )
    assert reply.status_code == 422
    assert reply.json()["errors"] == [
        {"loc": ["scope"], "msg": "the scope matches no device", "type": "value_error"}
    ]
    bad = await client.put(
        "/api/policies/ac-limits",
        json={"config": {"type": "ac_limits", "cool_min_c": "warm"}, "reason": "x"},
    )
    assert bad.status_code == 422
    (issue,) = bad.json()["errors"]
    assert issue["loc"][-1] == "cool_min_c"


async def test_top_up_of_a_disabled_quota_is_refused(client: httpx.AsyncClient) -> None:
    off = await client.post("/api/policies/quota-elec/disable", json={"reason": "假期"})
    assert off.status_code == 200, off.text
    reply = await client.post(
        "/api/quotas/quota-elec/top-up",
        params={"room": "dorm-1/101"},
        json={"amount": 5, "reason": "x"},
    )
    assert reply.status_code == 409
    assert "disabled" in reply.json()["detail"]


@pytest.mark.parametrize("bug", [KeyError("alarm"), TypeError("unhashable"), ValueError("x")])
async def test_a_bug_in_a_handler_is_a_logged_500(
    client: httpx.AsyncClient,
    engine: PolicyEngine,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    bug: Exception,
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise bug

    monkeypatch.setattr(engine.staff, "acknowledge", broken)
    monkeypatch.setattr(engine.views, "quota_balances", broken)
    with caplog.at_level(logging.ERROR, logger="controller.api.errors"):
        ack = await client.post("/api/alarms/a1/ack")
        listed = await client.get("/api/quotas")
    for reply in (ack, listed):
        assert reply.status_code == 500
        assert reply.json()["detail"] == "internal error in the controller; it is logged"
    failures = [r for r in caplog.records if r.name == "controller.api.errors"]
    assert [r.getMessage() for r in failures] == [
        "POST /api/alarms/a1/ack failed",
        "GET /api/quotas failed",
    ]
    assert all(r.exc_info and r.exc_info[1] is bug for r in failures)


async def test_http_errors_and_request_validation_pass_through(client: httpx.AsyncClient) -> None:
    reply = await client.post(
        "/api/quotas/quota-elec/top-up",
        params={"room": "dorm-1/101"},
        json={"amount": -1, "reason": "x"},
    )
    assert reply.status_code == 422
    assert reply.json()["errors"][0]["loc"] == ["body", "amount"]
