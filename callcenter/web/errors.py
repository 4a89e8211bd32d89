"""The one place that maps the engine's error tree to HTTP."""

from __future__ import annotations

from aiohttp import web

from callcenter.errors import (
    BadRequest,
    CallcenterError,
    Conflict,
    Forbidden,
    NotFound,
    StorageUnavailable,
    TooManyRequests,
    Unauthorized,
)

_STATUS: list[tuple[type[CallcenterError], int]] = [
    (BadRequest, 400),
    (Unauthorized, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
    (TooManyRequests, 429),
    (StorageUnavailable, 503),
]


def status_for(error: CallcenterError) -> int:
    for kind, status in _STATUS:
        if isinstance(error, kind):
            return status
    return 500


def error_response(error: CallcenterError) -> web.Response:
    return web.json_response(
        {"error": {"code": error.code, "message": str(error)}}, status=status_for(error)
    )
