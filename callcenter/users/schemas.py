"""The users part of the OpenAPI document: log-in sessions and user administration."""

from __future__ import annotations

from typing import Any

USER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "role": {"type": "string", "enum": ["agent", "supervisor", "admin"]},
        "agent": {"type": "string", "description": "the ACD agent an agent user is"},
        "disabled": {"type": "boolean"},
    },
}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def openapi_paths() -> dict[str, Any]:
    error = {"description": "error", **_json({"$ref": "#/components/schemas/Error"})}

    def errors(*statuses: int) -> dict[str, Any]:
        return {str(s): error for s in statuses}

    user = {"description": "the user", **_json(USER_SCHEMA)}
    name_param = {
        "name": "name",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9_.@-]{1,64}$"},
    }
    return {
        "/api/v1/session": {
            "post": {
                "summary": "Log in: a session token for the desk and the API (public)",
                "security": [],
                "requestBody": {
                    "required": True,
                    **_json(
                        {
                            "type": "object",
                            "required": ["name", "password"],
                            "properties": {
                                "name": {"type": "string"},
                                "password": {"type": "string"},
                            },
                        }
                    ),
                },
                "responses": {
                    "200": {
                        "description": "token (Bearer), its expiry and the user",
                        **_json(
                            {
                                "type": "object",
                                "properties": {
                                    "token": {"type": "string"},
                                    "expires_at": {"type": "string", "format": "date-time"},
                                    "user": USER_SCHEMA,
                                },
                            }
                        ),
                    },
                    **errors(400, 401, 429),
                },
            },
            "get": {
                "summary": "Who the token belongs to (any role)",
                "responses": {"200": {"description": "name, role, agent"}, **errors(401)},
            },
            "delete": {
                "summary": "Log out: every token of this user stops working",
                "responses": {"200": {"description": "logged out"}, **errors(401)},
            },
        },
        "/api/v1/users": {
            "get": {
                "summary": "Users (admin)",
                "responses": {"200": {"description": "users"}, **errors(401, 403)},
            }
        },
        "/api/v1/users/{name}": {
            "put": {
                "parameters": [name_param],
                "summary": "Create or change a user (admin); a change ends their sessions",
                "requestBody": {
                    "required": True,
                    **_json(
                        {
                            "type": "object",
                            "required": ["role"],
                            "properties": {
                                "role": USER_SCHEMA["properties"]["role"],
                                "agent": {"type": "string"},
                                "password": {"type": "string", "minLength": 8},
                                "disabled": {"type": "boolean"},
                            },
                        }
                    ),
                },
                "responses": {"200": user, **errors(400, 401, 403, 404)},
            },
            "delete": {
                "parameters": [name_param],
                "summary": "Delete a user (admin)",
                "responses": {"200": {"description": "deleted"}, **errors(401, 403, 404)},
            },
        },
    }
