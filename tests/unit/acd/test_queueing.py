"""Waiting callers: overflow, exit keys, abandonment, announcements and the estimated wait."""

from __future__ import annotations

from collections.abc import Iterable

from callcenter.acd.model import (
    AgentLogout,
    AgentPause,
    Announce,
    CallerLeft,
    CallerOutcome,
    CallerPressedKey,
    NoAgentsPolicy,
    OverflowKind,
    OverflowTarget,
    QueueConfig,
    RingAgent,
    SendElsewhere,
    StopRinging,
)
from tests.unit.acd.harness import Driver, agents, only, rung

VOICEMAIL = OverflowTarget(OverflowKind.VOICEMAIL, "100")
CALLBACK = OverflowTarget(OverflowKind.CALLBACK)


def outcome(commands: Iterable[object]) -> tuple[str, str, float, str | None]:
    (result,) = only(commands, CallerOutcome)
    return result.call, result.outcome, result.waited, result.agent


def test_max_wait_times_out_to_the_overflow_target() -> None:
    d = Driver([QueueConfig("q", max_wait=60, overflow=VOICEMAIL)], agents("a1"))
    d.arrive("c1")
    assert d.advance(59) == []
    out = d.advance(1)
    assert only(out, SendElsewhere) == [SendElsewhere("c1", VOICEMAIL, "max_wait", "q")]
    assert outcome(out) == ("c1", "timeout", 60.0, None)
    assert d.acd.queue("q", d.t).waiting == ()


def test_max_wait_while_ringing_stops_the_offer_and_frees_the_agent() -> None:
    d = Driver([QueueConfig("q", max_wait=60, ring_timeout=30)], agents("a1"))
    d.arrive("c1")
    d.advance(50)
    (ring,) = only(d.login("a1"), RingAgent)
    out = d.advance(10)
    assert StopRinging(ring.offer, "a1") in out
    assert only(out, SendElsewhere)[0].target == OverflowTarget(OverflowKind.MESSAGE)
    assert outcome(out)[1] == "timeout"
    assert d.acd.agent("a1").state.value == "ready"
    assert d.advance(100) == []  # the ring timer went with the offer


def test_max_length_refuses_at_arrival() -> None:
    d = Driver([QueueConfig("q", max_length=1, overflow=CALLBACK)], agents("a1"))
    assert only(d.arrive("c1"), CallerOutcome) == []
    out = d.arrive("c2")
    assert only(out, SendElsewhere) == [SendElsewhere("c2", CALLBACK, "max_length", "q")]
    assert outcome(out) == ("c2", "overflowed", 0.0, None)
    assert [w.call for w in d.acd.queue("q", d.t).waiting] == ["c1"]


def test_nobody_logged_in_overflows_under_the_overflow_policy() -> None:
    queue = QueueConfig("q", no_agents=NoAgentsPolicy.OVERFLOW, overflow=VOICEMAIL)
    d = Driver([queue], agents("a1", "a2"))
    out = d.arrive("c1")
    assert only(out, SendElsewhere) == [SendElsewhere("c1", VOICEMAIL, "no_agents", "q")]
    assert outcome(out)[1] == "overflowed"
    d.login("a1", "a2")
    d.send(AgentPause("a1", "lunch", d.t))
    d.arrive("c2")
    d.send(AgentPause("a2", "lunch", d.t))
    d.arrive("c3")  # paused agents are still logged in: the callers wait
    assert only(d.send(AgentLogout("a1", d.t)), SendElsewhere) == []
    out = d.send(AgentLogout("a2", d.t))
    assert [s.call for s in only(out, SendElsewhere)] == ["c2", "c3"]
    assert {o.outcome for o in only(out, CallerOutcome)} == {"overflowed"}


def test_nobody_logged_in_waits_under_the_wait_policy() -> None:
    d = Driver([QueueConfig("q")], agents("a1"))
    assert only(d.arrive("c1"), SendElsewhere) == []
    assert rung(d.login("a1")) == ["a1"]


def handled_one_call(queue: QueueConfig) -> Driver:
    """a1 handled one call of 120 s (100 s talk, 20 s wrap-up) and is talking again."""
    d = Driver([queue], agents("a1"))
    d.login("a1")
    d.arrive("first")
    d.answer("a1")
    d.advance(100)
    d.end("first")
    d.advance(20)
    d.arrive("second")
    d.answer("a1")
    return d


def test_estimated_wait_above_the_limit_overflows() -> None:
    queue = QueueConfig("q", wrap_up=20, max_estimated_wait=200, overflow=VOICEMAIL)
    d = handled_one_call(queue)
    assert d.acd.queue("q", d.t).estimated_wait == 120.0  # AHT 120 * position 1 / 1 agent
    assert only(d.arrive("c3"), SendElsewhere) == []
    out = d.arrive("c4")  # position 2: 240 s
    assert only(out, SendElsewhere) == [SendElsewhere("c4", VOICEMAIL, "estimated_wait", "q")]
    assert outcome(out)[1] == "overflowed"


def test_announcements_give_position_and_estimated_wait() -> None:
    d = handled_one_call(QueueConfig("q", wrap_up=20, announce_every=30))
    d.arrive("c3")
    d.advance(10)
    d.arrive("c4")
    assert only(d.advance(20), Announce) == [Announce("c3", 1, 120.0)]
    assert only(d.advance(10), Announce) == [Announce("c4", 2, 240.0)]
    d.send(CallerLeft("c3", d.t))
    assert only(d.advance(30), Announce) == [Announce("c4", 1, 120.0)]


def test_no_estimate_before_any_handled_call() -> None:
    d = Driver([QueueConfig("q", announce_every=30)], agents("a1"))
    d.arrive("c1")
    assert only(d.advance(30), Announce) == [Announce("c1", 1, None)]


def test_exit_key_sends_the_caller_away_and_stops_ringing() -> None:
    queue = QueueConfig("q", exit_keys={"1": VOICEMAIL}, ring_timeout=30)
    d = Driver([queue], agents("a1"))
    d.login("a1")
    (ring,) = only(d.arrive("c1"), RingAgent)
    assert d.send(CallerPressedKey("c1", "5", d.t)) == []
    d.advance(4)
    out = d.send(CallerPressedKey("c1", "1", d.t))
    assert StopRinging(ring.offer, "a1") in out
    assert only(out, SendElsewhere) == [SendElsewhere("c1", VOICEMAIL, "exit_key", "q")]
    assert outcome(out) == ("c1", "exit_key", 4.0, None)


def test_a_caller_hanging_up_while_ringing_is_abandoned_and_the_agent_moves_on() -> None:
    d = Driver([QueueConfig("q")], agents("a1"))
    d.login("a1")
    (ring,) = only(d.arrive("c1"), RingAgent)
    d.arrive("c2")
    d.advance(7)
    out = d.send(CallerLeft("c1", d.t))
    assert StopRinging(ring.offer, "a1") in out
    assert outcome(out) == ("c1", "abandoned", 7.0, None)
    assert only(out, RingAgent)[0].call == "c2"
    assert d.acd.agent("a1").no_answer == 0
    assert d.send(CallerLeft("c1", d.t)) == []


def test_answered_outcome_carries_the_wait() -> None:
    d = Driver([QueueConfig("q")], agents("a1"))
    d.arrive("c1")
    d.advance(12)
    d.login("a1")
    d.advance(3)
    assert outcome(d.answer("a1")) == ("c1", "answered", 15.0, "a1")


def to_queue(name: str) -> OverflowTarget:
    return OverflowTarget(OverflowKind.QUEUE, name)


def test_max_wait_to_another_queue_joins_it_and_its_agent_is_rung() -> None:
    queues = [
        QueueConfig("q", max_wait=60, overflow=to_queue("backup")),
        QueueConfig("backup", max_wait=30),
    ]
    d = Driver(queues, agents("a1") + agents("b1", queues={"backup": 1}))
    d.arrive("c1")
    out = d.advance(60)
    assert only(out, SendElsewhere) == [SendElsewhere("c1", to_queue("backup"), "max_wait", "q")]
    assert outcome(out) == ("c1", "timeout", 60.0, None)
    assert [w.call for w in d.acd.queue("backup", d.t).waiting] == ["c1"]
    assert rung(d.login("b1")) == ["b1"]
    out = d.answer("b1")
    assert outcome(out) == ("c1", "answered", 60.0, "b1")  # waited since the first queue
    trace = d.acd.trace("c1")
    assert [(t.queue, t.trigger, t.result) for t in trace] == [
        ("q", "arrival", "wait"),
        ("q", "max_wait", "sent_elsewhere"),
        ("backup", "arrival", "wait"),
        ("backup", "agent_free", "ring"),
    ]


def test_the_target_queue_s_max_wait_counts_from_the_overflow() -> None:
    queues = [
        QueueConfig("q", max_wait=60, overflow=to_queue("backup")),
        QueueConfig("backup", max_wait=30, overflow=VOICEMAIL),
    ]
    d = Driver(queues, agents("a1"))
    d.arrive("c1")
    d.advance(60)
    assert d.advance(29) == []
    out = d.advance(1)
    assert only(out, SendElsewhere) == [SendElsewhere("c1", VOICEMAIL, "max_wait", "backup")]
    assert outcome(out) == ("c1", "timeout", 90.0, None)


def test_overflow_never_loops_back_into_a_queue_the_caller_left() -> None:
    overflow = NoAgentsPolicy.OVERFLOW
    queues = [
        QueueConfig("q", no_agents=overflow, overflow=to_queue("backup")),
        QueueConfig("backup", no_agents=overflow, overflow=to_queue("q")),
        QueueConfig("self", max_length=1, overflow=to_queue("self")),
        QueueConfig("stray", max_wait=5, overflow=to_queue("nowhere")),
    ]
    d = Driver(queues, agents("a1"))
    out = d.arrive("c1")
    assert [(s.queue, s.target) for s in only(out, SendElsewhere)] == [
        ("q", to_queue("backup")),
        ("backup", OverflowTarget(OverflowKind.MESSAGE)),  # not back to q
    ]
    assert [(o.queue, o.outcome) for o in only(out, CallerOutcome)] == [
        ("q", "overflowed"),
        ("backup", "overflowed"),
    ]
    d.arrive("c2", queue="self")
    out = d.arrive("c3", queue="self")
    assert only(out, SendElsewhere)[0].target == OverflowTarget(OverflowKind.MESSAGE)
    d.arrive("c4", queue="stray")
    out = d.advance(5)  # an unknown queue (a run-time change may name one): the default
    assert only(out, SendElsewhere)[0].target == OverflowTarget(OverflowKind.MESSAGE)
