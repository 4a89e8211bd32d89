"""AMI events to telephony facts, once, at the edge (pure: no I/O, time comes from a clock).

Input is a panoramisk ``Message`` or any mapping of header names to values (names compared
without regard to case; a repeated header arrives as a list and the last value wins, so a
``Linkedid`` written in a UserEvent body overrides the channel's own). Output is one of the
values of :mod:`callcenter.telephony`, or ``None`` for events the core does not consume.

- ``Newchannel`` -> ``ChannelCreated``; ``Newstate`` with ``ChannelStateDesc: Up`` ->
  ``ChannelAnswered``; ``Hangup`` -> ``ChannelHungUp``; ``UserEvent`` named ``CallOutcome``
  -> ``OutcomeReported`` (``Linkedid``, ``Outcome``).
- Identifiers (``Uniqueid``, ``Linkedid``) must be present, printable and at most 150
  characters; otherwise the event is dropped with a debug log. An unreadable hangup ``Cause``
  becomes 0 rather than dropping the hangup: a lost hangup would leave a call open.
- Caller text (caller ID number and name) loses control characters, is cut to 128 characters,
  and Asterisk's ``<unknown>`` becomes empty. Channel, context and extension are cleaned the
  same way (bound 256): they may carry what a caller dialled.
- Timestamps come from the clock, never from the event.

:func:`channels_snapshot` and :func:`device_states` read the lists Asterisk sends in answer
to ``CoreShowChannels`` and ``DeviceStateList`` at a resync.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import cast

from panoramisk.utils import CaseInsensitiveDict

from callcenter.asterisk.sanitize import clean_text, has_control
from callcenter.clock import Clock
from callcenter.telephony import (
    ChannelAnswered,
    ChannelCreated,
    ChannelHungUp,
    ChannelsSnapshot,
    LiveChannel,
    OutcomeReported,
    TelephonyEvent,
    owning_call,
)

log = logging.getLogger(__name__)

MAX_ID = 150
MAX_CALLER = 128
MAX_NAME = 256
UNKNOWN = "<unknown>"
OUTCOME_EVENT = "calloutcome"

Fields = Mapping[str, object]
"""Headers whose ``get`` takes lower-case names: a panoramisk Message, or a lowered dict."""


class Malformed(ValueError):
    """An event lacks what its translation needs; the caller drops it."""


def headers_of(message: Mapping[str, object]) -> Fields:
    """Look-ups that ignore case: a panoramisk Message already does; a dict is lowered."""
    if isinstance(message, CaseInsensitiveDict):
        return cast(Fields, message)
    return {str(key).lower(): value for key, value in message.items()}


def event_name(fields: Fields) -> str:
    return _text(fields, "event")


def translate(message: Mapping[str, object], clock: Clock) -> TelephonyEvent | None:
    fields = headers_of(message)
    translator = _TRANSLATORS.get(event_name(fields).lower())
    if translator is None:
        return None
    try:
        return translator(fields, clock)
    except Malformed as exc:
        log.debug("AMI event %s dropped: %s", event_name(fields)[:40], exc)
        return None


def _channel_identity(fields: Fields) -> dict[str, str]:
    """What Newchannel and CoreShowChannel say alike of a channel, cleaned."""
    return {
        "uniqueid": _identifier(fields, "uniqueid"),
        "linkedid": owning_call(_identifier(fields, "linkedid")),
        "channel": _name(fields, "channel"),
        "caller_num": caller_text(_text(fields, "calleridnum")),
        "caller_name": caller_text(_text(fields, "calleridname")),
        "context": _name(fields, "context"),
        "exten": _name(fields, "exten"),
    }


def _created(fields: Fields, clock: Clock) -> ChannelCreated:
    return ChannelCreated(**_channel_identity(fields), at=clock.now())


def _state(fields: Fields, clock: Clock) -> ChannelAnswered | None:
    if _text(fields, "channelstatedesc") != "Up":
        return None
    return ChannelAnswered(
        _identifier(fields, "uniqueid"),
        owning_call(_identifier(fields, "linkedid")),
        clock.now(),
    )


def _hangup(fields: Fields, clock: Clock) -> ChannelHungUp:
    return ChannelHungUp(
        uniqueid=_identifier(fields, "uniqueid"),
        linkedid=owning_call(_identifier(fields, "linkedid")),
        cause=_cause(_text(fields, "cause")),
        cause_text=clean_text(_text(fields, "cause-txt"), MAX_NAME).strip(),
        at=clock.now(),
    )


def _user_event(fields: Fields, clock: Clock) -> OutcomeReported | None:
    if _text(fields, "userevent").strip().lower() != OUTCOME_EVENT:
        return None
    outcome = clean_text(_text(fields, "outcome"), 64).strip()
    if not outcome:
        raise Malformed("CallOutcome without Outcome")
    return OutcomeReported(_identifier(fields, "linkedid"), outcome, clock.now())


_TRANSLATORS: dict[str, Callable[[Fields, Clock], TelephonyEvent | None]] = {
    "newchannel": _created,
    "newstate": _state,
    "hangup": _hangup,
    "userevent": _user_event,
}


def channels_snapshot(listing: Iterable[Mapping[str, object]], now: datetime) -> ChannelsSnapshot:
    """``CoreShowChannel`` entries of a CoreShowChannels answer; other messages are skipped."""
    channels: list[LiveChannel] = []
    for message in listing:
        fields = headers_of(message)
        if event_name(fields).lower() != "coreshowchannel":
            continue
        try:
            channels.append(_live_channel(fields, now))
        except Malformed as exc:
            log.debug("CoreShowChannel entry dropped: %s", exc)
    return ChannelsSnapshot(tuple(channels), now)


def _live_channel(fields: Fields, now: datetime) -> LiveChannel:
    return LiveChannel(
        **_channel_identity(fields),
        up=_text(fields, "channelstatedesc") == "Up",
        started_at=now - parse_duration(_text(fields, "duration")),
    )


def device_state(message: Mapping[str, object]) -> tuple[str, str] | None:
    """``(device, state)`` of a ``DeviceStateChange`` event, else ``None``."""
    fields = headers_of(message)
    if event_name(fields).lower() != "devicestatechange":
        return None
    device = clean_text(_text(fields, "device"), MAX_NAME).strip()
    state = clean_text(_text(fields, "state"), 64).strip()
    return (device, state) if device and state else None


def device_states(listing: Iterable[Mapping[str, object]]) -> dict[str, str]:
    states: dict[str, str] = {}
    for message in listing:
        pair = device_state(message)
        if pair is not None:
            states[pair[0]] = pair[1]
    return states


def parse_duration(text: str) -> timedelta:
    """``HH:MM:SS`` (hours may exceed 99) as a timedelta; anything unreadable is zero."""
    parts = text.strip().split(":")
    if len(parts) != 3 or not all(p.isdigit() and p.isascii() for p in parts):
        return timedelta(0)
    hours, minutes, seconds = (int(p) for p in parts)
    return timedelta(hours=hours, minutes=minutes, seconds=seconds)


def caller_text(value: str) -> str:
    text = clean_text(value, MAX_CALLER * 2).strip()
    return "" if text == UNKNOWN else text[:MAX_CALLER]


def _text(fields: Fields, key: str) -> str:
    value = fields.get(key)
    if isinstance(value, list):
        value = value[-1] if value else ""
    return value if isinstance(value, str) else ""


def _identifier(fields: Fields, key: str) -> str:
    value = _text(fields, key).strip()
    if not value:
        raise Malformed(f"missing {key}")
    if len(value) > MAX_ID or has_control(value):
        raise Malformed(f"unusable {key}")
    return value


def _name(fields: Fields, key: str) -> str:
    return clean_text(_text(fields, key), MAX_NAME).strip()


def _cause(text: str) -> int:
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 4 else 0
