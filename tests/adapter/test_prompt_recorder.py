"""Recording a prompt by phone over the real FastAGI server, Asterisk played by the fake client.

The fake writes the take where Asterisk would: ``RECORD FILE callcenter-recordings/<take>``
resolves against Asterisk's sounds directory, the parent of ``ivr.asterisk_sounds``.
"""

from __future__ import annotations

import asyncio
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from callcenter.asterisk.fastagi import FastAgiServer
from callcenter.clock import FixedClock
from callcenter.prompts.audio import SoxConverter
from callcenter.prompts.model import PromptId, RecordingCodes, Source, parse_wav
from callcenter.prompts.recorder import AGI_PATH, PromptRecorder
from callcenter.prompts.repository import PromptStore
from callcenter.prompts.service import PromptService
from callcenter.settings import FastAgiSettings
from tests.fakes.fake_agi import FakeAgiClient, asterisk_env
from tests.unit.prompts.samples import tone_wav

T0 = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
PROMPT = PromptId("en", "closed_today")

Reply = Callable[[list[str]], str]


@dataclass
class Phone:
    """Answers each AGI command by its verb; records every command line."""

    replies: dict[str, list[str | Reply]]
    commands: list[list[str]] = field(default_factory=list)

    async def call(self, port: int) -> None:
        client = FakeAgiClient(port, env=asterisk_env(AGI_PATH, channel="PJSIP/agent1001-1"))
        try:
            async with asyncio.timeout(10):
                await client.connect()
                await client.send_env()
                while (line := await client.read_line()) is not None:
                    words = shlex.split(line)
                    self.commands.append(words)
                    verb = " ".join(w for w in words[:3] if w.isupper() and w.isalpha())
                    answers = self.replies.get(verb) or ["200 result=0"]
                    answer = answers.pop(0) if len(answers) > 1 else answers[0]
                    await client.send_line(answer if isinstance(answer, str) else answer(words))
        finally:
            await client.close()


def make_service(tmp: Path) -> PromptService:
    store = PromptStore(tmp / "sounds", tmp / "root/usr/share/asterisk/sounds/callcenter")
    return PromptService(store, SoxConverter(), RecordingCodes(), FixedClock(T0), frozenset)


async def serve(service: PromptService, phone: Phone) -> None:
    server = FastAgiServer(FastAgiSettings(port=0), {AGI_PATH: PromptRecorder(service).handle})
    await server.start()
    try:
        assert server.bound_port is not None
        await phone.call(server.bound_port)
    finally:
        await server.stop()


def record_as_asterisk(tmp: Path, seconds: float) -> Reply:
    def reply(words: list[str]) -> str:
        name = words[2]  # RECORD FILE <name> wav # <ms> BEEP
        take = tmp / "root/usr/share/asterisk/sounds" / f"{name}.wav"
        take.write_bytes(tone_wav(seconds, rate=8000, channels=1))
        return "200 result=35 (dtmf) endpos=20000"

    return reply


async def test_code_record_listen_keep(tmp_path: Path) -> None:
    holder: list[str] = []

    def code(words: list[str]) -> str:
        return f"200 result={holder[0]}"

    phone = Phone(
        {
            "GET DATA": [code],
            "RECORD FILE": [record_as_asterisk(tmp_path, 2.5)],
            "STREAM FILE": ["200 result=49 endpos=8000", "200 result=0 endpos=8000"],
            "SET VARIABLE": ["200 result=1"],
        }
    )
    service = make_service(tmp_path)
    holder.append(service.request_recording(PROMPT).code)
    await serve(service, phone)
    sounds, asterisk = tmp_path / "sounds", tmp_path / "root/usr/share/asterisk/sounds/callcenter"
    get_data, record, play_take, thanks, handled = phone.commands
    assert get_data == ["GET", "DATA", "agent-pass", "10000", "6"]
    assert record[:2] == ["RECORD", "FILE"]
    take = record[2]
    assert take.startswith("callcenter-recordings/take_")
    assert record[3:] == ["wav", "#", "120000", "BEEP"]
    assert play_take == ["STREAM", "FILE", take, "12"]
    assert thanks == ["STREAM", "FILE", "auth-thankyou", ""]
    assert handled == ["SET", "VARIABLE", "CC_HANDLED", "1"]
    for folder in (sounds, asterisk):
        info = parse_wav((folder / "en/closed_today.wav").read_bytes())
        assert info.is_prompt_format and abs(info.seconds - 2.5) < 0.01
    (listed,) = await service.list()
    assert (listed.id, listed.source) == (PROMPT, Source.RECORDED)
    # The take is gone; the code is spent.
    assert not list((asterisk.parent / "callcenter-recordings").iterdir())
    assert service.claim(holder[0]) is None


async def test_wrong_codes_end_the_call_without_recording(tmp_path: Path) -> None:
    phone = Phone({"GET DATA": ["200 result=123456"], "SET VARIABLE": ["200 result=1"]})
    service = make_service(tmp_path)
    await serve(service, phone)
    verbs = [" ".join(c[:3]) for c in phone.commands]
    assert verbs == [
        "GET DATA agent-pass",
        "GET DATA auth-incorrect",
        "GET DATA auth-incorrect",
        "STREAM FILE vm-goodbye",
        "SET VARIABLE CC_HANDLED",
    ]
    assert await service.list() == []


async def test_hanging_up_during_the_recording_keeps_nothing(tmp_path: Path) -> None:
    service = make_service(tmp_path)
    code = service.request_recording(PROMPT).code
    recorded = record_as_asterisk(tmp_path, 3.0)

    def hang_up(words: list[str]) -> str:
        recorded(words)
        return "200 result=-1 (hangup) endpos=24000"

    phone = Phone(
        {
            "GET DATA": [f"200 result={code}"],
            "RECORD FILE": [hang_up],
            "NOOP": ["HANGUP\n200 result=0"],
        }
    )
    await serve(service, phone)
    assert [c[0] for c in phone.commands] == ["GET", "RECORD", "NOOP"]
    assert await service.list() == []
    assert not list((tmp_path / "root/usr/share/asterisk/sounds/callcenter-recordings").iterdir())
