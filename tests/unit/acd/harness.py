"""A scripted driver for the ACD core: a fake clock and a timer wheel, no service, no PBX.

The driver plays the service's part: it remembers the timers the core starts and cancels, and
``advance()`` fires the due ones back as ``TimerFired``, in time order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from callcenter.acd.core import Acd
from callcenter.acd.model import (
    AcdCommand,
    AcdEvent,
    AgentConfig,
    AgentLogin,
    CallEnded,
    CallerArrived,
    CancelTimer,
    OfferAnswered,
    OfferFailed,
    QueueConfig,
    RingAgent,
    StartTimer,
    TimerFired,
)

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
C = TypeVar("C")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def only(commands: Iterable[object], kind: type[C]) -> list[C]:
    return [c for c in commands if isinstance(c, kind)]


def rung(commands: Iterable[object]) -> list[str]:
    """The agents rung by ``commands``, in order."""
    return [c.agent for c in only(commands, RingAgent)]


class Driver:
    def __init__(self, queues: Iterable[QueueConfig], agents: Iterable[AgentConfig]) -> None:
        self.acd = Acd(queues, agents)
        self.now = 0.0
        self.timers: dict[str, datetime] = {}
        self.log: list[AcdCommand] = []

    @property
    def t(self) -> datetime:
        return at(self.now)

    def send(self, event: AcdEvent) -> list[AcdCommand]:
        commands = self.acd.handle(event)
        for command in commands:
            if isinstance(command, StartTimer):
                self.timers[command.timer] = command.at
            elif isinstance(command, CancelTimer):
                self.timers.pop(command.timer, None)
        self.log.extend(commands)
        return commands

    def advance(self, seconds: float) -> list[AcdCommand]:
        """Move the clock, firing every timer that falls due on the way."""
        until = at(self.now + seconds)
        fired: list[AcdCommand] = []
        while True:
            due = [(when, name) for name, when in self.timers.items() if when <= until]
            if not due:
                break
            when, name = min(due)
            del self.timers[name]
            self.now = max(self.now, (when - T0).total_seconds())
            fired += self.send(TimerFired(name, when))
        self.now = (until - T0).total_seconds()
        return fired

    def login(self, *agents: str) -> list[AcdCommand]:
        out: list[AcdCommand] = []
        for agent in agents:
            out += self.send(AgentLogin(agent, self.t))
        return out

    def arrive(
        self,
        call: str,
        queue: str = "q",
        priority: int = 0,
        skills: Mapping[str, int] | None = None,
        enqueued: float | None = None,
    ) -> list[AcdCommand]:
        when = self.t if enqueued is None else at(enqueued)
        event = CallerArrived(
            call, f"PJSIP/c-{call}", queue, priority, dict(skills or {}), when, self.t
        )
        return self.send(event)

    def offer_of(self, agent: str) -> str:
        """The latest offer that rang ``agent``."""
        return [c.offer for c in only(self.log, RingAgent) if c.agent == agent][-1]

    def answer(self, agent: str) -> list[AcdCommand]:
        return self.send(OfferAnswered(self.offer_of(agent), self.t))

    def fail(self, agent: str, reason: str = "no_answer") -> list[AcdCommand]:
        return self.send(OfferFailed(self.offer_of(agent), reason, self.t))

    def end(self, call: str) -> list[AcdCommand]:
        return self.send(CallEnded(call, self.t))


def agents(
    *ids: str, queues: Mapping[str, int] | None = None, max_no_answer: int = 3
) -> list[AgentConfig]:
    """Agents serving ``queues`` (default: queue "q" at priority 1) with no skills."""
    return [AgentConfig(i, dict(queues or {"q": 1}), max_no_answer=max_no_answer) for i in ids]
