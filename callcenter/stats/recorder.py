"""From the engine's domain events to statistics records: the one producer of the event log.

Theory of operation. :class:`Recorder` is a pure reducer: :meth:`Recorder.apply` takes one
event and returns the records it completes, for storage and for the live accumulator alike.

- ``AgentStateChanged`` (ACD): closes the agent's previous state as an :class:`AgentInterval`.
- ``CallerOutcome`` (ACD): a caller left a queue. ``entered_at = at - waited``. Any outcome but
  answered gives its final :class:`QueueCall` at once. An answered call gives a first record
  (``handled_at`` unset) and opens the agent's *handling*: talk runs until the agent leaves
  ``talking``, after-call work until the agent leaves ``wrap_up`` (or at once when the agent
  goes straight on), and then the final record, same key, replaces the first.
- :class:`HoldChanged` and :class:`CallTransferred` (the call-control adapter, from the PBX's
  hold and transfer events): hold time is cut out of talk time; a transfer sets the flag.
- A closed ledger row (``CallRecord``) whose path is not empty entered the IVR: it gives an
  :class:`IvrCall`; self-served as :func:`callcenter.ivr.paths.self_served` says, reached a
  queue / an agent when a queue outcome (answered) was seen for it or its path enqueued it.

The recorder keeps only what is still open: each agent's current state, handlings in progress
and the calls seen in a queue until the ledger closes them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from callcenter.acd.model import AgentId, AgentState, AgentStateChanged, CallerOutcome, CallId
from callcenter.calls.model import CallRecord
from callcenter.ivr.paths import self_served
from callcenter.stats.model import AgentInterval, IvrCall, QueueCall, QueueOutcome, Record


@dataclass(frozen=True, slots=True)
class HoldChanged:
    """The agent put ``call`` on hold (``on_hold``) or took it off."""

    call: CallId
    on_hold: bool
    at: datetime


@dataclass(frozen=True, slots=True)
class CallTransferred:
    """The agent transferred ``call`` onwards."""

    call: CallId
    at: datetime


RecorderEvent = AgentStateChanged | CallerOutcome | HoldChanged | CallTransferred | CallRecord


@dataclass
class _Handling:
    first: QueueCall  # the record logged at the answer
    hold: timedelta = timedelta(0)
    hold_since: datetime | None = None
    talk_end: datetime | None = None
    transferred: bool = False

    def hold_off(self, at: datetime) -> None:
        if self.hold_since is not None:
            self.hold += at - self.hold_since
            self.hold_since = None


class Recorder:
    def __init__(self) -> None:
        self._states: dict[AgentId, AgentStateChanged] = {}
        self._handling: dict[AgentId, _Handling] = {}
        self._agent_of: dict[CallId, AgentId] = {}
        self._queued: dict[CallId, bool] = {}  # calls seen in a queue -> answered

    def apply(self, event: RecorderEvent) -> list[Record]:
        match event:
            case AgentStateChanged():
                return self._state_changed(event)
            case CallerOutcome():
                return self._outcome(event)
            case HoldChanged():
                return self._hold(event)
            case CallTransferred():
                return self._transferred(event)
            case CallRecord():
                return self._call_closed(event)

    def _state_changed(self, event: AgentStateChanged) -> list[Record]:
        out: list[Record] = []
        previous = self._states.get(event.agent)
        self._states[event.agent] = event
        if previous is not None:
            reason = previous.reason if previous.state is AgentState.PAUSED else ""
            # Events are applied in the order the ACD decided them; one stamped a moment
            # before its predecessor (a request timed before it waited its turn) closes the
            # previous state with no length rather than a negative one.
            end = max(event.at, previous.at)
            out.append(AgentInterval(event.agent, previous.state, previous.at, end, reason))
        handling = self._handling.get(event.agent)
        if handling is None or event.state is AgentState.TALKING:
            return out
        if handling.talk_end is None:
            handling.talk_end = event.at
            handling.hold_off(event.at)
        if event.state is not AgentState.WRAP_UP:
            out.append(self._finish(event.agent, event.at))
        return out

    def _outcome(self, event: CallerOutcome) -> list[Record]:
        outcome = QueueOutcome(event.outcome)
        entered = event.at - timedelta(seconds=event.waited)
        answered = outcome is QueueOutcome.ANSWERED
        self._queued[event.call] = self._queued.get(event.call, False) or answered
        if not answered or event.agent is None:
            return [QueueCall(event.call, event.queue, entered, outcome, event.waited)]
        first = QueueCall(
            event.call,
            event.queue,
            entered,
            outcome,
            event.waited,
            answered_at=event.at,
            agent=event.agent,
        )
        self._handling[event.agent] = _Handling(first)
        self._agent_of[event.call] = event.agent
        return [first]

    def _hold(self, event: HoldChanged) -> list[Record]:
        handling = self._open_handling(event.call)
        if handling is not None:
            if event.on_hold and handling.hold_since is None:
                handling.hold_since = event.at
            elif not event.on_hold:
                handling.hold_off(event.at)
        return []

    def _transferred(self, event: CallTransferred) -> list[Record]:
        handling = self._open_handling(event.call)
        if handling is not None:
            handling.transferred = True
        return []

    def _call_closed(self, record: CallRecord) -> list[Record]:
        queued = self._queued.pop(record.linkedid, None)
        if record.ended_at is None or not record.path:
            return []
        enqueued = queued is not None or any(s.startswith("enqueue:") for s in record.path)
        reached_agent = bool(queued)
        served = self_served(record.path, record.outcome) and not reached_agent
        return [IvrCall(record.linkedid, record.started_at, served, enqueued, reached_agent)]

    def _open_handling(self, call: CallId) -> _Handling | None:
        agent = self._agent_of.get(call)
        handling = self._handling.get(agent) if agent is not None else None
        return handling if handling is not None and handling.talk_end is None else None

    def _finish(self, agent: AgentId, at: datetime) -> QueueCall:
        handling = self._handling.pop(agent)
        first = handling.first
        self._agent_of.pop(first.call, None)
        assert first.answered_at is not None and handling.talk_end is not None
        connected = handling.talk_end - first.answered_at
        return replace(
            first,
            talk=max(connected - handling.hold, timedelta(0)).total_seconds(),
            hold=handling.hold.total_seconds(),
            wrap_up=(at - handling.talk_end).total_seconds(),
            transferred=handling.transferred,
            handled_at=at,
        )
