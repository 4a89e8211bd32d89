"""The ACD core: queues, agents and callers, decided one event at a time, with no I/O.

Theory of operation. :meth:`Acd.handle` takes one event (model.py), changes state and returns
the commands for the service to carry out. Time comes only from the events' ``at``; timers are
``StartTimer`` / ``CancelTimer`` commands that come back as ``TimerFired`` (a timer the core no
longer knows is ignored, so a late timer and a PBX report can race harmlessly). Nothing polls:
every event that frees an agent or a caller (log-in, unpause, end of wrap-up, a failed offer, an
arrival, widening) leads to the next offer in the same ``handle()`` call. Each event first
checks that it is legal (agent table, known ids) and raises before changing anything.

Indexes, all updated incrementally:

- per queue, the free agents in the strategy's order (:class:`~.strategies.FreeIndex`): ready
  agents serving the queue and holding each of its required skills at some level;
- per queue, the waiting callers (all of them, for positions) and the *wanting* ones (those
  that may take an offer now: no offer ringing, or any time under ``ring_all``), both sorted by
  (priority descending, enqueue time, arrival order, call id). Callers re-adopted after a
  restart carry their original ``enqueued_at`` and so take their original place, whatever order
  they arrive in;
- per queue, how many of its agents are logged in and how many are staffed (logged in, not
  paused); per agent, its queues sorted by (priority, queue id).

Two kinds of decision:

- *Caller side* (a caller arrives or must move on): the queue's strategy picks among the
  queue's free agents, skipping agents without the needed skills and agents that already rang
  out for this caller in this round. When nobody is acceptable and no offer of the caller still
  rings, a new round starts (the tried list is cleared) and the strategy picks again; under
  ``ring_all`` the round ends when every offer of it has failed.
- *Agent side* (an agent becomes free), the fairness rule for agents in several queues: among
  the agent's queues, take the first caller of each queue that accepts the agent (in queue
  order), and choose by (the agent's priority for the queue ascending, caller priority
  descending, enqueue time ascending, queue id, arrival order). If no caller wants the agent,
  the agent joins the free index of its queues. Every tie ends at an id, so the same events
  always give the same offers.

Estimated wait (announcements and ``max_estimated_wait``), for a caller at 1-based position p:
``EWT(p) = AHT * max(0, p - F) / N``, where AHT is the mean handle time (talk plus after-call
work) of the queue's last 20 handled calls, F the queue's free agents and N its staffed agents
(logged in and not paused). Under exponential handle times, N busy agents free up one every
AHT/N seconds on average, so the caller waits for ``p - F`` such departures. Unknown (None)
until the queue has handled a call, or with nobody staffed.

Outcomes: every caller gets exactly one ``CallerOutcome`` per queue visit: answered (at
Connect), abandoned (hung up while waiting), timeout (``max_wait``), overflowed
(``max_length``, nobody logged in under the ``overflow`` policy, estimated wait above
``max_estimated_wait``) or exit_key. A caller leaving stops the offers ringing for it; an
answer for an offer already withdrawn (the caller is connected to another agent, or left) gets
``StopRinging``, never a second Connect.
An overflow to a queue is a new visit: the caller (still waiting in the PBX) joins the target
queue at once, keeping its enqueue time (its place in line), and gets one more outcome there;
the target's ``max_wait`` and ``widen_after`` count from the move. A queue the caller already
left in this call, or an unknown one, is replaced by the default target (no loops).

Every decision is recorded for :meth:`Acd.trace` at constant cost (:mod:`.trace` rebuilds the
per-agent reasons when a trace is read); traces of live callers and of the last 10,000 finished
ones are kept.

Offer ids are ``<call>-o<n>`` (the call id reduced to ``[A-Za-z0-9._-]`` with a short hash when
it had to be changed or shortened; at most 60 characters): the adapter uses them as channel ids.
"""

from __future__ import annotations

import hashlib
import re
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from callcenter.acd.agents import Agent, AgentEvent, transition
from callcenter.acd.model import (
    AcdCommand,
    AcdEvent,
    AgentConfig,
    AgentEndWrapUp,
    AgentId,
    AgentLogin,
    AgentLogout,
    AgentOnCall,
    AgentPause,
    AgentPauseAfterCall,
    AgentState,
    AgentStateChanged,
    AgentUnpause,
    Announce,
    CallEnded,
    CallerArrived,
    CallerLeft,
    CallerOutcome,
    CallerPressedKey,
    CallId,
    CancelTimer,
    Connect,
    NoAgentsPolicy,
    OfferAnswered,
    OfferFailed,
    OfferId,
    OverflowKind,
    OverflowTarget,
    QueueChanged,
    QueueConfig,
    QueueId,
    RingAgent,
    SendElsewhere,
    StartTimer,
    StopRinging,
    TimerFired,
)
from callcenter.acd.strategies import (
    FreeIndex,
    Request,
    SortedList,
    Strategy,
    meets,
    strategy_for,
)
from callcenter.acd.trace import CallTrace, Decision, DecisionRecord, TraceBook, explain
from callcenter.errors import CallcenterError, Conflict, NotFound
from callcenter.telephony import AGENT_LEG_MARK

HANDLE_TIMES_KEPT = 20
RETIRED_OFFERS_KEPT = 10_000
DEFAULT_OVERFLOW = OverflowTarget(OverflowKind.MESSAGE)  # the dialplan's goodbye, then hang up

_STAFFED = frozenset((AgentState.READY, AgentState.RINGING, AgentState.TALKING, AgentState.WRAP_UP))

CallerKey = tuple[int, float, int, CallId]  # (-priority, enqueued at, arrival number, call)


class UnknownAgent(NotFound):
    code = "acd_unknown_agent"


class UnknownQueue(NotFound):
    code = "acd_unknown_queue"


class DuplicateCall(Conflict):
    """A caller arrived while the core already has that call waiting or connected."""

    code = "acd_duplicate_call"


class DuplicateId(CallcenterError):
    """Two queues or two agents share an id in the configuration."""

    code = "acd_duplicate_id"


# --- query results ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AgentView:
    id: AgentId
    state: AgentState
    reason: str
    since: datetime | None
    queues: Mapping[QueueId, int]
    idle_since: datetime | None
    calls_taken: int
    no_answer: int
    pause_after: str | None
    call: CallId | None


@dataclass(frozen=True, slots=True)
class WaitingView:
    call: CallId
    position: int
    priority: int
    enqueued_at: datetime
    waited: float
    ringing: tuple[AgentId, ...]


@dataclass(frozen=True, slots=True)
class QueueView:
    id: QueueId
    strategy: str
    waiting: tuple[WaitingView, ...]
    longest_wait: float
    agents_by_state: Mapping[str, int]
    paused_by_reason: Mapping[str, int]
    estimated_wait: float | None  # for a caller arriving now


@dataclass(frozen=True, slots=True)
class AgentSnapshot:
    agent: AgentId
    logged_in: bool
    paused: bool
    reason: str
    calls_taken: int


@dataclass(frozen=True, slots=True)
class WaitingSnapshot:
    call: CallId
    channel: str
    queue: QueueId
    priority: int
    skills: Mapping[str, int]
    enqueued_at: datetime


@dataclass(frozen=True, slots=True)
class AcdSnapshot:
    """What a restart needs: agents' log-in and pause state, and the callers still waiting.

    An agent busy at snapshot time counts as logged in and not paused (paused if they asked
    for a pause after the call).
    """

    agents: tuple[AgentSnapshot, ...]
    waiting: tuple[WaitingSnapshot, ...]


# --- internal records -------------------------------------------------------------------


@dataclass(slots=True, eq=False)
class _Caller:
    call: CallId
    channel: str
    queue: QueueId
    priority: int
    skills: Mapping[str, int]
    enqueued_at: datetime
    key: CallerKey
    trace: CallTrace
    need: Mapping[str, int]
    widened: bool = False
    queued_at: datetime | None = None  # this visit's start after an overflow to a queue
    left: frozenset[QueueId] = frozenset()  # queues it overflowed out of, in this call
    offers: dict[OfferId, AgentId] = field(default_factory=dict)
    tried: tuple[AgentId, ...] = ()  # rang out in this round (immutable: traces share it)
    tried_set: frozenset[AgentId] = frozenset()
    wanting: bool = False

    def add_tried(self, agent: AgentId) -> None:
        if agent not in self.tried_set:
            self.tried = (*self.tried, agent)
            self.tried_set = self.tried_set | {agent}

    def new_round(self) -> None:
        self.tried = ()
        self.tried_set = frozenset()


@dataclass(slots=True, eq=False)
class _Offer:
    id: OfferId
    call: CallId
    agent: AgentId


@dataclass(slots=True, eq=False)
class _Queue:
    config: QueueConfig
    strategy: Strategy
    members: tuple[Agent, ...]
    member_ids: dict[AgentId, int]
    free: FreeIndex = field(default_factory=FreeIndex)
    waiting: SortedList[CallerKey] = field(default_factory=SortedList)
    wanting: SortedList[CallerKey] = field(default_factory=SortedList)
    logged_in: int = 0
    staffed: int = 0
    handle_times: deque[float] = field(default_factory=lambda: deque(maxlen=HANDLE_TIMES_KEPT))
    last_offered: AgentId | None = None

    @property
    def id(self) -> QueueId:
        return self.config.id


_SAFE = re.compile(r"[^A-Za-z0-9._-]")


def offer_prefix(call: CallId) -> str:
    """The call id as it may appear in a channel id: ``[A-Za-z0-9._-]``, at most 48 chars."""
    safe = _SAFE.sub("_", call)
    if safe == call and len(call) <= 48:
        return call
    digest = hashlib.blake2b(call.encode(), digest_size=4).hexdigest()
    return f"{safe[:39]}_{digest}"


def _seconds(since: datetime, until: datetime) -> float:
    return max(0.0, (until - since).total_seconds())


def _need(queue: QueueConfig, skills: Mapping[str, int]) -> Mapping[str, int]:
    """The queue's required skills merged with the caller's own (the higher level wins)."""
    if not skills:
        return queue.required_skills
    need = dict(queue.required_skills)
    for skill, level in skills.items():
        need[skill] = max(need.get(skill, level), level)
    return need


class Acd:
    """The pure ACD core (see the module docstring)."""

    def __init__(
        self,
        queues: Iterable[QueueConfig],
        agents: Iterable[AgentConfig],
        *,
        keep_traces: int = 10_000,
    ) -> None:
        self._queues: dict[QueueId, _Queue] = {}
        self._agents: dict[AgentId, Agent] = {}
        configs = list(queues)
        for config in configs:
            if config.id in self._queues:
                raise DuplicateId(f"queue {config.id!r} is configured twice")
            strategy = strategy_for(config.strategy)
            self._queues[config.id] = _Queue(config, strategy, (), {})
        for agent_config in agents:
            if agent_config.id in self._agents:
                raise DuplicateId(f"agent {agent_config.id!r} is configured twice")
            for queue_id in agent_config.queues:
                if queue_id not in self._queues:
                    raise UnknownQueue(
                        f"agent {agent_config.id!r} serves unknown queue {queue_id!r}"
                    )
            self._agents[agent_config.id] = Agent(agent_config)
        self._queues_of: dict[AgentId, tuple[tuple[int, _Queue], ...]] = {}
        members: dict[QueueId, list[Agent]] = {q: [] for q in self._queues}
        for agent in self._agents.values():
            order = sorted((prio, q) for q, prio in agent.config.queues.items())
            self._queues_of[agent.id] = tuple((prio, self._queues[q]) for prio, q in order)
            for _, q in order:
                members[q].append(agent)
        for queue in self._queues.values():
            ordered = sorted(members[queue.id], key=lambda a: (a.natural, a.id))
            queue.members = tuple(ordered)
            queue.member_ids = {a.id: i for i, a in enumerate(ordered)}
        self._callers: dict[CallId, _Caller] = {}
        self._connected: dict[CallId, AgentId] = {}
        self._offers: dict[OfferId, _Offer] = {}
        self._retired: dict[OfferId, AgentId] = {}
        self._retired_order: deque[OfferId] = deque()
        self._timers: dict[str, datetime] = {}
        self._book = TraceBook(keep_traces)
        self._tick = 0
        self._arrivals = 0
        self._pending_callers: list[tuple[_Caller, str]] = []
        self._pending_agents: list[Agent] = []
        self._handlers: dict[type[Any], Callable[[Any, list[AcdCommand]], None]] = {
            AgentLogin: self._login,
            AgentLogout: self._logout,
            AgentPause: self._pause,
            AgentUnpause: self._unpause,
            AgentPauseAfterCall: self._pause_after_call,
            AgentEndWrapUp: self._agent_ends_wrap_up,
            AgentOnCall: self._on_call,
            CallerArrived: self._arrived,
            CallerLeft: self._caller_left,
            CallerPressedKey: self._pressed_key,
            OfferAnswered: self._answered,
            OfferFailed: self._offer_failed,
            CallEnded: self._call_ended,
            TimerFired: self._timer_fired,
            QueueChanged: self._queue_changed,
        }

    # --- the one entry point ------------------------------------------------------------

    def handle(self, event: AcdEvent) -> list[AcdCommand]:
        out: list[AcdCommand] = []
        self._handlers[type(event)](event, out)
        self._settle(event.at, out)
        return out

    def restore(self, snapshot: AcdSnapshot, at: datetime) -> list[AcdCommand]:
        """Re-apply a snapshot to a freshly built core: agents first, then waiting callers
        (oldest first, taking their original places, without the arrival overflow checks).

        Agents no longer configured are skipped; a caller of an unknown queue raises
        :class:`UnknownQueue` before anything changes.
        """
        for waiting in snapshot.waiting:
            self._queue(waiting.queue)
        out: list[AcdCommand] = []
        for saved in snapshot.agents:
            agent = self._agents.get(saved.agent)
            if agent is None:
                continue
            agent.calls_taken = saved.calls_taken
            if saved.logged_in:
                out += self.handle(AgentLogin(saved.agent, at))
            if saved.logged_in and saved.paused:
                out += self.handle(AgentPause(saved.agent, saved.reason, at))
        for waiting in sorted(snapshot.waiting, key=lambda w: (w.enqueued_at, w.call)):
            arrival = CallerArrived(
                waiting.call,
                waiting.channel,
                waiting.queue,
                waiting.priority,
                dict(waiting.skills),
                waiting.enqueued_at,
                at,
            )
            self._arrive(arrival, out, admit=False)
            self._settle(at, out)
        return out

    # --- agent events -------------------------------------------------------------------

    def _login(self, event: AgentLogin, out: list[AcdCommand]) -> None:
        agent = self._agent(event.agent)
        self._move(agent, AgentEvent.LOGIN, event.at, out)
        agent.no_answer = 0
        agent.idle_since = event.at.timestamp()
        agent.idle_at = event.at

    def _logout(self, event: AgentLogout, out: list[AcdCommand]) -> None:
        agent = self._agent(event.agent)
        transition(agent.id, agent.state, AgentEvent.LOGOUT)
        self._leave_activity(agent, event.at, out)
        agent.pause_after = None
        self._move(agent, AgentEvent.LOGOUT, event.at, out)
        for _, queue in self._queues_of[agent.id]:
            if self._nobody_logged_in(queue):
                self._empty_queue(queue, event.at, out)

    def _pause(self, event: AgentPause, out: list[AcdCommand]) -> None:
        agent = self._agent(event.agent)
        transition(agent.id, agent.state, AgentEvent.PAUSE)
        self._leave_activity(agent, event.at, out)
        agent.pause_after = None
        self._move(agent, AgentEvent.PAUSE, event.at, out, event.reason)

    def _unpause(self, event: AgentUnpause, out: list[AcdCommand]) -> None:
        agent = self._agent(event.agent)
        self._move(agent, AgentEvent.UNPAUSE, event.at, out)
        agent.no_answer = 0

    def _pause_after_call(self, event: AgentPauseAfterCall, out: list[AcdCommand]) -> None:
        agent = self._agent(event.agent)
        agent.apply(AgentEvent.PAUSE_AFTER_CALL, event.at, event.reason)

    def _agent_ends_wrap_up(self, event: AgentEndWrapUp, out: list[AcdCommand]) -> None:
        agent = self._agent(event.agent)
        transition(agent.id, agent.state, AgentEvent.END_WRAP_UP)
        self._cancel(f"wrapup:{agent.id}", out)
        self._end_wrap_up(agent, event.at, out)

    def _on_call(self, event: AgentOnCall, out: list[AcdCommand]) -> None:
        """A restart found the agent talking: connected until ``CallEnded``, as if answered
        here. A paused agent goes back to the pause after the call; an offer ringing the
        agent meanwhile is withdrawn and its caller moves on."""
        agent = self._agent(event.agent)
        if event.call in self._connected or event.call in self._callers:
            raise DuplicateCall(f"call {event.call!r} is already in the ACD")
        ringing = agent.state is AgentState.RINGING and agent.offer is not None
        transition(agent.id, AgentState.READY if ringing else agent.state, AgentEvent.ADOPT)
        if ringing and agent.offer is not None:
            self._withdraw(self._offers[agent.offer], event.at, out, requeue=True)
        paused = agent.reason if agent.state is AgentState.PAUSED else None
        self._move(agent, AgentEvent.ADOPT, event.at, out)
        agent.pause_after = paused if paused is not None else agent.pause_after
        agent.call = event.call
        agent.call_queue = event.queue if event.queue in self._queues else None
        agent.answered_at = event.answered_at
        self._connected[event.call] = agent.id
        waited = _seconds(event.enqueued_at, event.answered_at)
        queue = agent.call_queue or event.queue
        out.append(CallerOutcome(event.call, queue, "answered", waited, agent.id, event.at))

    def _leave_activity(self, agent: Agent, at: datetime, out: list[AcdCommand]) -> None:
        """Before a pause or log-out: withdraw a ringing offer, or close the wrap-up."""
        if agent.state is AgentState.RINGING and agent.offer is not None:
            self._withdraw(self._offers[agent.offer], at, out, requeue=True, release=False)
        elif agent.state is AgentState.WRAP_UP:
            self._cancel(f"wrapup:{agent.id}", out)
            self._close_wrap_up(agent, at)

    def _end_wrap_up(self, agent: Agent, at: datetime, out: list[AcdCommand]) -> None:
        self._close_wrap_up(agent, at)
        if agent.pause_after is not None:
            reason, agent.pause_after = agent.pause_after, None
            self._move(agent, AgentEvent.PAUSE, at, out, reason)
        else:
            self._move(agent, AgentEvent.END_WRAP_UP, at, out)

    def _close_wrap_up(self, agent: Agent, at: datetime) -> None:
        """Record the handle time of the call just finished; idle time starts now."""
        queue = self._queues.get(agent.call_queue or "")
        if queue is not None and agent.wrap_up_from is not None:
            wrap = _seconds(agent.wrap_up_from, at)
            queue.handle_times.append(agent.talk_seconds + wrap)
        agent.call_queue = None
        agent.wrap_up_from = None
        agent.idle_since = at.timestamp()
        agent.idle_at = at

    # --- caller events ------------------------------------------------------------------

    def _arrived(self, event: CallerArrived, out: list[AcdCommand]) -> None:
        self._arrive(event, out, admit=True)

    def _arrive(
        self,
        event: CallerArrived,
        out: list[AcdCommand],
        *,
        admit: bool,
        left: frozenset[QueueId] = frozenset(),
    ) -> None:
        queue = self._queue(event.queue)
        if event.call in self._callers or event.call in self._connected:
            raise DuplicateCall(f"call {event.call!r} is already in the ACD")
        trace = self._book.open(event.call, self._tick)
        trace.offers_made = max(trace.offers_made, event.offers_made)
        self._arrivals += 1
        key = (-event.priority, event.enqueued_at.timestamp(), self._arrivals, event.call)
        caller = _Caller(
            event.call,
            event.channel,
            queue.id,
            event.priority,
            dict(event.skills),
            event.enqueued_at,
            key,
            trace,
            _need(queue.config, event.skills),
            queued_at=event.at if left else None,
            left=left,
        )
        refusal = self._refusal(queue, caller) if admit else None
        if refusal is not None:
            self._refuse(caller, refusal, event.at, out)
            return
        self._callers[caller.call] = caller
        queue.waiting.add(key)
        self._arm_caller_timers(queue, caller, event.at, out)
        self._pending_callers.append((caller, "arrival" if admit else "adopted"))

    def _refusal(self, queue: _Queue, caller: _Caller) -> str | None:
        config = queue.config
        if config.max_length is not None and len(queue.waiting) >= config.max_length:
            return "max_length"
        if config.no_agents is NoAgentsPolicy.OVERFLOW and self._nobody_logged_in(queue):
            return "no_agents"
        if config.max_estimated_wait is not None:
            estimate = self._estimate(queue, queue.waiting.rank(caller.key) + 1)
            if estimate is not None and estimate > config.max_estimated_wait:
                return "estimated_wait"
        return None

    def _refuse(self, caller: _Caller, reason: str, at: datetime, out: list[AcdCommand]) -> None:
        queue = self._queues[caller.queue]
        target = self._destination(caller, queue.config.overflow or DEFAULT_OVERFLOW)
        self._record(caller, "arrival", reason, "sent_elsewhere", (), (), at)
        out.append(SendElsewhere(caller.call, target, reason, queue.id))
        waited = _seconds(caller.enqueued_at, at)
        out.append(CallerOutcome(caller.call, queue.id, "overflowed", waited, None, at))
        self._book.finish(caller.call, self._tick)
        self._to_queue(caller, target, at, out)

    def _destination(self, caller: _Caller, target: OverflowTarget) -> OverflowTarget:
        """Where an overflowing caller goes: a queue target only when the queue is known and
        the caller has not been in it during this call (no loops); else the default."""
        if target.kind is not OverflowKind.QUEUE:
            return target
        name = target.target
        if name in self._queues and name != caller.queue and name not in caller.left:
            return target
        return DEFAULT_OVERFLOW

    def _to_queue(
        self, caller: _Caller, target: OverflowTarget, at: datetime, out: list[AcdCommand]
    ) -> None:
        """Overflow to a queue: the caller, still waiting in the PBX, joins the target queue at
        once, as a new visit. Its original enqueue time keeps its place in line; the target's
        ``max_wait`` and ``widen_after`` count from now."""
        if target.kind is not OverflowKind.QUEUE:
            return
        arrival = CallerArrived(
            caller.call,
            caller.channel,
            target.target,
            caller.priority,
            dict(caller.skills),
            caller.enqueued_at,
            at,
        )
        self._arrive(arrival, out, admit=True, left=caller.left | {caller.queue})

    def _arm_caller_timers(
        self, queue: _Queue, caller: _Caller, at: datetime, out: list[AcdCommand]
    ) -> None:
        config = queue.config
        since = caller.queued_at or caller.enqueued_at
        if config.max_wait is not None:
            due = since + timedelta(seconds=config.max_wait)
            self._start(f"wait:{caller.call}", due, out)
        if config.announce_every is not None and config.announce_every > 0:
            self._start(
                f"announce:{caller.call}", at + timedelta(seconds=config.announce_every), out
            )
        if config.widen_after is not None and caller.need and not caller.widened:
            due = since + timedelta(seconds=config.widen_after)
            self._start(f"widen:{caller.call}", due, out)

    def _cancel_caller_timers(self, call: CallId, out: list[AcdCommand]) -> None:
        for kind in ("wait", "announce", "widen"):
            self._cancel(f"{kind}:{call}", out)

    def _caller_left(self, event: CallerLeft, out: list[AcdCommand]) -> None:
        caller = self._callers.get(event.call)
        if caller is not None:
            self._leave(caller, "abandoned", event.at, out)
        elif event.call in self._connected:
            self._hang_up(event.call, event.at, out)

    def _pressed_key(self, event: CallerPressedKey, out: list[AcdCommand]) -> None:
        caller = self._callers.get(event.call)
        if caller is None:
            return
        target = self._queues[caller.queue].config.exit_keys.get(event.digit)
        if target is not None:
            self._leave(caller, "exit_key", event.at, out, target, "exit_key")

    def _leave(
        self,
        caller: _Caller,
        outcome: str,
        at: datetime,
        out: list[AcdCommand],
        target: OverflowTarget | None = None,
        reason: str = "",
    ) -> None:
        """The caller leaves the queue unanswered: stop its offers, report the queue's outcome
        (and, sent to another queue, join it)."""
        queue = self._queues[caller.queue]
        for offer_id in list(caller.offers):
            self._withdraw(self._offers[offer_id], at, out, requeue=False)
        self._dequeue(queue, caller)
        self._cancel_caller_timers(caller.call, out)
        if target is not None:
            target = self._destination(caller, target)
            self._record(caller, reason, reason, "sent_elsewhere", (), (), at)
            out.append(SendElsewhere(caller.call, target, reason, queue.id))
        waited = _seconds(caller.enqueued_at, at)
        out.append(CallerOutcome(caller.call, queue.id, outcome, waited, None, at))
        self._book.finish(caller.call, self._tick)
        if target is not None:
            self._to_queue(caller, target, at, out)

    def _dequeue(self, queue: _Queue, caller: _Caller) -> None:
        del self._callers[caller.call]
        queue.waiting.discard(caller.key)
        if caller.wanting:
            queue.wanting.discard(caller.key)
            caller.wanting = False

    def _wants(self, caller: _Caller) -> bool:
        """Whether the caller may take an offer now: none ringing, or any time under ring_all."""
        return not caller.offers or self._queues[caller.queue].strategy.parallel

    def _refresh_wanting(self, caller: _Caller) -> None:
        """Keep the queue's wanting index in step (after every decision about the caller)."""
        queue = self._queues[caller.queue]
        wants = not caller.offers or queue.strategy.parallel
        if wants and not caller.wanting:
            queue.wanting.add(caller.key)
        elif caller.wanting and not wants:
            queue.wanting.discard(caller.key)
        caller.wanting = wants

    # --- offers -------------------------------------------------------------------------

    def _answered(self, event: OfferAnswered, out: list[AcdCommand]) -> None:
        offer = self._offers.get(event.offer)
        if offer is None:
            late = self._retired.get(event.offer)
            if late is not None:
                out.append(StopRinging(event.offer, late))
            return
        caller = self._callers[offer.call]
        queue = self._queues[caller.queue]
        agent = self._agents[offer.agent]
        self._retire(offer)
        del caller.offers[offer.id]
        self._cancel(f"ring:{offer.id}", out)
        for other in list(caller.offers):
            self._withdraw(self._offers[other], event.at, out, requeue=False)
        self._dequeue(queue, caller)
        self._cancel_caller_timers(caller.call, out)
        agent.offer = None
        agent.no_answer = 0
        agent.calls_taken += 1
        agent.call_queue = queue.id
        agent.answered_at = event.at
        self._move(agent, AgentEvent.ANSWER, event.at, out)
        self._connected[caller.call] = agent.id
        out.append(Connect(caller.call, offer.id, agent.id))
        waited = _seconds(caller.enqueued_at, event.at)
        out.append(CallerOutcome(caller.call, queue.id, "answered", waited, agent.id, event.at))
        self._book.finish(caller.call, self._tick)

    def _offer_failed(self, event: OfferFailed, out: list[AcdCommand]) -> None:
        offer = self._offers.get(event.offer)
        if offer is not None:
            self._cancel(f"ring:{offer.id}", out)
            self._fail(offer, event.at, out)

    def _fail(self, offer: _Offer, at: datetime, out: list[AcdCommand]) -> None:
        """The agent did not answer: count it, free (or auto-pause) the agent, move the call on."""
        agent = self._agents[offer.agent]
        caller = self._callers[offer.call]
        self._retire(offer)
        del caller.offers[offer.id]
        caller.add_tried(offer.agent)
        agent.no_answer += 1
        if agent.no_answer >= agent.config.max_no_answer:
            agent.pause_after = None
            self._release(agent, at, out, pause="no_answer")
        else:
            self._release(agent, at, out)
        self._pending_callers.append((caller, "retry"))

    def _withdraw(
        self,
        offer: _Offer,
        at: datetime,
        out: list[AcdCommand],
        *,
        requeue: bool,
        release: bool = True,
    ) -> None:
        """Stop an offer that has not failed (the caller left or was taken, the agent paused).

        ``release``: the agent goes back to ready (else the caller moves the agent on itself).
        """
        self._retire(offer)
        self._cancel(f"ring:{offer.id}", out)
        out.append(StopRinging(offer.id, offer.agent))
        caller = self._callers[offer.call]
        del caller.offers[offer.id]
        agent = self._agents[offer.agent]
        if release:
            self._release(agent, at, out)
        else:
            agent.offer = None
            agent.call = None
        if requeue:
            self._pending_callers.append((caller, "retry"))

    def _release(
        self, agent: Agent, at: datetime, out: list[AcdCommand], pause: str | None = None
    ) -> None:
        """A ringing agent's offer is over: back to ready, or paused if asked for."""
        agent.offer = None
        agent.call = None
        if agent.state is not AgentState.RINGING:
            return
        if pause is None and agent.pause_after is not None:
            pause, agent.pause_after = agent.pause_after, None
        if pause is not None:
            self._move(agent, AgentEvent.PAUSE, at, out, pause)
        else:
            self._move(agent, AgentEvent.RING_END, at, out)

    def _retire(self, offer: _Offer) -> None:
        del self._offers[offer.id]
        self._retired[offer.id] = offer.agent
        self._retired_order.append(offer.id)
        if len(self._retired_order) > RETIRED_OFFERS_KEPT:
            del self._retired[self._retired_order.popleft()]

    def _offer(
        self, queue: _Queue, caller: _Caller, agent: Agent, at: datetime, out: list[AcdCommand]
    ) -> OfferId:
        trace = caller.trace
        if not trace.offer_prefix:
            trace.offer_prefix = offer_prefix(caller.call)
        trace.offers_made += 1
        offer_id = f"{trace.offer_prefix}{AGENT_LEG_MARK}{trace.offers_made}"
        self._offers[offer_id] = _Offer(offer_id, caller.call, agent.id)
        caller.offers[offer_id] = agent.id
        queue.last_offered = agent.id
        agent.offer = offer_id
        agent.call = caller.call
        self._move(agent, AgentEvent.OFFER, at, out)
        ring_timeout = queue.config.ring_timeout
        out.append(RingAgent(offer_id, caller.call, agent.id, ring_timeout))
        self._start(f"ring:{offer_id}", at + timedelta(seconds=ring_timeout), out)
        return offer_id

    # --- connected calls ----------------------------------------------------------------

    def _call_ended(self, event: CallEnded, out: list[AcdCommand]) -> None:
        caller = self._callers.get(event.call)
        if caller is not None:
            self._leave(caller, "abandoned", event.at, out)
        elif event.call in self._connected:
            self._hang_up(event.call, event.at, out)

    def _hang_up(self, call: CallId, at: datetime, out: list[AcdCommand]) -> None:
        agent = self._agents[self._connected.pop(call)]
        agent.talk_seconds = _seconds(agent.answered_at or at, at)
        agent.answered_at = None
        agent.call = None
        agent.wrap_up_from = at
        self._move(agent, AgentEvent.HANG_UP, at, out)
        queue = self._queues.get(agent.call_queue or "")
        wrap_up = queue.config.wrap_up if queue is not None else 0.0
        if wrap_up > 0:
            self._start(f"wrapup:{agent.id}", at + timedelta(seconds=wrap_up), out)
        else:
            self._end_wrap_up(agent, at, out)

    # --- timers -------------------------------------------------------------------------

    def _timer_fired(self, event: TimerFired, out: list[AcdCommand]) -> None:
        due = self._timers.pop(event.timer, None)
        if due is None:
            return
        kind, _, target = event.timer.partition(":")
        if kind == "ring":
            offer = self._offers.get(target)
            if offer is not None:
                out.append(StopRinging(offer.id, offer.agent))
                self._fail(offer, event.at, out)
        elif kind == "wrapup":
            agent = self._agents[target]
            if agent.state is AgentState.WRAP_UP:
                self._end_wrap_up(agent, event.at, out)
        elif (caller := self._callers.get(target)) is not None:
            self._caller_timer(kind, caller, due, event.at, out)

    def _caller_timer(
        self, kind: str, caller: _Caller, due: datetime, at: datetime, out: list[AcdCommand]
    ) -> None:
        queue = self._queues[caller.queue]
        if kind == "wait":
            target = queue.config.overflow or DEFAULT_OVERFLOW
            self._leave(caller, "timeout", at, out, target, "max_wait")
        elif kind == "announce":
            position = queue.waiting.rank(caller.key) + 1
            out.append(Announce(caller.call, position, self._estimate(queue, position)))
            every = queue.config.announce_every
            if every is not None and every > 0:
                self._start(f"announce:{caller.call}", due + timedelta(seconds=every), out)
        elif kind == "widen":
            caller.widened = True
            if self._wants(caller):
                self._pending_callers.append((caller, "widened"))

    def _start(self, timer: str, at: datetime, out: list[AcdCommand]) -> None:
        self._timers[timer] = at
        out.append(StartTimer(timer, at))

    def _cancel(self, timer: str, out: list[AcdCommand]) -> None:
        if self._timers.pop(timer, None) is not None:
            out.append(CancelTimer(timer))

    # --- run-time configuration ---------------------------------------------------------

    def _queue_changed(self, event: QueueChanged, out: list[AcdCommand]) -> None:
        queue = self._queue(event.config.id)
        strategy = strategy_for(event.config.strategy)
        queue.config = event.config
        queue.strategy = strategy
        queue.free = FreeIndex()
        for agent in queue.members:
            if agent.pooled:
                self._pool(queue, agent)
        callers = [self._callers[key[-1]] for key in queue.waiting]
        for caller in callers:
            caller.need = _need(event.config, caller.skills)
            self._cancel_caller_timers(caller.call, out)
            self._arm_caller_timers(queue, caller, event.at, out)
            self._refresh_wanting(caller)
            if caller.wanting:
                self._pending_callers.append((caller, "queue_changed"))
        if self._nobody_logged_in(queue):
            self._empty_queue(queue, event.at, out)

    def _nobody_logged_in(self, queue: _Queue) -> bool:
        return queue.logged_in == 0

    def _empty_queue(self, queue: _Queue, at: datetime, out: list[AcdCommand]) -> None:
        """The last agent logged out of a queue whose policy is to overflow."""
        if queue.config.no_agents is not NoAgentsPolicy.OVERFLOW:
            return
        target = queue.config.overflow or DEFAULT_OVERFLOW
        for key in list(queue.waiting):
            self._leave(self._callers[key[-1]], "overflowed", at, out, target, "no_agents")

    # --- decisions ----------------------------------------------------------------------

    def _settle(self, at: datetime, out: list[AcdCommand]) -> None:
        """Serve every caller and agent freed by this event: callers first, in queue order."""
        if self._pending_callers:
            callers, self._pending_callers = self._pending_callers, []
            if len(callers) > 1:
                callers.sort(key=lambda item: item[0].key)
            for caller, trigger in callers:
                if self._callers.get(caller.call) is not caller:
                    continue  # gone meanwhile
                if self._wants(caller):
                    self._serve_caller(caller, trigger, at, out)
                self._refresh_wanting(caller)
        if self._pending_agents:
            agents, self._pending_agents = self._pending_agents, []
            for agent in agents:
                if agent.state is AgentState.READY and not agent.pooled:
                    self._serve_agent(agent, at, out)

    def _serve_caller(
        self, caller: _Caller, trigger: str, at: datetime, out: list[AcdCommand]
    ) -> None:
        queue = self._queues[caller.queue]
        chosen = self._choose(queue, caller)
        if not chosen and caller.offers:
            return  # a ring_all round still rings: nothing new to decide
        if not chosen and caller.tried:
            caller.new_round()
            chosen = self._choose(queue, caller)
        tick = self._next_tick()
        offers = tuple(self._offer(queue, caller, self._agents[a], at, out) for a in chosen)
        result = "ring" if chosen else "wait"
        record = self._decision(
            tick, caller, trigger, queue.strategy.name, result, chosen, offers, at
        )
        caller.trace.records.append(record)

    def _choose(self, queue: _Queue, caller: _Caller) -> list[AgentId]:
        if not queue.free:
            return []
        agents = self._agents
        tried = caller.tried_set
        need = caller.need
        widened = caller.widened

        def accepts(agent: AgentId) -> bool:
            return agent not in tried and meets(agents[agent].skills, need, widened)

        last = agents[queue.last_offered] if queue.last_offered is not None else None
        return queue.strategy.choose(queue.free, Request(accepts, queue.config, last))

    def _serve_agent(self, agent: Agent, at: datetime, out: list[AcdCommand]) -> None:
        best: tuple[Any, ...] | None = None
        pick: tuple[_Queue, _Caller] | None = None
        for priority, queue in self._queues_of[agent.id]:
            if best is not None and priority != best[0]:
                break
            caller = self._first_caller_for(queue, agent)
            if caller is None:
                continue
            rank = (priority, caller.key[0], caller.key[1], queue.id, caller.key[2])
            if best is None or rank < best:
                best, pick = rank, (queue, caller)
        if pick is None:
            for _, queue in self._queues_of[agent.id]:
                self._pool(queue, agent)
            agent.pooled = True
            return
        queue, caller = pick
        tick = self._next_tick()
        offer = self._offer(queue, caller, agent, at, out)
        self._refresh_wanting(caller)
        record = self._decision(
            tick, caller, "agent_free", "fairness", "ring", [agent.id], (offer,), at
        )
        caller.trace.records.append(record)

    def _first_caller_for(self, queue: _Queue, agent: Agent) -> _Caller | None:
        for key in queue.wanting:
            caller = self._callers[key[-1]]
            if agent.id not in caller.tried_set and meets(
                agent.skills, caller.need, caller.widened
            ):
                return caller
        return None

    def _pool(self, queue: _Queue, agent: Agent) -> None:
        if meets(agent.skills, queue.config.required_skills, widened=True):
            queue.free.add(agent.id, queue.strategy.order(agent, queue.config))

    def _unpool(self, agent: Agent) -> None:
        for _, queue in self._queues_of[agent.id]:
            queue.free.discard(agent.id)
        agent.pooled = False

    def _decision(
        self,
        tick: int,
        caller: _Caller,
        trigger: str,
        rule: str,
        result: str,
        chosen: Iterable[AgentId],
        offers: tuple[OfferId, ...],
        at: datetime,
    ) -> DecisionRecord:
        return DecisionRecord(
            tick,
            at,
            caller.queue,
            trigger,
            rule,
            result,
            caller.need,
            caller.widened,
            caller.tried,
            tuple(chosen),
            offers,
        )

    def _record(
        self,
        caller: _Caller,
        trigger: str,
        rule: str,
        result: str,
        chosen: tuple[AgentId, ...],
        offers: tuple[OfferId, ...],
        at: datetime,
    ) -> None:
        tick = self._next_tick()
        record = self._decision(tick, caller, trigger, rule, result, chosen, offers, at)
        caller.trace.records.append(record)

    def _next_tick(self) -> int:
        self._tick = tick = self._tick + 1
        return tick

    # --- agent state --------------------------------------------------------------------

    def _move(
        self, agent: Agent, event: AgentEvent, at: datetime, out: list[AcdCommand], reason: str = ""
    ) -> None:
        """Apply one table transition and keep every index in step with it."""
        old = agent.state
        new = agent.apply(event, at, reason)
        self._tick = tick = self._tick + 1
        agent.history.append(tick, new, agent.call if new is AgentState.RINGING else None)
        agent.history.prune(self._book.horizon)
        logged_in = (new is not AgentState.LOGGED_OUT) - (old is not AgentState.LOGGED_OUT)
        staffed = (new in _STAFFED) - (old in _STAFFED)
        if logged_in or staffed:
            for _, queue in self._queues_of[agent.id]:
                queue.logged_in += logged_in
                queue.staffed += staffed
        if agent.pooled and new is not AgentState.READY:
            self._unpool(agent)
        out.append(AgentStateChanged(agent.id, new, agent.reason, at))
        if new is AgentState.READY:
            self._pending_agents.append(agent)

    def _agent(self, agent: AgentId) -> Agent:
        try:
            return self._agents[agent]
        except KeyError:
            raise UnknownAgent(f"unknown agent {agent!r}") from None

    def _queue(self, queue: QueueId) -> _Queue:
        try:
            return self._queues[queue]
        except KeyError:
            raise UnknownQueue(f"unknown queue {queue!r}") from None

    # --- estimates ----------------------------------------------------------------------

    def _estimate(self, queue: _Queue, position: int) -> float | None:
        """EWT(p) = AHT * max(0, p - F) / N (module docstring)."""
        times = queue.handle_times
        if not times or queue.staffed == 0:
            return None
        aht = sum(times) / len(times)
        return aht * max(0, position - len(queue.free)) / queue.staffed

    # --- queries ------------------------------------------------------------------------

    def agent(self, agent_id: AgentId) -> AgentView:
        agent = self._agent(agent_id)
        return AgentView(
            agent.id,
            agent.state,
            agent.reason,
            agent.since,
            dict(agent.config.queues),
            agent.idle_at,
            agent.calls_taken,
            agent.no_answer,
            agent.pause_after,
            agent.call,
        )

    def agents(self) -> list[AgentView]:
        ids = sorted(self._agents.values(), key=lambda a: (a.natural, a.id))
        return [self.agent(a.id) for a in ids]

    def queue(self, queue_id: QueueId, at: datetime) -> QueueView:
        queue = self._queue(queue_id)
        waiting = []
        for position, key in enumerate(queue.waiting, start=1):
            caller = self._callers[key[-1]]
            waiting.append(
                WaitingView(
                    caller.call,
                    position,
                    caller.priority,
                    caller.enqueued_at,
                    _seconds(caller.enqueued_at, at),
                    tuple(caller.offers.values()),
                )
            )
        by_state = {state.value: 0 for state in AgentState}
        paused: dict[str, int] = {}
        for agent in queue.members:
            by_state[agent.state.value] += 1
            if agent.state is AgentState.PAUSED:
                paused[agent.reason] = paused.get(agent.reason, 0) + 1
        return QueueView(
            queue.id,
            queue.strategy.name,
            tuple(waiting),
            max((w.waited for w in waiting), default=0.0),
            by_state,
            paused,
            self._estimate(queue, len(queue.waiting) + 1),
        )

    def waiting_caller(self, call: CallId) -> tuple[QueueId, datetime] | None:
        """The queue a waiting caller is in and when it started waiting (None when the
        call waits nowhere): what an agent's screen-pop says about the wait."""
        caller = self._callers.get(call)
        if caller is None:
            return None
        return caller.queue, caller.enqueued_at

    def queue_config(self, queue_id: QueueId) -> QueueConfig:
        return self._queue(queue_id).config

    def queues(self, at: datetime) -> list[QueueView]:
        return [self.queue(q, at) for q in sorted(self._queues)]

    def trace(self, call: CallId, *, everyone: bool = False) -> list[Decision]:
        """The call's routing decisions, oldest first; empty for a call not (or no longer) kept.

        Each lists the queue's agents with the reason each was skipped; ``everyone`` lists all
        agents, those not serving the queue as ``not_in_queue``.
        """
        kept = self._book.get(call)
        if kept is None:
            return []
        decisions = []
        for record in kept.records:
            queue = self._queues[record.queue]
            agents: Iterable[Agent] = queue.members
            if everyone:
                agents = sorted(self._agents.values(), key=lambda a: (a.natural, a.id))
            decisions.append(explain(call, record, agents, queue.member_ids))
        return decisions

    def snapshot(self) -> AcdSnapshot:
        agents = []
        for agent in sorted(self._agents.values(), key=lambda a: (a.natural, a.id)):
            logged_in = agent.state is not AgentState.LOGGED_OUT
            paused = agent.state is AgentState.PAUSED or agent.pause_after is not None
            reason = agent.reason if agent.state is AgentState.PAUSED else agent.pause_after
            agents.append(
                AgentSnapshot(agent.id, logged_in, paused, reason or "", agent.calls_taken)
            )
        waiting = []
        for queue_id in sorted(self._queues):
            for key in self._queues[queue_id].waiting:
                c = self._callers[key[-1]]
                waiting.append(
                    WaitingSnapshot(c.call, c.channel, c.queue, c.priority, c.skills, c.enqueued_at)
                )
        return AcdSnapshot(tuple(agents), tuple(waiting))
