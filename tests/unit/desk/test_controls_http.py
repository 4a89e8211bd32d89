"""The call controls over HTTP: the routes reach the controls (``/spy`` is not taken for an
ACD agent action), an agent acts on their own call only, spying needs a supervisor, and bad
bodies answer 400 before anything is sent to Asterisk."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast
from unittest.mock import sentinel

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from callcenter.users.model import Principal, Role
from callcenter.users.service import UserService
from callcenter.web.app import build_web_app
from tests.unit.desk.test_controls import ALLOWED, LEG, Desk

TOKEN = "s" * 24
SESSIONS = {
    "ann-token": Principal("ann", Role.AGENT, "agent1001"),
    "bob-token": Principal("bob", Role.AGENT, "agent1002"),
    "sue-token": Principal("sue", Role.SUPERVISOR),
}


class Sessions:
    """The session tokens of the users above (the user service's part the middleware uses)."""

    def authenticate(self, token: str) -> Principal | None:
        return SESSIONS.get(token)


@pytest.fixture
async def served() -> AsyncIterator[tuple[TestServer, Desk]]:
    desk = Desk()
    app: web.Application = build_web_app(
        [TOKEN],
        sentinel.ledger,
        sentinel.acd,
        sentinel.callbacks,
        sentinel.customers,
        sentinel.scripts,
        [],
        users=cast(UserService, Sessions()),  # only its authenticate() is used here
        desk_controls=desk.controls,
    )
    server = TestServer(app)
    await server.start_server()
    try:
        yield server, desk
    finally:
        await server.close()


async def post(
    server: TestServer, path: str, body: dict[str, Any], token: str = TOKEN
) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as client,
        client.post(
            str(server.make_url(path)), json=body, headers={"Authorization": f"Bearer {token}"}
        ) as response,
    ):
        return response.status, await response.json()


async def test_spy_reaches_the_controls_not_the_acd_actions(
    served: tuple[TestServer, Desk],
) -> None:
    server, desk = served
    body = {"mode": "whisper", "endpoint": "supervisor7"}
    status, answer = await post(server, "/api/v1/agents/agent1001/spy", body)
    assert status == 200, answer
    assert answer["mode"] == "whisper"
    (originate,) = desk.ami.named("Originate")
    assert originate["Variable"] == [f"CC_SPY_TARGET={LEG}"]


async def test_an_agent_controls_their_own_call_only(served: tuple[TestServer, Desk]) -> None:
    server, desk = served
    path = "/api/v1/agents/agent1001/call/hold"
    status, answer = await post(server, path, {}, token="bob-token")
    assert status == 403, answer
    assert desk.ami.actions == []
    status, answer = await post(server, path, {}, token="ann-token")
    assert status == 200 and answer["held"] is True, answer
    status, answer = await post(server, path, {}, token="sue-token")
    assert status == 409 and answer["error"]["code"] == "desk_control_conflict", answer


async def test_spying_needs_a_supervisor(served: tuple[TestServer, Desk]) -> None:
    server, _ = served
    body = {"endpoint": "supervisor7"}
    status, _ = await post(server, "/api/v1/agents/agent1001/spy", body, token="ann-token")
    assert status == 403
    status, _ = await post(server, "/api/v1/agents/agent1001/spy", body, token="sue-token")
    assert status == 200


@pytest.mark.parametrize(
    ("action", "body", "code"),
    [
        ("fly", {}, "bad_request"),
        ("transfer", {"kind": "number", "target": "+4930999999"}, "desk_bad_target"),
        ("transfer", {"kind": "number", "target": ALLOWED, "attended": "yes"}, "bad_request"),
        ("transfer", {"kind": "agent"}, "bad_request"),
        ("conference", {"agent": "agent1002", "number": ALLOWED}, "bad_request"),
        ("conference", {"number": "1\r\nAction: Originate"}, "desk_bad_target"),
    ],
)
async def test_malformed_controls_are_refused_before_any_action(
    served: tuple[TestServer, Desk], action: str, body: dict[str, Any], code: str
) -> None:
    server, desk = served
    status, answer = await post(server, f"/api/v1/agents/agent1001/call/{action}", body)
    assert status == 400 and answer["error"]["code"] == code, answer
    assert desk.ami.actions == []


async def test_spy_modes_are_checked(served: tuple[TestServer, Desk]) -> None:
    server, _ = served
    body = {"mode": "shout", "endpoint": "supervisor7"}
    status, _ = await post(server, "/api/v1/agents/agent1001/spy", body)
    assert status == 400
