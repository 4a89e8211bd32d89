"""HTTP handlers of log-in sessions and user administration (auth: middleware)."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from callcenter.errors import BadRequest
from callcenter.users.model import Role, User
from callcenter.users.service import UserService
from callcenter.web.auth import grant, principal_of
from callcenter.web.params import json_object

USERS_KEY = web.AppKey("users", UserService)


def _text(body: dict[str, object], name: str, default: str | None = None) -> str:
    value = body.get(name, default)
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be a string")
    return value


async def login(request: web.Request) -> web.Response:
    """Name and password in, a session token out (public)."""
    body = await json_object(request)
    session = await request.app[USERS_KEY].login(_text(body, "name"), _text(body, "password"))
    return web.json_response(
        {
            "token": session.token,
            "expires_at": datetime.fromtimestamp(session.expires, UTC).isoformat(),
            "user": session.user.public(),
        }
    )


async def whoami(request: web.Request) -> web.Response:
    principal = principal_of(request)
    return web.json_response(
        {"name": principal.name, "role": principal.role.value, "agent": principal.agent}
    )


async def logout(request: web.Request) -> web.Response:
    """Ends every session of the user who asks (a service token has none)."""
    principal = principal_of(request)
    service = request.app[USERS_KEY]
    if any(u.name == principal.name for u in service.list()):
        await service.logout(principal.name)
    return web.json_response({"logged_out": principal.name})


async def list_users(request: web.Request) -> web.Response:
    return web.json_response({"users": [u.public() for u in request.app[USERS_KEY].list()]})


async def put_user(request: web.Request) -> web.Response:
    """Create or change a user; a new user needs a password; a change ends their sessions."""
    body = await json_object(request)
    password = body.get("password")
    if password is not None and not isinstance(password, str):
        raise BadRequest("password must be a string")
    disabled = body.get("disabled", False)
    if not isinstance(disabled, bool):
        raise BadRequest("disabled must be true or false")
    user: User = await request.app[USERS_KEY].put(
        request.match_info["name"],
        _text(body, "role"),
        _text(body, "agent", ""),
        password,
        disabled,
    )
    return web.json_response(user.public())


async def delete_user(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    await request.app[USERS_KEY].delete(name)
    return web.json_response({"deleted": name})


def add_routes(app: web.Application, users: UserService) -> None:
    app[USERS_KEY] = users
    app.router.add_post("/api/v1/session", login)
    grant(app, app.router.add_get("/api/v1/session", whoami), Role.AGENT)
    grant(app, app.router.add_delete("/api/v1/session", logout), Role.AGENT)
    grant(app, app.router.add_get("/api/v1/users", list_users), Role.ADMIN)
    grant(app, app.router.add_put("/api/v1/users/{name}", put_user), Role.ADMIN)
    grant(app, app.router.add_delete("/api/v1/users/{name}", delete_user), Role.ADMIN)
