"""Recording a prompt by phone: an admin dials *800 from an agent phone (``cc-prompt-recorder``).

The call, as the flow below decides it:

1. "Please enter your password followed by the pound key": the admin types the six-digit code
   the API gave (``POST /api/v1/prompts/<lang>/<name>/recording``). The code is spent when it
   is entered; three wrong codes end the call.
2. A beep; the admin speaks and presses # (at most ``max_take`` seconds).
3. The take is played back, then "If this is correct, press 1. Press 2 to re-record it."
   1 keeps it (converted and written into both prompt directories), 2 records again.

Shape. As the IVR interpreter does, :func:`recorder_flow` is a generator that yields small
commands and receives their results; it holds every decision (retries, the review loop) and
runs in tests from a list of results, with no Asterisk. :class:`PromptRecorder` is the
FastAGI handler that carries the commands out. The IVR's own command set is not reused: a
recording needs commands (code check, record, keep) that no caller-facing script may have.

The sounds are Asterisk's core English prompts (``asterisk-core-sounds-en``): this is a tool
for admins, not a caller-facing prompt. Caller input reaches Asterisk only as AGI arguments
made by the engine (the take's name is engine-made, never the typed digits).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

from callcenter.asterisk.fastagi import AgiSession
from callcenter.errors import AgiHangup, CallcenterError
from callcenter.prompts.model import CODE_DIGITS, InvalidAudio, PromptId, parse_wav
from callcenter.prompts.service import PromptService

log = logging.getLogger(__name__)

AGI_PATH = "prompt-recorder"
HANDLED_VARIABLE = "CC_HANDLED"
MAX_CODE_TRIES = 3
MAX_TAKES = 3
MAX_REVIEWS = 3
MIN_TAKE_SECONDS = 0.5
CHOICES = "12"
KEEP, AGAIN = "1", "2"
ASK_CODE, WRONG_CODE = "agent-pass", "auth-incorrect"
REVIEW = ("if-correct-press", "digits/1", "vm-press", "digits/2", "to-rerecord-it")
TOO_SHORT, SAVED, FAILED, GOODBYE = "vm-tooshort", "auth-thankyou", "beeperr", "vm-goodbye"


@dataclass(frozen=True, slots=True)
class Say:
    """Play an Asterisk sound; ``digits`` may interrupt it. Result: the digit, or None."""

    sound: str
    digits: str = ""


@dataclass(frozen=True, slots=True)
class AskCode:
    """Play ``sound`` and read up to six digits (# ends). Result: the digits ("" if none)."""

    sound: str


@dataclass(frozen=True, slots=True)
class Claim:
    """Check and spend a recording code. Result: the prompt it is for, or None."""

    code: str


@dataclass(frozen=True, slots=True)
class RecordTake:
    """Beep, record until # (or the time limit). Result: seconds recorded (float)."""


@dataclass(frozen=True, slots=True)
class PlayTake:
    """Play the take back; ``digits`` may interrupt it. Result: the digit, or None."""

    digits: str


@dataclass(frozen=True, slots=True)
class WaitKey:
    """Wait up to ``seconds`` for a key. Result: the digit, or None."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Keep:
    """Install the take as ``prompt``. Result: True when it was written."""

    prompt: PromptId


Command = Say | AskCode | Claim | RecordTake | PlayTake | WaitKey | Keep
Result = str | float | bool | PromptId | None
RecorderFlow = Generator[Command, Result, str]
"""Returns how the call ended: ``kept``, ``refused`` (no valid code), ``failed``, ``abandoned``."""


def recorder_flow() -> RecorderFlow:
    prompt = yield from _code()
    if prompt is None:
        yield Say(GOODBYE)
        return "refused"
    for _ in range(MAX_TAKES):
        seconds = yield RecordTake()
        if not isinstance(seconds, float) or seconds < MIN_TAKE_SECONDS:
            yield Say(TOO_SHORT)
            continue
        choice = yield from _review()
        if choice == KEEP:
            kept = yield Keep(prompt)
            yield Say(SAVED if kept is True else FAILED)
            return "kept" if kept is True else "failed"
        if choice != AGAIN:
            break
    yield Say(GOODBYE)
    return "abandoned"


def _code() -> Generator[Command, Result, PromptId | None]:
    sound = ASK_CODE
    for _ in range(MAX_CODE_TRIES):
        digits = yield AskCode(sound)
        if isinstance(digits, str) and len(digits) == CODE_DIGITS and digits.isdigit():
            prompt = yield Claim(digits)
            if isinstance(prompt, PromptId):
                return prompt
        sound = WRONG_CODE
    return None


def _review() -> Generator[Command, Result, str | None]:
    """Play the take, then the choices, until 1 or 2 (or ``MAX_REVIEWS`` times unanswered)."""
    key = _key((yield PlayTake(CHOICES)))
    for _ in range(MAX_REVIEWS):
        if key in (KEEP, AGAIN):
            return key
        for sound in REVIEW:
            key = _key((yield Say(sound, CHOICES)))
            if key is not None:
                break
        else:
            key = _key((yield WaitKey(5.0)))
    return key if key in (KEEP, AGAIN) else None


def _key(result: Result) -> str | None:
    return result if isinstance(result, str) else None


class PromptRecorder:
    """The FastAGI handler of ``AGI(agi://.../prompt-recorder)``."""

    def __init__(self, service: PromptService, max_take: float = 120.0) -> None:
        self._service = service
        self._max_take = max_take

    async def handle(self, session: AgiSession) -> None:
        take = _Take(self._service, session, f"take_{secrets.token_hex(8)}", self._max_take)
        flow = recorder_flow()
        try:
            command = next(flow)
            while True:
                command = flow.send(await take.do(command))
        except StopIteration as stop:
            log.info("prompts: recording by phone on %s: %s", session.channel, stop.value)
            await session.set_variable(HANDLED_VARIABLE, "1")
        except AgiHangup:
            log.info("prompts: recording by phone on %s: hung up", session.channel)
        finally:
            flow.close()
            await take.discard()


class _Take:
    """One recording session: carries out the flow's commands over AGI."""

    def __init__(
        self, service: PromptService, session: AgiSession, name: str, max_take: float
    ) -> None:
        self.service = service
        self.session = session
        self.take = name  # the file's stem, engine-made
        self.sound = service.store.take_name(name)  # as Asterisk records and plays it
        self.path: Path | None = None  # where it is on this host, once recorded
        self.max_take = max_take

    async def do(self, command: Command) -> Result:
        session = self.session
        match command:
            case Say():
                return await session.stream_file(command.sound, command.digits)
            case AskCode():
                return await session.get_data(command.sound, 10_000, CODE_DIGITS)
            case Claim():
                return self.service.claim(command.code)
            case RecordTake():
                return await self.record()
            case PlayTake():
                return await session.stream_file(self.sound, command.digits)
            case WaitKey():
                return await session.wait_for_digit(int(command.seconds * 1000))
            case Keep():
                return await self.keep(command.prompt)

    async def record(self) -> float:
        path = await asyncio.to_thread(self.service.store.take_path, self.take)
        self.path = path
        await asyncio.to_thread(path.unlink, missing_ok=True)
        limit_ms = int(self.max_take * 1000)
        await self.session.record_file(
            self.sound, "wav", "#", limit_ms, beep=True, response_timeout=self.max_take + 30
        )
        return await asyncio.to_thread(_seconds, path)

    async def keep(self, prompt: PromptId) -> bool:
        if self.path is None:
            return False
        try:
            await self.service.keep_recording(prompt, self.path)
        except CallcenterError as exc:
            log.warning("prompts: recording for %s not kept: %s", prompt, exc)
            return False
        return True

    async def discard(self) -> None:
        if self.path is not None:
            await asyncio.to_thread(self.path.unlink, missing_ok=True)


def _seconds(path: Path) -> float:
    """Seconds of audio in the take Asterisk wrote; 0.0 when there is none."""
    try:
        with path.open("rb") as file:
            return parse_wav(file.read(4096), path.stat().st_size).seconds
    except (OSError, InvalidAudio):
        return 0.0
