"""The ACD's vocabulary: configuration, the events it consumes and the commands it returns.

Theory of operation. The core (:mod:`callcenter.acd.core`) is a pure state machine fed one
event at a time; it never reads a clock (every event carries ``at``) and never does I/O. It
returns commands; the ACD service carries them out through the :class:`CallControl` port
(AMI in production, a recording fake in tests) and feeds back what happened as new events.
Timers are commands too (``StartTimer``); the service fires them back as ``TimerFired``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

AgentId = str  # e.g. "agent1001": also the PJSIP endpoint name
QueueId = str
CallId = str  # the caller's Asterisk linkedid
OfferId = str  # chosen by the core; used as the agent leg's Asterisk ChannelId


class AgentState(StrEnum):
    LOGGED_OUT = "logged_out"
    READY = "ready"
    RINGING = "ringing"
    TALKING = "talking"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"


class NoAgentsPolicy(StrEnum):
    WAIT = "wait"  # keep waiting (until max wait)
    OVERFLOW = "overflow"  # to the queue's overflow destination at once


class OverflowKind(StrEnum):
    QUEUE = "queue"
    VOICEMAIL = "voicemail"
    CALLBACK = "callback"
    MESSAGE = "message"  # play a message and hang up


@dataclass(frozen=True, slots=True)
class OverflowTarget:
    kind: OverflowKind
    target: str = ""  # queue id, mailbox, or prompt


@dataclass(frozen=True, slots=True)
class QueueConfig:
    id: QueueId
    strategy: str = "longest_idle"
    ring_timeout: float = 15.0  # seconds an offer rings one agent
    wrap_up: float = 0.0  # seconds of after-call work
    max_wait: float | None = None
    max_length: int | None = None
    max_estimated_wait: float | None = None
    no_agents: NoAgentsPolicy = NoAgentsPolicy.WAIT
    overflow: OverflowTarget | None = None
    service_level_seconds: float = 20.0
    music_class: str = "default"
    announce_every: float | None = None  # seconds between position/wait announcements
    exit_keys: dict[str, OverflowTarget] = field(default_factory=dict)
    required_skills: dict[str, int] = field(default_factory=dict)  # skill -> minimum level
    widen_after: float | None = None  # seconds; then any level of the required skills serves


@dataclass(frozen=True, slots=True)
class AgentConfig:
    id: AgentId
    queues: dict[QueueId, int]  # queue -> priority (lower number = served first)
    skills: dict[str, int] = field(default_factory=dict)  # skill -> level (higher = better)
    max_no_answer: int = 3  # consecutive unanswered offers before auto-pause


# --- events into the core -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AgentLogin:
    agent: AgentId
    at: datetime


@dataclass(frozen=True, slots=True)
class AgentLogout:
    agent: AgentId
    at: datetime


@dataclass(frozen=True, slots=True)
class AgentPause:
    agent: AgentId
    reason: str
    at: datetime


@dataclass(frozen=True, slots=True)
class AgentUnpause:
    agent: AgentId
    at: datetime


@dataclass(frozen=True, slots=True)
class AgentPauseAfterCall:
    agent: AgentId
    reason: str
    at: datetime


@dataclass(frozen=True, slots=True)
class AgentEndWrapUp:
    agent: AgentId
    at: datetime


@dataclass(frozen=True, slots=True)
class CallerArrived:
    call: CallId
    channel: str
    queue: QueueId
    priority: int  # higher = served first (e.g. VIP tier)
    skills: dict[str, int]
    enqueued_at: datetime  # original enqueue time (kept across engine restarts)
    at: datetime
    offers_made: int = 0  # offers an earlier engine made for this call: numbering goes on


@dataclass(frozen=True, slots=True)
class AgentOnCall:
    """The PBX shows ``agent`` already connected to ``call`` (found at an engine restart):
    the agent is talking until the call ends, then wraps up as after any call. The core
    reports the call answered again (the new engine's ledger has not heard it)."""

    agent: AgentId
    call: CallId
    queue: QueueId
    enqueued_at: datetime
    answered_at: datetime
    at: datetime


@dataclass(frozen=True, slots=True)
class CallerLeft:
    """The caller hung up while waiting (or while an offer was ringing)."""

    call: CallId
    at: datetime


@dataclass(frozen=True, slots=True)
class CallerPressedKey:
    call: CallId
    digit: str
    at: datetime


@dataclass(frozen=True, slots=True)
class OfferAnswered:
    offer: OfferId
    at: datetime


@dataclass(frozen=True, slots=True)
class OfferFailed:
    """The agent leg did not answer: ``reason`` is no_answer, busy, unavailable or error."""

    offer: OfferId
    reason: str
    at: datetime


@dataclass(frozen=True, slots=True)
class CallEnded:
    """A connected call ended (either side hung up)."""

    call: CallId
    at: datetime


@dataclass(frozen=True, slots=True)
class TimerFired:
    timer: str
    at: datetime


@dataclass(frozen=True, slots=True)
class QueueChanged:
    """A queue's configuration changed at run time; effective from the next decision."""

    config: QueueConfig
    at: datetime


AcdEvent = (
    AgentLogin
    | AgentLogout
    | AgentPause
    | AgentUnpause
    | AgentPauseAfterCall
    | AgentEndWrapUp
    | AgentOnCall
    | CallerArrived
    | CallerLeft
    | CallerPressedKey
    | OfferAnswered
    | OfferFailed
    | CallEnded
    | TimerFired
    | QueueChanged
)


# --- commands out of the core ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RingAgent:
    offer: OfferId
    call: CallId
    agent: AgentId
    ring_timeout: float


@dataclass(frozen=True, slots=True)
class StopRinging:
    offer: OfferId
    agent: AgentId


@dataclass(frozen=True, slots=True)
class Connect:
    call: CallId
    offer: OfferId
    agent: AgentId


@dataclass(frozen=True, slots=True)
class Announce:
    call: CallId
    position: int
    estimated_wait: float | None


@dataclass(frozen=True, slots=True)
class SendElsewhere:
    """Overflow or exit key: the caller leaves the queue for ``target``."""

    call: CallId
    target: OverflowTarget
    reason: str  # max_wait, max_length, no_agents, estimated_wait, exit_key
    queue: QueueId  # the queue the caller leaves


@dataclass(frozen=True, slots=True)
class StartTimer:
    timer: str
    at: datetime


@dataclass(frozen=True, slots=True)
class CancelTimer:
    timer: str


@dataclass(frozen=True, slots=True)
class AgentStateChanged:
    """A domain event for storage, the API and websockets."""

    agent: AgentId
    state: AgentState
    reason: str
    at: datetime


@dataclass(frozen=True, slots=True)
class CallerOutcome:
    """The caller's queue outcome (KPI.md): answered, abandoned, timeout, overflowed, exit_key."""

    call: CallId
    queue: QueueId
    outcome: str
    waited: float
    agent: AgentId | None
    at: datetime


AcdCommand = (
    RingAgent
    | StopRinging
    | Connect
    | Announce
    | SendElsewhere
    | StartTimer
    | CancelTimer
    | AgentStateChanged
    | CallerOutcome
)


class CallControl(Protocol):
    """What the ACD service needs from the PBX; the AMI adapter implements it.

    Each method returns once the PBX accepted the request; outcomes (answered, failed, hung up)
    come back later as events. Non-idempotent requests are never re-sent blindly: a lost answer
    is reconciled against Asterisk's channel list.
    """

    async def ring_agent(
        self, offer: OfferId, call: CallId, agent: AgentId, ring_timeout: float
    ) -> None: ...

    async def stop_ringing(self, offer: OfferId) -> None: ...

    async def connect(self, call_channel: str, offer: OfferId) -> None: ...

    async def announce(
        self, call_channel: str, position: int, estimated_wait: float | None
    ) -> None: ...

    async def send_elsewhere(self, call_channel: str, target: OverflowTarget) -> None: ...

    async def waiting_callers(self) -> list[CallerArrived]:
        """Callers waiting in the PBX now, with their original enqueue time, oldest first."""
        ...

    async def agents_on_call(self) -> list[AgentOnCall]:
        """Agents the PBX shows connected to a caller that nobody tracks yet (a restart)."""
        ...
