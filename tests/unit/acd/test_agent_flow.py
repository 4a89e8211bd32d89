"""Agents through the core: auto-pause, pause after the call, wrap-up, illegal requests."""

from __future__ import annotations

import re
from collections.abc import Iterable

import pytest

from callcenter.acd.agents import IllegalTransition
from callcenter.acd.core import Acd, DuplicateCall, DuplicateId, UnknownAgent, UnknownQueue
from callcenter.acd.model import (
    AgentConfig,
    AgentEndWrapUp,
    AgentLogin,
    AgentLogout,
    AgentPause,
    AgentPauseAfterCall,
    AgentState,
    AgentStateChanged,
    AgentUnpause,
    CallerArrived,
    CancelTimer,
    QueueConfig,
    RingAgent,
    StartTimer,
    StopRinging,
)
from callcenter.acd.strategies import UnknownStrategy
from tests.unit.acd.harness import Driver, agents, at, only, rung


def states(commands: Iterable[object]) -> list[tuple[str, str, str]]:
    return [(c.agent, c.state.value, c.reason) for c in only(commands, AgentStateChanged)]


def test_auto_pause_after_max_no_answer_consecutive_offers() -> None:
    d = Driver([QueueConfig("q")], agents("a1", max_no_answer=2))
    d.login("a1")
    d.arrive("c1")
    assert rung(d.fail("a1")) == ["a1"]  # alone: a new round rings a1 again
    out = d.fail("a1", "busy")
    assert rung(out) == []
    assert states(out) == [("a1", "paused", "no_answer")]
    assert d.acd.agent("a1").reason == "no_answer"
    out = d.send(AgentUnpause("a1", d.t))
    assert rung(out) == ["a1"]
    assert d.acd.agent("a1").no_answer == 0


def test_an_answer_resets_the_no_answer_count() -> None:
    d = Driver([QueueConfig("q")], agents("a1", max_no_answer=2))
    d.login("a1")
    d.arrive("c1")
    d.fail("a1")
    assert d.acd.agent("a1").no_answer == 1
    d.answer("a1")
    assert d.acd.agent("a1").no_answer == 0


def test_pause_after_the_call_is_taken_when_wrap_up_ends() -> None:
    d = Driver([QueueConfig("q", wrap_up=10)], agents("a1"))
    d.login("a1")
    d.arrive("c1")
    d.answer("a1")
    assert d.send(AgentPauseAfterCall("a1", "lunch", d.t)) == []
    assert d.acd.agent("a1").pause_after == "lunch"
    d.arrive("c2")
    assert states(d.end("c1")) == [("a1", "wrap_up", "")]
    out = d.advance(10)
    assert states(out) == [("a1", "paused", "lunch")]
    assert rung(out) == []
    assert rung(d.send(AgentUnpause("a1", d.t))) == ["a1"]


def test_pause_after_the_call_without_wrap_up() -> None:
    d = Driver([QueueConfig("q")], agents("a1"))
    d.login("a1")
    d.arrive("c1")
    d.answer("a1")
    d.send(AgentPauseAfterCall("a1", "training", d.t))
    d.arrive("c2")
    out = d.end("c1")
    assert states(out) == [("a1", "wrap_up", ""), ("a1", "paused", "training")]
    assert rung(out) == []


def test_pause_after_the_call_while_ringing_applies_if_unanswered() -> None:
    d = Driver([QueueConfig("q")], agents("a1", "a2"))
    d.login("a1", "a2")
    d.arrive("c1")
    d.send(AgentPauseAfterCall("a1", "break", d.t))
    out = d.fail("a1")
    assert states(out)[0] == ("a1", "paused", "break")
    assert rung(out) == ["a2"]


def test_wrap_up_ended_early_by_the_agent_frees_them_at_once() -> None:
    d = Driver([QueueConfig("q", wrap_up=60)], agents("a1"))
    d.login("a1")
    d.arrive("c1")
    d.answer("a1")
    d.advance(30)
    out = d.end("c1")
    assert StartTimer("wrapup:a1", at(90)) in out
    d.arrive("c2")
    d.advance(5)
    out = d.send(AgentEndWrapUp("a1", d.t))
    assert CancelTimer("wrapup:a1") in out
    assert rung(out) == ["a1"]
    assert d.acd.agent("a1").idle_since == at(35)
    assert "wrapup:a1" not in d.timers
    # handle time 35 s (30 s talk + 5 s wrap-up); a newcomer would be second in line
    assert d.acd.queue("q", d.t).estimated_wait == 70.0


def test_pausing_or_logging_out_while_ringing_withdraws_the_offer() -> None:
    d = Driver([QueueConfig("q", strategy="hunting")], agents("a1", "a2", "a3"))
    d.login("a1", "a2", "a3")
    (ring,) = only(d.arrive("c1"), RingAgent)
    out = d.send(AgentPause("a1", "coffee", d.t))
    assert StopRinging(ring.offer, "a1") in out
    assert states(out)[0] == ("a1", "paused", "coffee")
    assert rung(out) == ["a2"]
    out = d.send(AgentLogout("a2", d.t))
    assert rung(out) == ["a3"]
    assert d.acd.agent("a1").no_answer == 0
    assert d.acd.agent("a2").state is AgentState.LOGGED_OUT


def test_pausing_during_wrap_up_cancels_its_timer() -> None:
    d = Driver([QueueConfig("q", wrap_up=60)], agents("a1"))
    d.login("a1")
    d.arrive("c1")
    d.answer("a1")
    d.end("c1")
    out = d.send(AgentPause("a1", "lunch", d.t))
    assert CancelTimer("wrapup:a1") in out
    assert d.advance(120) == []
    assert d.acd.agent("a1").state is AgentState.PAUSED


def test_illegal_requests_raise_and_change_nothing() -> None:
    d = Driver([QueueConfig("q", wrap_up=30)], agents("a1", "a2"))
    d.login("a1")
    d.arrive("c1")
    d.answer("a1")
    before = (d.acd.agents(), d.acd.queues(d.t), d.acd.snapshot(), d.acd.trace("c1"))
    for event in (
        AgentLogout("a1", d.t),
        AgentPause("a1", "x", d.t),
        AgentLogin("a1", d.t),
        AgentEndWrapUp("a1", d.t),
        AgentUnpause("a1", d.t),
        AgentPauseAfterCall("a2", "x", d.t),
        AgentUnpause("a2", d.t),
    ):
        with pytest.raises(IllegalTransition):
            d.send(event)
    with pytest.raises(UnknownAgent):
        d.send(AgentLogin("nobody", d.t))
    with pytest.raises(UnknownQueue):
        d.arrive("c9", queue="nowhere")
    with pytest.raises(DuplicateCall):
        d.arrive("c1")
    assert (d.acd.agents(), d.acd.queues(d.t), d.acd.snapshot(), d.acd.trace("c1")) == before


def test_configuration_errors_fail_at_construction() -> None:
    with pytest.raises(UnknownStrategy):
        Acd([QueueConfig("q", strategy="random")], [])
    with pytest.raises(UnknownQueue):
        Acd([QueueConfig("q")], [AgentConfig("a1", {"other": 1})])
    with pytest.raises(DuplicateId):
        Acd([QueueConfig("q"), QueueConfig("q")], [])
    with pytest.raises(DuplicateId):
        Acd([QueueConfig("q")], agents("a1", "a1"))


def test_offer_ids_are_safe_channel_ids_and_unique() -> None:
    d = Driver([QueueConfig("q", strategy="ring_all")], agents("a1", "a2"))
    d.login("a1", "a2")
    calls = ["1700000000.42", "weird id/with:chars", "x" * 80, "x" * 80 + "y"]
    offers = []
    for call in calls:
        d.send(CallerArrived(call, "PJSIP/c", "q", 0, {}, d.t, d.t))
        offers += [r.offer for r in only(d.log, RingAgent) if r.call == call]
        d.answer("a1")
        d.end(call)
    assert offers[:2] == ["1700000000.42-o1", "1700000000.42-o2"]
    assert len(set(offers)) == len(offers)
    for offer in offers:
        assert re.fullmatch(r"[A-Za-z0-9._-]{1,60}", offer), offer
