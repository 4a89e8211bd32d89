"""Explainable routing: every decision lists the agents considered and why each was skipped."""

from __future__ import annotations

import json

from callcenter.acd.core import Acd
from callcenter.acd.model import (
    AgentConfig,
    AgentPause,
    CallerLeft,
    OfferAnswered,
    QueueConfig,
    RingAgent,
)
from callcenter.acd.trace import SkipReason
from tests.unit.acd.harness import Driver, agents, only, rung

R = SkipReason


def desk() -> Driver:
    queues = [
        QueueConfig("q", required_skills={"fr": 1}, wrap_up=100, ring_timeout=60, max_length=5),
        QueueConfig("other"),
    ]
    fr = {"fr": 2}
    configs = [AgentConfig(f"a{i}", {"q": 1}, fr) for i in range(1, 9)]
    configs[4] = AgentConfig("a5", {"q": 1}, {"de": 3})
    configs.append(AgentConfig("z9", {"other": 1}, fr))
    return Driver(queues, configs)


def test_each_skipped_agent_has_its_reason() -> None:
    d = desk()
    d.login("a2")
    d.arrive("talk")
    d.answer("a2")
    d.login("a6")
    d.arrive("wrap")
    d.answer("a6")
    d.end("wrap")
    d.login("a3")
    d.arrive("ring")
    d.login("a1", "a5")
    d.send(AgentPause("a1", "lunch", d.t))
    d.login("a7")
    d.advance(1)
    d.login("a8", "z9")
    assert rung(d.arrive("c")) == ["a7"]

    (decision,) = d.acd.trace("c")
    assert (decision.queue, decision.trigger, decision.rule, decision.result) == (
        "q",
        "arrival",
        "longest_idle",
        "ring",
    )
    assert decision.chosen == ("a7",)
    assert decision.offers == ("c-o1",)
    assert {c.agent: c.skipped for c in decision.considered} == {
        "a1": R.PAUSED,
        "a2": R.BUSY,
        "a3": R.RINGING_ELSEWHERE,
        "a4": R.LOGGED_OUT,
        "a5": R.SKILL,
        "a6": R.WRAP_UP,
        "a7": None,
        "a8": R.RANKED_LOWER,
    }
    everyone = d.acd.trace("c", everyone=True)[0].considered
    assert [(c.agent, c.skipped) for c in everyone][-1] == ("z9", R.NOT_IN_QUEUE)
    ringing = {c.agent: c.state.value for c in decision.considered}
    assert ringing["a3"] == "ringing" and ringing["a7"] == "ready"


def test_retries_mark_agents_already_offered_and_freed_agents_pick_by_fairness() -> None:
    d = Driver([QueueConfig("q", strategy="hunting")], agents("a1", "a2"))
    d.login("a1", "a2")
    d.arrive("c1")
    d.fail("a1")
    d.answer("a2")
    first, retry = d.acd.trace("c1")
    assert (first.trigger, first.chosen, retry.trigger, retry.chosen) == (
        "arrival",
        ("a1",),
        "retry",
        ("a2",),
    )
    assert {c.agent: c.skipped for c in retry.considered} == {"a1": R.ALREADY_OFFERED, "a2": None}
    d.arrive("c2")
    d.answer("a1")
    d.arrive("c3")
    d.end("c1")
    wait, pick = d.acd.trace("c3")
    assert {c.skipped for c in wait.considered} == {R.BUSY}
    assert (pick.trigger, pick.rule, pick.chosen) == ("agent_free", "fairness", ("a2",))


def test_waits_and_refusals_are_decisions_too() -> None:
    d = desk()
    for i in range(6):
        d.arrive(f"c{i}")
    (wait,) = d.acd.trace("c0")
    assert (wait.result, wait.chosen) == ("wait", ())
    assert {c.skipped for c in wait.considered} == {R.LOGGED_OUT}
    (refused,) = d.acd.trace("c5")
    assert (refused.result, refused.rule) == ("sent_elsewhere", "max_length")


def test_traces_survive_the_call_and_later_activity() -> None:
    d = desk()
    d.login("a1", "a2")
    d.arrive("first")
    d.answer("a1")
    d.end("first")
    before = d.acd.trace("first")
    for i in range(300):
        d.arrive(f"n{i}")
        agent = rung(d.log[-3:])[0]
        d.answer(agent)
        d.end(f"n{i}")
        d.advance(100)
    assert d.acd.trace("first") == before
    assert json.loads(json.dumps([x.as_json() for x in before]))[0]["chosen"] == ["a1"]


def test_traces_are_bounded_to_the_last_finished_calls_and_live_ones() -> None:
    d = Driver([QueueConfig("q")], agents("a1"))
    d.acd = Acd([QueueConfig("q")], agents("a1"), keep_traces=3)
    d.arrive("live")
    for i in range(5):
        d.arrive(f"c{i}")
        d.send(CallerLeft(f"c{i}", d.t))
    assert [len(d.acd.trace(f"c{i}")) for i in range(5)] == [0, 0, 1, 1, 1]
    assert len(d.acd.trace("live")) == 1
    assert d.acd.trace("never") == []


def test_pruned_history_still_explains_every_retained_trace() -> None:
    d = Driver([QueueConfig("q", wrap_up=5)], agents("a1", "a2", "a3"))
    d.acd = Acd([QueueConfig("q", wrap_up=5)], agents("a1", "a2", "a3"), keep_traces=5)
    d.login("a1", "a2", "a3")
    read_at_once = {}
    for i in range(400):
        (ring,) = only(d.arrive(f"c{i}"), RingAgent)
        d.arrive(f"w{i}")  # rings another agent, then hangs up
        d.send(OfferAnswered(ring.offer, d.t))
        d.advance(3)
        d.send(CallerLeft(f"w{i}", d.t))
        read_at_once[f"c{i}"] = d.acd.trace(f"c{i}")
        d.end(f"c{i}")
        d.advance(7)
    kept = [call for call in read_at_once if d.acd.trace(call)]
    assert kept == ["c398", "c399"]  # the last 5 finished: w397, c398, w398, c399, w399
    for call in kept:
        assert d.acd.trace(call) == read_at_once[call]
