"""The voicemail API over HTTP (SQLite and PostgreSQL): list per mailbox, stream the audio,
mark heard, delete with who did it, the feed of a group; every call authenticated."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from unittest.mock import sentinel

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from callcenter.clock import FixedClock
from callcenter.storage.db import Database
from callcenter.web.app import build_web_app
from tests.adapter.voicemail_parts import (
    MESSAGE_ID,
    T0,
    Parts,
    build,
    free_port,
    message,
    take,
    voicemail_settings,
)

TOKEN = "v" * 24
BASE = "/api/v1/voicemail"


@pytest.fixture
async def running(database: Database, tmp_path: Path) -> AsyncIterator[tuple[TestServer, Parts]]:
    parts = build(database, voicemail_settings(tmp_path, free_port()), tmp_path, FixedClock(T0))
    app = build_web_app(
        [TOKEN],
        sentinel.ledger,
        sentinel.acd,
        sentinel.callbacks,
        sentinel.customers,
        sentinel.scripts,
        [],
        voicemail=(parts.service, parts.feed),
    )
    server = TestServer(app)
    await server.start_server()
    try:
        yield server, parts
    finally:
        await server.close()


async def call(
    server: TestServer, method: str, path: str, token: str | None = TOKEN, **kw: Any
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession() as client,
        client.request(method, str(server.make_url(path)), headers=headers, **kw) as answer,
    ):
        if answer.content_type == "application/json":
            return answer.status, await answer.json()
        return answer.status, await answer.read()


async def test_list_play_heard_delete(running: tuple[TestServer, Parts], tmp_path: Path) -> None:
    server, parts = running
    await parts.service.keep(message(), take(tmp_path))
    status, listed = await call(server, "GET", f"{BASE}/messages?mailbox=repair")
    assert status == 200
    (row,) = listed["messages"]
    assert (row["id"], row["caller"], row["customer_id"], row["ivr_path"]) == (
        MESSAGE_ID,
        "13800138000",
        7,
        ["script:hotline:1", "menu", "key:9"],
    )
    assert (await call(server, "GET", f"{BASE}/messages?mailbox=quiet"))[1]["messages"] == []
    status, error = await call(server, "GET", f"{BASE}/messages?mailbox=nope")
    assert (status, error["error"]["code"]) == (404, "voicemail_mailbox_not_found")

    status, audio = await call(server, "GET", row["audio"])
    assert status == 200 and audio == parts.store.path(MESSAGE_ID).read_bytes()

    status, heard = await call(server, "POST", f"{BASE}/messages/{MESSAGE_ID}/heard", json={})
    assert status == 400
    status, heard = await call(
        server, "POST", f"{BASE}/messages/{MESSAGE_ID}/heard", json={"by": "agent1001"}
    )
    assert (status, heard["heard_by"], heard["heard_at"]) == (200, "agent1001", T0.isoformat())

    assert (await call(server, "DELETE", f"{BASE}/messages/{MESSAGE_ID}"))[0] == 400
    status, deleted = await call(server, "DELETE", f"{BASE}/messages/{MESSAGE_ID}?by=sup1")
    assert (status, deleted["deleted_by"]) == (200, "sup1")
    assert (await call(server, "GET", row["audio"]))[0] == 404
    assert (await call(server, "GET", f"{BASE}/messages"))[1]["messages"] == []
    (audited,) = (await call(server, "GET", f"{BASE}/messages?deleted=true"))[1]["messages"]
    assert audited["deleted_by"] == "sup1"
    status, found = await call(server, "GET", f"{BASE}/messages/{MESSAGE_ID}/deliveries")
    assert {d["status"] for d in found["deliveries"]} == {"cancelled"}


async def test_everything_needs_a_token_and_ids_are_checked(
    running: tuple[TestServer, Parts],
) -> None:
    server, _ = running
    for path in (
        f"{BASE}/mailboxes",
        f"{BASE}/messages",
        f"{BASE}/messages/{MESSAGE_ID}",
        f"{BASE}/messages/{MESSAGE_ID}/audio",
        f"{BASE}/feed",
    ):
        assert (await call(server, "GET", path, token=None))[0] == 401, path
    status, error = await call(server, "GET", f"{BASE}/messages/..%2F..%2Fetc%2Fpasswd/audio")
    assert status == 404, error
    status, boxes = await call(server, "GET", f"{BASE}/mailboxes")
    assert [b["name"] for b in boxes["mailboxes"]] == ["quiet", "repair"]


async def test_the_feed_sends_each_event_of_its_group_and_checks_the_origin(
    running: tuple[TestServer, Parts],
) -> None:
    server, parts = running
    url = str(server.make_url(f"{BASE}/feed?group=repair&access_token={TOKEN}"))
    async with aiohttp.ClientSession() as client:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await client.ws_connect(url, headers={"Origin": "https://evil.example"})
        assert refused.value.status == 403
        async with client.ws_connect(url) as ws:
            await asyncio.sleep(0.1)
            parts.feed.publish("billing", json.dumps({"id": "other"}))
            parts.feed.publish("repair", json.dumps({"id": "one"}))
            parts.feed.publish("repair", json.dumps({"id": "two"}))
            got = [json.loads((await ws.receive(timeout=2)).data) for _ in range(2)]
    assert [e["id"] for e in got] == ["one", "two"]
