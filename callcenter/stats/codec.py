"""Statistics records to and from plain JSON values, for the event log in storage.

Each record becomes ``{"kind": ..., fields...}`` with datetimes as ISO text (UTC offset kept)
and enums as their values; :func:`decode` rebuilds the frozen record, which checks itself.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from enum import Enum
from typing import Any

from callcenter.acd.model import AgentState
from callcenter.stats.model import AgentInterval, IvrCall, QueueCall, QueueOutcome, Record

KINDS: dict[str, type[QueueCall] | type[AgentInterval] | type[IvrCall]] = {
    "queue_call": QueueCall,
    "agent_interval": AgentInterval,
    "ivr_call": IvrCall,
}
_KIND_OF = {cls: kind for kind, cls in KINDS.items()}
_DATES = {"entered_at", "answered_at", "handled_at", "start", "end"}


def kind_of(record: Record) -> str:
    return _KIND_OF[type(record)]


def time_of(record: Record) -> datetime:
    """The time that places a record in a report interval."""
    return record.start if isinstance(record, AgentInterval) else record.entered_at


def encode(record: Record) -> dict[str, Any]:
    values: dict[str, Any] = {"kind": kind_of(record)}
    for field in dataclasses.fields(record):
        value = getattr(record, field.name)
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, Enum):
            value = value.value
        values[field.name] = value
    return values


def decode(values: dict[str, Any]) -> Record:
    data = dict(values)
    cls = KINDS[data.pop("kind")]
    for name in _DATES & data.keys():
        if data[name] is not None:
            data[name] = datetime.fromisoformat(data[name])
    if "outcome" in data:
        data["outcome"] = QueueOutcome(data["outcome"])
    if "state" in data:
        data["state"] = AgentState(data["state"])
    return cls(**data)
