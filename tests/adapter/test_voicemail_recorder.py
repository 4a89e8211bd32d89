"""Leaving a message over the real FastAGI server, Asterisk played by the fake client: the
take is written where Asterisk would write it (``callcenter-voicemail/<take>`` under the parent
of ``ivr.asterisk_sounds``), then moved into the store and committed."""

from __future__ import annotations

import asyncio
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from callcenter.asterisk.fastagi import FastAgiServer
from callcenter.clock import FixedClock
from callcenter.settings import FastAgiSettings
from callcenter.storage.db import Database
from callcenter.voicemail.recorder import AGI_PATH, VoicemailRecorder
from tests.adapter.voicemail_parts import T0, Parts, build, free_port, voicemail_settings
from tests.fakes.fake_agi import FakeAgiClient, asterisk_env
from tests.unit.prompts.samples import tone_wav

Reply = Callable[[list[str]], str]


@dataclass
class Phone:
    """Answers each AGI command by its verb (or ``GET VARIABLE name``); records every line."""

    replies: dict[str, list[str | Reply]]
    commands: list[list[str]] = field(default_factory=list)
    ended: str = ""
    path: str = AGI_PATH

    async def call(self, port: int) -> None:
        env = asterisk_env(self.path, callerid="13800138000", calleridname="Wang")
        client = FakeAgiClient(port, env=env)
        try:
            async with asyncio.timeout(10):
                await client.connect()
                await client.send_env()
                while (line := await client.read_line()) is not None:
                    if line.startswith("FAILURE"):
                        self.ended = "FAILURE"
                        break
                    words = shlex.split(line)
                    self.commands.append(words)
                    verb = " ".join(w for w in words[:3] if w.isupper() and w.isalpha())
                    if verb == "GET VARIABLE":
                        verb = f"GET VARIABLE {words[2]}"
                    answers = self.replies.get(verb) or ["200 result=0"]
                    answer = answers.pop(0) if len(answers) > 1 else answers[0]
                    await client.send_line(answer if isinstance(answer, str) else answer(words))
        finally:
            await client.close()


def asterisk_records(tmp: Path, seconds: float, hang_up: bool) -> Reply:
    def reply(words: list[str]) -> str:
        name = words[2]  # RECORD FILE <name> wav # <ms> BEEP
        path = tmp / "root/usr/share/asterisk/sounds" / f"{name}.wav"
        path.write_bytes(tone_wav(seconds, rate=8000, channels=1))
        if hang_up:
            return "HANGUP\n200 result=-1 (hangup) endpos=80000"
        return "200 result=35 (dtmf) endpos=80000"

    return reply


def variables(target: str, queue: str = "q1") -> dict[str, list[str | Reply]]:
    return {
        "GET VARIABLE CC_TARGET": [f"200 result=1 ({target})"],
        "GET VARIABLE CC_QUEUE": [f"200 result=1 ({queue})"],
        "GET VARIABLE CHANNEL(linkedid)": ["200 result=1 (1700000000.7)"],
    }


async def serve(parts: Parts, phone: Phone) -> None:
    recorder = VoicemailRecorder(parts.service, None, FixedClock(T0))
    server = FastAgiServer(FastAgiSettings(port=0), {AGI_PATH: recorder.handle})
    await server.start()
    try:
        assert server.bound_port is not None
        await phone.call(server.bound_port)
    finally:
        await server.stop()


async def test_a_caller_speaks_and_hangs_up_and_the_message_is_stored(
    database: Database, tmp_path: Path
) -> None:
    parts = build(database, voicemail_settings(tmp_path, free_port()), tmp_path, FixedClock(T0))
    phone = Phone(
        variables("repair") | {"RECORD FILE": [asterisk_records(tmp_path, 9.75, hang_up=True)]}
    )
    await serve(parts, phone)
    verbs = [" ".join(c[:2]) for c in phone.commands]
    assert verbs[3:5] == ["STREAM FILE", "RECORD FILE"], verbs
    assert phone.commands[3][2] == "vm-intro"
    record = phone.commands[4]
    assert record[2].startswith("callcenter-voicemail/m_") and record[3:7] == [
        "wav",
        "#",
        "180000",
        "BEEP",
    ]
    assert "HANGUP" not in verbs  # the caller is gone already
    (message,) = await parts.service.messages("repair", False, 10, None)
    new = message.new
    assert (new.caller, new.caller_name, new.queue, new.call, new.duration) == (
        "13800138000",
        "Wang",
        "q1",
        "1700000000.7",
        9.75,
    )
    assert parts.store.path(new.id).is_file()
    assert not list((tmp_path / "root/usr/share/asterisk/sounds/callcenter-voicemail").iterdir())


async def test_pound_ends_the_message_and_the_caller_hears_it_saved(
    database: Database, tmp_path: Path
) -> None:
    parts = build(database, voicemail_settings(tmp_path, free_port()), tmp_path, FixedClock(T0))
    phone = Phone(
        variables("repair") | {"RECORD FILE": [asterisk_records(tmp_path, 3.0, hang_up=False)]}
    )
    await serve(parts, phone)
    played = [c[2] for c in phone.commands if c[:2] == ["STREAM", "FILE"]]
    assert played == ["vm-intro", "vm-msgsaved", "vm-goodbye"]
    assert ["SET", "VARIABLE", "CC_HANDLED", "1"] in phone.commands
    assert phone.commands[-1] == ["HANGUP"]
    assert len(await parts.service.messages("repair", False, 10, None)) == 1


async def test_a_mailbox_the_engine_does_not_have_falls_back_to_the_dialplan(
    database: Database, tmp_path: Path
) -> None:
    parts = build(database, voicemail_settings(tmp_path, free_port()), tmp_path, FixedClock(T0))
    for target in ("unknown", "repair,1)", ""):
        phone = Phone(variables(target))
        await serve(parts, phone)
        assert phone.ended == "FAILURE", target  # AGISTATUS=FAILURE: Asterisk's VoiceMail()
        assert not any(c[:2] == ["RECORD", "FILE"] for c in phone.commands)
    assert await parts.service.messages(None, True, 10, None) == []
