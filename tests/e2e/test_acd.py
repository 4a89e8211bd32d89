"""The ACD end to end: the engine, the real Asterisk, SIPp callers and SIPp agent phones.

Callers dial 41QP (the test overlay hands them to queue qQ with priority P, as the hotline
does); cc-queue-wait announces them to the engine; every agent's phone is one SIPp UAS on
port 5070 whose log says which agent was offered, when, and who answered.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.e2e.acd_helpers import agent_state, bridged_agents, invited, log_in
from tests.e2e.api import closed_calls, get, post, request
from tests.e2e.conftest import RunningEngine, engine_settings, running_engine
from tests.e2e.harness import Asterisk
from tests.e2e.observer import observing
from tests.e2e.phones import agent_phones, all_finished, call_in

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("no_call_left")]

AGENTS = ("agent1001", "agent1002", "agent1003")


def acd_config(strategy: str, **queue: Any) -> dict[str, Any]:
    return {
        "queues": {"q1": {"strategy": strategy, "ring_timeout": 3, **queue}},
        "agents": {agent: {"queues": {"q1": 1}} for agent in AGENTS},
    }


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
        # the phone's answer reaches the engine a moment after the phone logs it
        for agent in ("agent1002", "agent1003"):
            assert (await agent_state(engine, agent, "talking"))["state"] == "talking"
        agents = {a["id"]: a for a in (await get(engine, "/api/v1/agents"))["agents"]}
        assert agents["agent1001"]["state"] == "ready" and agents["agent1001"]["no_answer"] == 1
        await all_finished(first, second)
        assert bridged_agents(observer) == {"agent1002", "agent1003"}
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
        await all_finished(first, second)
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
        await all_finished(caller)
        assert bridged_agents(observer) == {"agent1002"}
    (call,) = await closed_calls(engine, 1)
    assert call["outcome"] == "answered"


RESTART_CONFIG = {
    "queues": {"q1": {"strategy": "longest_idle", "ring_timeout": 5}},
    "agents": {"agent1001": {"queues": {"q1": 1}}},
}


async def test_engine_restart_readopts_waiting_callers_in_their_original_order(
    asterisk: Asterisk, sqlite_url: str
) -> None:
    settings = engine_settings(asterisk, sqlite_url, 5038, acd=RESTART_CONFIG)
    callers = []
    async with running_engine(settings) as first:
        await log_in(first, ["agent1001"])
        await post(first, "/api/v1/agents/agent1001/pause", {"reason": "meeting"})
        for _ in range(5):
            callers.append(call_in(asterisk, exten="4110", hold_ms=45_000))
            await asyncio.sleep(0.4)
        for _ in range(100):
            waiting = (await get(first, "/api/v1/queues/q1"))["waiting"]
            if len(waiting) == 5:
                break
            await asyncio.sleep(0.1)
        before = [(w["call"], w["enqueued_at"]) for w in waiting]
        assert len(before) == 5
        await first.engine.session_recorder.drained()
    # the engine is gone; the callers keep waiting in Asterisk (music on hold)
    await asyncio.sleep(1)
    async with (
        observing(asterisk.ami_secret) as observer,
        agent_phones(asterisk, talk_ms=800) as phones,
        running_engine(settings) as second,
    ):
        for _ in range(100):
            waiting = (await get(second, "/api/v1/queues/q1"))["waiting"]
            if len(waiting) == 5:
                break
            await asyncio.sleep(0.1)
        after = [(w["call"], w["enqueued_at"]) for w in waiting]
        assert after == before  # same callers, same enqueue times, same order
        agent = await get(second, "/api/v1/agents/agent1001")
        assert (agent["state"], agent["reason"]) == ("paused", "meeting")  # re-applied
        await post(second, "/api/v1/agents/agent1001/unpause")
        for _ in range(300):
            if len([e for e in phones.events if e.kind == "bye-sent"]) >= 5:
                break
            await asyncio.sleep(0.1)
        served = [
            e["Linkedid"]
            for e in observer.matching(Event="BridgeEnter")
            if e.get("Channel", "").startswith("PJSIP/callers-")
        ]
        for caller in callers:
            await all_finished(caller)
    assert served == [call for call, _ in before]  # all five answered, in their original order


QUEUED_CONFIG = {
    "queues": {
        "q1": {
            "strategy": "longest_idle",
            "announce_every": 2.5,
            "exit_keys": {"9": {"kind": "voicemail", "target": "hotline"}},
        }
    },
    "agents": {"agent1001": {"queues": {"q1": 1}}},
}


@pytest.mark.parametrize("engine", [QUEUED_CONFIG], indirect=True)
async def test_queued_callers_hear_their_position_and_can_leave_with_a_key(
    asterisk: Asterisk, engine: RunningEngine
) -> None:
    async with observing(asterisk.ami_secret) as observer:
        await log_in(engine, ["agent1001"])
        await post(engine, "/api/v1/agents/agent1001/pause", {"reason": "training"})
        waiting = call_in(asterisk, exten="4110", hold_ms=7_000)
        await asyncio.sleep(1)
        leaving = call_in(asterisk, exten="4110", hold_ms=6_000, keys="9")
        await all_finished(waiting, leaving)
        announced = [
            (e["Application"], e.get("AppData", ""))
            for e in observer.matching(Event="Newexten", Context="cc-announce")
        ]
        voicemail = observer.matching(Event="Newexten", Context="cc-elsewhere")
    # the first caller heard "you are next" at least twice (every 2.5 s of its 7 s)
    assert announced.count(("Playback", "queue-youarenext")) >= 2, announced
    assert any(app == "VoiceMail" for app in (e["Application"] for e in voicemail))
    outcomes = sorted(c["outcome"] for c in await closed_calls(engine, 2))
    assert outcomes == ["abandoned", "exit_key"]


PRIORITY_CONFIG = {
    "queues": {
        "q1": {
            "strategy": "skills",
            "ring_timeout": 2,
            "max_wait": 4,
            "overflow": {"kind": "voicemail", "target": "hotline"},
        },
    },
    "agents": {"agent1001": {"queues": {"q1": 1}, "max_no_answer": 1}},
}


@pytest.mark.parametrize("engine", [PRIORITY_CONFIG], indirect=True)
async def test_vip_first_auto_pause_on_no_answer_and_overflow_on_max_wait(
    asterisk: Asterisk, engine: RunningEngine
) -> None:
    async with (
        observing(asterisk.ami_secret) as observer,
        agent_phones(asterisk, never=["agent1001"]) as phones,
    ):
        await log_in(engine, ["agent1001"])
        await post(engine, "/api/v1/agents/agent1001/pause", {"reason": "briefing"})
        regular = call_in(asterisk, exten="4110", hold_ms=12_000)  # queue q1, priority 0
        await asyncio.sleep(0.5)
        vip = call_in(asterisk, exten="4119", hold_ms=12_000)  # queue q1, priority 9
        await asyncio.sleep(0.5)
        queue = await get(engine, "/api/v1/queues/q1")
        assert [w["priority"] for w in queue["waiting"]] == [9, 0]  # VIP ahead
        vip_call, regular_call = (w["call"] for w in queue["waiting"])
        await post(engine, "/api/v1/agents/agent1001/unpause")
        await phones.wait_for("invite", "agent1001", timeout=5)
        # the agent's phone never answers: after one ring-out the agent is paused by the ACD
        for _ in range(60):
            agent = await get(engine, "/api/v1/agents/agent1001")
            if agent["state"] == "paused":
                break
            await asyncio.sleep(0.1)
        assert (agent["state"], agent["reason"]) == ("paused", "no_answer")
        vip_trace = (await get(engine, f"/api/v1/calls/{vip_call}/trace"))["decisions"]
        regular_trace = (await get(engine, f"/api/v1/calls/{regular_call}/trace"))["decisions"]
        assert any(d["chosen"] == ["agent1001"] for d in vip_trace), vip_trace
        assert not any(d["chosen"] for d in regular_trace), regular_trace  # VIP offered first
        skipped = {c["skipped"] for d in regular_trace for c in d["considered"]}
        assert "paused" in skipped, regular_trace  # explained: the agent was paused
        await all_finished(regular, vip)
        sent = [e for e in observer.matching(Event="Newexten", Context="cc-elsewhere")]
    assert any(e["Application"] == "VoiceMail" for e in sent)
    assert sorted(c["outcome"] for c in await closed_calls(engine, 2)) == ["timeout", "timeout"]


RESTART_PBX_CONFIG = {
    "queues": {"q1": {"strategy": "longest_idle", "ring_timeout": 5}},
    "agents": {"agent1001": {"queues": {"q1": 1}}, "agent1002": {"queues": {"q1": 1}}},
}


@pytest.mark.parametrize("engine", [RESTART_PBX_CONFIG], indirect=True)
async def test_asterisk_restart_closes_vanished_calls_and_frees_agents(
    asterisk: Asterisk, engine: RunningEngine
) -> None:
    async with agent_phones(asterisk, talk_ms=60_000, never=["agent1002"]) as phones:
        await log_in(engine, ["agent1001", "agent1002"])
        talking = call_in(asterisk, exten="4110", hold_ms=60_000)
        await phones.wait_for("answer", "agent1001", timeout=10)
        ringing = call_in(asterisk, exten="4110", hold_ms=60_000)
        await phones.wait_for("invite", "agent1002", timeout=10)
        states = {a["id"]: a["state"] for a in (await get(engine, "/api/v1/agents"))["agents"]}
        assert states == {"agent1001": "talking", "agent1002": "ringing"}
        await asyncio.to_thread(asterisk.run, "stop")
        await asyncio.to_thread(asterisk.run, "start")
        await engine.engine.ami.wait_connected(15)
        for _ in range(100):
            agents = {a["id"]: a for a in (await get(engine, "/api/v1/agents"))["agents"]}
            if all(a["state"] == "ready" for a in agents.values()):
                break
            await asyncio.sleep(0.1)
        assert {k: a["state"] for k, a in agents.items()} == {
            "agent1001": "ready",
            "agent1002": "ready",
        }
        for caller in (talking, ringing):
            await caller  # SIPp ends with an error: its call vanished with Asterisk
    calls = await closed_calls(engine, 2, timeout=10)
    # Asterisk hung both calls up on its way down (or they vanished: closed as lost at resync)
    assert len(calls) == 2 and all(c["outcome"] and c["ended_at"] for c in calls)
    assert {c["outcome"] for c in calls} <= {"answered", "abandoned", "lost"}
    queue = await get(engine, "/api/v1/queues/q1")
    assert queue["waiting"] == []


@pytest.mark.parametrize("engine", [acd_config("longest_idle")], indirect=True)
async def test_agent_feature_codes_drive_the_same_state_machine(
    asterisk: Asterisk, engine: RunningEngine
) -> None:
    secret = asterisk.env["CALLCENTER_AGENT_SIP_SECRET"]
    expected = {"*701": ("ready", ""), "*703": ("paused", "phone"), "*704": ("ready", "")}
    for code, state in [*expected.items(), ("*702", ("logged_out", ""))]:
        status, output = await asterisk.sipp(
            "127.0.0.1:5060",
            *("-sf", "agent_feature.xml", "-s", code, "-m", "1", "-i", "127.0.0.1", "-p", "0"),
            *("-au", "agent1002", "-ap", secret, "-key", "agent", "agent1002", "-nostdin"),
            timeout=30,
        )
        assert status == 0, output[:3000]
        agent = await get(engine, "/api/v1/agents/agent1002")
        for _ in range(50):
            if agent["state"] == state[0]:
                break
            await asyncio.sleep(0.1)
            agent = await get(engine, "/api/v1/agents/agent1002")
        assert agent["state"] == state[0], code
        if state[1]:
            assert agent["reason"] == state[1]


@pytest.mark.parametrize("engine", [acd_config("fewest_calls")], indirect=True)
async def test_fewest_calls_prefers_the_agent_who_took_fewer(
    asterisk: Asterisk, engine: RunningEngine
) -> None:
    async with agent_phones(asterisk, talk_ms=800) as phones:
        await log_in(engine, ["agent1001"])
        first = call_in(asterisk, exten="4110", hold_ms=5_000)
        await phones.wait_for("bye-sent", "agent1001", timeout=10)
        await asyncio.sleep(0.3)
        # agent1002 logs in after agent1001 is free again: longest-idle would pick agent1001
        await log_in(engine, ["agent1002"])
        second = call_in(asterisk, exten="4110", hold_ms=5_000)
        await phones.wait_for("answer", "agent1002", timeout=10)
        await all_finished(first, second)
        assert invited(phones) == ["agent1001", "agent1002"]


@pytest.mark.parametrize("engine", [acd_config("hunting")], indirect=True)
async def test_strategy_changed_at_run_time_applies_to_the_next_call(
    asterisk: Asterisk, engine: RunningEngine
) -> None:
    assert (await request(engine, "PATCH", "/api/v1/queues/q1", {"strategy": "nope"}))[0] == 400
    status, queue = await request(engine, "PATCH", "/api/v1/queues/q1", {"strategy": "ring_all"})
    assert status == 200 and queue["strategy"] == "ring_all"
    async with agent_phones(asterisk, talk_ms=1_000, never=["agent1001", "agent1003"]) as phones:
        await log_in(engine, AGENTS)
        caller = call_in(asterisk, exten="4110", hold_ms=5_000)
        await phones.wait_for("answer", "agent1002", timeout=10)
        await all_finished(caller)
        assert sorted(invited(phones)) == list(AGENTS)  # every free agent rang at once
