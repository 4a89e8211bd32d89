"""Live statistics end to end: SIPp callers walk the sample hotline to the queue, agents'
phones answer, one caller gives up while waiting. When the traffic stops the live figures
equal what the call ledger says; after an engine restart the day's figures are unchanged."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.acd_helpers import log_in
from tests.e2e.api import closed_calls, get
from tests.e2e.conftest import engine_settings, running_engine
from tests.e2e.harness import Asterisk
from tests.e2e.ivr_callers import LocalTimeClock, menu_caller, shanghai
from tests.e2e.phones import agent_phones, all_finished

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("no_call_left")]

REPO = Path(__file__).resolve().parents[2]
ACD = {
    "queues": {"repair": {"ring_timeout": 5}, "products": {}, "complaints": {}},
    "agents": {a: {"queues": {"repair": 1}} for a in ("agent1001", "agent1002")},
}
CALL_FIGURES = (
    "offered",
    "answered",
    "abandoned",
    "timeout",
    "service_level",
    "asa",
    "aht",
    "abandonment_rate",
    "ivr_self_service_rate",
)


def from_ledger(calls: list[dict[str, Any]]) -> dict[str, int]:
    queued = [c for c in calls if any(step.startswith("enqueue:") for step in c["path"])]
    return {
        "offered": len(queued),
        "answered": sum(c["outcome"] == "answered" for c in queued),
        "abandoned": sum(c["outcome"] == "abandoned" for c in queued),
    }


async def test_live_figures_equal_the_ledger_and_survive_a_restart(
    asterisk: Asterisk, sqlite_url: str, tmp_path: Path
) -> None:
    settings = engine_settings(
        asterisk,
        sqlite_url,
        5038,
        acd=ACD,
        ivr={
            "entries": {"hotline": {"script": str(REPO / "ivr" / "hotline.yaml")}},
            "versions": str(tmp_path / "versions"),
        },
        stats={"timezone": "Asia/Shanghai"},
    )
    clock = LocalTimeClock(shanghai("2026-11-25", "10:00"))
    english_repair = [(1500, "2"), (2500, "1")]  # in the queue about 8 s after the answer
    async with (
        agent_phones(asterisk, talk_ms=6_000) as phones,
        running_engine(settings, clock) as engine,
    ):
        await log_in(engine, ["agent1001", "agent1002"])
        callers = []
        for _ in range(2):
            callers.append(menu_caller(asterisk, english_repair, tmp_path, wait_ms=40_000))
            await asyncio.sleep(0.5)
        # both agents talk until about 15 s: the third caller waits, and gives up at 11 s
        callers.append(menu_caller(asterisk, english_repair, tmp_path, wait_ms=7_000))
        await all_finished(*callers)
        await phones.wait_for("bye-sent", "agent1002", timeout=20)
        calls = await closed_calls(engine, 3, timeout=30)
        await engine.engine.ledger.drained()
        await asyncio.sleep(0.3)
        live = (await get(engine, "/api/v1/stats/live"))["overall"]
        await engine.engine.stats.drained()
    expected = from_ledger(calls)
    assert expected == {"offered": 3, "answered": 2, "abandoned": 1}, calls
    assert {k: live[k] for k in expected} == expected
    assert live["ivr_self_service_rate"] == 0.0  # every caller asked for an agent
    assert live["asa"] is not None and live["aht"] is not None and live["aht"] >= 6
    async with running_engine(settings, clock) as restarted:
        again = (await get(restarted, "/api/v1/stats/live"))["overall"]
    assert {k: again[k] for k in CALL_FIGURES} == {k: live[k] for k in CALL_FIGURES}
