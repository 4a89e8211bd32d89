"""Who may read voicemail over HTTP: an agent the mailboxes whose group is a queue they serve
(list, listen, deliveries, mark heard as themselves, the live feed), a supervisor everything;
deleting needs a supervisor. Every refusal is a 403 before anything is read or changed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast
from unittest.mock import sentinel

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from callcenter.clock import FixedClock
from callcenter.storage.db import Database
from callcenter.users.model import Principal, Role
from callcenter.users.service import UserService
from callcenter.voicemail.service import VoicemailService
from callcenter.voicemail.settings import MailboxSettings
from callcenter.web.app import build_web_app
from tests.adapter.voicemail_parts import T0, build, free_port, message, take, voicemail_settings

TOKEN = "p" * 24
SESSIONS = {
    "ann": Principal("ann", Role.AGENT, "agent1001"),  # serves repair
    "eve": Principal("eve", Role.AGENT, "agent1003"),  # serves sales
    "sue": Principal("sue", Role.SUPERVISOR),
}
QUEUES = {"agent1001": frozenset({"repair"}), "agent1003": frozenset({"sales"})}
REPAIR, SALES = "a" * 32, "b" * 32
BASE = "/api/v1/voicemail"


class Sessions:
    def authenticate(self, token: str) -> Principal | None:
        return SESSIONS.get(token)


@pytest.fixture
async def server(database: Database, tmp_path: Path) -> AsyncIterator[TestServer]:
    base = voicemail_settings(tmp_path, free_port())
    mailboxes = {**base.mailboxes, "sales": MailboxSettings(group="sales")}
    settings = base.model_copy(update={"mailboxes": mailboxes})
    parts = build(database, settings, tmp_path, FixedClock(T0))
    service = VoicemailService(
        parts.repository,
        parts.store,
        settings,
        FixedClock(T0),
        parts.dispatcher,
        email=False,
        queues_of=lambda agent: QUEUES.get(agent, frozenset()),
    )
    await service.keep(message(REPAIR), take(tmp_path, 2.0, "one"))
    await service.keep(message(SALES, mailbox="sales", queue="sales"), take(tmp_path, 2.0, "two"))
    app = build_web_app(
        [TOKEN],
        sentinel.ledger,
        sentinel.acd,
        sentinel.callbacks,
        sentinel.customers,
        sentinel.scripts,
        [],
        voicemail=(service, parts.feed),
        users=cast(UserService, Sessions()),
    )
    served = TestServer(app)
    await served.start_server()
    try:
        yield served
    finally:
        await served.close()


async def call(
    server: TestServer, method: str, path: str, who: str, body: dict[str, Any] | None = None
) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as client,
        client.request(
            method,
            str(server.make_url(path)),
            json=body,
            headers={"Authorization": f"Bearer {who}"},
        ) as response,
    ):
        if response.content_type == "application/json":
            return response.status, await response.json()
        return response.status, await response.read()


async def test_an_agent_is_refused_another_queues_mailbox(server: TestServer) -> None:
    refused: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", f"{BASE}/messages?mailbox=sales", None),
        ("GET", f"{BASE}/messages/{SALES}", None),
        ("GET", f"{BASE}/messages/{SALES}/audio", None),
        ("GET", f"{BASE}/messages/{SALES}/deliveries", None),
        ("POST", f"{BASE}/messages/{SALES}/heard", {}),
        ("GET", f"{BASE}/feed?group=sales", None),
        ("GET", f"{BASE}/feed", None),
    ]
    for method, path, body in refused:
        status, answer = await call(server, method, path, "ann", body)
        assert status == 403, (path, answer)
    status, answer = await call(server, "GET", f"{BASE}/messages/{SALES}", "sue")
    assert (status, answer["heard_at"]) == (200, None)  # the refused "heard" changed nothing


async def test_an_agent_reads_and_marks_heard_in_their_queues_mailboxes_only(
    server: TestServer,
) -> None:
    status, answer = await call(server, "GET", f"{BASE}/messages", "ann")
    assert [m["id"] for m in answer["messages"]] == [REPAIR]
    status, answer = await call(server, "GET", f"{BASE}/mailboxes", "ann")
    assert [m["name"] for m in answer["mailboxes"]] == ["repair"]
    status, audio = await call(server, "GET", f"{BASE}/messages/{REPAIR}/audio", "ann")
    assert status == 200 and audio[:4] == b"RIFF"
    status, _ = await call(server, "POST", f"{BASE}/messages/{REPAIR}/heard", "ann", {"by": "bob"})
    assert status == 403  # as someone else
    status, answer = await call(server, "POST", f"{BASE}/messages/{REPAIR}/heard", "ann", {})
    assert (status, answer["heard_by"]) == (200, "agent1001")
    status, answer = await call(server, "GET", f"{BASE}/messages", "eve")
    assert [m["id"] for m in answer["messages"]] == [SALES]
    status, answer = await call(server, "GET", f"{BASE}/messages", "sue")
    assert sorted(m["id"] for m in answer["messages"]) == [REPAIR, SALES]


async def test_deleting_needs_a_supervisor(server: TestServer) -> None:
    status, answer = await call(server, "DELETE", f"{BASE}/messages/{REPAIR}?by=ann", "ann")
    assert (status, answer["error"]["code"]) == (403, "forbidden")
    status, answer = await call(server, "DELETE", f"{BASE}/messages/{REPAIR}?by=sue", "sue")
    assert (status, answer["deleted_by"]) == (200, "sue")
