"""The ACD end to end: the engine, the real Asterisk, SIPp callers and SIPp agent phones.

Callers dial 41QP (the test overlay hands them to queue qQ with priority P, as the hotline
does); cc-queue-wait announces them to the engine; every agent's phone is one SIPp UAS on
port 5070 whose log says which agent was offered, when, and who answered.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import aiohttp
import pytest

from tests.e2e.conftest import API_TOKEN, RunningEngine, engine_settings, running_engine
from tests.e2e.harness import Asterisk
from tests.e2e.observer import AmiObserver, observing
from tests.e2e.phones import AgentPhones, agent_phones, call_in
from tests.e2e.test_hotline import closed_calls

pytestmark = pytest.mark.e2e

AGENTS = ("agent1001", "agent1002", "agent1003")


def acd_config(strategy: str, **queue: Any) -> dict[str, Any]:
    return {
        "queues": {"q1": {"strategy": strategy, "ring_timeout": 3, **queue}},
        "agents": {agent: {"queues": {"q1": 1}} for agent in AGENTS},
    }


async def post(running: RunningEngine, path: str, body: dict[str, Any] | None = None) -> Any:
    headers = {"Authorization": f"Bearer {API_TOKEN}"}
    async with (
        aiohttp.ClientSession() as client,
        client.post(running.base_url + path, json=body or {}, headers=headers) as response,
    ):
        assert response.status == 200, await response.text()
        return await response.json()


async def get(running: RunningEngine, path: str) -> Any:
    headers = {"Authorization": f"Bearer {API_TOKEN}"}
    async with (
        aiohttp.ClientSession() as client,
        client.get(running.base_url + path, headers=headers) as response,
    ):
        assert response.status == 200, await response.text()
        return await response.json()


async def log_in(running: RunningEngine, agents: Sequence[str]) -> None:
    for agent in agents:
        assert (await post(running, f"/api/v1/agents/{agent}/login"))["state"] == "ready"


def invited(phones: AgentPhones) -> list[str]:
    return [e.agent for e in phones.events if e.kind == "invite"]


async def bridged_agents(observer: AmiObserver, call: str) -> set[str]:
    """Agents whose leg entered a bridge (agent legs are named PJSIP/agentNNNN-...)."""
    return {
        e["Channel"].split("/")[1].split("-")[0]
        for e in observer.matching(Event="BridgeEnter")
        if e.get("Channel", "").startswith("PJSIP/agent") and e.get("Linkedid", "") != ""
    }


@pytest.fixture
async def engine(
    asterisk: Asterisk, sqlite_url: str, request: pytest.FixtureRequest
) -> AsyncIterator[RunningEngine]:
    settings = engine_settings(asterisk, sqlite_url, 5038, acd=request.param)
    async with running_engine(settings) as running:
        yield running


@pytest.mark.parametrize("engine", [acd_config("hunting")], indirect=True)
async def test_hunting_moves_on_when_an_agent_rings_out_and_resumes_after_the_last(
    asterisk: Asterisk, engine: RunningEngine
) -> None:
    async with (
        observing(asterisk.ami_secret) as observer,
        agent_phones(asterisk, talk_ms=20_000, never=["agent1001"]) as phones,
    ):
        await log_in(engine, AGENTS)
        first = call_in(asterisk, exten="4110", hold_ms=15_000)
        await phones.wait_for("answer", "agent1002", timeout=15)
        second = call_in(asterisk, exten="4110", hold_ms=8_000)
        await phones.wait_for("answer", "agent1003", timeout=15)
        assert invited(phones) == ["agent1001", "agent1002", "agent1003"]
        agents = {a["id"]: a for a in (await get(engine, "/api/v1/agents"))["agents"]}
        assert agents["agent1002"]["state"] == agents["agent1003"]["state"] == "talking"
        assert agents["agent1001"]["state"] == "ready" and agents["agent1001"]["no_answer"] == 1
        for caller in (first, second):
            code, output = await caller
            assert code == 0, output[-2000:]
        assert await bridged_agents(observer, "") == {"agent1002", "agent1003"}
    calls = await closed_calls(engine, 2)
    assert sorted(c["outcome"] for c in calls) == ["answered", "answered"]
    trace = (await get(engine, f"/api/v1/calls/{calls[-1]['linkedid']}/trace"))["decisions"]
    assert trace[0]["rule"] == "hunting" and trace[0]["chosen"] == ["agent1001"]


@pytest.mark.parametrize("engine", [acd_config("longest_idle")], indirect=True)
async def test_longest_idle_gets_the_call(asterisk: Asterisk, engine: RunningEngine) -> None:
    async with agent_phones(asterisk, talk_ms=1_000) as phones:
        await log_in(engine, ["agent1003", "agent1001", "agent1002"])
        first = call_in(asterisk, exten="4110", hold_ms=6_000)
        await phones.wait_for("bye-sent", "agent1003", timeout=15)
        await asyncio.sleep(0.3)
        second = call_in(asterisk, exten="4110", hold_ms=6_000)
        await phones.wait_for("answer", "agent1001", timeout=15)
        for caller in (first, second):
            code, output = await caller
            assert code == 0, output[-2000:]
        assert invited(phones) == ["agent1003", "agent1001"]


@pytest.mark.parametrize("engine", [acd_config("ring_all")], indirect=True)
async def test_ring_all_rings_every_free_agent_and_connects_exactly_one(
    asterisk: Asterisk, engine: RunningEngine
) -> None:
    async with (
        observing(asterisk.ami_secret) as observer,
        agent_phones(asterisk, talk_ms=3_000, never=["agent1001", "agent1003"]) as phones,
    ):
        await log_in(engine, AGENTS)
        caller = call_in(asterisk, exten="4110", hold_ms=8_000)
        await phones.wait_for("answer", "agent1002", timeout=15)
        await phones.wait_for("cancel", "agent1001", timeout=5)
        await phones.wait_for("cancel", "agent1003", timeout=5)
        assert sorted(invited(phones)) == list(AGENTS)
        code, output = await caller
        assert code == 0, output[-2000:]
        assert await bridged_agents(observer, "") == {"agent1002"}
    (call,) = await closed_calls(engine, 1)
    assert call["outcome"] == "answered"
