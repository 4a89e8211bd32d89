"""Message audio on disk: where Asterisk records a take, and the engine's own message store.

Asterisk records ``RECORD FILE callcenter-voicemail/<take>`` (format ``wav``), a name it
resolves against its sounds directory, the parent of ``ivr.asterisk_sounds``: on this host the
take is ``<asterisk_sounds>/../callcenter-voicemail/<take>.wav`` (and Asterisk can play it back
for review under the same name). Once the caller is done the take is *installed*: copied into
the store (``voicemail.store``) under the message id, synced, renamed into place, the
directory synced, and only then the take removed. From then on the file survives a crash.

A message whose row could not be committed yet (database down) keeps a sidecar
``<id>.pending.json`` with its row's values beside the audio; the service commits it later
(and at start-up) and removes the sidecar.

Every method does file I/O: the service runs them in a thread.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from callcenter.prompts.model import InvalidAudio, parse_wav

TAKES = "callcenter-voicemail"
"""Folder of takes being recorded, relative to Asterisk's sounds directory."""
ID = re.compile(r"^[a-f0-9]{32}$")
TAKE = re.compile(r"^[a-z0-9_]{1,64}$")
PENDING = ".pending.json"
HEADER_BYTES = 64 * 1024


class MessageStore:
    def __init__(self, store: Path, asterisk_sounds: Path | None) -> None:
        self._store = store
        self._asterisk = asterisk_sounds

    @property
    def can_record(self) -> bool:
        return self._asterisk is not None

    # --- takes (Asterisk's side) --------------------------------------------------------------

    def take_name(self, take: str) -> str:
        """The name Asterisk records and plays the take under (no extension)."""
        return f"{TAKES}/{_take(take)}"

    def take_path(self, take: str) -> Path:
        """Where the take is on this host; its folder exists (writable by Asterisk)."""
        if self._asterisk is None:
            raise FileNotFoundError("recording messages needs ivr.asterisk_sounds")
        folder = self._asterisk.parent / TAKES
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o777)  # Asterisk may run as another user (the image's `asterisk`)
        return folder / f"{_take(take)}.wav"

    # --- the store ---------------------------------------------------------------------------

    def path(self, message_id: str) -> Path:
        return self._store / f"{_id(message_id)}.wav"

    def install(self, take: Path, message_id: str) -> Path:
        """Copy ``take`` into the store as the message's file, synced; then remove the take."""
        target = self.path(message_id)
        self._store.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self._store, prefix=f".{target.name}.")
        try:
            with os.fdopen(fd, "wb") as out, take.open("rb") as source:
                shutil.copyfileobj(source, out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _sync_directory(self._store)
        take.unlink(missing_ok=True)
        return target

    def delete(self, message_id: str) -> None:
        self.path(message_id).unlink(missing_ok=True)
        self._pending(message_id).unlink(missing_ok=True)

    def write_pending(self, message_id: str, row: dict[str, Any]) -> None:
        """The row's values beside the audio, synced, until the database has them."""
        target = self._pending(message_id)
        fd, tmp = tempfile.mkstemp(dir=self._store, prefix=f".{target.name}.")
        with os.fdopen(fd, "w") as out:
            json.dump(row, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
        _sync_directory(self._store)

    def clear_pending(self, message_id: str) -> None:
        self._pending(message_id).unlink(missing_ok=True)

    def pending(self) -> list[dict[str, Any]]:
        """Rows written beside the audio and not yet committed, oldest first."""
        if not self._store.is_dir():
            return []
        found = []
        for sidecar in sorted(self._store.glob(f"*{PENDING}"), key=lambda p: p.stat().st_mtime):
            try:
                found.append(json.loads(sidecar.read_text()))
            except (OSError, ValueError):
                continue
        return found

    def _pending(self, message_id: str) -> Path:
        return self._store / f"{_id(message_id)}{PENDING}"


def seconds(path: Path) -> float:
    """Seconds of audio in a WAV file; 0.0 when there is none."""
    try:
        with path.open("rb") as file:
            return parse_wav(file.read(HEADER_BYTES), path.stat().st_size).seconds
    except (OSError, InvalidAudio):
        return 0.0


def _sync_directory(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _id(message_id: str) -> str:
    if not ID.fullmatch(message_id):
        raise ValueError(f"message id {message_id[:80]!r} is not 32 hex digits")
    return message_id


def _take(take: str) -> str:
    if not TAKE.fullmatch(take):
        raise ValueError(f"take name {take[:80]!r}: a-z, 0-9 and _ (1-64)")
    return take
