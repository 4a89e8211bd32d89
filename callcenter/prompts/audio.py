"""Converting audio to a prompt: sox, run as an asyncio subprocess (the loop never waits on it).

The output is what ``scripts/make-prompts`` makes: 8 kHz, mono, 16-bit signed PCM WAV, peak
at -3 dBFS, so uploaded, recorded and generated prompts play at the same level. sox's failures
are translated here: a file sox cannot read is :class:`InvalidAudio` (the caller's fault), a
missing or stuck sox is :class:`ConversionFailed`.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from pathlib import Path
from typing import Protocol

from callcenter.prompts.model import PROMPT_RATE, ConversionFailed, InvalidAudio

log = logging.getLogger(__name__)


class Converter(Protocol):
    async def to_prompt(self, raw: bytes) -> bytes:
        """``raw`` (a WAV file) as 8 kHz mono 16-bit PCM WAV."""
        ...


class SoxConverter:
    def __init__(self, sox: str = "sox", timeout: float = 30.0) -> None:
        self._sox = sox
        self._timeout = timeout

    async def to_prompt(self, raw: bytes) -> bytes:
        with tempfile.TemporaryDirectory(prefix="prompt-") as work:
            source, target = Path(work) / "in.wav", Path(work) / "out.wav"
            await asyncio.to_thread(source.write_bytes, raw)
            await self._run(
                work,
                # -G: guard against clipping while resampling; -V1: errors only.
                *("-G", "-V1", "-t", "wav", str(source)),
                *("-t", "wav", "-r", str(PROMPT_RATE), "-c", "1", "-b", "16"),
                *("-e", "signed-integer", str(target), "gain", "-n", "-3"),
            )
            return await asyncio.to_thread(target.read_bytes)

    async def _run(self, work: str, *args: str) -> None:
        try:
            process = await asyncio.create_subprocess_exec(
                self._sox,
                *args,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            raise ConversionFailed(f"cannot run {self._sox}: {exc.strerror or exc}") from None
        try:
            _, err = await asyncio.wait_for(process.communicate(), self._timeout)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise ConversionFailed(f"{self._sox} took more than {self._timeout:g} s") from None
        if process.returncode != 0:
            lines = err.decode("utf-8", "replace").replace(work, "").strip().splitlines()
            last = lines[-1][:200] if lines else "no message"
            log.info("prompts: sox refused a file: %s", last)
            raise InvalidAudio(f"the audio cannot be read: {last}")
