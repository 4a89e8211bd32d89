"""Each strategy, driven through the core with scripted events."""

from __future__ import annotations

import pytest

from callcenter.acd.model import (
    AgentConfig,
    AgentLogin,
    AgentPause,
    CallerArrived,
    Connect,
    OfferAnswered,
    OfferFailed,
    QueueChanged,
    QueueConfig,
    RingAgent,
    StopRinging,
)
from callcenter.acd.strategies import UnknownStrategy
from tests.unit.acd.harness import Driver, agents, at, only, rung


def hunting_desk() -> Driver:
    d = Driver([QueueConfig("q", strategy="hunting")], agents("a1", "a2", "a3"))
    d.login("a1", "a2", "a3")
    return d


def test_hunting_moves_to_the_next_agent_and_the_next_call_starts_after_the_last_offered() -> None:
    d = hunting_desk()
    assert rung(d.arrive("c1")) == ["a1"]
    assert rung(d.fail("a1")) == ["a2"]
    assert only(d.answer("a2"), Connect) == [Connect("c1", "c1-o2", "a2")]
    assert rung(d.arrive("c2")) == ["a3"]
    d.answer("a3")
    assert rung(d.arrive("c3")) == ["a1"]  # wraps around


def test_hunting_ring_timeout_moves_on_and_a_late_failure_is_ignored() -> None:
    d = hunting_desk()
    (ring,) = only(d.arrive("c1"), RingAgent)
    assert ring.ring_timeout == 15.0
    out = d.advance(15)
    assert StopRinging(ring.offer, "a1") in out
    assert rung(out) == ["a2"]
    assert d.send(OfferFailed(ring.offer, "no_answer", d.t)) == []
    assert d.acd.agent("a1").no_answer == 1


def test_hunting_keeps_going_round_until_someone_answers() -> None:
    d = hunting_desk()
    d.arrive("c1")
    assert [rung(d.fail(a)) for a in ("a1", "a2", "a3")] == [["a2"], ["a3"], ["a1"]]
    assert only(d.answer("a1"), Connect)[0].agent == "a1"


def test_longest_idle_picks_the_oldest_end_of_wrap_up() -> None:
    d = Driver([QueueConfig("q", wrap_up=10)], agents("a1", "a2", "a3"))
    d.login("a1", "a2", "a3")
    for call, agent in (("c1", "a1"), ("c2", "a2"), ("c3", "a3")):
        assert rung(d.arrive(call)) == [agent]  # equally idle since log-in: by id
        d.answer(agent)
    for seconds, call in ((5, "c2"), (3, "c3"), (1, "c1")):
        d.advance(seconds)
        d.end(call)
    d.advance(30)  # wrap-ups ended at 15 (a2), 18 (a3), 19 (a1)
    assert rung(d.arrive("c4")) == ["a2"]
    assert rung(d.fail("a2")) == ["a3"]  # the next best, not a2 again


def test_ring_all_rings_every_free_agent_and_connects_exactly_one() -> None:
    d = Driver([QueueConfig("q", strategy="ring_all")], agents("a1", "a2", "a3"))
    d.login("a1", "a2", "a3")
    rings = only(d.arrive("c1"), RingAgent)
    assert [r.agent for r in rings] == ["a1", "a2", "a3"]
    out = d.answer("a2")
    assert only(out, Connect) == [Connect("c1", rings[1].offer, "a2")]
    assert only(out, StopRinging) == [
        StopRinging(rings[0].offer, "a1"),
        StopRinging(rings[2].offer, "a3"),
    ]
    late = d.send(OfferAnswered(rings[0].offer, d.t))
    assert late == [StopRinging(rings[0].offer, "a1")]
    assert [d.acd.agent(a).state.value for a in ("a1", "a2", "a3")] == ["ready", "talking", "ready"]


def test_ring_all_rings_again_when_the_whole_round_failed() -> None:
    d = Driver([QueueConfig("q", strategy="ring_all")], agents("a1", "a2"))
    d.login("a1", "a2")
    assert rung(d.arrive("c1")) == ["a1", "a2"]
    assert rung(d.fail("a1")) == []  # a2 still rings: the round goes on
    assert sorted(rung(d.fail("a2"))) == ["a1", "a2"]


def test_ring_all_adds_an_agent_who_becomes_free() -> None:
    d = Driver([QueueConfig("q", strategy="ring_all")], agents("a1", "a2"))
    d.login("a1")
    assert rung(d.arrive("c1")) == ["a1"]
    assert rung(d.login("a2")) == ["a2"]
    out = d.answer("a2")
    assert len(only(out, Connect)) == 1 and len(only(out, StopRinging)) == 1


def test_fewest_calls_prefers_the_agent_with_the_fewest_answered_calls() -> None:
    d = Driver([QueueConfig("q", strategy="fewest_calls")], agents("a1", "a2", "a3"))
    d.login("a1")
    for call in ("c1", "c2"):
        d.arrive(call)
        d.answer("a1")
        d.end(call)
    d.advance(100)
    d.login("a2", "a3")  # idle for less time than a1, but with fewer calls
    assert rung(d.arrive("c3")) == ["a2"]
    d.answer("a2")
    d.end("c3")
    assert rung(d.arrive("c4")) == ["a3"]
    assert d.acd.agent("a1").calls_taken == 2


def skills_desk(*, widen_after: float | None = None) -> Driver:
    queue = QueueConfig("q", strategy="skills", required_skills={"fr": 2}, widen_after=widen_after)
    configs = [
        AgentConfig("a1", {"q": 1}, {"fr": 1}),
        AgentConfig("a2", {"q": 1}, {"fr": 3}),
        AgentConfig("a3", {"q": 1}, {"fr": 5}),
        AgentConfig("a4", {"q": 1}, {}),
        AgentConfig("a5", {"q": 1}, {"fr": 2, "billing": 2}),
    ]
    return Driver([queue], configs)


def test_skills_best_level_first_and_the_callers_own_skills() -> None:
    d = skills_desk()
    d.login("a1", "a2", "a3", "a4", "a5")
    assert rung(d.arrive("c1")) == ["a3"]
    assert rung(d.arrive("c2", skills={"billing": 1})) == ["a5"]
    assert rung(d.arrive("c3")) == ["a2"]
    assert rung(d.arrive("c4")) == []  # a1 is below the minimum level, a4 lacks the skill


def test_skills_serves_higher_priority_callers_first_then_by_enqueue_time() -> None:
    d = skills_desk()
    d.login("a3")
    d.arrive("c0")
    d.answer("a3")
    d.advance(1)
    d.arrive("low1")
    d.advance(1)
    d.arrive("vip", priority=5)
    d.advance(1)
    d.arrive("low2")
    view = d.acd.queue("q", d.t)
    assert [(w.call, w.position) for w in view.waiting] == [("vip", 1), ("low1", 2), ("low2", 3)]
    d.end("c0")
    assert only(d.log, RingAgent)[-1].call == "vip"


def test_skills_widening_drops_the_minimum_levels_after_the_wait() -> None:
    d = skills_desk(widen_after=30)
    d.login("a1", "a4")
    assert rung(d.arrive("c1")) == []
    assert rung(d.advance(29)) == []
    assert rung(d.advance(1)) == ["a1"]  # a4 still lacks the skill altogether


def test_strategy_changes_at_run_time_from_the_next_decision() -> None:
    d = hunting_desk()
    d.arrive("c1")
    d.fail("a1")
    d.answer("a2")
    # hunting would ring a3 next (after a2); longest_idle rings a1 (idle since log-in, by id)
    with pytest.raises(UnknownStrategy):
        d.send(QueueChanged(QueueConfig("q", strategy="bogus"), d.t))
    assert d.acd.queue("q", d.t).strategy == "hunting"
    d.send(QueueChanged(QueueConfig("q", strategy="longest_idle"), d.t))
    assert d.acd.queue("q", d.t).strategy == "longest_idle"
    assert rung(d.arrive("c2")) == ["a1"]


def test_a_queue_change_lets_waiting_callers_be_served() -> None:
    queue = QueueConfig("q", strategy="skills", required_skills={"fr": 4})
    d = Driver([queue], [AgentConfig("a1", {"q": 1}, {"fr": 2})])
    d.login("a1")
    assert rung(d.arrive("c1")) == []
    out = d.send(QueueChanged(QueueConfig("q", strategy="skills", required_skills={"fr": 1}), d.t))
    assert rung(out) == ["a1"]


def fairness_desk() -> Driver:
    queues = [QueueConfig(q) for q in ("qa", "qb", "qc")]
    configs = [
        AgentConfig("x", {"qa": 2, "qb": 2, "qc": 1}),
        AgentConfig("y", {"qa": 1}),
    ]
    return Driver(queues, configs)


def test_a_freed_agent_serves_its_own_priority_queue_first() -> None:
    d = fairness_desk()
    d.arrive("old", queue="qa")
    d.advance(1)
    d.arrive("new", queue="qc")
    assert rung(d.login("x")) == ["x"]
    assert only(d.log, RingAgent)[-1].call == "new"  # qc is x's priority-1 queue


def test_then_caller_priority_then_enqueue_time_then_queue_id() -> None:
    d = fairness_desk()
    d.arrive("a-old", queue="qa")
    d.advance(1)
    d.arrive("b-vip", queue="qb", priority=2)
    d.advance(1)
    d.arrive("b-plain", queue="qb")
    d.login("x")
    d.answer("x")
    assert only(d.log, Connect)[-1].call == "b-vip"
    d.end("b-vip")
    assert only(d.log, RingAgent)[-1].call == "a-old"
    d.answer("x")
    d.end("a-old")
    assert only(d.log, RingAgent)[-1].call == "b-plain"


def test_equal_waits_in_two_queues_go_by_queue_id() -> None:
    d = fairness_desk()
    d.send(CallerArrived("in-b", "PJSIP/b", "qb", 0, {}, at(0), at(0)))
    d.send(CallerArrived("in-a", "PJSIP/a", "qa", 0, {}, at(0), at(0)))
    d.login("x")
    assert only(d.log, RingAgent)[-1].call == "in-a"


def test_the_same_events_give_the_same_commands() -> None:
    def script() -> list[object]:
        d = fairness_desk()
        for i in range(6):
            d.arrive(f"c{i}", queue=("qa", "qb", "qc")[i % 3], priority=i % 2)
        d.send(AgentLogin("y", d.t))
        d.send(AgentLogin("x", d.t))
        d.answer("x")
        d.fail("y")
        d.send(AgentPause("y", "lunch", d.t))
        d.end(only(d.log, Connect)[-1].call)
        return list(d.log)

    assert script() == script()
