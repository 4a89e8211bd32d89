"""An engine restart while an agent talks: the new engine finds the pair in Asterisk's bridges.

The agent stays busy (no new offer) until the call ends, then wraps up and is free again; the
other agent takes the next caller; the call is closed once in the ledger.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.e2e.acd_helpers import agent_state, log_in
from tests.e2e.api import closed_calls, get
from tests.e2e.conftest import engine_settings, running_engine
from tests.e2e.harness import Asterisk
from tests.e2e.phones import AgentPhones, agent_phones, all_finished, call_in

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("no_call_left")]

AGENTS = ("agent1001", "agent1002")
CONFIG = {
    "queues": {"q1": {"strategy": "longest_idle", "ring_timeout": 5, "wrap_up": 1.5}},
    "agents": {agent: {"queues": {"q1": 1}} for agent in AGENTS},
}


async def test_an_agent_talking_across_an_engine_restart_stays_busy_until_the_call_ends(
    asterisk: Asterisk, sqlite_url: str
) -> None:
    settings = engine_settings(asterisk, sqlite_url, 5038, acd=CONFIG)
    async with agent_phones(asterisk, talk_ms=9_000) as phones:
        async with running_engine(settings) as first:
            await log_in(first, AGENTS)
            talking = call_in(asterisk, exten="4110", hold_ms=30_000)
            busy = await first_answer(phones)
            await agent_state(first, busy, "talking")
            await first.engine.session_recorder.drained()
        other = next(a for a in AGENTS if a != busy)
        # the first engine is gone; the pair stays bridged in Asterisk
        async with running_engine(settings) as second:
            view = await agent_state(second, busy, "talking", timeout=5)
            assert view["state"] == "talking"
            invites_before = len(phones.seen("invite", busy))
            next_caller = call_in(asterisk, exten="4110", hold_ms=3_000)
            await phones.wait_for("answer", other, 10)
            assert len(phones.seen("invite", busy)) == invites_before  # not offered: busy
            # the agent's phone hangs up 9 s after answering: wrap-up, then ready again
            await agent_state(second, busy, "wrap_up", timeout=12)
            await agent_state(second, busy, "ready", timeout=4)
            await all_finished(talking, next_caller)  # the agent's BYE ended the first call
            calls = await closed_calls(second, 2)
            assert [c["outcome"] for c in calls] == ["answered", "answered"], calls
            assert (await get(second, f"/api/v1/agents/{other}"))["state"] in ("wrap_up", "ready")


async def first_answer(phones: AgentPhones, timeout: float = 10) -> str:
    """The agent whose phone answered first."""
    for _ in range(int(timeout / 0.05)):
        answers = [e.agent for e in phones.events if e.kind == "answer"]
        if answers:
            return answers[0]
        await asyncio.sleep(0.05)
    raise AssertionError("no agent answered")
