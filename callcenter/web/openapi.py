"""The API's OpenAPI document, served at the stable URL ``/openapi.json``."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from callcenter import __version__
from callcenter.calls.schemas import CALL_SCHEMA

_ERROR = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    return {
        str(s): {"description": "error", **_json({"$ref": "#/components/schemas/Error"})}
        for s in statuses
    }


def document() -> dict[str, Any]:
    call_ref = {"$ref": "#/components/schemas/Call"}
    return {
        "openapi": "3.1.0",
        "info": {"title": "callcenter API", "version": __version__},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Call": CALL_SCHEMA, "Error": _ERROR},
        },
        "security": [{"bearer": []}],
        "paths": {
            "/health": {
                "get": {
                    "summary": "State of the AMI link, the FastAGI server and the database",
                    "security": [],
                    "responses": {
                        "200": {"description": "all components healthy"},
                        "503": {"description": "at least one component is down"},
                    },
                }
            },
            "/api/v1/calls": {
                "get": {
                    "summary": "Call ledger, newest first",
                    "parameters": [
                        {
                            "name": "limit",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 500},
                        },
                        {
                            "name": "before_id",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1},
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "calls",
                            **_json(
                                {
                                    "type": "object",
                                    "properties": {"calls": {"type": "array", "items": call_ref}},
                                }
                            ),
                        },
                        **_errors(400, 401, 503),
                    },
                }
            },
            "/api/v1/calls/{linkedid}": {
                "get": {
                    "summary": "One call by its Asterisk linkedid",
                    "parameters": [
                        {
                            "name": "linkedid",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {
                        "200": {"description": "the call", **_json(call_ref)},
                        **_errors(401, 404, 503),
                    },
                }
            },
        },
    }


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(document())
