"""Bearer-token authentication for the API and websockets.

Tokens come from the settings; comparison is constant-time. ``/health``, ``/openapi.json``
and the pages (which hold no data) are public; everything under ``/api/`` needs a token, given as
``Authorization: Bearer TOKEN`` or, for websockets where browsers cannot set headers, as the
``access_token`` query parameter.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web
from aiohttp.typedefs import Middleware

from callcenter.errors import Unauthorized

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

PUBLIC_PATHS = frozenset(
    {"/health", "/openapi.json", "/wallboard", "/reports", "/forecast"}  # pages hold no data
)


def token_of(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value:
        return value.strip()
    return request.query.get("access_token")


def make_auth_middleware(tokens: Sequence[str]) -> Middleware:
    encoded = [t.encode() for t in tokens]

    @web.middleware
    async def auth(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in PUBLIC_PATHS:
            return await handler(request)
        given = (token_of(request) or "").encode()
        if not any(hmac.compare_digest(given, token) for token in encoded):
            raise Unauthorized("a valid bearer token is required")
        return await handler(request)

    return auth
