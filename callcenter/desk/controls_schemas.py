"""The call controls' part of the OpenAPI document (agents' calls, supervisors' spying)."""

from __future__ import annotations

from typing import Any

from callcenter.desk.controls_http import ACTIONS

CALL_STATUS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "the agent's call after the control (a transfer answers where it went)",
    "properties": {
        "agent": {"type": "string"},
        "call": {"type": "string", "description": "the call's Asterisk linkedid"},
        "held": {"type": "boolean"},
        "consult": {
            "type": ["object", "null"],
            "description": "an attended transfer in progress",
            "properties": {
                "kind": {"type": "string", "enum": ["agent", "number"]},
                "target": {"type": "string"},
                "state": {"type": "string", "enum": ["ringing", "connected"]},
            },
        },
        "conference": {"type": "boolean"},
        "recording": {
            "type": ["object", "null"],
            "properties": {"file": {"type": "string"}, "paused": {"type": "boolean"}},
        },
        "transferred": {
            "type": "object",
            "properties": {"kind": {"type": "string"}, "target": {"type": "string"}},
        },
        "recorded": {"type": "string", "description": "record_stop: the file written"},
        "ended": {"type": "boolean", "description": "hangup"},
    },
}

CONTROL_BODY: dict[str, Any] = {
    "type": "object",
    "description": (
        "transfer: kind (agent, queue or number), target, attended (default false; agent or"
        " number only). conference: exactly one of agent or number. Outside numbers must be"
        " on ivr.transfer_numbers. The other controls take no body."
    ),
    "properties": {
        "kind": {"type": "string", "enum": ["agent", "queue", "number"]},
        "target": {"type": "string"},
        "attended": {"type": "boolean"},
        "agent": {"type": "string"},
        "number": {"type": "string", "pattern": "^\\+?[0-9]{3,20}$"},
    },
}

SPY_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["endpoint"],
    "properties": {
        "mode": {"type": "string", "enum": ["listen", "whisper", "barge"], "default": "listen"},
        "endpoint": {
            "type": "string",
            "description": "the supervisor's phone: a PJSIP endpoint, or an allowed number",
        },
    },
}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _path(name: str, **schema: Any) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string", **schema}}


def openapi_paths() -> dict[str, Any]:
    error = {"description": "error", **_json({"$ref": "#/components/schemas/Error"})}

    def errors(*statuses: int) -> dict[str, Any]:
        return {str(s): error for s in statuses}

    agent = _path("agent", pattern="^[A-Za-z0-9_-]{1,64}$")
    return {
        "/api/v1/agents/{agent}/call/{action}": {
            "post": {
                "summary": "Control the agent's current call (the agent themselves, or a"
                " supervisor): hold, transfer, conference, hang up, recording",
                "description": (
                    "409 when the agent has no call connected by the engine or the control"
                    " does not fit what the call is doing; 403 for another agent's call"
                ),
                "parameters": [agent, _path("action", enum=list(ACTIONS))],
                "requestBody": _json(CONTROL_BODY),
                "responses": {
                    "200": {"description": "the call", **_json(CALL_STATUS_SCHEMA)},
                    **errors(400, 401, 403, 404, 409, 500),
                },
            }
        },
        "/api/v1/agents/{agent}/spy": {
            "post": {
                "summary": "Listen, whisper or barge on the agent's call (supervisor): the"
                " supervisor's phone rings, and once answered it is on the call (ChanSpy)",
                "parameters": [agent],
                "requestBody": {"required": True, **_json(SPY_BODY)},
                "responses": {
                    "200": {
                        "description": "the call and the spying channel's id",
                        **_json(
                            {
                                "type": "object",
                                "properties": {
                                    "agent": {"type": "string"},
                                    "call": {"type": "string"},
                                    "mode": {"type": "string"},
                                    "spy": {"type": "string"},
                                },
                            }
                        ),
                    },
                    **errors(400, 401, 403, 404, 409, 500),
                },
            }
        },
    }
