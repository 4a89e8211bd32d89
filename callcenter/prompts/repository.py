"""Prompt files in the engine's and Asterisk's directories, and where phone recordings land.

Two directories hold prompts (see :class:`~callcenter.ivr.settings.IvrSettings`):

* ``sounds`` (``ivr.sounds``): ``<language>/<name>.wav``, what scripts are validated against
  and the source ``scripts/asterisk start`` copies to Asterisk. A prompt made from text has its
  text beside it (``<name>.txt``); an uploaded or recorded one has ``<name>.source`` saying so.
* ``asterisk_sounds`` (``ivr.asterisk_sounds``, optional): Asterisk's own
  ``sounds/callcenter/`` on this host, so a new prompt plays at once, without a restart.

Writes go to Asterisk's copy first, then to ``sounds``: by the time a script may use a prompt
(the script library looks in ``sounds``), Asterisk can play it. Each write is atomic (a
temporary file in the same directory, then a rename), so nobody ever plays half a file.

Recordings by phone. The engine asks Asterisk to ``RECORD FILE`` ``callcenter-recordings/<take>``
(format ``wav``): Asterisk resolves that name against its sounds directory, the parent of
``asterisk_sounds``, so on this host the file is ``<asterisk_sounds>/../callcenter-recordings/
<take>.wav``. The engine creates that folder, reads the take from it, and deletes it.

Blocking calls: every method here does file I/O; the service runs them in a thread.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from callcenter.prompts.model import (
    NAME,
    InvalidAudio,
    InvalidPromptName,
    Prompt,
    PromptGenerated,
    PromptId,
    PromptNotFound,
    RecordingUnavailable,
    Source,
    parse_wav,
)

RECORDINGS = "callcenter-recordings"
"""Folder of phone recordings, relative to Asterisk's sounds directory."""
HEADER_BYTES = 64 * 1024


class PromptStore:
    def __init__(self, sounds: Path, asterisk_sounds: Path | None = None) -> None:
        self._sounds = sounds
        self._asterisk = asterisk_sounds

    @property
    def can_record(self) -> bool:
        return self._asterisk is not None

    # --- prompts ------------------------------------------------------------------------

    def list(self) -> list[Prompt]:
        found: list[Prompt] = []
        if not self._sounds.is_dir():
            return found
        for language in sorted(self._sounds.iterdir()):
            for wav in sorted(language.glob("*.wav")) if language.is_dir() else []:
                try:
                    prompt = PromptId(language.name, wav.stem)
                except InvalidPromptName:
                    continue  # a file whose name is not a prompt name: not ours to list
                found.append(self._read(prompt, wav))
        return found

    def get(self, prompt: PromptId) -> Prompt:
        wav = self._wav(self._sounds, prompt)
        if not wav.is_file():
            raise PromptNotFound(f"no prompt {prompt}")
        return self._read(prompt, wav)

    def write(self, prompt: PromptId, wav: bytes, source: Source) -> None:
        if self._asterisk is not None:
            _write_atomically(self._wav(self._asterisk, prompt), wav)
        _write_atomically(self._wav(self._sounds, prompt), wav)
        _write_atomically(self._marker(prompt), source.value.encode())

    def delete(self, prompt: PromptId) -> None:
        wav = self._wav(self._sounds, prompt)
        if not wav.is_file():
            raise PromptNotFound(f"no prompt {prompt}")
        if wav.with_suffix(".txt").exists():
            raise PromptGenerated(f"prompt {prompt} is made from text by scripts/make-prompts")
        wav.unlink()
        self._marker(prompt).unlink(missing_ok=True)
        if self._asterisk is not None:
            self._wav(self._asterisk, prompt).unlink(missing_ok=True)

    # --- phone recordings -----------------------------------------------------------------

    def take_name(self, take: str) -> str:
        """The name Asterisk records and plays the take under (no extension)."""
        return f"{RECORDINGS}/{_take(take)}"

    def take_path(self, take: str) -> Path:
        """Where the take is on this host; its folder exists once this returns."""
        if self._asterisk is None:
            raise RecordingUnavailable("recording by phone needs ivr.asterisk_sounds")
        folder = self._asterisk.parent / RECORDINGS
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{_take(take)}.wav"

    # --- internals --------------------------------------------------------------------------

    def _read(self, prompt: PromptId, wav: Path) -> Prompt:
        try:
            with wav.open("rb") as file:
                seconds = parse_wav(file.read(HEADER_BYTES), wav.stat().st_size).seconds
        except (OSError, InvalidAudio):
            seconds = 0.0
        return Prompt(prompt, round(seconds, 3), self._source(prompt, wav))

    def _source(self, prompt: PromptId, wav: Path) -> Source:
        try:
            return Source(self._marker(prompt).read_text().strip())
        except (OSError, ValueError):
            pass
        return Source.GENERATED if wav.with_suffix(".txt").exists() else Source.UPLOADED

    def _marker(self, prompt: PromptId) -> Path:
        return self._sounds / prompt.language / f"{prompt.name}.source"

    @staticmethod
    def _wav(folder: Path, prompt: PromptId) -> Path:
        return folder / prompt.language / f"{prompt.name}.wav"


def _take(take: str) -> str:
    if not NAME.fullmatch(take):
        raise ValueError(f"take name {take[:80]!r}: a-z, 0-9 and _ (1-64)")
    return take


def _write_atomically(path: Path, raw: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(raw)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)  # Asterisk may run as another user (the image's `asterisk`)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
