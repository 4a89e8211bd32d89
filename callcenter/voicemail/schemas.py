"""JSON shapes of voicemail messages and their deliveries."""

from __future__ import annotations

from typing import Any

from callcenter.voicemail.model import Channel, Delivery, DeliveryStatus, Message

MESSAGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "description": "32 hex digits"},
        "mailbox": {"type": "string"},
        "caller": {"type": "string"},
        "caller_name": {"type": "string"},
        "customer_id": {"type": ["integer", "null"]},
        "queue": {"type": "string"},
        "call": {"type": "string", "description": "Linkedid of the call"},
        "ivr_path": {"type": "array", "items": {"type": "string"}},
        "duration": {"type": "number", "description": "seconds"},
        "created_at": {"type": "string", "format": "date-time"},
        "heard_at": {"type": ["string", "null"], "format": "date-time"},
        "heard_by": {"type": "string"},
        "deleted_at": {"type": ["string", "null"], "format": "date-time"},
        "deleted_by": {"type": "string"},
        "transcript": {"type": ["string", "null"]},
        "audio": {"type": "string", "description": "path of the audio (WAV) in this API"},
    },
}

DELIVERY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "channel": {"type": "string", "enum": [c.value for c in Channel]},
        "status": {"type": "string", "enum": [s.value for s in DeliveryStatus]},
        "attempts": {"type": "integer"},
        "next_at": {"type": "string", "format": "date-time"},
        "last_error": {"type": "string"},
        "delivered_at": {"type": ["string", "null"], "format": "date-time"},
    },
}


def message_json(message: Message) -> dict[str, Any]:
    new = message.new
    return {
        "id": new.id,
        "mailbox": new.mailbox,
        "caller": new.caller,
        "caller_name": new.caller_name,
        "customer_id": new.customer_id,
        "queue": new.queue,
        "call": new.call,
        "ivr_path": list(new.ivr_path),
        "duration": new.duration,
        "created_at": new.created_at.isoformat(),
        "heard_at": message.heard_at.isoformat() if message.heard_at else None,
        "heard_by": message.heard_by,
        "deleted_at": message.deleted_at.isoformat() if message.deleted_at else None,
        "deleted_by": message.deleted_by,
        "transcript": message.transcript,
        "audio": f"/api/v1/voicemail/messages/{new.id}/audio",
    }


def delivery_json(delivery: Delivery) -> dict[str, Any]:
    return {
        "channel": delivery.channel.value,
        "status": delivery.status.value,
        "attempts": delivery.attempts,
        "next_at": delivery.next_at.isoformat(),
        "last_error": delivery.last_error,
        "delivered_at": delivery.delivered_at.isoformat() if delivery.delivered_at else None,
    }


def openapi_paths() -> dict[str, Any]:
    """The voicemail part of the OpenAPI document (:mod:`callcenter.web.openapi`)."""
    message_ref = {"$ref": "#/components/schemas/VoicemailMessage"}
    error = {"description": "error", **_json({"$ref": "#/components/schemas/Error"})}
    message_param = {
        "name": "message",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": "^[a-f0-9]{32}$"},
    }

    def errors(*statuses: int) -> dict[str, Any]:
        return {str(s): error for s in statuses}

    def query(name: str, kind: str = "string", **extra: Any) -> dict[str, Any]:
        return {"name": name, "in": "query", "schema": {"type": kind, **extra}}

    return {
        "/api/v1/voicemail/mailboxes": {
            "get": {
                "summary": "The configured mailboxes",
                "responses": {"200": {"description": "mailboxes"}, **errors(401)},
            }
        },
        "/api/v1/voicemail/messages": {
            "get": {
                "summary": "Messages, newest first (of one mailbox with ?mailbox=)",
                "parameters": [
                    query("mailbox"),
                    query("deleted", "boolean"),
                    query("limit", "integer", minimum=1, maximum=500),
                    query("before", format="date-time"),
                ],
                "responses": {
                    "200": {
                        "description": "messages",
                        **_json(
                            {
                                "type": "object",
                                "properties": {"messages": {"type": "array", "items": message_ref}},
                            }
                        ),
                    },
                    **errors(400, 401, 404),
                },
            }
        },
        "/api/v1/voicemail/messages/{message}": {
            "get": {
                "summary": "One message",
                "parameters": [message_param],
                "responses": {
                    "200": {"description": "the message", **_json(message_ref)},
                    **errors(401, 404),
                },
            },
            "delete": {
                "summary": "Delete a message's audio; the row keeps who deleted it and when",
                "parameters": [message_param, {**query("by"), "required": True}],
                "responses": {
                    "200": {"description": "the deleted message", **_json(message_ref)},
                    **errors(400, 401, 404),
                },
            },
        },
        "/api/v1/voicemail/messages/{message}/audio": {
            "get": {
                "summary": "The message's audio (WAV, 8 kHz mono 16-bit)",
                "parameters": [message_param],
                "responses": {
                    "200": {"description": "audio", "content": {"audio/wav": {}}},
                    **errors(401, 404),
                },
            }
        },
        "/api/v1/voicemail/messages/{message}/deliveries": {
            "get": {
                "summary": "The message's notifications (outbox): e-mail, websocket, callback",
                "parameters": [message_param],
                "responses": {
                    "200": {
                        "description": "deliveries",
                        **_json(
                            {
                                "type": "object",
                                "properties": {
                                    "deliveries": {"type": "array", "items": DELIVERY_SCHEMA}
                                },
                            }
                        ),
                    },
                    **errors(401, 404),
                },
            }
        },
        "/api/v1/voicemail/messages/{message}/heard": {
            "post": {
                "summary": "Mark a message heard",
                "parameters": [message_param],
                "requestBody": _json(
                    {"type": "object", "required": ["by"], "properties": {"by": {"type": "string"}}}
                ),
                "responses": {
                    "200": {"description": "the message", **_json(message_ref)},
                    **errors(400, 401, 404),
                },
            }
        },
        "/api/v1/voicemail/feed": {
            "get": {
                "summary": "Websocket: one text frame per new message of the group",
                "description": "token as access_token; a browser's Origin must be this server"
                " or one of http.websocket_origins (else 403)",
                "parameters": [query("access_token"), query("group")],
                "responses": {
                    "101": {"description": "websocket; JSON events of type voicemail"},
                    **errors(401, 403),
                },
            }
        },
    }


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}
