"""Log-in sessions and roles over HTTP: an agent acts only on themselves, admins alone manage
users and configuration, a log-out or a new password ends the old tokens."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from unittest.mock import sentinel

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from callcenter.acd.core import Acd
from callcenter.acd.model import AgentConfig, QueueConfig
from callcenter.acd.service import AcdService
from callcenter.clock import FixedClock
from callcenter.customers.repository import SqlCustomerRepository
from callcenter.customers.service import CustomerService
from callcenter.storage.db import Database
from callcenter.users.model import TokenSigner
from callcenter.users.repository import SqlUserRepository
from callcenter.users.service import UserService
from callcenter.web.app import build_web_app
from tests.fakes.fake_call_control import FakeCallControl

TOKEN = "t" * 24
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture
async def server(database: Database) -> AsyncIterator[TestServer]:
    clock = FixedClock(NOW)
    acd = AcdService(
        Acd([QueueConfig("q")], [AgentConfig("1001", {"q": 1}), AgentConfig("1002", {"q": 1})]),
        FakeCallControl(),
        clock,
        lambda event: None,
        lambda call: None,
    )
    users = UserService(SqlUserRepository(database), TokenSigner(b"s" * 32), clock, lockout=60)
    await users.load()
    app = build_web_app(
        [TOKEN],
        sentinel.ledger,
        acd,
        sentinel.callbacks,
        CustomerService(SqlCustomerRepository(database), clock),
        sentinel.scripts,
        checks=[],
        users=users,
    )
    running = TestServer(app)
    await running.start_server()
    runner = asyncio.create_task(acd.run())
    try:
        yield running
    finally:
        runner.cancel()
        await running.close()


async def call(
    server: TestServer, method: str, path: str, token: str | None = TOKEN, **kw: Any
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession() as client,
        client.request(method, str(server.make_url(path)), headers=headers, **kw) as response,
    ):
        return response.status, await response.json()


async def add_user(server: TestServer, name: str, role: str, agent: str = "") -> str:
    body = {"role": role, "agent": agent, "password": f"{name}-secret-pw"}
    status, _ = await call(server, "PUT", f"/api/v1/users/{name}", json=body)
    assert status == 200
    return await login(server, name)


async def login(server: TestServer, name: str, password: str | None = None) -> str:
    body = {"name": name, "password": password or f"{name}-secret-pw"}
    status, session = await call(server, "POST", "/api/v1/session", token=None, json=body)
    assert status == 200, session
    assert session["user"]["name"] == name
    return str(session["token"])


async def test_an_agent_acts_on_themselves_only(server: TestServer) -> None:
    li = await add_user(server, "li", "agent", "1001")
    assert (await call(server, "GET", "/api/v1/session", li))[1]["agent"] == "1001"
    status, agent = await call(server, "POST", "/api/v1/agents/1001/login", li)
    assert (status, agent["state"]) == (200, "ready")
    assert (await call(server, "POST", "/api/v1/agents/1002/login", li))[0] == 403
    assert (await call(server, "GET", "/api/v1/agents/1002", li))[0] == 403
    assert (await call(server, "GET", "/api/v1/agents", li))[0] == 403  # supervisors' view
    assert (await call(server, "GET", "/api/v1/users", li))[0] == 403
    # A supervisor acts on every agent, but users and queue settings are the admin's.
    boss = await add_user(server, "boss", "supervisor")
    assert (await call(server, "POST", "/api/v1/agents/1002/login", boss))[0] == 200
    assert (await call(server, "GET", "/api/v1/agents", boss))[0] == 200
    assert (await call(server, "GET", "/api/v1/users", boss))[0] == 403
    patch = {"strategy": "ring_all"}
    assert (await call(server, "PATCH", "/api/v1/queues/q", boss, json=patch))[0] == 403


async def test_a_note_is_written_under_the_users_own_name(server: TestServer) -> None:
    li = await add_user(server, "li", "agent", "1001")
    body = {"name": "Wang", "phones": ["13800138000"]}
    status, customer = await call(server, "PUT", "/api/v1/customers/by-account/A1", json=body)
    assert status == 200
    path = f"/api/v1/customers/{customer['id']}/notes"
    status, note = await call(server, "POST", path, li, json={"text": "hi", "author": "boss"})
    assert (status, note["author"]) == (201, "li")


async def test_log_out_and_a_new_password_end_old_tokens(server: TestServer) -> None:
    li = await add_user(server, "li", "agent", "1001")
    assert (await call(server, "DELETE", "/api/v1/session", li))[0] == 200
    assert (await call(server, "GET", "/api/v1/session", li))[0] == 401
    again = await login(server, "li")
    assert (await call(server, "GET", "/api/v1/session", again))[0] == 200
    body = {"role": "agent", "agent": "1001", "password": "another-password"}
    assert (await call(server, "PUT", "/api/v1/users/li", json=body))[0] == 200
    assert (await call(server, "GET", "/api/v1/session", again))[0] == 401
    assert await login(server, "li", "another-password")


async def test_wrong_passwords_are_refused_then_locked_out(server: TestServer) -> None:
    await add_user(server, "li", "agent", "1001")
    wrong = {"name": "li", "password": "not-the-password"}
    for _ in range(5):
        status, body = await call(server, "POST", "/api/v1/session", None, json=wrong)
        assert (status, body["error"]["code"]) == (401, "unauthorized")
    status, body = await call(server, "POST", "/api/v1/session", None, json=wrong)
    assert (status, body["error"]["code"]) == (429, "too_many_attempts")
    unknown = {"name": "nobody", "password": "whatever-pw"}
    assert (await call(server, "POST", "/api/v1/session", None, json=unknown))[0] == 401
    assert (await call(server, "POST", "/api/v1/session", None, json={}))[0] == 400
    forged = "eyJ1IjoibGkiLCJ2IjowLCJlIjo5OTk5OTk5OTk5fQ.AAAA"
    assert (await call(server, "GET", "/api/v1/session", forged))[0] == 401


async def test_users_are_checked_and_kept(server: TestServer, database: Database) -> None:
    bad = {"role": "agent", "password": "long-enough-pw"}  # an agent user needs the agent
    status, body = await call(server, "PUT", "/api/v1/users/li", json=bad)
    assert (status, body["error"]["code"]) == (400, "user_invalid")
    short = {"role": "admin", "password": "short"}
    assert (await call(server, "PUT", "/api/v1/users/root", json=short))[0] == 400
    await add_user(server, "ops", "admin")
    fresh = UserService(SqlUserRepository(database), TokenSigner(b"s" * 32), FixedClock(NOW))
    await fresh.load()
    assert [u.name for u in fresh.list()] == ["ops"]
    assert (await call(server, "DELETE", "/api/v1/users/ops"))[0] == 200
    assert (await call(server, "DELETE", "/api/v1/users/ops"))[0] == 404
