"""The sample hotline (ivr/hotline.yaml) end to end: SIPp callers pressing keys at set times
walk it down several paths; the stored paths, the hand-off to the ACD and the callback task
are checked. And a script edited while the engine runs: new calls get the new version within
2 s, a call already inside keeps its version, an invalid edit is refused and reported, and a
roll-back brings the previous version back.

The engine's clock is set to a chosen Shanghai time (the hotline's business hours), so the
tests do not depend on the hour they run at.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.acd_helpers import log_in
from tests.e2e.api import closed_calls, get, post, request
from tests.e2e.conftest import GREETING, RunningEngine, engine_settings, running_engine
from tests.e2e.harness import Asterisk
from tests.e2e.ivr_callers import LocalTimeClock, menu_caller, shanghai
from tests.e2e.phones import agent_phones, all_finished

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
HOTLINE_ACD = {
    "queues": {q: {"ring_timeout": 5} for q in ("repair", "products", "complaints")},
    "agents": {"agent1001": {"queues": {"repair": 1, "complaints": 1}}},
}
WEDNESDAY = "2026-11-25"


def hotline_settings(asterisk: Asterisk, sqlite_url: str, tmp: Path, script: Path) -> Any:
    return engine_settings(
        asterisk,
        sqlite_url,
        5038,
        acd=HOTLINE_ACD,
        ivr={
            "entries": {"hotline": {"script": str(script)}},
            "versions": str(tmp / "versions"),
            "reload_interval": 0.5,
        },
    )


async def only_call(engine: RunningEngine) -> dict[str, Any]:
    (call,) = await closed_calls(engine, 1, timeout=30)
    return call


async def test_in_hours_english_repair_reaches_an_agent(
    asterisk: Asterisk, sqlite_url: str, tmp_path: Path
) -> None:
    settings = hotline_settings(asterisk, sqlite_url, tmp_path, REPO / "ivr" / "hotline.yaml")
    clock = LocalTimeClock(shanghai(WEDNESDAY, "10:00"))
    async with (
        agent_phones(asterisk, talk_ms=2_000) as phones,
        running_engine(settings, clock) as engine,
    ):
        await log_in(engine, ["agent1001"])
        caller = menu_caller(asterisk, [(1500, "2"), (2500, "1")], tmp_path, wait_ms=40_000)
        await phones.wait_for("answer", "agent1001", timeout=30)
        await all_finished(caller)
        call = await only_call(engine)
    assert call["path"] == [
        "script:hotline:1",
        "language",
        "language:en",
        "hours",
        "hours:open",
        "main_menu",
        "key:1",
        "repair",
        "enqueue:repair",
    ]
    assert call["outcome"] == "answered"


async def test_mandarin_an_invalid_key_then_silence_then_the_operator(
    asterisk: Asterisk, sqlite_url: str, tmp_path: Path
) -> None:
    settings = hotline_settings(asterisk, sqlite_url, tmp_path, REPO / "ivr" / "hotline.yaml")
    clock = LocalTimeClock(shanghai(WEDNESDAY, "10:00"))
    async with (
        agent_phones(asterisk, talk_ms=1_000) as phones,
        running_engine(settings, clock) as engine,
    ):
        await log_in(engine, ["agent1001"])
        # 1 (Mandarin) at 1.5 s; 7 at 4 s in the menu: "invalid" (5.4 s), the menu again
        # (22.9 s), 6 s of silence: "no input" (6.5 s), the menu a third time from about 45 s:
        # 0 at 48 s, the operator
        keys = [(1500, "1"), (2500, "7"), (44_000, "0")]
        caller = menu_caller(asterisk, keys, tmp_path, wait_ms=80_000)
        await phones.wait_for("answer", "agent1001", timeout=80)
        await all_finished(caller)
        call = await only_call(engine)
    path = call["path"]
    assert path[:4] == ["script:hotline:1", "language", "language:zh", "hours"], path
    assert path[path.index("main_menu") :] == [
        "main_menu",
        "key:invalid:7",
        "key:timeout",
        "key:0",
        "operator",
        "enqueue:repair",
    ], path
    assert call["outcome"] == "answered"


async def test_after_hours_the_caller_books_a_callback(
    asterisk: Asterisk, sqlite_url: str, tmp_path: Path
) -> None:
    settings = hotline_settings(asterisk, sqlite_url, tmp_path, REPO / "ivr" / "hotline.yaml")
    clock = LocalTimeClock(shanghai(WEDNESDAY, "23:00"))
    async with running_engine(settings, clock) as engine:
        # English (2); "closed" (6.9 s) then the callback offer from about 8.5 s: 1
        keys = [(1500, "2"), (9_500, "1")]
        caller = menu_caller(asterisk, keys, tmp_path, wait_ms=40_000, number="13800138000")
        await all_finished(caller)
        call = await only_call(engine)
        await engine.engine.callbacks.drained()
        (task,) = (await get(engine, "/api/v1/callbacks?status=open"))["callbacks"]
    assert call["path"][1:] == [
        "language",
        "language:en",
        "hours",
        "hours:closed",
        "closed",
        "callback_offer",
        "key:1",
        "callback",
        "callback:requested",
        "goodbye",
    ]
    assert call["outcome"] == "completed_in_ivr"
    assert (task["number"], task["queue"], task["source"], task["note"]) == (
        "13800138000",
        "repair",
        "ivr",
        "after_hours",
    )
    assert task["call"] == call["linkedid"]


def _greeting(prompt: str) -> str:
    return GREETING.read_text().replace("prompts: [welcome]", f"prompts: [{prompt}]")


async def _edit(path: Path, text: str) -> float:
    path.write_text(text)
    return time.monotonic()


async def test_a_saved_script_is_live_within_two_seconds_and_calls_inside_keep_theirs(
    asterisk: Asterisk, sqlite_url: str, tmp_path: Path
) -> None:
    script = tmp_path / "hotline.yaml"
    shutil.copy(GREETING, script)
    settings = hotline_settings(asterisk, sqlite_url, tmp_path, script)
    async with running_engine(settings) as engine:
        # three calls inside the greeting (they press a key only at 5 s) during the edit
        inside = [
            menu_caller(asterisk, [(5_000 + i, "1")], tmp_path, wait_ms=20_000) for i in range(3)
        ]
        await asyncio.sleep(1.5)
        saved = await _edit(script, _greeting("goodbye"))
        while (await get(engine, "/api/v1/ivr/hotline"))["version"] != 2:
            assert time.monotonic() - saved < 2.0, "the edit was not live within 2 s"
            await asyncio.sleep(0.05)
        live_after = time.monotonic() - saved
        later = menu_caller(asterisk, [(1_500, "2")], tmp_path, wait_ms=20_000)
        await all_finished(*inside, later)
        # an invalid edit: refused with its position, reported, version 2 keeps running
        await _edit(script, _greeting("no_such_prompt"))
        for _ in range(60):
            entry = await get(engine, "/api/v1/ivr/hotline")
            if entry["refused"]:
                break
            await asyncio.sleep(0.05)
        assert entry["version"] == 2 and entry["versions"] == [1, 2]
        line = GREETING.read_text().splitlines().index("    prompts: [welcome]") + 1
        problems = entry["refused"]["problems"]
        assert any(f"{script}:{line}:" in p and "no_such_prompt" in p for p in problems), problems
        refused_call = menu_caller(asterisk, [(1_500, "3")], tmp_path, wait_ms=20_000)
        await all_finished(refused_call)
        # roll back to version 1 through the API: the file holds version 1 again
        back = await post(engine, "/api/v1/ivr/hotline/rollback", {"version": 1})
        assert back["version"] == 1 and back["refused"] is None
        assert script.read_text() == GREETING.read_text()
        status, body = await request(engine, "POST", "/api/v1/ivr/hotline/rollback", {"version": 9})
        assert status == 404, body
        calls = await closed_calls(engine, 5)
    by_start = sorted(calls, key=lambda c: c["started_at"])
    assert [(c["path"][0], c["path"][-2:]) for c in by_start] == [
        *[("script:hotline:1", ["key:1", "bye"])] * 3,  # inside during the edit: kept v1
        ("script:hotline:2", ["key:2", "bye"]),  # the next call: the new version
        ("script:hotline:2", ["key:3", "bye"]),  # the refused edit changed nothing
    ], by_start
    print(f"ivr_edit_live_after_s={live_after:.2f}")
