"""Today's figures kept up to date as records arrive: constant work per record.

Theory of operation. :class:`LiveAccumulator` holds, for one window (today, in the site's time
zone), the same :class:`~callcenter.stats.kpi.Totals` that :func:`~callcenter.stats.kpi.compute`
would give over the records seen so far, and updates them in O(1) per record: a queue call adds
its :func:`contribution` to its queue, its agent and the overall totals; an agent interval adds
the part of it inside the window; an IVR call adds one. A call record that replaces an earlier
one (same key: the answered call, now handled) first takes the earlier contribution back. All
sums are integers (microseconds), so taking back is exact and the order of records does not
matter: the accumulator always equals the batch computation (a property the tests check).

At the end of the window the owner starts a new accumulator for the next one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from callcenter.acd.model import AgentState
from callcenter.stats.kpi import (
    CallTotals,
    KpiSettings,
    Report,
    Scope,
    Totals,
    to_us,
)
from callcenter.stats.model import (
    AgentInterval,
    IvrCall,
    QueueCall,
    QueueOutcome,
    Record,
    Window,
)


def contribution(call: QueueCall, settings: KpiSettings) -> CallTotals:
    """What one queue call adds to the call totals of each scope it counts in."""
    if settings.is_short_abandon(call):
        return CallTotals(short_abandoned=1)
    outcome = call.outcome
    within = call.waited <= settings.threshold(call.queue)
    answered = outcome is QueueOutcome.ANSWERED
    abandoned = outcome is QueueOutcome.ABANDONED
    handled = call.handled
    return CallTotals(
        offered=1,
        answered=answered,
        answered_within=answered and within,
        abandoned=abandoned,
        abandoned_within=abandoned and within,
        timeout=outcome is QueueOutcome.TIMEOUT,
        overflowed=outcome is QueueOutcome.OVERFLOWED,
        exit_key=outcome is QueueOutcome.EXIT_KEY,
        system_failure=outcome is QueueOutcome.SYSTEM_FAILURE,
        transferred=call.transferred,
        handled=handled,
        answered_wait_us=to_us(call.waited) if answered else 0,
        talk_us=to_us(call.talk) if handled else 0,
        hold_us=to_us(call.hold) if handled else 0,
        wrap_up_us=to_us(call.wrap_up) if handled else 0,
    )


@dataclass
class _Tally:
    """The mutable counterpart of :class:`Totals`, owned by one accumulator."""

    calls: CallTotals = field(default_factory=CallTotals)
    state_us: dict[AgentState, int] = field(default_factory=lambda: dict.fromkeys(AgentState, 0))
    paused_us: dict[str, int] = field(default_factory=dict)
    ivr_calls: int = 0
    ivr_completed: int = 0
    changes: int = 0  # bumped at every change: a cached view of these totals is stale

    def freeze(self) -> Totals:
        return Totals(
            self.calls,
            dict(self.state_us),
            dict(self.paused_us),
            self.ivr_calls,
            self.ivr_completed,
        )


class LiveAccumulator:
    """The totals of one window over the records added so far."""

    def __init__(self, window: Window, settings: KpiSettings) -> None:
        self.window = window
        self.settings = settings
        self._calls: dict[tuple[object, ...], QueueCall] = {}
        self._overall = _Tally()
        self._queues: dict[str, _Tally] = {}
        self._agents: dict[str, _Tally] = {}

    def add(self, record: Record) -> None:
        match record:
            case QueueCall():
                self._add_call(record)
            case AgentInterval():
                self._add_interval(record)
            case IvrCall():
                self._add_ivr(record)

    def totals(self, scope: Scope, key: str = "") -> Totals:
        """One scope's totals now: ``key`` names the queue or agent."""
        match scope:
            case Scope.OVERALL:
                return self._overall.freeze()
            case Scope.QUEUE:
                return self._queues.get(key, _Tally()).freeze()
            case Scope.AGENT:
                return self._agents.get(key, _Tally()).freeze()

    def versioned(self) -> Iterator[tuple[Scope, str, int, Callable[[], Totals]]]:
        """Every non-empty scope as (scope, key, change count, its totals on demand): a reader
        that caches what it made of the totals by change count recomputes only what changed."""
        yield Scope.OVERALL, "", self._overall.changes, self._overall.freeze
        for scope, tallies in ((Scope.QUEUE, self._queues), (Scope.AGENT, self._agents)):
            for key, tally in tallies.items():
                if tally.changes:
                    yield scope, key, tally.changes, tally.freeze

    def report(self) -> Report:
        return Report(
            self.window,
            self._overall.freeze(),
            _frozen(self._queues),
            _frozen(self._agents),
        )

    def _add_call(self, call: QueueCall) -> None:
        if not self.window.holds(call.entered_at):
            return
        earlier = self._calls.get(call.key)
        if earlier is not None:
            self._count_call(earlier, taking_back=True)
        self._calls[call.key] = call
        self._count_call(call, taking_back=False)

    def _count_call(self, call: QueueCall, *, taking_back: bool) -> None:
        delta = contribution(call, self.settings)
        tallies = [self._overall, self._tally(self._queues, call.queue)]
        if call.agent is not None:
            tallies.append(self._tally(self._agents, call.agent))
        for tally in tallies:
            tally.calls = tally.calls - delta if taking_back else tally.calls + delta
            tally.changes += 1

    def _add_interval(self, interval: AgentInterval) -> None:
        us = self.window.overlap_us(interval.start, interval.end)
        for tally in (self._overall, self._tally(self._agents, interval.agent)):
            tally.state_us[interval.state] += us
            tally.changes += 1
            if interval.state is AgentState.PAUSED and us:
                tally.paused_us[interval.reason] = tally.paused_us.get(interval.reason, 0) + us

    def _add_ivr(self, call: IvrCall) -> None:
        if self.window.holds(call.entered_at):
            self._overall.ivr_calls += 1
            self._overall.ivr_completed += call.completed_in_ivr
            self._overall.changes += 1

    @staticmethod
    def _tally(tallies: dict[str, _Tally], key: str) -> _Tally:
        tally = tallies.get(key)
        if tally is None:
            tally = tallies[key] = _Tally()
        return tally


def _frozen(tallies: dict[str, _Tally]) -> dict[str, Totals]:
    frozen = {key: tally.freeze() for key, tally in tallies.items()}
    return {key: totals for key, totals in frozen.items() if not totals.empty}
