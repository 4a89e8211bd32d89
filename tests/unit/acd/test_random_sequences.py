"""Seeded random event sequences: every caller gets exactly one outcome, nothing double-connects.

A hand-rolled property test: each seed builds a random desk (strategies, limits, skills) and
drives it with a few hundred random events, valid and invalid, including late and duplicate
PBX reports. After every event the invariants hold; a refused event changes nothing; at the
end every caller still waiting hangs up and each call has exactly one outcome.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta

import pytest

from callcenter.acd.agents import IllegalTransition
from callcenter.acd.model import (
    AcdEvent,
    AgentConfig,
    AgentEndWrapUp,
    AgentLogin,
    AgentLogout,
    AgentPause,
    AgentPauseAfterCall,
    AgentState,
    AgentUnpause,
    CallEnded,
    CallerArrived,
    CallerLeft,
    CallerOutcome,
    CallerPressedKey,
    Connect,
    NoAgentsPolicy,
    OfferAnswered,
    OfferFailed,
    OverflowKind,
    OverflowTarget,
    QueueChanged,
    QueueConfig,
    RingAgent,
    StopRinging,
)
from callcenter.acd.strategies import STRATEGIES
from tests.unit.acd.harness import Driver

SKILLS = ("fr", "de", "billing")


def random_queue(rng: random.Random, name: str) -> QueueConfig:
    return QueueConfig(
        name,
        strategy=rng.choice(sorted(STRATEGIES)),
        ring_timeout=rng.choice([5.0, 15.0]),
        wrap_up=rng.choice([0.0, 0.0, 10.0]),
        max_wait=rng.choice([None, 60.0, 200.0]),
        max_length=rng.choice([None, 3]),
        max_estimated_wait=rng.choice([None, None, 100.0]),
        no_agents=rng.choice(list(NoAgentsPolicy)),
        overflow=rng.choice([None, OverflowTarget(OverflowKind.VOICEMAIL, "1")]),
        announce_every=rng.choice([None, 20.0]),
        exit_keys={"9": OverflowTarget(OverflowKind.CALLBACK)},
        required_skills=rng.choice([{}, {"fr": 1}, {"fr": 3}]),
        widen_after=rng.choice([None, 30.0]),
    )


def random_agent(rng: random.Random, name: str, queues: list[str]) -> AgentConfig:
    served = rng.sample(queues, rng.randint(1, len(queues)))
    skills = {s: rng.randint(1, 5) for s in rng.sample(SKILLS, rng.randint(0, 3))}
    return AgentConfig(
        name, {q: rng.randint(1, 3) for q in served}, skills, max_no_answer=rng.randint(1, 3)
    )


class Run:
    def __init__(self, seed: int) -> None:
        self.rng = rng = random.Random(seed)
        names = ["q1", "q2", "q3"][: rng.randint(1, 3)]
        self.queues = [random_queue(rng, n) for n in names]
        self.agent_ids = [f"a{i}" for i in range(rng.randint(1, 6))]
        configs = [random_agent(rng, a, names) for a in self.agent_ids]
        self.d = Driver(self.queues, configs)
        self.arrived: list[str] = []
        self.outcomes: Counter[str] = Counter()
        self.connects: Counter[str] = Counter()
        self.live: set[str] = set()  # connected calls not ended yet
        self.offers: list[str] = []  # every offer rung
        self.ringing: set[str] = set()  # offers still ringing

    def pick_offer(self) -> str | None:
        """Mostly an offer still ringing; sometimes an old one (a late or repeated report)."""
        if self.ringing and self.rng.random() < 0.85:
            return self.rng.choice(sorted(self.ringing))
        return self.rng.choice(self.offers) if self.offers else None

    def event(self) -> AcdEvent | None:
        rng, d = self.rng, self.d
        kind = rng.randrange(16)
        agent = rng.choice(self.agent_ids)
        call = rng.choice(self.arrived) if self.arrived else "none"
        offer = self.pick_offer()
        if kind <= 2:
            name = f"c{len(self.arrived)}"
            self.arrived.append(name)
            skills = rng.choice([{}, {}, {"de": 1}, {"fr": 4}])
            queue = rng.choice(self.queues).id
            enqueued = d.t - timedelta(seconds=rng.choice([0, 0, 0, 30, 90]))  # re-adopted
            priority = rng.randint(0, 2)
            return CallerArrived(name, f"PJSIP/{name}", queue, priority, skills, enqueued, d.t)
        if kind in (3, 4, 5) and offer is not None:
            return OfferAnswered(offer, d.t)
        if kind == 6 and offer is not None:
            return OfferFailed(offer, rng.choice(["no_answer", "busy"]), d.t)
        if kind == 7:
            return CallerLeft(call, d.t)
        if kind == 8:
            return CallerPressedKey(call, rng.choice("19"), d.t)
        if kind == 9 and self.live:
            return CallEnded(rng.choice(sorted(self.live)), d.t)
        agent_events: list[AcdEvent] = [
            AgentLogin(agent, d.t),
            AgentLogout(agent, d.t),
            AgentPause(agent, rng.choice(["lunch", "break"]), d.t),
            AgentUnpause(agent, d.t),
            AgentPauseAfterCall(agent, "after", d.t),
            AgentEndWrapUp(agent, d.t),
        ]
        if kind in (10, 11, 12):
            return rng.choice(agent_events[:4] + agent_events[:1])
        if kind == 13:
            return rng.choice(agent_events[4:])
        if kind == 14 and rng.random() < 0.2:
            return QueueChanged(random_queue(rng, rng.choice(self.queues).id), d.t)
        return None

    def step(self) -> None:
        event = self.event()
        if event is None:
            commands = self.d.advance(self.rng.choice([1.0, 5.0, 16.0, 40.0]))
        else:
            before = self.state()
            try:
                commands = self.d.send(event)
            except IllegalTransition:
                assert self.state() == before
                return
        for command in commands:
            if isinstance(command, CallerOutcome):
                self.outcomes[command.call] += 1
            elif isinstance(command, Connect):
                self.connects[command.call] += 1
                self.live.add(command.call)
                self.ringing.discard(command.offer)
            elif isinstance(command, RingAgent):
                self.offers.append(command.offer)
                self.ringing.add(command.offer)
            elif isinstance(command, StopRinging):
                self.ringing.discard(command.offer)
        if isinstance(event, CallEnded | CallerLeft):
            self.live.discard(event.call)
        if isinstance(event, OfferFailed):
            self.ringing.discard(event.offer)
        self.check()

    def state(self) -> object:
        acd = self.d.acd
        return acd.agents(), acd.queues(self.d.t), acd.snapshot()

    def check(self) -> None:
        assert all(n == 1 for n in self.outcomes.values()), self.outcomes
        assert all(n == 1 for n in self.connects.values()), self.connects
        ringing: Counter[str] = Counter()
        for agent in self.d.acd.agents():
            if agent.state in (AgentState.RINGING, AgentState.TALKING):
                assert agent.call is not None
            if agent.state is AgentState.RINGING:
                ringing[agent.call or ""] += 1
            if agent.state is AgentState.TALKING:
                assert agent.call in self.live
        waiting_calls = {w.call for q in self.d.acd.queues(self.d.t) for w in q.waiting}
        assert set(ringing) <= waiting_calls
        for queue in self.d.acd.queues(self.d.t):
            assert [w.position for w in queue.waiting] == list(range(1, len(queue.waiting) + 1))
            for waiting in queue.waiting:
                assert self.outcomes[waiting.call] == 0
                assert len(waiting.ringing) == ringing[waiting.call]
                keys = [(-w.priority, w.enqueued_at) for w in queue.waiting]
                assert keys == sorted(keys)

    def finish(self) -> None:
        for call in self.arrived:
            if self.outcomes[call] == 0:
                for command in self.d.send(CallerLeft(call, self.d.t)):
                    if isinstance(command, CallerOutcome):
                        self.outcomes[command.call] += 1
        assert sorted(self.outcomes) == sorted(self.arrived)
        assert set(self.outcomes.values()) <= {1}
        assert all(q.waiting == () for q in self.d.acd.queues(self.d.t))


@pytest.mark.parametrize("seed", range(40))
def test_random_sequences_keep_every_invariant(seed: int) -> None:
    run = Run(seed)
    for _ in range(250):
        run.step()
    run.finish()
