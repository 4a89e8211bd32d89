"""Decision traces: why a call was offered to whom.

Theory of operation. Every routing decision the core makes for a caller (ring someone, keep
waiting, send elsewhere) is kept as a :class:`DecisionRecord`: constant-size facts (when, which
queue, trigger, rule, skills needed, agents already tried, agents chosen). The per-agent
reasons ("paused", "busy", "skill"...) are *not* copied at decision time, which would cost time
proportional to the queue's size; they are rebuilt when the trace is read, from each agent's
state history (:class:`~.agents.StateHistory`, trimmed to what the retained traces still
need). Ticks order transitions and decisions inside the core; the state an agent had at
a decision is the last history entry before the decision's tick.

:class:`TraceBook` keeps the traces of every live caller and of the last ``keep`` finished ones.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple, Protocol

from callcenter.acd.agents import StateHistory
from callcenter.acd.model import AgentId, AgentState, CallId, OfferId, QueueId
from callcenter.acd.strategies import meets


class SkipReason(StrEnum):
    LOGGED_OUT = "logged_out"
    PAUSED = "paused"
    WRAP_UP = "wrap_up"
    BUSY = "busy"  # talking
    RINGING_ELSEWHERE = "ringing_elsewhere"
    SKILL = "skill"  # lacks a needed skill or level
    NOT_IN_QUEUE = "not_in_queue"  # listed only when every agent is asked for
    ALREADY_OFFERED = "already_offered"  # rang out for this caller in this round, or rings now
    RANKED_LOWER = "ranked_lower"  # free and able, but the rule preferred the chosen one


_BY_STATE = {
    AgentState.LOGGED_OUT: SkipReason.LOGGED_OUT,
    AgentState.PAUSED: SkipReason.PAUSED,
    AgentState.WRAP_UP: SkipReason.WRAP_UP,
    AgentState.TALKING: SkipReason.BUSY,
}


@dataclass(frozen=True, slots=True)
class Considered:
    agent: AgentId
    state: AgentState  # at the time of the decision
    skipped: SkipReason | None  # None: chosen

    def as_json(self) -> dict[str, object]:
        skipped = None if self.skipped is None else self.skipped.value
        return {"agent": self.agent, "state": self.state.value, "skipped": skipped}


@dataclass(frozen=True, slots=True)
class Decision:
    """One routing decision as read back: who was considered, who was chosen, and why.

    ``trigger``: arrival, adopted, retry (an offer failed or was withdrawn), agent_free,
    widened, queue_changed, max_wait, exit_key, no_agents. ``rule``: the queue's strategy for
    decisions taken for the caller, ``fairness`` when a freed agent picked the caller, or the
    overflow reason. ``result``: ring, wait or sent_elsewhere.
    """

    at: datetime
    call: CallId
    queue: QueueId
    trigger: str
    rule: str
    result: str
    chosen: tuple[AgentId, ...]
    offers: tuple[OfferId, ...]
    considered: tuple[Considered, ...]

    def as_json(self) -> dict[str, object]:
        return {
            "at": self.at.isoformat(),
            "call": self.call,
            "queue": self.queue,
            "trigger": self.trigger,
            "rule": self.rule,
            "result": self.result,
            "chosen": list(self.chosen),
            "offers": list(self.offers),
            "considered": [c.as_json() for c in self.considered],
        }


class DecisionRecord(NamedTuple):
    """What the core stores per decision: constant size apart from ``chosen`` (``tried`` is
    the caller's own immutable tuple, shared, not copied)."""

    tick: int
    at: datetime
    queue: QueueId
    trigger: str
    rule: str
    result: str
    need: Mapping[str, int]
    widened: bool
    tried: tuple[AgentId, ...]
    chosen: tuple[AgentId, ...]
    offers: tuple[OfferId, ...]


class Traced(Protocol):
    """What reading a trace needs of an agent (``callcenter.acd.agents.Agent``)."""

    @property
    def id(self) -> AgentId: ...
    @property
    def skills(self) -> Mapping[str, int]: ...
    @property
    def history(self) -> StateHistory: ...


def explain(
    call: CallId,
    record: DecisionRecord,
    agents: Iterable[Traced],
    members: Mapping[AgentId, object],
) -> Decision:
    """Rebuild one decision with a reason for every agent in ``agents``."""
    chosen = set(record.chosen)
    tried = set(record.tried)
    considered = []
    for agent in agents:
        state, ringing_for = agent.history.at(record.tick)
        if agent.id in chosen:
            reason = None
        elif agent.id not in members:
            reason = SkipReason.NOT_IN_QUEUE
        elif state is AgentState.RINGING:
            offered = ringing_for == call
            reason = SkipReason.ALREADY_OFFERED if offered else SkipReason.RINGING_ELSEWHERE
        elif state is not AgentState.READY:
            reason = _BY_STATE[state]
        elif not meets(agent.skills, record.need, record.widened):
            reason = SkipReason.SKILL
        elif agent.id in tried:
            reason = SkipReason.ALREADY_OFFERED
        else:
            reason = SkipReason.RANKED_LOWER
        considered.append(Considered(agent.id, state, reason))
    return Decision(
        record.at,
        call,
        record.queue,
        record.trigger,
        record.rule,
        record.result,
        record.chosen,
        record.offers,
        tuple(considered),
    )


@dataclass(slots=True, eq=False)
class CallTrace:
    opened_at_tick: int
    records: list[DecisionRecord] = field(default_factory=list)
    offers_made: int = 0  # numbers the caller's offers; survives a second visit
    offer_prefix: str = ""
    finished: int | None = None  # sequence number of the finish, while finished


class TraceBook:
    """The traces of live callers and of the last ``keep`` finished ones."""

    def __init__(self, keep: int = 10_000) -> None:
        self._keep = keep
        self._traces: dict[CallId, CallTrace] = {}
        self._opened: deque[tuple[CallId, int]] = deque()  # (call, tick) in opening order
        self._finished: deque[tuple[CallId, int]] = deque()
        self._finished_count = 0
        self._finishes = 0
        self._horizon = 0

    def __len__(self) -> int:
        return len(self._traces)

    @property
    def horizon(self) -> int:
        """No retained decision is older than this tick: agent history before it may go."""
        return self._horizon

    def get(self, call: CallId) -> CallTrace | None:
        return self._traces.get(call)

    def open(self, call: CallId, tick: int) -> CallTrace:
        trace = self._traces.get(call)
        if trace is None:
            trace = CallTrace(tick)
            self._traces[call] = trace
            self._opened.append((call, tick))
            if len(self._traces) == 1:
                self._horizon = tick
        elif trace.finished is not None:
            trace.finished = None
            self._finished_count -= 1
        return trace

    def finish(self, call: CallId, tick: int) -> None:
        trace = self._traces.get(call)
        if trace is None or trace.finished is not None:
            return
        self._finishes += 1
        trace.finished = self._finishes
        self._finished.append((call, self._finishes))
        self._finished_count += 1
        while self._finished_count > self._keep:
            self._evict_oldest()
        self._advance_horizon(tick)

    def _evict_oldest(self) -> None:
        call, number = self._finished.popleft()
        trace = self._traces.get(call)
        if trace is not None and trace.finished == number:
            del self._traces[call]
            self._finished_count -= 1

    def _advance_horizon(self, tick: int) -> None:
        opened, traces = self._opened, self._traces
        while opened:
            call, opened_at = opened[0]
            trace = traces.get(call)
            if trace is not None and trace.opened_at_tick == opened_at:
                self._horizon = opened_at
                return
            opened.popleft()
        self._horizon = tick
