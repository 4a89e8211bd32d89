"""JSON shapes of the ACD: agents, queues, decision traces."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from callcenter.acd.core import AgentView, QueueView


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def agent_json(view: AgentView) -> dict[str, Any]:
    return {
        "id": view.id,
        "state": view.state.value,
        "reason": view.reason,
        "since": _iso(view.since),
        "queues": dict(view.queues),
        "idle_since": _iso(view.idle_since),
        "calls_taken": view.calls_taken,
        "no_answer": view.no_answer,
        "pause_after_call": view.pause_after,
        "call": view.call,
    }


def queue_json(view: QueueView) -> dict[str, Any]:
    return {
        "id": view.id,
        "strategy": view.strategy,
        "waiting": [
            {
                "call": w.call,
                "position": w.position,
                "priority": w.priority,
                "enqueued_at": _iso(w.enqueued_at),
                "waited": round(w.waited, 3),
                "ringing": list(w.ringing),
            }
            for w in view.waiting
        ],
        "longest_wait": round(view.longest_wait, 3),
        "agents_by_state": dict(view.agents_by_state),
        "paused_by_reason": dict(view.paused_by_reason),
        "estimated_wait": view.estimated_wait,
    }


AGENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "state": {
            "type": "string",
            "enum": ["logged_out", "ready", "ringing", "talking", "wrap_up", "paused"],
        },
        "reason": {"type": "string"},
        "since": {"type": ["string", "null"], "format": "date-time"},
        "queues": {"type": "object", "additionalProperties": {"type": "integer"}},
        "idle_since": {"type": ["string", "null"], "format": "date-time"},
        "calls_taken": {"type": "integer"},
        "no_answer": {"type": "integer"},
        "pause_after_call": {"type": ["string", "null"]},
        "call": {"type": ["string", "null"]},
    },
}

QUEUE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "strategy": {"type": "string"},
        "waiting": {"type": "array", "items": {"type": "object"}},
        "longest_wait": {"type": "number"},
        "agents_by_state": {"type": "object"},
        "paused_by_reason": {"type": "object"},
        "estimated_wait": {"type": ["number", "null"]},
    },
}
