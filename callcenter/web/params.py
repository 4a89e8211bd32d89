"""Reading request bodies and query parameters, with a clear 400 for anything malformed."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from callcenter.errors import BadRequest


async def json_object(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object; ``{}`` when there is none."""
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except ValueError:
        raise BadRequest("the body must be JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


def int_param(raw: str | None, name: str, default: int | None, low: int, high: int) -> int | None:
    """An integer between ``low`` and ``high``; ``default`` when absent."""
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer") from None
    if not low <= value <= high:
        raise BadRequest(f"{name} must be between {low} and {high}")
    return value
