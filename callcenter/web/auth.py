"""Authentication and roles for the API and websockets.

Every request under ``/api/`` carries a token, as ``Authorization: Bearer TOKEN`` or, for
websockets where browsers cannot set headers, the ``access_token`` query parameter. Two kinds
are accepted: the service tokens of the settings (role admin, compared in constant time) and
session tokens from ``POST /api/v1/session`` (checked by the user service). ``/health``,
``/openapi.json``, the pages (which hold no data) and the log-in itself are public.

Roles. A route needs the supervisor role unless its feature says otherwise with :func:`grant`:
agents may use the routes granted to them (their own state, pops, calls, customer records),
admins alone the routes granted to admins (users, configuration). A handler that acts on one
agent checks :func:`require_agent`: an agent acting on another agent gets 403.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from aiohttp import web
from aiohttp.typedefs import Middleware

from callcenter.errors import Forbidden, Unauthorized
from callcenter.users.model import Principal, Role

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

PUBLIC_PATHS = frozenset(
    {"/health", "/openapi.json", "/wallboard", "/reports", "/forecast", "/desk"}  # no data
)
PUBLIC_ROUTES = frozenset({("POST", "/api/v1/session")})  # the log-in

SERVICE = Principal("api", Role.ADMIN)
_ACCESS = web.AppKey("route_access", dict[tuple[str, str], Role])
_PRINCIPAL = web.RequestKey("principal", Principal)


class Authenticator(Protocol):
    def authenticate(self, token: str) -> Principal | None: ...


def grant(app: web.Application, route: web.AbstractRoute, role: Role) -> None:
    """The least role that may use ``route`` (supervisor when never granted)."""
    resource = route.resource
    if resource is None:
        return
    if _ACCESS not in app:
        app[_ACCESS] = {}
    app[_ACCESS][(route.method, resource.canonical)] = role


def token_of(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value:
        return value.strip()
    return request.query.get("access_token")


def principal_of(request: web.Request) -> Principal:
    if _PRINCIPAL not in request:
        raise Unauthorized("a valid bearer token is required")
    return request[_PRINCIPAL]


def require_agent(request: web.Request, agent: str) -> Principal:
    """The caller may act on ``agent``: a supervisor, an admin, or that agent."""
    principal = principal_of(request)
    if not principal.may_act_for(agent):
        raise Forbidden(f"{principal.name} may not act on agent {agent[:64]!r}")
    return principal


def require_role(request: web.Request, role: Role) -> Principal:
    principal = principal_of(request)
    if not principal.role.at_least(role):
        raise Forbidden(f"this needs the {role.value} role")
    return principal


def make_auth_middleware(
    tokens: Sequence[str], sessions: Authenticator | None = None
) -> Middleware:
    encoded = [t.encode() for t in tokens]

    def identify(request: web.Request) -> Principal | None:
        given = token_of(request) or ""
        raw = given.encode()
        if any(hmac.compare_digest(raw, token) for token in encoded):
            return SERVICE
        if sessions is not None and given:
            return sessions.authenticate(given)
        return None

    @web.middleware
    async def auth(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in PUBLIC_PATHS:
            return await handler(request)
        method = "GET" if request.method == "HEAD" else request.method
        resource = request.match_info.route.resource
        canonical = resource.canonical if resource is not None else request.path
        if (method, canonical) in PUBLIC_ROUTES:
            return await handler(request)
        principal = identify(request)
        if principal is None:
            raise Unauthorized("a valid bearer token is required")
        request[_PRINCIPAL] = principal
        needed = request.app.get(_ACCESS, {}).get((method, canonical), Role.SUPERVISOR)
        if not principal.role.at_least(needed):
            raise Forbidden(f"this needs the {needed.value} role")
        return await handler(request)

    return auth
