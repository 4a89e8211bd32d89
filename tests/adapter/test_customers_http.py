"""The customer API over HTTP: authenticated, CSV import, look-up, notes, clear errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from unittest.mock import sentinel

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from callcenter.clock import FixedClock
from callcenter.customers.repository import SqlCustomerRepository
from callcenter.customers.service import CustomerService
from callcenter.storage.db import Database
from callcenter.web.app import build_web_app

TOKEN = "t" * 24
CSV = "account,name,tier,phones\nA100,王先生,vip,+86 138 0013 8000\nA101,,standard,139\n"


@pytest.fixture
async def server(database: Database) -> AsyncIterator[TestServer]:
    service = CustomerService(SqlCustomerRepository(database), FixedClock(datetime.now(UTC)))
    app = build_web_app(
        [TOKEN],
        sentinel.ledger,
        sentinel.acd,
        sentinel.callbacks,
        service,
        sentinel.scripts,
        checks=[],
    )
    running = TestServer(app)
    await running.start_server()
    try:
        yield running
    finally:
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


async def test_import_find_update_and_note(server: TestServer) -> None:
    status, report = await call(server, "POST", "/api/v1/customers/import", data=CSV.encode())
    assert (status, report["imported"]) == (200, 1)
    assert report["problems"] == ["line 3: name must be 1-128 characters"]
    status, found = await call(server, "GET", "/api/v1/customers?phone=008613800138000")
    assert (status, found["name"], found["tier"], found["history"]) == (200, "王先生", "vip", [])
    status, body = await call(
        server,
        "PUT",
        "/api/v1/customers/by-account/A100",
        json={"name": "Wang", "tier": "standard", "phones": ["13800138000"]},
    )
    assert (status, body["id"], body["tier"]) == (200, found["id"], "standard")
    status, _ = await call(server, "GET", "/api/v1/customers?phone=008613800138000")
    assert status == 404
    path = f"/api/v1/customers/{found['id']}/notes"
    status, note = await call(server, "POST", path, json={"text": "fridge noisy", "author": "a1"})
    assert (status, note["kind"]) == (201, "note")
    status, body = await call(server, "GET", f"/api/v1/customers/{found['id']}")
    assert [h["text"] for h in body["history"]] == ["fridge noisy"]


async def test_bad_requests_are_clear_and_every_call_is_authenticated(server: TestServer) -> None:
    assert (await call(server, "GET", "/api/v1/customers?phone=1", token=None))[0] == 401
    status, body = await call(server, "GET", "/api/v1/customers")
    assert (status, body["error"]["code"]) == (400, "bad_request")
    status, body = await call(
        server, "PUT", "/api/v1/customers/by-account/bad%20id", json={"name": "x"}
    )
    assert (status, body["error"]["code"]) == (400, "customer_invalid")
    status, body = await call(server, "POST", "/api/v1/customers/99/notes", json={"text": "x"})
    assert (status, body["error"]["code"]) == (404, "customer_not_found")
    status, body = await call(server, "POST", "/api/v1/customers/import", data=b"\xff\xfe")
    assert status == 400
