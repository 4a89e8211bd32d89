"""The ACD's queue and agent policies end to end: skill widening, overflow (to another queue,
on max length, on estimated wait, with nobody logged in, to a message), the waiting policy,
wrap-up per queue and its early end, and the pause after the current call.

Same set-up as test_acd.py: callers dial 41QP (queue qQ, priority P) and wait in
cc-queue-wait; every agent's phone is one SIPp UAS whose log says who was offered and when
(wall-clock times, compared with the engine's and this process's own).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.acd_helpers import (
    agent_state,
    bridged_agents,
    decisions,
    epoch,
    invited,
    log_in,
    nth,
    quiet,
    skipped,
    waiting_calls,
)
from tests.e2e.api import closed_calls, get, post
from tests.e2e.conftest import RunningEngine
from tests.e2e.harness import Asterisk
from tests.e2e.observer import RECEIVED, observing
from tests.e2e.phones import agent_phones, all_finished, call_in, step, waiting_caller

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("no_call_left")]

SLACK = 1.5  # seconds a timer-driven step may take beyond its due time, end to end


def one_queue(agents: dict[str, Any], **queue: Any) -> dict[str, Any]:
    return {"queues": {"q1": {"ring_timeout": 3, **queue}}, "agents": agents}


def entered(context: str, channel: str) -> Callable[[dict[str, Any]], bool]:
    """The channel's first dialplan step in ``context``."""

    def matches(event: dict[str, Any]) -> bool:
        where = (event.get("Context"), event.get("Channel"))
        return event.get("Event") == "Newexten" and where == (context, channel)

    return matches


def outcome_of(calls: list[dict[str, Any]], linkedid: str) -> str | None:
    (call,) = [c for c in calls if c["linkedid"] == linkedid]
    outcome: str | None = call["outcome"]
    return outcome


# --- skills ------------------------------------------------------------------------------

WIDEN_AFTER = 3.0
WIDENING_CONFIG = one_queue(
    {"agent1001": {"queues": {"q1": 1}, "skills": {"billing": 1}}},
    required_skills={"billing": 3},
    widen_after=WIDEN_AFTER,
)


@pytest.mark.parametrize("engine", [WIDENING_CONFIG], indirect=True)
async def test_a_less_skilled_agent_is_offered_the_call_once_the_skills_widen(
    asterisk: Asterisk, engine: RunningEngine
) -> None:
    async with (
        observing(asterisk.ami_secret) as observer,
        agent_phones(asterisk, talk_ms=1_000) as phones,
    ):
        await log_in(engine, ["agent1001"])
        caller = call_in(asterisk, exten="4110", hold_ms=8_000)
        call, _ = await waiting_caller(observer)
        (waiting,) = await waiting_calls(engine, "q1", 1)
        first = (await decisions(engine, call))[0]
        assert (first["trigger"], first["result"]) == ("arrival", "wait"), first
        assert skipped(first) == {"agent1001": "skill"}  # ready, but level 1 of 3
        offer = await phones.wait_for("invite", "agent1001", timeout=WIDEN_AFTER + 5)
        waited = offer.at - epoch(waiting["enqueued_at"])
        assert WIDEN_AFTER <= waited <= WIDEN_AFTER + SLACK, waited
        await phones.wait_for("answer", "agent1001", timeout=5)
        await all_finished(caller)
        assert bridged_agents(observer) == {"agent1001"}
    trace = await decisions(engine, call)
    assert [(d["trigger"], d["result"], d["chosen"]) for d in trace] == [
        ("arrival", "wait", []),
        ("widened", "ring", ["agent1001"]),
    ]
    (ledger,) = await closed_calls(engine, 1)
    assert ledger["outcome"] == "answered"


# --- overflow ----------------------------------------------------------------------------

TO_QUEUE_CONFIG = {
    "queues": {
        "q1": {"ring_timeout": 3, "max_wait": 2, "overflow": {"kind": "queue", "target": "q2"}},
        "q2": {"ring_timeout": 3},
    },
    "agents": {"agent1001": {"queues": {"q1": 1}}, "agent1002": {"queues": {"q2": 1}}},
}


@pytest.mark.parametrize("engine", [TO_QUEUE_CONFIG], indirect=True)
async def test_max_wait_overflows_to_another_queue_whose_agent_answers(
    asterisk: Asterisk, engine: RunningEngine
) -> None:
    async with (
        observing(asterisk.ami_secret) as observer,
        agent_phones(asterisk, talk_ms=1_000) as phones,
    ):
        await log_in(engine, ["agent1001", "agent1002"])
        await post(engine, "/api/v1/agents/agent1001/pause", {"reason": "meeting"})
        caller = call_in(asterisk, exten="4110", hold_ms=10_000)
        call, _ = await waiting_caller(observer)
        (waiting,) = await waiting_calls(engine, "q1", 1)
        offer = await phones.wait_for("invite", "agent1002", timeout=2 + 5)
        waited = offer.at - epoch(waiting["enqueued_at"])
        assert 2 <= waited <= 2 + SLACK, waited
        await phones.wait_for("answer", "agent1002", timeout=5)
        await all_finished(caller)
        assert invited(phones) == ["agent1002"]
        assert bridged_agents(observer) == {"agent1002"}
        assert not observer.matching(Context="cc-elsewhere")  # it kept waiting, in q2
    trace = await decisions(engine, call)
    assert [(d["queue"], d["trigger"], d["result"]) for d in trace] == [
        ("q1", "arrival", "wait"),
        ("q1", "max_wait", "sent_elsewhere"),
        ("q2", "arrival", "ring"),
    ], trace
    assert trace[-1]["chosen"] == ["agent1002"]
    (ledger,) = await closed_calls(engine, 1)
    assert ledger["outcome"] == "answered"


NO_AGENTS_CONFIG = one_queue(
    {"agent1001": {"queues": {"q1": 1}}},
    no_agents="overflow",
    overflow={"kind": "voicemail", "target": "hotline"},
)


@pytest.mark.parametrize("engine", [NO_AGENTS_CONFIG], indirect=True)
async def test_nobody_logged_in_sends_the_caller_to_voicemail_at_once(
    asterisk: Asterisk, engine: RunningEngine
) -> None:
    async with (
        observing(asterisk.ami_secret) as observer,
        agent_phones(asterisk) as phones,
    ):
        caller = call_in(asterisk, exten="4110", hold_ms=4_000)
        queued = await observer.wait_for(step("cc-queue-wait", "UserEvent"), 15)
        sent = await observer.wait_for(entered("cc-elsewhere", queued["Channel"]), 5)
        await observer.wait_for(step("cc-elsewhere", "VoiceMail", queued["Channel"]), 5)
        await all_finished(caller)
        assert invited(phones) == []
    assert sent[RECEIVED] - queued[RECEIVED] < 1.0
    (decision,) = await decisions(engine, queued["Linkedid"])
    assert (decision["rule"], decision["result"]) == ("no_agents", "sent_elsewhere")
    assert skipped(decision) == {"agent1001": "logged_out"}
    (ledger,) = await closed_calls(engine, 1)
    assert ledger["outcome"] == "overflowed"


@pytest.mark.parametrize("engine", [one_queue({"agent1001": {"queues": {"q1": 1}}})], indirect=True)
async def test_under_the_wait_policy_the_caller_waits_until_an_agent_logs_in(
    asterisk: Asterisk, engine: RunningEngine
) -> None:
    async with (
        observing(asterisk.ami_secret) as observer,
        agent_phones(asterisk, talk_ms=1_000) as phones,
    ):
        caller = call_in(asterisk, exten="4110", hold_ms=8_000)
        call, _ = await waiting_caller(observer)
        await waiting_calls(engine, "q1", 1)
        assert await quiet(phones, 1.0) == []
        assert not observer.matching(Event="Newexten", Context="cc-elsewhere")
        logged_in = time.time()
        view = await post(engine, "/api/v1/agents/agent1001/login")
        assert view["state"] == "ringing"  # offered the waiting caller within the log-in
        offer = await phones.wait_for("invite", "agent1001", timeout=5)
        assert offer.at - logged_in < 0.5, offer.at - logged_in  # the log-in itself offers
        await phones.wait_for("answer", "agent1001", timeout=5)
        await all_finished(caller)
    trace = await decisions(engine, call)
    assert [(d["trigger"], d["result"]) for d in trace] == [
        ("arrival", "wait"),
        ("agent_free", "ring"),
    ]
    assert skipped(trace[0]) == {"agent1001": "logged_out"}
    (ledger,) = await closed_calls(engine, 1)
    assert ledger["outcome"] == "answered"


MAX_LENGTH_CONFIG = one_queue(
    {"agent1001": {"queues": {"q1": 1}}},
    max_length=1,
    overflow={"kind": "voicemail", "target": "hotline"},
)


@pytest.mark.parametrize("engine", [MAX_LENGTH_CONFIG], indirect=True)
async def test_a_caller_beyond_max_length_overflows_at_once(
    asterisk: Asterisk, engine: RunningEngine
) -> None:
    async with observing(asterisk.ami_secret) as observer:
        await log_in(engine, ["agent1001"])
        await post(engine, "/api/v1/agents/agent1001/pause", {"reason": "meeting"})
        first = call_in(asterisk, exten="4110", hold_ms=5_000)
        first_call, _ = await waiting_caller(observer)
        await waiting_calls(engine, "q1", 1)
        second = call_in(asterisk, exten="4110", hold_ms=4_000)
        queued = await observer.wait_for(
            lambda e: step("cc-queue-wait", "UserEvent")(e) and e["Linkedid"] != first_call, 15
        )
        sent = await observer.wait_for(entered("cc-elsewhere", queued["Channel"]), 5)
        await observer.wait_for(step("cc-elsewhere", "VoiceMail", queued["Channel"]), 5)
        assert sent[RECEIVED] - queued[RECEIVED] < 1.0
        assert [w["call"] for w in await waiting_calls(engine, "q1", 1)] == [first_call]
        await all_finished(first, second)
        elsewhere = {e["Linkedid"] for e in observer.matching(Context="cc-elsewhere")}
    assert elsewhere == {queued["Linkedid"]}  # the first caller stayed in line
    (decision,) = await decisions(engine, queued["Linkedid"])
    assert (decision["rule"], decision["result"]) == ("max_length", "sent_elsewhere")
    calls = await closed_calls(engine, 2)
    assert outcome_of(calls, queued["Linkedid"]) == "overflowed"
    assert outcome_of(calls, first_call) == "abandoned"


TALK_MS = 3_000
EWT_LIMIT = 4.5  # one handled call of ~3 s: position 1 waits ~3 s, position 2 ~6 s
EWT_CONFIG = one_queue(
    {"agent1001": {"queues": {"q1": 1}}},
    max_estimated_wait=EWT_LIMIT,
    overflow={"kind": "voicemail", "target": "hotline"},
)


@pytest.mark.parametrize("engine", [EWT_CONFIG], indirect=True)
async def test_a_caller_whose_estimated_wait_is_above_the_limit_overflows(
    asterisk: Asterisk, engine: RunningEngine
) -> None:
    async with (
        observing(asterisk.ami_secret) as observer,
        agent_phones(asterisk, talk_ms=TALK_MS) as phones,
    ):
        await log_in(engine, ["agent1001"])
        handled = call_in(asterisk, exten="4110", hold_ms=10_000)
        await phones.wait_for("bye-sent", "agent1001", timeout=10)
        await agent_state(engine, "agent1001", "ready")
        assert (await get(engine, "/api/v1/queues/q1"))["estimated_wait"] == 0  # a free agent
        talking = call_in(asterisk, exten="4110", hold_ms=10_000)
        await nth(phones, "answer", "agent1001", 2)
        await agent_state(engine, "agent1001", "talking")  # the caller left the line
        estimate = (await get(engine, "/api/v1/queues/q1"))["estimated_wait"]
        assert 0.9 * TALK_MS / 1000 <= estimate < EWT_LIMIT, estimate  # position 1, busy agent
        third = call_in(asterisk, exten="4110", hold_ms=8_000)
        (kept,) = await waiting_calls(engine, "q1", 1)
        fourth = call_in(asterisk, exten="4110", hold_ms=4_000)
        sent = await observer.wait_for(step("cc-elsewhere", "VoiceMail"), 5)
        await all_finished(handled, talking, third, fourth)
    assert sent["Linkedid"] != kept["call"]
    (decision,) = await decisions(engine, sent["Linkedid"])
    assert (decision["rule"], decision["result"]) == ("estimated_wait", "sent_elsewhere")
    calls = await closed_calls(engine, 4)
    assert outcome_of(calls, sent["Linkedid"]) == "overflowed"
    assert outcome_of(calls, kept["call"]) == "answered"  # served once the agent was free


PROMPT = "tt-weasels"  # a dash in the name: the dialplan's FILTER keeps it
MESSAGE_CONFIG = one_queue(
    {"agent1001": {"queues": {"q1": 1}}},
    max_wait=2,
    overflow={"kind": "message", "target": PROMPT},
)


@pytest.mark.parametrize("engine", [MESSAGE_CONFIG], indirect=True)
async def test_a_message_overflow_plays_the_prompt_then_ends_the_call(
    asterisk: Asterisk, engine: RunningEngine
) -> None:
    async with observing(asterisk.ami_secret) as observer:
        caller = call_in(asterisk, exten="4110", hold_ms=15_000)
        call, channel = await waiting_caller(observer)
        started = time.monotonic()
        await all_finished(caller)  # Asterisk hangs up after the prompt, long before 15 s
        assert time.monotonic() - started < 10
        played = [
            e.get("AppData")
            for e in observer.matching(Event="Newexten", Context="cc-elsewhere", Channel=channel)
            if e.get("Application") == "Playback"
        ]
        hung_up = observer.matching(Event="Hangup", Channel=channel)
    assert played == [PROMPT]
    assert hung_up
    trace = await decisions(engine, call)
    assert [(d["rule"], d["result"]) for d in trace][-1] == ("max_wait", "sent_elsewhere")
    (ledger,) = await closed_calls(engine, 1)
    assert ledger["outcome"] == "timeout"


# --- agents: wrap-up and pause after the call --------------------------------------------

WRAP_UP_CONFIG = {
    "queues": {"q1": {"ring_timeout": 3, "wrap_up": 2}, "q2": {"ring_timeout": 3, "wrap_up": 4}},
    "agents": {"agent1001": {"queues": {"q1": 1, "q2": 1}}},
}


@pytest.mark.parametrize("engine", [WRAP_UP_CONFIG], indirect=True)
async def test_wrap_up_lasts_the_time_of_the_queue_whose_call_ended(
    asterisk: Asterisk, engine: RunningEngine
) -> None:
    async with agent_phones(asterisk, talk_ms=1_000) as phones:
        await log_in(engine, ["agent1001"])
        callers = [call_in(asterisk, exten="4110", hold_ms=15_000)]  # q1: 2 s of wrap-up
        await phones.wait_for("answer", "agent1001", timeout=10)
        await agent_state(engine, "agent1001", "talking")
        callers.append(call_in(asterisk, exten="4120", hold_ms=15_000))  # q2: 4 s
        await waiting_calls(engine, "q2", 1)
        callers.append(call_in(asterisk, exten="4110", hold_ms=15_000))
        await waiting_calls(engine, "q1", 1)
        ends = []
        for n in (1, 2):
            ends.append(await nth(phones, "bye-sent", "agent1001", n))
            wrapping = await agent_state(engine, "agent1001", "wrap_up", timeout=1)
            assert wrapping["call"] is None
            await agent_state(engine, "agent1001", "talking", timeout=10)
        offers = [e for e in phones.events if e.kind == "invite"]
        assert [e.agent for e in offers] == ["agent1001"] * 3
        for wrap_up, end, offer in zip((2, 4), ends, offers[1:], strict=True):
            assert wrap_up <= offer.at - end.at <= wrap_up + SLACK, (wrap_up, offer.at - end.at)
        await all_finished(*callers)
    calls = await closed_calls(engine, 3)
    assert [c["outcome"] for c in calls] == ["answered"] * 3


@pytest.mark.parametrize(
    "engine", [one_queue({"agent1001": {"queues": {"q1": 1}}}, wrap_up=60)], indirect=True
)
async def test_an_agent_ending_wrap_up_early_is_offered_the_next_call_at_once(
    asterisk: Asterisk, engine: RunningEngine
) -> None:
    async with agent_phones(asterisk, talk_ms=1_000) as phones:
        await log_in(engine, ["agent1001"])
        first = call_in(asterisk, exten="4110", hold_ms=10_000)
        await phones.wait_for("answer", "agent1001", timeout=10)
        await agent_state(engine, "agent1001", "talking")
        second = call_in(asterisk, exten="4110", hold_ms=10_000)
        await waiting_calls(engine, "q1", 1)
        await phones.wait_for("bye-sent", "agent1001", timeout=10)
        await agent_state(engine, "agent1001", "wrap_up")
        assert await quiet(phones, 1.0) == []  # the caller waits: the agent wraps up
        ended = time.time()
        view = await post(engine, "/api/v1/agents/agent1001/end-wrap-up")
        assert view["state"] in ("ready", "ringing")
        offer = await nth(phones, "invite", "agent1001", 2, timeout=5)
        assert offer.at - ended < 0.5, offer.at - ended
        await all_finished(first, second)
    assert [c["outcome"] for c in await closed_calls(engine, 2)] == ["answered"] * 2


@pytest.mark.parametrize(
    "engine", [one_queue({"agent1001": {"queues": {"q1": 1}}}, wrap_up=1)], indirect=True
)
async def test_pause_after_this_call_pauses_the_agent_when_the_call_ends(
    asterisk: Asterisk, engine: RunningEngine
) -> None:
    async with agent_phones(asterisk, talk_ms=2_000) as phones:
        await log_in(engine, ["agent1001"])
        first = call_in(asterisk, exten="4110", hold_ms=12_000)
        await phones.wait_for("answer", "agent1001", timeout=10)
        await agent_state(engine, "agent1001", "talking")  # the engine saw the answer
        view = await post(engine, "/api/v1/agents/agent1001/pause-after-call", {"reason": "lunch"})
        assert (view["state"], view["pause_after_call"]) == ("talking", "lunch")
        second = call_in(asterisk, exten="4110", hold_ms=12_000)
        (waiting,) = await waiting_calls(engine, "q1", 1)
        await phones.wait_for("bye-sent", "agent1001", timeout=10)
        paused = await agent_state(engine, "agent1001", "paused", timeout=1 + SLACK)
        assert (paused["reason"], paused["pause_after_call"]) == ("lunch", None)
        assert await quiet(phones, 1.5) == []  # paused, not ready: no offer for the caller
        assert invited(phones) == ["agent1001"]
        (decision,) = await decisions(engine, waiting["call"])  # none since its arrival
        assert skipped(decision) == {"agent1001": "busy"}
        unpaused = time.time()
        await post(engine, "/api/v1/agents/agent1001/unpause")
        offer = await nth(phones, "invite", "agent1001", 2, timeout=5)
        assert offer.at - unpaused < 0.5, offer.at - unpaused
        await nth(phones, "answer", "agent1001", 2)
        await all_finished(first, second)
