"""IVR scripts reloaded while the engine runs: versions, refusals, roll-back, start-up."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from callcenter.clock import FixedClock
from callcenter.errors import ConfigError
from callcenter.ivr.library import Published, Refused, ScriptLibrary, UnknownVersion
from callcenter.ivr.settings import EntrySettings, IvrSettings
from callcenter.ivr.validate import Catalogue

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
CATALOGUE = Catalogue(prompts={"en": frozenset({"welcome", "goodbye"})})


def script(prompt: str) -> str:
    return f"""name: t
languages: [en]
start: hello
nodes:
  hello:
    type: play
    prompts: [{prompt}]
    next: bye
  bye:
    type: hangup
    outcome: completed_in_ivr
"""


def make(tmp: Path, text: str, interval: float = 0.5) -> tuple[ScriptLibrary, Path]:
    path = tmp / "hotline.yaml"
    path.write_text(text)
    settings = IvrSettings(
        entries={"hotline": EntrySettings(script=str(path))},
        versions=str(tmp / "versions"),
        reload_interval=interval,
    )
    return ScriptLibrary(settings, lambda: CATALOGUE, FixedClock(T0)), path


def edit(path: Path, text: str) -> None:
    path.write_text(text)
    stat = path.stat()  # a new mtime even within the file system's time resolution
    import os

    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))


def test_edits_publish_new_versions_and_running_calls_keep_theirs(tmp_path: Path) -> None:
    library, path = make(tmp_path, script("welcome"))
    library.load_all()
    first = library.current("hotline")
    assert first.version == 1
    edit(path, script("goodbye"))
    (change,) = library.check()
    assert isinstance(change, Published) and change.version == 2
    assert library.current("hotline").script is not first.script
    assert first.script.main.nodes["hello"].prompts == ("welcome",)  # type: ignore[attr-defined]
    assert library.check() == []  # nothing changed since


def test_an_invalid_edit_is_refused_with_positions_and_the_running_version_stays(
    tmp_path: Path,
) -> None:
    library, path = make(tmp_path, script("welcome"))
    library.load_all()
    edit(path, script("no_such_prompt"))
    (change,) = library.check()
    assert isinstance(change, Refused)
    assert any(f"{path}:7:" in p and "no_such_prompt" in p for p in change.problems)
    current, refused, versions = library.status("hotline")
    assert current is not None and current.version == 1 and refused == change
    assert versions == [1]
    edit(path, "nodes: [unclosed")
    (change,) = library.check()
    assert isinstance(change, Refused) and library.current("hotline").version == 1


def test_rollback_puts_the_previous_version_back_in_the_file(tmp_path: Path) -> None:
    library, path = make(tmp_path, script("welcome"))
    library.load_all()
    edit(path, script("goodbye"))
    library.check()
    assert library.rollback("hotline") == 1
    assert path.read_text() == script("welcome")
    assert library.status("hotline")[2] == [1, 2]
    assert library.rollback("hotline", 2) == 2
    with pytest.raises(UnknownVersion):
        library.rollback("hotline", 7)


def test_start_up_falls_back_to_the_latest_stored_version_or_refuses(tmp_path: Path) -> None:
    library, path = make(tmp_path, script("welcome"))
    library.load_all()
    path.write_text(script("missing"))
    restarted, _ = make(tmp_path, script("missing"))
    restarted.load_all()
    assert restarted.current("hotline").version == 1
    (tmp_path / "other").mkdir()
    fresh, _ = make(tmp_path / "other", script("missing"))
    with pytest.raises(ConfigError) as raised:
        fresh.load_all()
    assert "missing" in str(raised.value)


async def test_a_saved_edit_is_live_for_new_calls_within_two_seconds(tmp_path: Path) -> None:
    library, path = make(tmp_path, script("welcome"), interval=0.5)
    library.load_all()
    watcher = asyncio.create_task(library.watch())
    try:
        edit(path, script("goodbye"))
        saved = time.monotonic()
        while library.current("hotline").version != 2:
            assert time.monotonic() - saved < 2.0
            await asyncio.sleep(0.02)
    finally:
        watcher.cancel()
