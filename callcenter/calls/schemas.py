"""JSON shapes of the call ledger."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from callcenter.calls.model import CallRecord


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def call_json(record: CallRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "linkedid": record.linkedid,
        "started_at": _iso(record.started_at),
        "answered_at": _iso(record.answered_at),
        "ended_at": _iso(record.ended_at),
        "caller_num": record.caller_num,
        "caller_name": record.caller_name,
        "context": record.context,
        "exten": record.exten,
        "outcome": record.outcome,
        "hangup_cause": record.hangup_cause,
        "path": list(record.path),
    }


CALL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "linkedid", "started_at", "outcome", "path"],
    "properties": {
        "id": {"type": "integer"},
        "linkedid": {"type": "string"},
        "started_at": {"type": "string", "format": "date-time"},
        "answered_at": {"type": ["string", "null"], "format": "date-time"},
        "ended_at": {"type": ["string", "null"], "format": "date-time"},
        "caller_num": {"type": "string"},
        "caller_name": {"type": "string"},
        "context": {"type": "string"},
        "exten": {"type": "string"},
        "outcome": {
            "type": ["string", "null"],
            "description": "null while the call is live; then exactly one final outcome",
        },
        "hangup_cause": {"type": ["integer", "null"]},
        "path": {"type": "array", "items": {"type": "string"}},
    },
}
