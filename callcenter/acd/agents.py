"""The agent state machine: one table, one ``apply()``.

Theory of operation. An agent is in one of the six :class:`AgentState` s. Everything that
changes it, whether it comes from the agent's phone, the API, a supervisor or the core itself
(an offer rings, is answered or fails; the call ends; wrap-up ends), is an
:class:`AgentEvent` looked up in :data:`TRANSITIONS`. A pair that is not in the table is
illegal: :meth:`Agent.apply` raises :class:`IllegalTransition` before touching anything.

Three rules follow from the table. An agent on a call (talking) can neither log out nor
pause: they ask for a pause after this call instead, taken when wrap-up ends (or when the
offer ringing now is not answered). A ringing agent may pause or log out: the core withdraws
the offer and the caller moves on. Pausing again while paused changes the reason.

:func:`mermaid_diagram` renders the table for the docs, so the picture cannot drift from the
code.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType

from callcenter.acd.model import AgentConfig, AgentId, AgentState, CallId, OfferId, QueueId
from callcenter.acd.strategies import SortKey, natural_key
from callcenter.errors import Conflict


class AgentEvent(StrEnum):
    LOGIN = "login"
    LOGOUT = "logout"
    PAUSE = "pause"
    UNPAUSE = "unpause"
    PAUSE_AFTER_CALL = "pause_after_call"
    OFFER = "offer"  # the core rings the agent
    ANSWER = "answer"
    RING_END = "ring_end"  # the offer failed or was withdrawn
    HANG_UP = "hang_up"  # the connected call ended: after-call work starts
    END_WRAP_UP = "end_wrap_up"  # by the wrap-up timer or by the agent
    ADOPT = "adopt"  # an engine restart found the agent on a call


_S = AgentState
_E = AgentEvent

_TABLE: dict[tuple[AgentState, AgentEvent], AgentState] = {
    (_S.LOGGED_OUT, _E.LOGIN): _S.READY,
    (_S.READY, _E.LOGOUT): _S.LOGGED_OUT,
    (_S.RINGING, _E.LOGOUT): _S.LOGGED_OUT,
    (_S.WRAP_UP, _E.LOGOUT): _S.LOGGED_OUT,
    (_S.PAUSED, _E.LOGOUT): _S.LOGGED_OUT,
    (_S.READY, _E.PAUSE): _S.PAUSED,
    (_S.RINGING, _E.PAUSE): _S.PAUSED,
    (_S.WRAP_UP, _E.PAUSE): _S.PAUSED,
    (_S.PAUSED, _E.PAUSE): _S.PAUSED,
    (_S.PAUSED, _E.UNPAUSE): _S.READY,
    (_S.RINGING, _E.PAUSE_AFTER_CALL): _S.RINGING,
    (_S.TALKING, _E.PAUSE_AFTER_CALL): _S.TALKING,
    (_S.WRAP_UP, _E.PAUSE_AFTER_CALL): _S.WRAP_UP,
    (_S.READY, _E.OFFER): _S.RINGING,
    (_S.RINGING, _E.ANSWER): _S.TALKING,
    (_S.RINGING, _E.RING_END): _S.READY,
    (_S.TALKING, _E.HANG_UP): _S.WRAP_UP,
    (_S.WRAP_UP, _E.END_WRAP_UP): _S.READY,
    (_S.READY, _E.ADOPT): _S.TALKING,
    (_S.PAUSED, _E.ADOPT): _S.TALKING,
}
TRANSITIONS: Mapping[tuple[AgentState, AgentEvent], AgentState] = MappingProxyType(_TABLE)


class IllegalTransition(Conflict):
    """The event is not allowed in the agent's current state; nothing was changed."""

    code = "acd_illegal_transition"

    def __init__(self, agent: AgentId, state: AgentState, event: AgentEvent) -> None:
        self.agent = agent
        self.state = state
        self.event = event
        super().__init__(f"agent {agent}: {event.value} is not allowed while {state.value}")


def transition(agent: AgentId, state: AgentState, event: AgentEvent) -> AgentState:
    """The state after ``event``; raises :class:`IllegalTransition` for a pair not in the table."""
    new = _TABLE.get((state, event))
    if new is None:
        raise IllegalTransition(agent, state, event)
    return new


_STATES = tuple(AgentState)
_CODES = {state: code for code, state in enumerate(_STATES)}


class StateHistory:
    """An agent's states over time, as (tick, state, call-if-ringing), for decision traces.

    Stored flat (an array of ticks, a byte per state, ringing calls by tick): appending
    allocates no object for the garbage collector to track. ``prune`` forgets what no retained
    trace can ask for any more, in amortised constant time.
    """

    __slots__ = ("_calls", "_next_prune", "_states", "_ticks")

    def __init__(self, state: AgentState) -> None:
        self._ticks = array("q", [0])
        self._states = bytearray([_CODES[state]])
        self._calls: dict[int, CallId] = {}
        self._next_prune = 64

    def __len__(self) -> int:
        return len(self._ticks)

    def append(self, tick: int, state: AgentState, call: CallId | None) -> None:
        self._ticks.append(tick)
        self._states.append(_CODES[state])
        if call is not None:
            self._calls[tick] = call

    def at(self, tick: int) -> tuple[AgentState, CallId | None]:
        """The state (and the call it rang for) just before ``tick``."""
        i = max(bisect_left(self._ticks, tick) - 1, 0)
        return _STATES[self._states[i]], self._calls.get(self._ticks[i])

    def prune(self, horizon: int) -> None:
        """Keep only what the state at ticks after ``horizon`` needs."""
        if len(self._ticks) < self._next_prune:
            return
        drop = bisect_right(self._ticks, horizon) - 1
        if drop > 0:
            del self._ticks[:drop]
            del self._states[:drop]
            first = self._ticks[0]
            self._calls = {t: c for t, c in self._calls.items() if t >= first}
        self._next_prune = max(64, 2 * len(self._ticks))


@dataclass(slots=True, eq=False)
class Agent:
    """One agent's live record. ``state``, ``reason`` and ``since`` change only in :meth:`apply`.

    The other fields are the core's bookkeeping: the offer ringing or the call connected, the
    figures strategies order by, and ``history`` for decision traces.
    """

    config: AgentConfig
    id: AgentId = field(init=False)
    natural: SortKey = field(init=False)
    skills: Mapping[str, int] = field(init=False)
    state: AgentState = AgentState.LOGGED_OUT
    reason: str = ""
    since: datetime | None = None
    pause_after: str | None = None  # reason of a pause requested for after this call
    idle_since: float = 0.0  # POSIX seconds: end of the last wrap-up, else log-in
    idle_at: datetime | None = None
    calls_taken: int = 0
    no_answer: int = 0  # consecutive offers not answered
    offer: OfferId | None = None  # ringing
    call: CallId | None = None  # ringing for, or connected to
    call_queue: QueueId | None = None
    answered_at: datetime | None = None
    wrap_up_from: datetime | None = None
    talk_seconds: float = 0.0
    pooled: bool = False  # listed in the free index of its queues
    history: StateHistory = field(init=False)

    def __post_init__(self) -> None:
        self.id = self.config.id
        self.natural = natural_key(self.config.id)
        self.skills = MappingProxyType(dict(self.config.skills))
        self.history = StateHistory(self.state)

    def apply(self, event: AgentEvent, at: datetime, reason: str = "") -> AgentState:
        """Move by the table; an illegal pair raises and changes nothing."""
        new = _TABLE.get((self.state, event))
        if new is None:
            raise IllegalTransition(self.id, self.state, event)
        if event is AgentEvent.PAUSE_AFTER_CALL:
            self.pause_after = reason
            return new
        self.state = new
        self.since = at
        self.reason = reason if new is AgentState.PAUSED else ""
        return new


def mermaid_diagram() -> str:
    """The transition table as a Mermaid state diagram (for the docs)."""
    lines = ["stateDiagram-v2", f"    [*] --> {AgentState.LOGGED_OUT.value}"]
    for (state, event), new in TRANSITIONS.items():
        lines.append(f"    {state.value} --> {new.value}: {event.value}")
    return "\n".join(lines) + "\n"
