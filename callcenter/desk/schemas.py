"""The desk part of the OpenAPI document: the desk websocket and the live pop."""

from __future__ import annotations

from typing import Any

POP_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "description": "the offer (CALL-oN)"},
        "agent": {"type": "string"},
        "call": {"type": "string", "description": "the call's linkedid"},
        "queue": {"type": "string"},
        "caller": {
            "type": "object",
            "properties": {"number": {"type": "string"}, "name": {"type": "string"}},
        },
        "offered_at": {"type": "string", "format": "date-time"},
        "waited": {"type": "number", "description": "seconds waited before this offer"},
        "customer": {"oneOf": [{"$ref": "#/components/schemas/Customer"}, {"type": "null"}]},
        "history": {"type": "array", "items": {"type": "object"}},
        "ivr": {
            "type": "object",
            "properties": {
                "path": {"type": "array", "items": {"type": "string"}},
                "inputs": {"type": "object", "additionalProperties": {"type": "string"}},
                "language": {"type": "string"},
            },
        },
        "status": {"type": "string", "enum": ["ringing", "connected", "withdrawn", "ended"]},
        "acked": {"type": "boolean"},
    },
}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def openapi_paths() -> dict[str, Any]:
    error = {"description": "error", **_json({"$ref": "#/components/schemas/Error"})}

    def errors(*statuses: int) -> dict[str, Any]:
        return {str(s): error for s in statuses}

    agent = {
        "name": "agent",
        "in": "query",
        "schema": {"type": "string"},
        "description": "the agent (an agent user's own by default; others need a supervisor)",
    }
    return {
        "/api/v1/desk/feed": {
            "get": {
                "summary": "The agent's desk websocket: snapshot, pops, pop status, state;"
                ' the desk acknowledges a pop with {"type": "ack", "id": POP_ID}'
                " (protocol: callcenter/desk/http.py; token as access_token)",
                "parameters": [agent],
                "responses": {"101": {"description": "websocket"}, **errors(400, 401, 403)},
            }
        },
        "/api/v1/desk/pop": {
            "get": {
                "summary": "The pop of the agent's call ringing or connected now",
                "parameters": [agent],
                "responses": {
                    "200": {"description": "the pop", **_json(POP_SCHEMA)},
                    **errors(401, 403, 404),
                },
            }
        },
        "/api/v1/desk/pop/{pop}/ack": {
            "post": {
                "summary": "Acknowledge a pop (as the websocket's ack does)",
                "parameters": [
                    agent,
                    {"name": "pop", "in": "path", "required": True, "schema": {"type": "string"}},
                ],
                "responses": {"200": {"description": "acknowledged"}, **errors(401, 403, 404)},
            }
        },
    }
