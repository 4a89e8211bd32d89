"""JSON shape of a callback task."""

from __future__ import annotations

from typing import Any

from callcenter.callbacks.model import CallbackTask, TaskStatus

TASK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "status": {"type": "string", "enum": [s.value for s in TaskStatus]},
        "number": {"type": "string"},
        "name": {"type": "string"},
        "call": {"type": "string", "description": "Linkedid of the call that asked, or empty"},
        "queue": {"type": "string"},
        "source": {"type": "string", "description": "overflow:<reason>, ivr, voicemail, agent"},
        "note": {"type": "string"},
        "requested_at": {"type": "string", "format": "date-time"},
        "done_at": {"type": ["string", "null"], "format": "date-time"},
        "done_by": {"type": "string"},
        "outcome_note": {"type": "string"},
    },
}


def task_json(task: CallbackTask) -> dict[str, Any]:
    request = task.request
    return {
        "id": task.id,
        "status": task.status.value,
        "number": request.number,
        "name": request.name,
        "call": request.call,
        "queue": request.queue,
        "source": request.source,
        "note": request.note,
        "requested_at": request.requested_at.isoformat(),
        "done_at": task.done_at.isoformat() if task.done_at else None,
        "done_by": task.done_by,
        "outcome_note": task.outcome_note,
    }
