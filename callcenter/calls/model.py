"""Call ledger core: one row per call (Asterisk Linkedid), exactly one final outcome.

Theory of operation. The ledger is a reducer over telephony events (:mod:`callcenter.telephony`).
It keeps the live calls in memory (linkedid -> channels still up, answered or not, the outcome
reported so far) and returns *commands* for the repository: open a row, mark it answered,
record the caller's path, close it with its outcome. It does no I/O and reads no clock.

- The first channel of a linkedid opens the call; the last one to hang up closes it.
- The outcome is the one reported (by the dialplan's UserEvent or an engine component); when
  none was reported it is ``abandoned`` if the call was never answered, else ``completed``.
- After every AMI (re)connect a :class:`ChannelsSnapshot` replaces the picture: live calls the
  ledger did not know are opened, and every call still open in storage with no live channel is
  closed as ``lost`` (it ended while the engine was away). Closing is guarded in storage too
  (only an open row closes), so a row can never get a second outcome.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from callcenter.telephony import (
    AmiLinkChanged,
    ChannelAnswered,
    ChannelCreated,
    ChannelHungUp,
    ChannelsSnapshot,
    LiveChannel,
    OutcomeReported,
    TelephonyEvent,
)


class Outcome(StrEnum):
    COMPLETED_IN_IVR = "completed_in_ivr"
    ANSWERED = "answered"
    COMPLETED = "completed"
    ABANDONED = "abandoned"
    TIMEOUT = "timeout"
    OVERFLOWED = "overflowed"
    EXIT_KEY = "exit_key"
    TRANSFERRED = "transferred"
    ENGINE_UNAVAILABLE = "engine_unavailable"
    FAILED = "failed"
    LOST = "lost"


REPORTABLE = frozenset(o.value for o in Outcome) - {Outcome.LOST.value}


@dataclass(frozen=True, slots=True)
class OpenCall:
    linkedid: str
    started_at: datetime
    caller_num: str
    caller_name: str
    context: str
    exten: str


@dataclass(frozen=True, slots=True)
class MarkAnswered:
    linkedid: str
    at: datetime


@dataclass(frozen=True, slots=True)
class RecordPath:
    linkedid: str
    path: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CloseCall:
    linkedid: str
    ended_at: datetime
    outcome: Outcome
    hangup_cause: int | None


@dataclass(frozen=True, slots=True)
class CloseLostCalls:
    """Close every open row whose linkedid is not in ``live`` (resync after an absence)."""

    live: frozenset[str]
    ended_at: datetime


LedgerCommand = OpenCall | MarkAnswered | RecordPath | CloseCall | CloseLostCalls


@dataclass(frozen=True, slots=True)
class CallRecord:
    """A ledger row as stored."""

    linkedid: str
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    caller_num: str
    caller_name: str
    context: str
    exten: str
    outcome: str | None
    hangup_cause: int | None
    path: tuple[str, ...]
    id: int = 0


@dataclass
class _LiveCall:
    channels: set[str] = field(default_factory=set)
    answered: bool = False
    outcome: Outcome | None = None
    last_cause: int | None = None


class Ledger:
    """The pure reducer; the ledger service feeds it and executes what it returns."""

    def __init__(self) -> None:
        self._calls: dict[str, _LiveCall] = {}

    @property
    def live_calls(self) -> int:
        return len(self._calls)

    def is_live(self, linkedid: str) -> bool:
        return linkedid in self._calls

    def apply(self, event: TelephonyEvent | PathReported) -> list[LedgerCommand]:
        match event:
            case ChannelCreated():
                return self._created(event)
            case ChannelAnswered():
                return self._answered(event)
            case ChannelHungUp():
                return self._hung_up(event)
            case OutcomeReported():
                return self._reported(event)
            case ChannelsSnapshot():
                return self._resync(event)
            case PathReported():
                return (
                    [RecordPath(event.linkedid, event.path)]
                    if event.linkedid in self._calls
                    else []
                )
            case AmiLinkChanged():
                return []

    def _created(self, event: ChannelCreated) -> list[LedgerCommand]:
        call = self._calls.get(event.linkedid)
        if call is not None:
            call.channels.add(event.uniqueid)
            return []
        self._calls[event.linkedid] = _LiveCall(channels={event.uniqueid})
        return [
            OpenCall(
                event.linkedid,
                event.at,
                event.caller_num,
                event.caller_name,
                event.context,
                event.exten,
            )
        ]

    def _answered(self, event: ChannelAnswered) -> list[LedgerCommand]:
        call = self._calls.get(event.linkedid)
        if call is None or call.answered:
            return []
        call.answered = True
        return [MarkAnswered(event.linkedid, event.at)]

    def _hung_up(self, event: ChannelHungUp) -> list[LedgerCommand]:
        call = self._calls.get(event.linkedid)
        if call is None:
            return []
        call.channels.discard(event.uniqueid)
        if event.uniqueid == event.linkedid or call.last_cause is None:
            call.last_cause = event.cause
        if call.channels:
            return []
        del self._calls[event.linkedid]
        return [CloseCall(event.linkedid, event.at, _final_outcome(call), call.last_cause)]

    def _reported(self, event: OutcomeReported) -> list[LedgerCommand]:
        call = self._calls.get(event.linkedid)
        if call is not None and event.outcome in REPORTABLE:
            call.outcome = Outcome(event.outcome)
        return []

    def _resync(self, snapshot: ChannelsSnapshot) -> list[LedgerCommand]:
        by_call: dict[str, list[LiveChannel]] = {}
        for channel in snapshot.channels:
            by_call.setdefault(channel.linkedid, []).append(channel)
        commands: list[LedgerCommand] = []
        known = self._calls
        self._calls = {}
        for linkedid, channels in by_call.items():
            previous = known.get(linkedid)
            call = _LiveCall(
                channels={c.uniqueid for c in channels},
                answered=any(c.up for c in channels) or bool(previous and previous.answered),
                outcome=previous.outcome if previous else None,
            )
            self._calls[linkedid] = call
            first = min(channels, key=lambda c: c.started_at)
            commands.append(
                OpenCall(
                    linkedid,
                    first.started_at,
                    first.caller_num,
                    first.caller_name,
                    first.context,
                    first.exten,
                )
            )
            if call.answered:
                commands.append(MarkAnswered(linkedid, first.started_at))
        commands.append(CloseLostCalls(frozenset(by_call), snapshot.at))
        return commands


@dataclass(frozen=True, slots=True)
class PathReported:
    """The engine recorded the path a caller took (IVR nodes and keys)."""

    linkedid: str
    path: tuple[str, ...]


def _final_outcome(call: _LiveCall) -> Outcome:
    if call.outcome is not None:
        return call.outcome
    return Outcome.COMPLETED if call.answered else Outcome.ABANDONED
