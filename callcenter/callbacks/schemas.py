"""JSON shapes of callback tasks: the API's, the desk messages', and the OpenAPI paths."""

from __future__ import annotations

from typing import Any

from callcenter.callbacks.model import CallbackTask, TaskAction, TaskStatus

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
        "claimed_by": {"type": "string", "description": "the agent who claimed it, or empty"},
        "claimed_at": {"type": ["string", "null"], "format": "date-time"},
        "escalated_at": {
            "type": ["string", "null"],
            "format": "date-time",
            "description": "when it escalated (unhandled for callbacks.escalate_after)",
        },
        "done_at": {"type": ["string", "null"], "format": "date-time"},
        "done_by": {"type": "string"},
        "outcome_note": {"type": "string"},
    },
}

DESK_STATUS = {TaskStatus.CLAIMED: "taken"}
"""The ``status`` of a ``task_status`` desk message, when it is not the task's own."""


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
        "claimed_by": task.claimed_by,
        "claimed_at": task.claimed_at.isoformat() if task.claimed_at else None,
        "escalated_at": task.escalated_at.isoformat() if task.escalated_at else None,
        "done_at": task.done_at.isoformat() if task.done_at else None,
        "done_by": task.done_by,
        "outcome_note": task.outcome_note,
    }


def offer_message(task: CallbackTask) -> dict[str, Any]:
    """Desk message: a task to take (new, or given back)."""
    return {"type": "task", "task": task_json(task)}


def status_message(task: CallbackTask) -> dict[str, Any]:
    """Desk message: a task offered before is taken (claimed), done or cancelled."""
    return {
        "type": "task_status",
        "id": task.id,
        "status": DESK_STATUS.get(task.status, task.status.value),
        "by": task.claimed_by if task.status is TaskStatus.CLAIMED else task.done_by,
    }


def escalated_message(task: CallbackTask) -> dict[str, Any]:
    """Desk message to supervisors: a task left unhandled for too long."""
    return {"type": "task_escalated", "task": task_json(task)}


def openapi_paths() -> dict[str, Any]:
    task = {"$ref": "#/components/schemas/Callback"}
    text = {"type": "string", "maxLength": 500}
    agent = {"type": "string", "description": "the agent acting; an agent's own by default"}
    listing = {"type": "object", "properties": {"callbacks": {"type": "array", "items": task}}}
    task_param = {"name": "task", "in": "path", "required": True, "schema": {"type": "string"}}

    def errors(*statuses: int) -> dict[str, Any]:
        error = {"$ref": "#/components/schemas/Error"}
        return {str(s): {"description": "error", **_json(error)} for s in statuses}

    return {
        "/api/v1/callbacks": {
            "get": {
                "summary": "Callback tasks, newest first",
                "description": "agents see the tasks of the queues they serve only",
                "parameters": [
                    {
                        "name": "status",
                        "in": "query",
                        "schema": {"type": "string", "enum": [s.value for s in TaskStatus]},
                    },
                    {"name": "escalated", "in": "query", "schema": {"type": "boolean"}},
                    {"name": "queue", "in": "query", "schema": {"type": "string"}},
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 500},
                    },
                    {"name": "before_id", "in": "query", "schema": {"type": "integer"}},
                ],
                "responses": {
                    "200": {"description": "tasks", **_json(listing)},
                    **errors(400, 401, 403, 503),
                },
            },
            "post": {
                "summary": "Book a callback (an agent or another system)",
                "requestBody": {
                    "required": True,
                    **_json(
                        {
                            "type": "object",
                            "required": ["number", "queue"],
                            "properties": {
                                "number": {"type": "string", "pattern": "^\\+?[0-9*#]{1,32}$"},
                                "queue": {"type": "string"},
                                "name": text,
                                "call": text,
                                "note": text,
                            },
                        }
                    ),
                },
                "responses": {
                    "201": {"description": "the task", **_json(task)},
                    **errors(400, 401, 503),
                },
            },
        },
        "/api/v1/callbacks/{task}": {
            "get": {
                "summary": "One callback task",
                "parameters": [task_param],
                "responses": {
                    "200": {"description": "the task", **_json(task)},
                    **errors(400, 401, 403, 404, 503),
                },
            }
        },
        "/api/v1/callbacks/{task}/dial": {
            "post": {
                "summary": "Dial a claimed callback: the claimer's phone rings, then the customer",
                "description": "AMI Originate of the agent's phone into cc-callback, which dials"
                " the task's number (digits only, callbacks.* prefix rules) once answered."
                " Only the claimer (or a supervisor) may dial; an unclaimed task answers 409.",
                "parameters": [task_param],
                "requestBody": {
                    "required": False,
                    **_json({"type": "object", "properties": {"agent": agent}}),
                },
                "responses": {
                    "200": {
                        "description": "the call was started",
                        **_json(
                            {
                                "type": "object",
                                "properties": {"task": task, "channel_id": {"type": "string"}},
                            }
                        ),
                    },
                    **errors(400, 401, 403, 404, 409, 500, 503),
                },
            }
        },
        "/api/v1/callbacks/{task}/{action}": {
            "post": {
                "summary": "Claim a callback task, release it, mark it done, or cancel it",
                "description": "claim is exclusive (a second claim answers 409); release and"
                " complete of a claimed task by its claimer only; cancel needs a supervisor;"
                " an agent acts on tasks of their queues only (403)",
                "parameters": [
                    task_param,
                    {
                        "name": "action",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "enum": [a.value for a in TaskAction]},
                    },
                ],
                "requestBody": {
                    "required": False,
                    **_json({"type": "object", "properties": {"agent": agent, "note": text}}),
                },
                "responses": {
                    "200": {"description": "the task", **_json(task)},
                    **errors(400, 401, 403, 404, 409, 503),
                },
            }
        },
    }


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}
