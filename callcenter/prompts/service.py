"""Prompts as use cases: list, upload, delete, and recording by phone (codes, keeping a take).

Every new prompt, uploaded or recorded, takes the same path: the input must be a RIFF/WAVE
file of a sane duration; sox converts it; the output is checked again (8 kHz mono 16-bit, the
duration within bounds) and only then written, atomically, into both directories. File work
runs in a thread and sox in a subprocess: the event loop that carries calls never waits.

A prompt that a published script plays cannot be deleted: the script library is asked, through
``in_use``, which prompts the running scripts use (a roll-back to an older version is checked
by the library itself when it happens).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from callcenter.clock import Clock
from callcenter.errors import NotFound
from callcenter.ivr.library import ScriptLibrary
from callcenter.prompts.audio import Converter
from callcenter.prompts.model import (
    MAX_UPLOAD_BYTES,
    AudioTooLarge,
    InvalidAudio,
    Prompt,
    PromptId,
    PromptInUse,
    RecordingCode,
    RecordingCodes,
    RecordingUnavailable,
    Source,
    check_duration,
    parse_wav,
    prompts_used,
)
from callcenter.prompts.repository import PromptStore

log = logging.getLogger(__name__)


class PromptService:
    def __init__(
        self,
        store: PromptStore,
        converter: Converter,
        codes: RecordingCodes,
        clock: Clock,
        in_use: Callable[[], frozenset[PromptId]],
    ) -> None:
        self._store = store
        self._converter = converter
        self._codes = codes
        self._clock = clock
        self._in_use = in_use

    @property
    def store(self) -> PromptStore:
        return self._store

    async def list(self) -> list[Prompt]:
        return await asyncio.to_thread(self._store.list)

    async def upload(self, prompt: PromptId, raw: bytes) -> Prompt:
        return await self._install(prompt, raw, Source.UPLOADED)

    async def delete(self, prompt: PromptId) -> Prompt:
        if prompt in self._in_use():
            raise PromptInUse(f"prompt {prompt} is played by a published IVR script")
        existing = await asyncio.to_thread(self._store.get, prompt)
        await asyncio.to_thread(self._store.delete, prompt)
        log.info("prompts: %s deleted", prompt)
        return existing

    # --- recording by phone -----------------------------------------------------------------

    def request_recording(self, prompt: PromptId) -> RecordingCode:
        if not self._store.can_record:
            raise RecordingUnavailable("recording by phone needs ivr.asterisk_sounds")
        issued = self._codes.issue(prompt, self._clock.now())
        log.info("prompts: recording code issued for %s", prompt)
        return issued

    def claim(self, code: str) -> PromptId | None:
        """The prompt a code entered on the phone is for (the code is spent); None if invalid."""
        prompt = self._codes.claim(code, self._clock.now())
        log.info("prompts: recording code %s", f"accepted for {prompt}" if prompt else "refused")
        return prompt

    async def keep_recording(self, prompt: PromptId, take: Path) -> Prompt:
        """Install a take Asterisk recorded (see :meth:`PromptStore.take_path`)."""
        try:
            raw = await asyncio.to_thread(_read_bounded, take)
        except FileNotFoundError:
            raise NotFound(f"no recording {take.name}") from None
        return await self._install(prompt, raw, Source.RECORDED)

    # --- internals --------------------------------------------------------------------------

    async def _install(self, prompt: PromptId, raw: bytes, source: Source) -> Prompt:
        if len(raw) > MAX_UPLOAD_BYTES:
            raise AudioTooLarge(f"audio larger than {MAX_UPLOAD_BYTES} bytes")
        check_duration(parse_wav(raw))
        converted = await self._converter.to_prompt(raw)
        info = parse_wav(converted)
        if not info.is_prompt_format:
            raise InvalidAudio("the converted audio is not 8 kHz mono 16-bit PCM")
        check_duration(info)
        await asyncio.to_thread(self._store.write, prompt, converted, source)
        log.info("prompts: %s %s (%.2f s)", prompt, source.value, info.seconds)
        return Prompt(prompt, round(info.seconds, 3), source)


def used_by_scripts(library: ScriptLibrary) -> Callable[[], frozenset[PromptId]]:
    """The prompts the library's published scripts play, asked afresh at each call."""

    def used() -> frozenset[PromptId]:
        found: set[PromptId] = set()
        for entry in library.entries():
            current, _, _ = library.status(entry)
            if current is not None:
                found |= prompts_used(current.script)
        return frozenset(found)

    return used


def _read_bounded(path: Path) -> bytes:
    with path.open("rb") as file:
        raw = file.read(MAX_UPLOAD_BYTES + 1)
    return raw
