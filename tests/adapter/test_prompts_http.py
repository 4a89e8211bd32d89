"""The prompt API over HTTP: authenticated, upload, list, delete, recording codes, errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest.mock import sentinel

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from callcenter.clock import FixedClock
from callcenter.prompts.audio import SoxConverter
from callcenter.prompts.model import PromptId, RecordingCodes
from callcenter.prompts.repository import PromptStore
from callcenter.prompts.service import PromptService
from callcenter.web.app import build_web_app
from tests.unit.prompts.samples import tone_wav

TOKEN = "t" * 24
T0 = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
IN_USE = frozenset({PromptId("en", "welcome")})


@dataclass
class Running:
    server: TestServer
    service: PromptService
    sounds: Path


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[Running]:
    sounds = tmp_path / "sounds"
    store = PromptStore(sounds, tmp_path / "asterisk" / "callcenter")
    service = PromptService(store, SoxConverter(), RecordingCodes(), FixedClock(T0), lambda: IN_USE)
    app = build_web_app(
        [TOKEN],
        sentinel.ledger,
        sentinel.acd,
        sentinel.callbacks,
        sentinel.customers,
        sentinel.scripts,
        [],
        prompts=service,
    )
    server = TestServer(app)
    await server.start_server()
    try:
        yield Running(server, service, sounds)
    finally:
        await server.close()


async def call(
    running: Running, method: str, path: str, token: str | None = TOKEN, **kw: Any
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession() as client,
        client.request(
            method, str(running.server.make_url(path)), headers=headers, **kw
        ) as response,
    ):
        return response.status, await response.json()


async def test_upload_list_and_delete(running: Running) -> None:
    wav = tone_wav(1.0, rate=16_000, channels=1)
    status, body = await call(running, "PUT", "/api/v1/prompts/zh/holiday_2026", data=wav)
    assert status == 200, body
    assert body["prompt"] == "zh/holiday_2026"
    assert (body["source"], body["seconds"]) == ("uploaded", pytest.approx(1.0, abs=0.01))
    status, body = await call(running, "GET", "/api/v1/prompts")
    assert status == 200
    assert [(p["language"], p["name"], p["source"]) for p in body["prompts"]] == [
        ("zh", "holiday_2026", "uploaded")
    ]
    status, body = await call(running, "DELETE", "/api/v1/prompts/zh/holiday_2026")
    assert (status, body["prompt"]) == (200, "zh/holiday_2026")
    assert (await call(running, "GET", "/api/v1/prompts"))[1] == {"prompts": []}


async def test_a_recording_code(running: Running) -> None:
    status, body = await call(running, "POST", "/api/v1/prompts/en/welcome/recording")
    assert status == 201, body
    assert len(body["code"]) == 6 and body["code"].isdigit()
    assert body["prompt"] == "en/welcome"
    assert body["dial"] == "*800"
    assert datetime.fromisoformat(body["expires_at"]) == datetime(2026, 1, 5, 2, 10, tzinfo=UTC)
    assert running.service.claim(body["code"]) == PromptId("en", "welcome")


@pytest.mark.parametrize(
    ("method", "path", "kw", "status", "code"),
    [
        ("PUT", "/api/v1/prompts/EN/welcome", {"data": b"x"}, 400, "prompt_invalid_name"),
        ("PUT", "/api/v1/prompts/en/Welcome", {"data": b"x"}, 400, "prompt_invalid_name"),
        ("PUT", "/api/v1/prompts/en/w%2E%2E", {"data": b"x"}, 400, "prompt_invalid_name"),
        ("PUT", "/api/v1/prompts/en/welcome", {"data": b"ID3 mp3"}, 400, "prompt_invalid_audio"),
        ("PUT", "/api/v1/prompts/en/welcome", {}, 400, "prompt_invalid_audio"),
        (
            "PUT",
            "/api/v1/prompts/en/welcome",
            {"data": b"\0" * (10 * 1024 * 1024 + 1)},
            400,
            "prompt_too_large",
        ),
        ("DELETE", "/api/v1/prompts/en/welcome", {}, 409, "prompt_in_use"),
        ("DELETE", "/api/v1/prompts/en/nothing", {}, 404, "prompt_not_found"),
        ("POST", "/api/v1/prompts/xx1/a/recording", {}, 400, "prompt_invalid_name"),
    ],
)
async def test_errors_have_stable_codes(
    running: Running, method: str, path: str, kw: dict[str, Any], status: int, code: str
) -> None:
    got, body = await call(running, method, path, **kw)
    assert (got, body["error"]["code"]) == (status, code)
    assert not list(running.sounds.rglob("*.wav"))


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/prompts"),
        ("PUT", "/api/v1/prompts/en/welcome"),
        ("DELETE", "/api/v1/prompts/en/welcome"),
        ("POST", "/api/v1/prompts/en/welcome/recording"),
    ],
)
async def test_every_call_is_authenticated(running: Running, method: str, path: str) -> None:
    status, body = await call(running, method, path, token=None, data=tone_wav(0.5))
    assert (status, body["error"]["code"]) == (401, "unauthorized")
