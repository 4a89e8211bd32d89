"""Rebuilding the core after a restart: agents' states and re-adopted callers in their places."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from callcenter.acd.agents import IllegalTransition
from callcenter.acd.core import Acd, AcdSnapshot, AgentSnapshot, UnknownQueue, WaitingSnapshot
from callcenter.acd.model import (
    AgentOnCall,
    AgentPause,
    AgentPauseAfterCall,
    AgentState,
    AgentStateChanged,
    CallerArrived,
    QueueConfig,
    RingAgent,
    StopRinging,
)
from tests.unit.acd.harness import Driver, agents, at, only, rung

QUEUES = [QueueConfig("q", strategy="fewest_calls"), QueueConfig("r")]


def test_re_adopted_callers_given_in_any_order_keep_their_original_order() -> None:
    d = Driver(QUEUES, agents("a1"))
    arrivals = [
        CallerArrived(f"c{i}", f"PJSIP/c{i}", "q", 0, {}, at(i), at(500)) for i in range(1, 9)
    ]
    random.Random(3).shuffle(arrivals)
    d.now = 500
    for arrival in arrivals:
        d.send(arrival)
    view = d.acd.queue("q", d.t)
    assert [w.call for w in view.waiting] == [f"c{i}" for i in range(1, 9)]
    assert [w.waited for w in view.waiting][:2] == [499.0, 498.0]
    assert view.longest_wait == 499.0
    d.login("a1")
    assert only(d.log, RingAgent)[-1].call == "c1"


def busy_desk() -> Driver:
    """a1 paused (lunch), a2 talking and to pause after the call (meeting), a3 logged out,
    a4 ringing for w0 (queue r); w1 (priority 1) and w2 wait in q."""
    d = Driver(QUEUES, agents("a1", "a2", "a3", "a4", queues={"q": 1, "r": 2}))
    d.login("a1", "a2", "a4")
    for call, agent in (("x1", "a1"), ("x2", "a2"), ("x3", "a4")):
        assert rung(d.arrive(call)) == [agent]
        d.answer(agent)
        d.end(call)
    d.send(AgentPause("a1", "lunch", d.t))
    assert rung(d.arrive("busy")) == ["a2"]
    d.answer("a2")
    d.send(AgentPauseAfterCall("a2", "meeting", d.t))
    for i, queue in enumerate(("r", "q", "q")):
        d.advance(1)
        d.arrive(f"w{i}", queue=queue, priority=i % 2)
    return d


def test_snapshot_then_restore_rebuilds_agents_and_waiting_callers() -> None:
    d = busy_desk()
    snapshot = d.acd.snapshot()
    by_agent = {a.agent: a for a in snapshot.agents}
    assert (by_agent["a1"].paused, by_agent["a1"].reason) == (True, "lunch")
    assert (by_agent["a2"].paused, by_agent["a2"].reason) == (True, "meeting")
    assert (by_agent["a4"].logged_in, by_agent["a4"].paused) == (True, False)
    assert by_agent["a3"].logged_in is False
    assert [a.calls_taken for a in snapshot.agents] == [1, 2, 0, 1]
    assert [w.call for w in snapshot.waiting] == ["w1", "w2", "w0"]

    restored = Acd(QUEUES, agents("a1", "a2", "a3", "a4", queues={"q": 1, "r": 2}))
    commands = restored.restore(snapshot, at(1000))
    assert restored.snapshot() == snapshot
    assert [(r.call, r.agent) for r in only(commands, RingAgent)] == [("w0", "a4")]
    assert {a.id: a.state.value for a in restored.agents()} == {
        "a1": "paused",
        "a2": "paused",
        "a3": "logged_out",
        "a4": "ringing",
    }
    waited = {w.call: w.waited for w in restored.queue("q", at(1000)).waiting}
    assert waited == {"w1": 1000 - d.now + 1, "w2": 1000 - d.now}


def test_restore_offers_the_oldest_caller_first() -> None:
    d = Driver(QUEUES, agents("a1"))
    d.now = 50
    for i in (3, 1, 2):
        d.send(CallerArrived(f"c{i}", "PJSIP/c", "q", 0, {}, at(i), d.t))
    snapshot = replace(d.acd.snapshot(), agents=(AgentSnapshot("a1", True, False, "", 0),))
    restored = Acd(QUEUES, agents("a1"))
    commands = restored.restore(snapshot, at(60))
    assert [r.call for r in only(commands, RingAgent)] == ["c1"]
    assert [w.call for w in restored.queue("q", at(60)).waiting] == ["c1", "c2", "c3"]


def test_restore_skips_agents_no_longer_configured_and_checks_queues_first() -> None:
    gone = AgentSnapshot("retired", True, True, "lunch", 7)
    kept = AgentSnapshot("a1", True, False, "", 2)
    restored = Acd(QUEUES, agents("a1"))
    restored.restore(AcdSnapshot((gone, kept), ()), at(0))
    assert [(a.id, a.state.value, a.calls_taken) for a in restored.agents()] == [("a1", "ready", 2)]
    stray = WaitingSnapshot("c1", "PJSIP/c1", "closed", 0, {}, at(0))
    fresh = Acd(QUEUES, agents("a1"))
    with pytest.raises(UnknownQueue):
        fresh.restore(AcdSnapshot((kept,), (stray,)), at(0))
    assert fresh.agent("a1").state.value == "logged_out"


def test_an_agent_found_talking_is_busy_until_the_call_ends_then_wraps_up() -> None:
    d = Driver([QueueConfig("q", wrap_up=5)], agents("a1", "a2"))
    d.login("a1", "a2")
    d.send(AgentOnCall("a1", "old", "q", at(-30), at(-30), d.t))
    assert d.acd.agent("a1").state is AgentState.TALKING
    assert rung(d.arrive("c1")) == ["a2"]
    out = d.end("old")
    assert [(c.agent, c.state) for c in only(out, AgentStateChanged)] == [
        ("a1", AgentState.WRAP_UP)
    ]
    d.advance(5)
    assert d.acd.agent("a1").state is AgentState.READY


def test_a_paused_agent_found_talking_goes_back_to_the_pause_after_the_call() -> None:
    d = Driver([QueueConfig("q")], agents("a1"))
    d.login("a1")
    d.send(AgentPause("a1", "lunch", d.t))
    d.send(AgentOnCall("a1", "old", "q", d.t, d.t, d.t))
    assert d.acd.agent("a1").state is AgentState.TALKING
    d.end("old")
    view = d.acd.agent("a1")
    assert (view.state, view.reason) == (AgentState.PAUSED, "lunch")


def test_adopting_a_ringing_agent_withdraws_the_offer_and_a_logged_out_one_is_refused() -> None:
    d = Driver([QueueConfig("q")], agents("a1", "a2", "a3"))
    d.login("a1")
    offer = d.offer_of("a1") if rung(d.arrive("c1")) == ["a1"] else ""
    out = d.send(AgentOnCall("a1", "old", "q", d.t, d.t, d.t))
    assert [s.offer for s in only(out, StopRinging)] == [offer]
    assert d.acd.agent("a1").state is AgentState.TALKING
    with pytest.raises(IllegalTransition):
        d.send(AgentOnCall("a3", "other", "q", d.t, d.t, d.t))
    assert d.acd.agent("a3").state is AgentState.LOGGED_OUT
    d.login("a2")
    assert rung(d.log)[-1:] == ["a2"]


def test_offer_numbers_go_on_from_an_earlier_engine() -> None:
    d = Driver([QueueConfig("q")], agents("a1"))
    d.login("a1")
    out = d.send(CallerArrived("c9", "PJSIP/c9", "q", 0, {}, d.t, d.t, offers_made=4))
    assert [r.offer for r in only(out, RingAgent)] == ["c9-o5"]
