"""The event log the statistics are computed from: three kinds of small frozen records.

Theory of operation. Every figure, live or historical, is a function of these records and a
time window, nothing else; so the wallboard and a report over the same window always agree.

- :class:`QueueCall`: one caller's stay in one queue, from entering it to its one outcome
  (KPI.md: answered, abandoned, timeout, overflowed, exit_key, system_failure). A caller sent
  from one queue to another has one record per queue. An answered call is first logged when it
  is answered (``handled_at`` unset: talk, hold and wrap-up still running) and logged again,
  under the same :attr:`QueueCall.key`, when its after-call work ends; the later record
  replaces the earlier one. Counts (offered, answered, service level, ASA) are right from the
  first record; handle times (AHT) from the second.
- :class:`AgentInterval`: one closed stretch of one agent in one state (and pause reason).
- :class:`IvrCall`: one call into the IVR, whether it was completed there (self-service).

Attribution: a call record belongs to the window holding its ``entered_at``; an agent interval
contributes the part of it that overlaps the window. Times are timezone-aware instants;
durations are seconds. Records check themselves when built and raise :class:`InvalidStatsValue`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from callcenter.acd.model import AgentId, AgentState, CallId, QueueId
from callcenter.errors import CallcenterError


class InvalidStatsValue(CallcenterError, ValueError):
    """A record, window or setting contradicts itself (e.g. an answered call without an agent)."""

    code = "stats_invalid_value"


class QueueOutcome(StrEnum):
    ANSWERED = "answered"
    ABANDONED = "abandoned"  # the caller hung up while waiting
    TIMEOUT = "timeout"  # the queue's maximum wait was reached
    OVERFLOWED = "overflowed"  # sent elsewhere by the queue's rules
    EXIT_KEY = "exit_key"  # the caller chose to leave (voicemail, callback)
    SYSTEM_FAILURE = "system_failure"  # the engine or the PBX lost the call


@dataclass(frozen=True, slots=True)
class QueueCall:
    """One caller's stay in one queue. ``waited`` runs from ``entered_at`` to the outcome."""

    call: CallId
    queue: QueueId
    entered_at: datetime
    outcome: QueueOutcome
    waited: float
    answered_at: datetime | None = None
    agent: AgentId | None = None
    talk: float = 0.0  # seconds connected, hold excluded
    hold: float = 0.0  # seconds on hold
    wrap_up: float = 0.0  # seconds of after-call work
    transferred: bool = False  # the agent transferred the caller onwards
    handled_at: datetime | None = None  # end of after-call work; unset while still handling

    def __post_init__(self) -> None:
        _aware("entered_at", self.entered_at)
        for name in ("waited", "talk", "hold", "wrap_up"):
            _seconds(name, getattr(self, name))
        if self.outcome is QueueOutcome.ANSWERED:
            self._check_answered()
        else:
            self._check_unanswered()

    @property
    def key(self) -> tuple[CallId, QueueId, datetime]:
        """Identifies the stay: a later record with the same key replaces an earlier one."""
        return (self.call, self.queue, utc(self.entered_at))

    @property
    def handled(self) -> bool:
        """Answered and its after-call work is over: it counts in handle times."""
        return self.handled_at is not None

    def _check_answered(self) -> None:
        if self.agent is None or self.answered_at is None:
            raise InvalidStatsValue(
                f"call {self.call!r}: an answered call needs agent and answered_at"
            )
        _aware("answered_at", self.answered_at)
        if utc(self.answered_at) < utc(self.entered_at):
            raise InvalidStatsValue(f"call {self.call!r}: answered before entering the queue")
        if self.handled_at is not None:
            _aware("handled_at", self.handled_at)
            if utc(self.handled_at) < utc(self.answered_at):
                raise InvalidStatsValue(f"call {self.call!r}: handled before it was answered")

    def _check_unanswered(self) -> None:
        if self.agent is not None or self.answered_at is not None or self.handled_at is not None:
            raise InvalidStatsValue(
                f"call {self.call!r}: only an answered call has agent, answered_at, handled_at"
            )
        if self.talk or self.hold or self.wrap_up or self.transferred:
            raise InvalidStatsValue(
                f"call {self.call!r}: only an answered call has talk, hold, wrap-up, transfer"
            )


@dataclass(frozen=True, slots=True)
class AgentInterval:
    """One agent in one state from ``start`` to ``end``; ``reason`` is the pause reason."""

    agent: AgentId
    state: AgentState
    start: datetime
    end: datetime
    reason: str = ""

    def __post_init__(self) -> None:
        _aware("start", self.start)
        _aware("end", self.end)
        if utc(self.end) < utc(self.start):
            raise InvalidStatsValue(f"agent {self.agent!r}: interval ends before it starts")
        if self.reason and self.state is not AgentState.PAUSED:
            raise InvalidStatsValue(f"agent {self.agent!r}: only a pause has a reason")


@dataclass(frozen=True, slots=True)
class IvrCall:
    """One call into the IVR. ``completed_in_ivr``: the caller was served by self-service."""

    call: CallId
    entered_at: datetime
    completed_in_ivr: bool
    reached_queue: bool = False
    reached_agent: bool = False

    def __post_init__(self) -> None:
        _aware("entered_at", self.entered_at)
        if self.reached_agent and not self.reached_queue:
            raise InvalidStatsValue(f"call {self.call!r}: reached an agent without a queue")
        if self.completed_in_ivr and self.reached_agent:
            raise InvalidStatsValue(
                f"call {self.call!r}: completed in the IVR yet reached an agent"
            )


Record = QueueCall | AgentInterval | IvrCall


@dataclass(frozen=True, slots=True)
class Window:
    """A half-open span of time ``[start, end)`` that figures are computed over; both ends
    are kept in UTC (instants in one zone compare by wall time in Python, wrongly at a DST
    change, so every comparison here is made in UTC)."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        _aware("start", self.start)
        _aware("end", self.end)
        object.__setattr__(self, "start", utc(self.start))
        object.__setattr__(self, "end", utc(self.end))
        if self.end <= self.start:
            raise InvalidStatsValue(
                f"window ends ({self.end.isoformat()}) before it starts ({self.start.isoformat()})"
            )

    def holds(self, at: datetime) -> bool:
        return self.start <= utc(at) < self.end

    def overlap_us(self, start: datetime, end: datetime) -> int:
        """Microseconds of ``[start, end)`` inside the window."""
        span = min(utc(end), self.end) - max(utc(start), self.start)
        return max(0, span // _MICROSECOND)


_MICROSECOND = timedelta(microseconds=1)


def utc(at: datetime) -> datetime:
    """The same instant in UTC."""
    return at.astimezone(UTC)


def _aware(name: str, at: datetime) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidStatsValue(f"{name} must be timezone-aware, got {at.isoformat()}")


def _seconds(name: str, value: float) -> None:
    if not math.isfinite(value) or value < 0:
        raise InvalidStatsValue(f"{name} must be a finite number of seconds >= 0, got {value!r}")
