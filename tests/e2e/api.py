"""The engine's HTTP API as the end-to-end tests call it."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp

from tests.e2e.conftest import API_TOKEN, RunningEngine


async def request(
    running: RunningEngine,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    token: str | None = API_TOKEN,
) -> tuple[int, Any]:
    """(status, JSON body) of one request; ``token=None`` sends no credentials."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession() as client,
        client.request(method, running.base_url + path, json=body, headers=headers) as response,
    ):
        return response.status, await response.json()


async def api(running: RunningEngine, path: str, token: str | None = API_TOKEN) -> tuple[int, Any]:
    return await request(running, "GET", path, token=token)


async def get(running: RunningEngine, path: str) -> Any:
    status, body = await request(running, "GET", path)
    assert status == 200, body
    return body


async def post(running: RunningEngine, path: str, body: dict[str, Any] | None = None) -> Any:
    status, answer = await request(running, "POST", path, body or {})
    assert status == 200, answer
    return answer


async def closed_calls(
    running: RunningEngine, count: int, timeout: float = 15
) -> list[dict[str, Any]]:
    """The ledger's calls once ``count`` of them have their final outcome (or at the deadline)."""
    deadline = time.monotonic() + timeout
    while True:
        status, body = await request(running, "GET", "/api/v1/calls")
        calls: list[dict[str, Any]] = body["calls"] if status == 200 else []
        done = sum(1 for c in calls if c["outcome"]) >= count
        if done or time.monotonic() > deadline:
            assert status == 200, body
            return calls
        await asyncio.sleep(0.1)
