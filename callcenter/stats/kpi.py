"""KPI figures (KPI.md) over a window of records: exact totals first, then a registry of figures.

Theory of operation. A report is computed in two steps.

1. *Totals*: for the window, per queue, per agent and overall, plain counts and sums of
   microseconds (:class:`CallTotals`, :class:`Totals`). Integers add up exactly in any order, so
   the batch computation here (:func:`compute`) and the live accumulator
   (:mod:`callcenter.stats.live`), which adds one record at a time, reach the same totals.
2. *Figures*: each figure is a small function of a scope's totals and the settings, listed in
   :data:`FIGURES` with its definition text, so whatever shows a number can show what it means.
   A figure whose divisor is zero is ``None``, never 0.

The settings (:class:`KpiSettings`) hold the contested choices: the service-level threshold T
(per queue, with a default), the service-level variant for abandoned calls, and the optional
short-abandon threshold X (abandons under X seconds are left out of every figure, offered too).

Attribution: a queue call counts in the scope of its queue, overall, and (when answered) of its
agent; an agent interval in the scope of its agent and overall; an IVR call overall. A record
of the log replaces an earlier call record with the same key (the answered call, handled).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
from types import MappingProxyType

from callcenter.acd.model import AgentId, AgentState, QueueId
from callcenter.stats.model import (
    AgentInterval,
    InvalidStatsValue,
    IvrCall,
    QueueCall,
    QueueOutcome,
    Record,
    Window,
)

US_PER_SECOND = 1_000_000
HANDLING_STATES = frozenset({AgentState.TALKING, AgentState.WRAP_UP})
AVAILABLE_STATES = frozenset({AgentState.READY, AgentState.RINGING})


class ServiceLevelVariant(StrEnum):
    """How abandoned calls weigh in the service level (Cisco ICM documents all three)."""

    IGNORED = "ignored"  # ans<=T / (offered - aband<=T)
    NEGATIVE = "negative"  # ans<=T / offered
    POSITIVE = "positive"  # (ans<=T + aband<=T) / offered


class Scope(StrEnum):
    OVERALL = "overall"
    QUEUE = "queue"
    AGENT = "agent"


@dataclass(frozen=True, slots=True)
class KpiSettings:
    """The contested choices; the defaults are the published ones."""

    service_level_seconds: float = 20.0  # T, for queues without their own
    service_level_variant: ServiceLevelVariant = ServiceLevelVariant.IGNORED
    short_abandon_seconds: float = 0.0  # X: abandons with waited < X are not counted; 0 = off
    queue_service_level_seconds: Mapping[QueueId, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _threshold("service_level_seconds", self.service_level_seconds)
        _threshold("short_abandon_seconds", self.short_abandon_seconds)
        for queue, seconds in self.queue_service_level_seconds.items():
            _threshold(f"queue_service_level_seconds[{queue!r}]", seconds)

    def threshold(self, queue: QueueId) -> float:
        """The service-level threshold T of ``queue``, in seconds."""
        return self.queue_service_level_seconds.get(queue, self.service_level_seconds)

    def is_short_abandon(self, call: QueueCall) -> bool:
        return call.outcome is QueueOutcome.ABANDONED and call.waited < self.short_abandon_seconds


@dataclass(frozen=True, slots=True)
class CallTotals:
    """Counts and microsecond sums over queue calls. Short abandons are only in
    ``short_abandoned``; handle times sum the handled calls only."""

    offered: int = 0
    answered: int = 0
    answered_within: int = 0  # answered with waited <= T
    abandoned: int = 0
    abandoned_within: int = 0  # abandoned (not short) with waited <= T
    short_abandoned: int = 0
    timeout: int = 0
    overflowed: int = 0
    exit_key: int = 0
    system_failure: int = 0
    transferred: int = 0
    handled: int = 0
    answered_wait_us: int = 0
    talk_us: int = 0
    hold_us: int = 0
    wrap_up_us: int = 0

    def __add__(self, other: CallTotals) -> CallTotals:
        return CallTotals(*(getattr(self, f) + getattr(other, f) for f in _CALL_FIELDS))

    def __sub__(self, other: CallTotals) -> CallTotals:
        return CallTotals(*(getattr(self, f) - getattr(other, f) for f in _CALL_FIELDS))


_CALL_FIELDS = tuple(f.name for f in fields(CallTotals))


def _no_states() -> Mapping[AgentState, int]:
    return MappingProxyType(dict.fromkeys(AgentState, 0))


@dataclass(frozen=True, slots=True)
class Totals:
    """Everything one scope's figures are computed from. ``state_us`` has every state;
    ``paused_us`` (by pause reason) only reasons with time."""

    calls: CallTotals = CallTotals()
    state_us: Mapping[AgentState, int] = field(default_factory=_no_states)
    paused_us: Mapping[str, int] = field(default_factory=dict)
    ivr_calls: int = 0
    ivr_completed: int = 0

    @property
    def empty(self) -> bool:
        return self == EMPTY


EMPTY = Totals()


@dataclass(frozen=True, slots=True)
class Report:
    """Totals of a window: overall, per queue and per agent (scopes with nothing counted are
    left out)."""

    window: Window
    overall: Totals
    queues: Mapping[QueueId, Totals]
    agents: Mapping[AgentId, Totals]


# --- the batch computation: the definitions read as filters over the records -------------


def compute(records: Iterable[Record], window: Window, settings: KpiSettings) -> Report:
    """Totals of ``records`` (a log, in order) over ``window``."""
    calls: dict[tuple[object, ...], QueueCall] = {}
    intervals: list[AgentInterval] = []
    ivr: list[IvrCall] = []
    for record in records:
        match record:
            case QueueCall():
                calls[record.key] = record  # a later record replaces an earlier one
            case AgentInterval():
                intervals.append(record)
            case IvrCall():
                ivr.append(record)
    in_window = [c for c in calls.values() if window.holds(c.entered_at)]
    ivr_in = [c for c in ivr if window.holds(c.entered_at)]
    overall = _totals(in_window, intervals, ivr_in, window, settings)
    queues = {c.queue for c in in_window}
    agents = {c.agent for c in in_window if c.agent is not None} | {i.agent for i in intervals}
    by_queue = {
        q: _totals([c for c in in_window if c.queue == q], [], [], window, settings) for q in queues
    }
    by_agent = {
        a: _totals(
            [c for c in in_window if c.agent == a],
            [i for i in intervals if i.agent == a],
            [],
            window,
            settings,
        )
        for a in agents
    }
    return Report(window, overall, _non_empty(by_queue), _non_empty(by_agent))


def _totals(
    calls: list[QueueCall],
    intervals: list[AgentInterval],
    ivr: list[IvrCall],
    window: Window,
    settings: KpiSettings,
) -> Totals:
    paused: dict[str, int] = {}
    for i in intervals:
        if i.state is AgentState.PAUSED:
            paused[i.reason] = paused.get(i.reason, 0) + window.overlap_us(i.start, i.end)
    return Totals(
        calls=_call_totals(calls, settings),
        state_us={
            s: sum(window.overlap_us(i.start, i.end) for i in intervals if i.state is s)
            for s in AgentState
        },
        paused_us={reason: us for reason, us in paused.items() if us},
        ivr_calls=len(ivr),
        ivr_completed=sum(1 for c in ivr if c.completed_in_ivr),
    )


def _call_totals(calls: list[QueueCall], settings: KpiSettings) -> CallTotals:
    offered = [c for c in calls if not settings.is_short_abandon(c)]
    answered = [c for c in offered if c.outcome is QueueOutcome.ANSWERED]
    abandoned = [c for c in offered if c.outcome is QueueOutcome.ABANDONED]
    handled = [c for c in answered if c.handled]

    def within(group: list[QueueCall]) -> int:
        return sum(1 for c in group if c.waited <= settings.threshold(c.queue))

    def outcome(o: QueueOutcome) -> int:
        return sum(1 for c in offered if c.outcome is o)

    return CallTotals(
        offered=len(offered),
        answered=len(answered),
        answered_within=within(answered),
        abandoned=len(abandoned),
        abandoned_within=within(abandoned),
        short_abandoned=len(calls) - len(offered),
        timeout=outcome(QueueOutcome.TIMEOUT),
        overflowed=outcome(QueueOutcome.OVERFLOWED),
        exit_key=outcome(QueueOutcome.EXIT_KEY),
        system_failure=outcome(QueueOutcome.SYSTEM_FAILURE),
        transferred=sum(1 for c in answered if c.transferred),
        handled=len(handled),
        answered_wait_us=sum(to_us(c.waited) for c in answered),
        talk_us=sum(to_us(c.talk) for c in handled),
        hold_us=sum(to_us(c.hold) for c in handled),
        wrap_up_us=sum(to_us(c.wrap_up) for c in handled),
    )


def _non_empty(scopes: Mapping[str, Totals]) -> dict[str, Totals]:
    return {key: totals for key, totals in scopes.items() if not totals.empty}


def to_us(seconds: float) -> int:
    """Seconds as whole microseconds: sums of these are exact in any order."""
    return round(seconds * US_PER_SECOND)


# --- the figures ------------------------------------------------------------------------

FigureValue = int | float | dict[str, float] | None
Compute = Callable[[Totals, KpiSettings], FigureValue]

_ALL = frozenset(Scope)
_QUEUES = frozenset({Scope.OVERALL, Scope.QUEUE})
_AGENTS = frozenset({Scope.OVERALL, Scope.AGENT})


@dataclass(frozen=True, slots=True)
class Figure:
    """One published figure: its meaning (``{T}``, ``{X}`` and ``{short}`` are filled in from
    the settings by :meth:`describe`), its unit, where it applies and how it is computed."""

    name: str
    unit: str  # calls, ratio, seconds
    definition: str
    scopes: frozenset[Scope]
    compute: Compute

    def describe(self, settings: KpiSettings, queue: QueueId | None = None) -> str:
        variant = _SL_VARIANTS[settings.service_level_variant][0]
        text = self.definition.replace("{variant}", variant)
        return text.format(
            T=_t_text(settings, queue),
            short=_short_text(settings),
            X=_num(settings.short_abandon_seconds),
        )


def ratio(numerator: int, divisor: int) -> float | None:
    """``numerator / divisor``, correctly rounded; None when the divisor is 0."""
    return numerator / divisor if divisor else None


def _seconds_per(total_us: int, count: int) -> float | None:
    return total_us / (count * US_PER_SECOND) if count else None


def _service_level(t: Totals, s: KpiSettings) -> float | None:
    return _SL_VARIANTS[s.service_level_variant][1](t.calls)


_SL_VARIANTS: Mapping[ServiceLevelVariant, tuple[str, Callable[[CallTotals], float | None]]] = {
    ServiceLevelVariant.IGNORED: (
        "Service level ({T}), abandons within T ignored: calls answered within T / (offered -"
        " calls abandoned within T).{short}",
        lambda c: ratio(c.answered_within, c.offered - c.abandoned_within),
    ),
    ServiceLevelVariant.NEGATIVE: (
        "Service level ({T}), abandons count against: calls answered within T / offered.{short}",
        lambda c: ratio(c.answered_within, c.offered),
    ),
    ServiceLevelVariant.POSITIVE: (
        "Service level ({T}), abandons within T count in favour: (calls answered within T + calls"
        " abandoned within T) / offered.{short}",
        lambda c: ratio(c.answered_within + c.abandoned_within, c.offered),
    ),
}


def _count(name: str) -> Compute:
    return lambda t, s: getattr(t.calls, name)


def _occupancy(t: Totals, s: KpiSettings) -> float | None:
    handling = sum(t.state_us[state] for state in HANDLING_STATES)
    available = sum(t.state_us[state] for state in AVAILABLE_STATES)
    return ratio(handling, handling + available)


def _state_seconds(states: frozenset[AgentState]) -> Compute:
    return lambda t, s: sum(t.state_us[state] for state in states) / US_PER_SECOND


def _paused_by_reason(t: Totals, s: KpiSettings) -> dict[str, float]:
    return {reason: us / US_PER_SECOND for reason, us in sorted(t.paused_us.items())}


def _aht(t: Totals, s: KpiSettings) -> float | None:
    c = t.calls
    return _seconds_per(c.talk_us + c.hold_us + c.wrap_up_us, c.handled)


_FIGURE_LIST = (
    Figure(
        "offered",
        "calls",
        "Calls that entered the queue in the interval; each ends with one outcome (answered,"
        " abandoned, timeout, overflowed, exit_key, system_failure).{short}",
        _QUEUES,
        _count("offered"),
    ),
    Figure("answered", "calls", "Offered calls connected to an agent.", _ALL, _count("answered")),
    Figure(
        "answered_within_threshold",
        "calls",
        "Answered calls that waited at most {T} in the queue.",
        _ALL,
        _count("answered_within"),
    ),
    Figure(
        "abandoned",
        "calls",
        "Offered calls whose caller hung up while waiting.{short}",
        _QUEUES,
        _count("abandoned"),
    ),
    Figure(
        "abandoned_within_threshold",
        "calls",
        "Abandoned calls whose caller hung up within {T}.{short}",
        _QUEUES,
        _count("abandoned_within"),
    ),
    Figure(
        "short_abandoned",
        "calls",
        "Abandons under the short-abandon threshold X = {X} s (0: off), left out of every other"
        " figure.",
        _QUEUES,
        _count("short_abandoned"),
    ),
    Figure(
        "timeout",
        "calls",
        "Offered calls that reached the queue's maximum wait.",
        _QUEUES,
        _count("timeout"),
    ),
    Figure(
        "overflowed",
        "calls",
        "Offered calls sent elsewhere by the queue's rules (queue full, nobody logged in,"
        " estimated wait too long).",
        _QUEUES,
        _count("overflowed"),
    ),
    Figure(
        "exit_key",
        "calls",
        "Offered calls whose caller left by an exit key (voicemail, callback).",
        _QUEUES,
        _count("exit_key"),
    ),
    Figure(
        "system_failure",
        "calls",
        "Offered calls lost to a failure of the engine or the PBX.",
        _QUEUES,
        _count("system_failure"),
    ),
    Figure(
        "transferred",
        "calls",
        "Answered calls the agent transferred onwards.",
        _ALL,
        _count("transferred"),
    ),
    Figure(
        "handled",
        "calls",
        "Answered calls whose after-call work has ended.",
        _ALL,
        _count("handled"),
    ),
    Figure("service_level", "ratio", "{variant}", _QUEUES, _service_level),
    Figure(
        "asa",
        "seconds",
        "Average speed of answer: total queue wait of answered calls / answered calls.",
        _ALL,
        lambda t, s: _seconds_per(t.calls.answered_wait_us, t.calls.answered),
    ),
    Figure(
        "aht",
        "seconds",
        "Average handle time: (talk + hold + after-call work) / handled calls.",
        _ALL,
        _aht,
    ),
    Figure(
        "abandonment_rate",
        "ratio",
        "Abandoned calls / offered calls.{short}",
        _QUEUES,
        lambda t, s: ratio(t.calls.abandoned, t.calls.offered),
    ),
    Figure(
        "occupancy",
        "ratio",
        "Handling time (talking, hold included, and wrap-up) / (handling time + available idle"
        " time (ready or ringing)); paused and logged-out time excluded.",
        _AGENTS,
        _occupancy,
    ),
    Figure(
        "handling_seconds",
        "seconds",
        "Time agents spent talking (hold included) or in wrap-up.",
        _AGENTS,
        _state_seconds(HANDLING_STATES),
    ),
    Figure(
        "available_seconds",
        "seconds",
        "Time agents were ready or had a call ringing.",
        _AGENTS,
        _state_seconds(AVAILABLE_STATES),
    ),
    Figure(
        "paused_seconds",
        "seconds",
        "Time agents were paused, any reason.",
        _AGENTS,
        _state_seconds(frozenset({AgentState.PAUSED})),
    ),
    Figure(
        "paused_seconds_by_reason",
        "seconds",
        "Time agents were paused, per pause reason.",
        _AGENTS,
        _paused_by_reason,
    ),
    Figure(
        "ivr_self_service_rate",
        "ratio",
        "Calls completed in the IVR without reaching an agent / calls into the IVR.",
        frozenset({Scope.OVERALL}),
        lambda t, s: ratio(t.ivr_completed, t.ivr_calls),
    ),
)

FIGURES: Mapping[str, Figure] = MappingProxyType({f.name: f for f in _FIGURE_LIST})
NONE_NOTE = "A figure whose divisor is zero has no value (null), never 0."


def figures(totals: Totals, scope: Scope, settings: KpiSettings) -> dict[str, FigureValue]:
    """Every figure that applies to ``scope``, by name, in registry order."""
    return {
        name: figure.compute(totals, settings)
        for name, figure in FIGURES.items()
        if scope in figure.scopes
    }


def definitions(
    scope: Scope, settings: KpiSettings, queue: QueueId | None = None
) -> dict[str, str]:
    """The definition text of every figure that applies to ``scope``, by name."""
    return {
        name: figure.describe(settings, queue)
        for name, figure in FIGURES.items()
        if scope in figure.scopes
    }


def _t_text(settings: KpiSettings, queue: QueueId | None) -> str:
    if queue is not None:
        return f"T = {_num(settings.threshold(queue))} s"
    if not settings.queue_service_level_seconds:
        return f"T = {_num(settings.service_level_seconds)} s"
    return f"T (the queue's threshold, by default {_num(settings.service_level_seconds)} s)"


def _short_text(settings: KpiSettings) -> str:
    x = settings.short_abandon_seconds
    return f" Abandons under {_num(x)} s are not counted, here or anywhere." if x else ""


def _num(seconds: float) -> str:
    return f"{seconds:g}"


def _threshold(name: str, seconds: float) -> None:
    if not math.isfinite(seconds) or seconds < 0:
        raise InvalidStatsValue(f"{name} must be a finite number of seconds >= 0, got {seconds!r}")
