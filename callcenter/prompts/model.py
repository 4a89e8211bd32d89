"""Prompts: the sounds IVR scripts play, named ``<language>/<name>``, and how they get made.

Theory of operation. A prompt is a WAV file ``<sounds>/<language>/<name>.wav`` (Asterisk plays
it as ``callcenter/<language>/<name>``). Most are generated from text (``scripts/make-prompts``);
an admin may also upload one (any RIFF/WAVE file, converted to 8 kHz mono 16-bit PCM) or record
one by phone. To record by phone the admin asks the API for a *recording code*: six digits,
good for one call within ``CODE_TTL``, bound to the prompt it will replace or create. The code
is the only thing the phone call proves, so it is spent the moment it is entered.

Everything here is pure: names, the WAV header reader, the codes (the time is passed in) and
which prompts a script uses. Files and sox live in :mod:`callcenter.prompts.repository` and
:mod:`callcenter.prompts.audio`.
"""

from __future__ import annotations

import re
import secrets
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from enum import StrEnum

from callcenter.errors import BadRequest, CallcenterError, Conflict, NotFound
from callcenter.ivr import script as s

LANGUAGE = re.compile(r"[a-z]{2,3}")
NAME = re.compile(r"[a-z0-9_]{1,64}")
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MIN_SECONDS = 0.1
MAX_SECONDS = 300.0
CODE_DIGITS = 6
CODE_TTL = timedelta(minutes=10)
MAX_OPEN_CODES = 100
FEATURE_CODE = "*800"  # dialled from an agent phone to record (dialplans/extensions.conf)
PROMPT_RATE = 8000  # what Asterisk plays without transcoding: 8 kHz, mono, 16-bit PCM


class InvalidPromptName(BadRequest):
    code = "prompt_invalid_name"


class InvalidAudio(BadRequest):
    """The body is not a usable WAV file (not RIFF/WAVE, unreadable, too short or too long)."""

    code = "prompt_invalid_audio"


class AudioTooLarge(BadRequest):
    code = "prompt_too_large"


class PromptNotFound(NotFound):
    code = "prompt_not_found"


class PromptInUse(Conflict):
    """A published IVR script plays the prompt: deleting it would break the script."""

    code = "prompt_in_use"


class PromptGenerated(Conflict):
    """The prompt is made from text by ``scripts/make-prompts``, which would make it again."""

    code = "prompt_generated"


class RecordingUnavailable(Conflict):
    """Recording by phone needs ``ivr.asterisk_sounds`` (where Asterisk's files are)."""

    code = "prompt_recording_unavailable"


class TooManyCodes(Conflict):
    code = "prompt_too_many_codes"


class ConversionFailed(CallcenterError):
    """sox is missing, timed out or failed on a file that looked valid."""

    code = "prompt_conversion_failed"


class Source(StrEnum):
    GENERATED = "generated"
    UPLOADED = "uploaded"
    RECORDED = "recorded"


@dataclass(frozen=True, slots=True, order=True)
class PromptId:
    """``<language>/<name>``; validates itself, so a path built from it stays in its folder."""

    language: str
    name: str

    def __post_init__(self) -> None:
        if not LANGUAGE.fullmatch(self.language):
            raise InvalidPromptName(f"language {self.language[:20]!r}: 2-3 lower-case letters")
        if not NAME.fullmatch(self.name):
            raise InvalidPromptName(f"name {self.name[:80]!r}: a-z, 0-9 and _ (1-64)")

    def __str__(self) -> str:
        return f"{self.language}/{self.name}"


@dataclass(frozen=True, slots=True)
class Prompt:
    id: PromptId
    seconds: float
    source: Source


# --- WAV header -----------------------------------------------------------------------------

WAVE_PCM, WAVE_FLOAT, WAVE_ALAW, WAVE_MULAW, WAVE_EXTENSIBLE = 1, 3, 6, 7, 0xFFFE
_FORMATS = frozenset({WAVE_PCM, WAVE_FLOAT, WAVE_ALAW, WAVE_MULAW, WAVE_EXTENSIBLE})


@dataclass(frozen=True, slots=True)
class WavInfo:
    format_tag: int
    channels: int
    rate: int
    bits: int
    byte_rate: int
    data_bytes: int
    data_offset: int  # where the samples start in the file

    @property
    def seconds(self) -> float:
        return self.data_bytes / self.byte_rate

    @property
    def is_prompt_format(self) -> bool:
        """8 kHz mono 16-bit PCM: what a stored prompt must be."""
        return (self.format_tag, self.channels, self.rate, self.bits) == (
            WAVE_PCM,
            1,
            PROMPT_RATE,
            16,
        )


def parse_wav(raw: bytes, total: int | None = None) -> WavInfo:
    """Read a RIFF/WAVE header; ``raw`` may be the file's first bytes and ``total`` its size.

    The data size is what the header says, cut to the bytes really present (writers that
    stream leave it at its maximum). Raises :class:`InvalidAudio`.
    """
    total = len(raw) if total is None else total
    if len(raw) < 12 or raw[:4] != b"RIFF" or raw[8:12] != b"WAVE":
        raise InvalidAudio("not a WAV file (RIFF/WAVE header missing)")
    fmt: tuple[int, int, int, int, int, int] | None = None
    for chunk, offset, size in _chunks(raw):
        if chunk == b"fmt ":
            if size < 16 or offset + 16 > len(raw):
                raise InvalidAudio("WAV format chunk too short")
            fmt = struct.unpack_from("<HHIIHH", raw, offset)
        elif chunk == b"data":
            if fmt is None:
                raise InvalidAudio("WAV data before its format chunk")
            return _info(fmt, offset, min(size, total - offset))
    raise InvalidAudio("WAV file without a format and a data chunk")


def _chunks(raw: bytes) -> Iterator[tuple[bytes, int, int]]:
    offset = 12
    while offset + 8 <= len(raw):
        chunk, size = raw[offset : offset + 4], struct.unpack_from("<I", raw, offset + 4)[0]
        yield chunk, offset + 8, size
        offset += 8 + size + (size & 1)


def _info(fmt: tuple[int, int, int, int, int, int], offset: int, data_bytes: int) -> WavInfo:
    tag, channels, rate, byte_rate, _align, bits = fmt
    if tag not in _FORMATS:
        raise InvalidAudio(f"WAV encoding {tag:#06x} not supported (PCM, float, A-law, mu-law)")
    if not (1 <= channels <= 8 and 4000 <= rate <= 192_000 and byte_rate > 0 and bits > 0):
        raise InvalidAudio("WAV header values out of range")
    return WavInfo(tag, channels, rate, bits, byte_rate, max(data_bytes, 0), offset)


def check_duration(info: WavInfo) -> None:
    if not MIN_SECONDS <= info.seconds <= MAX_SECONDS:
        raise InvalidAudio(
            f"duration {info.seconds:.2f} s: must be {MIN_SECONDS:g} to {MAX_SECONDS:g} s"
        )


# --- recording codes ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecordingCode:
    code: str
    prompt: PromptId
    expires_at: datetime


def _draw() -> int:
    return secrets.randbelow(10**CODE_DIGITS)


class RecordingCodes:
    """Open recording codes. A code works once and until it expires; a new code for the same
    prompt replaces the older one."""

    def __init__(self, ttl: timedelta = CODE_TTL, draw: Callable[[], int] = _draw) -> None:
        self._ttl = ttl
        self._draw = draw
        self._open: dict[str, RecordingCode] = {}

    def issue(self, prompt: PromptId, now: datetime) -> RecordingCode:
        self._expire(now)
        self._open = {c: r for c, r in self._open.items() if r.prompt != prompt}
        if len(self._open) >= MAX_OPEN_CODES:
            raise TooManyCodes(f"{MAX_OPEN_CODES} recording codes are open; wait for some")
        code = self._fresh()
        issued = RecordingCode(code, prompt, now + self._ttl)
        self._open[code] = issued
        return issued

    def claim(self, code: str, now: datetime) -> PromptId | None:
        """The prompt the code is for, spending the code; None when unknown or expired."""
        issued = self._open.pop(code, None)
        if issued is None or issued.expires_at <= now:
            return None
        return issued.prompt

    def _fresh(self) -> str:
        for _ in range(MAX_OPEN_CODES):
            code = f"{self._draw() % 10**CODE_DIGITS:0{CODE_DIGITS}d}"
            if code not in self._open:
                return code
        raise TooManyCodes("no free recording code found")

    def _expire(self, now: datetime) -> None:
        self._open = {c: r for c, r in self._open.items() if r.expires_at > now}


# --- prompts a script plays -----------------------------------------------------------------


def prompts_used(script: s.Script) -> frozenset[PromptId]:
    """Every prompt the script may play, in each of its languages."""
    names = {
        name
        for flow in script.flows()
        for node in flow.nodes.values()
        for field in fields(node)
        if field.name.endswith("prompts")
        for name in getattr(node, field.name)
    }
    return frozenset(
        PromptId(language, name)
        for language in script.languages
        for name in names
        if LANGUAGE.fullmatch(language) and NAME.fullmatch(name)
    )
