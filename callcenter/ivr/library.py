"""The IVR scripts the engine runs: loaded, validated, versioned, reloaded while it runs.

Theory of operation. Each entry point (``hotline``) has a script file. The library checks
the files every ``reload_interval`` seconds (a stat; the file is read only when its size or
time changed, and compared by content digest). A new content that validates is published:
it is stored as the next version (``<versions>/<entry>/<n>.yaml``) and new calls get it; a
call already in the IVR keeps the :class:`~callcenter.ivr.script.Script` it started with
(scripts are immutable). A content that does not validate is refused: logged, kept in
:meth:`ScriptLibrary.status` for the API, and the running version stays.

Rolling back writes a stored version's text back into the script file (atomically), so the
file and the running script always agree; the next check publishes it again under its old
version number (the same content is the same version).

At start-up an entry whose file does not validate falls back to its latest stored version;
with none, the engine refuses to start (:class:`~callcenter.errors.ConfigError`).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from callcenter.clock import Clock
from callcenter.errors import ConfigError, ConfigProblem, NotFound
from callcenter.ivr.load import load_text
from callcenter.ivr.script import Script
from callcenter.ivr.settings import IvrSettings
from callcenter.ivr.validate import Catalogue, validate

log = logging.getLogger(__name__)


class UnknownEntry(NotFound):
    code = "ivr_unknown_entry"


class UnknownVersion(NotFound):
    code = "ivr_unknown_version"


@dataclass(frozen=True, slots=True)
class Published:
    entry: str
    version: int
    digest: str
    script: Script
    published_at: datetime


@dataclass(frozen=True, slots=True)
class Refused:
    entry: str
    digest: str
    problems: tuple[str, ...]
    refused_at: datetime


@dataclass(slots=True)
class _Entry:
    name: str
    path: Path
    current: Published | None = None
    refused: Refused | None = None
    seen: tuple[int, int] | None = None  # (size, mtime_ns) of the file last read
    digests: dict[str, int] = field(default_factory=dict)  # content digest -> version


class ScriptLibrary:
    def __init__(
        self, settings: IvrSettings, catalogue: Callable[[], Catalogue], clock: Clock
    ) -> None:
        self._settings = settings
        self._catalogue = catalogue
        self._clock = clock
        self._versions = Path(settings.versions)
        self._entries = {
            name: _Entry(name, Path(entry.script)) for name, entry in settings.entries.items()
        }

    # --- reading ----------------------------------------------------------------------

    def current(self, entry: str) -> Published:
        record = self._entry(entry)
        if record.current is None:
            raise UnknownEntry(f"no script published for entry {entry!r}")
        return record.current

    def entries(self) -> list[str]:
        return sorted(self._entries)

    def status(self, entry: str) -> tuple[Published | None, Refused | None, list[int]]:
        record = self._entry(entry)
        return record.current, record.refused, sorted(set(record.digests.values()))

    # --- loading ----------------------------------------------------------------------

    def load_all(self) -> None:
        """At start-up: every entry gets its file, or its latest stored version."""
        problems: list[ConfigProblem] = []
        for record in self._entries.values():
            self._read_versions(record)
            self._check(record)
            if record.current is None:
                self._fall_back(record)
            if record.current is None:
                reasons = record.refused.problems if record.refused else ("unreadable",)
                for reason in reasons:
                    problems.append(ConfigProblem(f"ivr.entries.{record.name}", reason))
        if problems:
            raise ConfigError("ivr", problems)

    def check(self) -> list[Published | Refused]:
        """Look at every script file once; what was published or refused now."""
        changes: list[Published | Refused] = []
        for record in self._entries.values():
            change = self._check(record)
            if change is not None:
                changes.append(change)
        return changes

    async def watch(self) -> None:
        """Check the files every ``reload_interval`` seconds, reading off the event loop."""
        while True:
            await asyncio.sleep(self._settings.reload_interval)
            for record in list(self._entries.values()):
                await asyncio.to_thread(self._check, record)

    def rollback(self, entry: str, version: int | None = None) -> int:
        """Write ``version`` (default: the one before the current) into the script file and
        publish it; returns the version now running."""
        record = self._entry(entry)
        self._read_versions(record)
        versions = sorted(set(record.digests.values()))
        if version is None:
            running = record.current.version if record.current else None
            older = [v for v in versions if running is None or v < running]
            if not older:
                raise UnknownVersion(f"entry {entry!r} has no version before {running}")
            version = older[-1]
        if version not in versions:
            raise UnknownVersion(f"entry {entry!r} has no version {version}")
        _write_atomically(record.path, self._version_path(entry, version).read_bytes())
        self._check(record)
        return self.current(entry).version

    # --- internals --------------------------------------------------------------------

    def _entry(self, entry: str) -> _Entry:
        record = self._entries.get(entry)
        if record is None:
            raise UnknownEntry(f"no IVR entry {entry!r}")
        return record

    def _check(self, record: _Entry) -> Published | Refused | None:
        try:
            stat = record.path.stat()
        except OSError as exc:
            return self._refuse(record, "", (f"{record.path}: {exc.strerror or exc}",))
        seen = (stat.st_size, stat.st_mtime_ns)
        if seen == record.seen:
            return None
        try:
            raw = record.path.read_bytes()
        except OSError as exc:
            return self._refuse(record, "", (f"{record.path}: {exc.strerror or exc}",))
        record.seen = seen
        digest = hashlib.sha256(raw).hexdigest()
        if record.current is not None and record.current.digest == digest:
            return None
        if record.refused is not None and record.refused.digest == digest:
            return None
        loaded = load_text(raw)
        problems = validate(loaded, self._catalogue())
        if problems or loaded.script is None:
            rendered = tuple(p.render(str(record.path)) for p in problems) or ("no script",)
            return self._refuse(record, digest, rendered)
        version = record.digests.get(digest) or self._store(record, raw, digest)
        published = Published(record.name, version, digest, loaded.script, self._clock.now())
        record.current, record.refused = published, None
        log.info("ivr: %s version %d published (%s)", record.name, version, digest[:12])
        return published

    def _refuse(self, record: _Entry, digest: str, problems: tuple[str, ...]) -> Refused | None:
        if record.refused is not None and record.refused.problems == problems:
            return None
        refused = Refused(record.name, digest, problems, self._clock.now())
        record.refused = refused
        log.error(
            "ivr: %s edit refused, version %s keeps running:\n  %s",
            record.name,
            record.current.version if record.current else "none",
            "\n  ".join(problems),
        )
        return refused

    def _fall_back(self, record: _Entry) -> None:
        for version in sorted(set(record.digests.values()), reverse=True):
            raw = self._version_path(record.name, version).read_bytes()
            loaded = load_text(raw)
            if loaded.script is not None and not validate(loaded, self._catalogue()):
                digest = hashlib.sha256(raw).hexdigest()
                record.current = Published(
                    record.name, version, digest, loaded.script, self._clock.now()
                )
                log.warning("ivr: %s runs stored version %d", record.name, version)
                return

    def _read_versions(self, record: _Entry) -> None:
        folder = self._versions / record.name
        if not folder.is_dir():
            return
        for path in folder.glob("*.yaml"):
            if path.stem.isdigit():
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                record.digests.setdefault(digest, int(path.stem))

    def _store(self, record: _Entry, raw: bytes, digest: str) -> int:
        self._read_versions(record)
        version = max(record.digests.values(), default=0) + 1
        _write_atomically(self._version_path(record.name, version), raw)
        record.digests[digest] = version
        return version

    def _version_path(self, entry: str, version: int) -> Path:
        return self._versions / entry / f"{version}.yaml"


def _write_atomically(path: Path, raw: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(raw)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def catalogue_for(
    queues: frozenset[str], sounds: Path, settings: IvrSettings
) -> Callable[[], Catalogue]:
    """The catalogue scripts are validated against; prompts are listed afresh each time
    (an uploaded prompt counts at the next check)."""

    def build() -> Catalogue:
        return Catalogue(
            queues=queues,
            prompts=prompts_in(sounds),
            documents=frozenset(settings.documents),
            transfer_numbers=frozenset(settings.transfer_numbers),
        )

    return build


def prompts_in(sounds: Path) -> Mapping[str, frozenset[str]]:
    """The prompt names per language under ``sounds`` (``<language>/<name>.wav``)."""
    if not sounds.is_dir():
        return {}
    return {
        language.name: frozenset(wav.stem for wav in language.glob("*.wav"))
        for language in sorted(sounds.iterdir())
        if language.is_dir()
    }
