"""Prompts on the real Asterisk: an admin records one by phone, an upload plays at once.

Recording by phone: the API gives a one-time code; SIPp, authenticated as agent1001, dials
*800, types the code, speaks (tests/sipp/caller_speech.alaw) after the beep, presses #, then 1
while the take plays back. The prompt must then be in the engine's ``ivr.sounds`` and in
Asterisk's sounds/callcenter/ (the real root), 8 kHz mono 16-bit with about the length spoken,
listed by the API as recorded; a script edit that plays it, refused before, is published; and
the take Asterisk wrote (sounds/callcenter-recordings/) is gone.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import time
from array import array
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from callcenter.prompts.model import parse_wav
from tests.e2e.api import get, request
from tests.e2e.conftest import (
    API_TOKEN,
    GREETING,
    RunningEngine,
    asterisk_prompts,
    engine_settings,
    running_engine,
)
from tests.e2e.harness import Asterisk
from tests.unit.prompts.samples import tone_wav

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
SPOKEN_SECONDS = 68_908 / 8000  # tests/sipp/caller_speech.alaw


@pytest.fixture
def prompt_name(asterisk: Asterisk) -> Iterator[str]:
    """A prompt name of this test only; removed from Asterisk's sounds afterwards."""
    name = f"e2e_{secrets.token_hex(4)}"
    yield name
    (asterisk_prompts(asterisk) / "en" / f"{name}.wav").unlink(missing_ok=True)


@pytest.fixture
async def engine(
    asterisk: Asterisk, sqlite_url: str, tmp_path: Path
) -> AsyncIterator[RunningEngine]:
    """The engine with a copy of sounds/ (so the repository stays clean) and a script file of
    its own for the hotline, which the test edits."""
    sounds = tmp_path / "sounds"
    shutil.copytree(REPO / "sounds", sounds)
    script = tmp_path / "hotline.yaml"
    shutil.copy(GREETING, script)
    settings = engine_settings(
        asterisk,
        sqlite_url,
        5038,
        ivr={
            "entries": {"hotline": {"script": str(script)}},
            "versions": str(tmp_path / "versions"),
            "sounds": str(sounds),
            "asterisk_sounds": str(asterisk_prompts(asterisk)),
            "reload_interval": 0.2,
        },
    )
    async with running_engine(settings) as running:
        yield running


def script_playing(prompt: str) -> str:
    """The greeting, in English only (the prompt is recorded in English), playing ``prompt``."""
    text = GREETING.read_text()
    for part in ("prompts: [welcome]", "languages: [en, zh]"):
        assert part in text, "greeting.yaml changed: update this test"
    text = text.replace("languages: [en, zh]", "languages: [en]")
    return text.replace("prompts: [welcome]", f"prompts: [welcome, {prompt}]")


async def hotline_status(engine: RunningEngine, version: int, timeout: float = 5) -> Any:
    """The hotline entry once its version is ``version`` and its last edit was judged."""
    deadline = time.monotonic() + timeout
    while True:
        status = await get(engine, "/api/v1/ivr/hotline")
        if status["version"] == version or time.monotonic() > deadline:
            return status
        await asyncio.sleep(0.1)


async def refused_edit(engine: RunningEngine, timeout: float = 5) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        status = await get(engine, "/api/v1/ivr/hotline")
        if status["refused"] or time.monotonic() > deadline:
            return status["refused"]
        await asyncio.sleep(0.1)


async def test_a_prompt_recorded_by_phone(
    asterisk: Asterisk, engine: RunningEngine, prompt_name: str, tmp_path: Path
) -> None:
    settings = engine.engine.settings.ivr
    sounds, theirs = Path(settings.sounds), asterisk_prompts(asterisk)
    script = Path(settings.entries["hotline"].script)
    # Before: a script that plays the prompt is refused.
    script.write_text(script_playing(prompt_name))
    refused = await refused_edit(engine)
    assert refused and any(prompt_name in p for p in refused["problems"]), refused

    status, issued = await request(engine, "POST", f"/api/v1/prompts/en/{prompt_name}/recording")
    assert status == 201, issued
    code, out = await asterisk.sipp(
        "127.0.0.1:5060",
        *("-sf", "agent_record_prompt.xml", "-s", "*800", "-m", "1", "-i", "127.0.0.1"),
        *("-p", "0", "-nostdin"),
        *("-au", "agent1001", "-ap", asterisk.env["CALLCENTER_AGENT_SIP_SECRET"]),
        *("-key", "agent", "agent1001", "-key", "code", issued["code"]),
        timeout=90,
    )
    assert code == 0, out

    for folder in (sounds, theirs):
        wav = (folder / "en" / f"{prompt_name}.wav").read_bytes()
        info = parse_wav(wav)
        assert info.is_prompt_format
        # From the beep to the #: the speech, less what the beep and the first packets took.
        assert SPOKEN_SECONDS - 3 < info.seconds < SPOKEN_SECONDS + 3, info.seconds
        samples = array("h", wav[info.data_offset : info.data_offset + info.data_bytes])
        assert max(abs(s) for s in samples) > 1000, "the recording is silent"
    assert (sounds / "en" / f"{prompt_name}.wav").read_bytes() == wav
    takes = theirs.parent / "callcenter-recordings"
    assert not list(takes.glob("*.wav")), "the take Asterisk recorded was not removed"

    listed = {p["prompt"]: p for p in (await get(engine, "/api/v1/prompts"))["prompts"]}
    assert listed[f"en/{prompt_name}"]["source"] == "recorded"
    # The script edit that plays it is published now (written again: a new stat to notice).
    script.write_text(script_playing(prompt_name) + "\n")
    status_after = await hotline_status(engine, 2)
    assert status_after["version"] == 2 and status_after["refused"] is None, status_after
    # The code was spent by the call.
    assert engine.engine.prompts.claim(issued["code"]) is None


async def test_an_upload_is_in_asterisk_at_once(
    asterisk: Asterisk, engine: RunningEngine, prompt_name: str
) -> None:
    url = f"{engine.base_url}/api/v1/prompts/en/{prompt_name}"
    headers = {"Authorization": f"Bearer {API_TOKEN}"}
    async with (
        aiohttp.ClientSession() as client,
        client.put(url, data=tone_wav(1.0, rate=44_100, channels=2), headers=headers) as answer,
    ):
        assert answer.status == 200, await answer.text()
    played = asterisk_prompts(asterisk) / "en" / f"{prompt_name}.wav"
    assert parse_wav(played.read_bytes()).is_prompt_format
    status, deleted = await request(engine, "DELETE", f"/api/v1/prompts/en/{prompt_name}")
    assert (status, deleted["source"]) == (200, "uploaded")
    assert not played.exists()
