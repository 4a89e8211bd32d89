"""Telephony facts as the core sees them: small frozen values, free of any AMI vocabulary.

The AMI adapter (:mod:`callcenter.asterisk.translate`) turns Asterisk's events into these, once,
at the edge; cores (call ledger, later the ACD) consume only these. Text that came from a caller
(caller ID number and name) is already cleaned here: no control characters, bounded length.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class ChannelCreated:
    uniqueid: str
    linkedid: str
    channel: str
    caller_num: str
    caller_name: str
    context: str
    exten: str
    at: datetime


@dataclass(frozen=True, slots=True)
class ChannelAnswered:
    uniqueid: str
    linkedid: str
    at: datetime


@dataclass(frozen=True, slots=True)
class ChannelHungUp:
    uniqueid: str
    linkedid: str
    cause: int
    cause_text: str
    at: datetime


@dataclass(frozen=True, slots=True)
class OutcomeReported:
    """A component (the dialplan through a UserEvent, or the engine) states how a call ended."""

    linkedid: str
    outcome: str
    at: datetime


@dataclass(frozen=True, slots=True)
class LiveChannel:
    """One channel as listed by Asterisk at a resync (AMI CoreShowChannels)."""

    uniqueid: str
    linkedid: str
    channel: str
    caller_num: str
    caller_name: str
    context: str
    exten: str
    up: bool
    started_at: datetime


@dataclass(frozen=True, slots=True)
class ChannelsSnapshot:
    """Asterisk's complete list of live channels, taken after every (re)connect."""

    channels: tuple[LiveChannel, ...]
    at: datetime


@dataclass(frozen=True, slots=True)
class AmiLinkChanged:
    """The AMI session came up (after login and resync) or went down."""

    up: bool
    at: datetime


TelephonyEvent = (
    ChannelCreated
    | ChannelAnswered
    | ChannelHungUp
    | OutcomeReported
    | ChannelsSnapshot
    | AmiLinkChanged
)


AGENT_LEG_MARK = "-o"
"""The ACD originates each agent leg with the Asterisk Uniqueid ``CALL-oN`` (its offer id), so
the leg, which Asterisk gives a Linkedid of its own, is known to belong to the caller's call."""


def owning_call(linkedid: str) -> str:
    """The call a channel belongs to: ``CALL`` for an agent leg ``CALL-oN``, else itself."""
    head, mark, tail = linkedid.rpartition(AGENT_LEG_MARK)
    return head if mark and head and tail.isdigit() else linkedid
