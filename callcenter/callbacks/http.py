"""HTTP handlers of callback tasks: parse, call the service, serialise (auth: middleware)."""

from __future__ import annotations

import re
import uuid
from typing import Any

from aiohttp import web

from callcenter.callbacks.model import CallbackRequest, TaskAction, TaskStatus
from callcenter.callbacks.schemas import task_json
from callcenter.callbacks.service import CallbackService
from callcenter.errors import BadRequest
from callcenter.users.model import Role
from callcenter.web.auth import grant
from callcenter.web.params import int_param, json_object

CALLBACKS_KEY = web.AppKey("callbacks", CallbackService)
NUMBER = re.compile(r"\+?[0-9*#]{1,32}")
NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
TEXT_MAX = 500


def _text(body: dict[str, Any], key: str, pattern: re.Pattern[str] | None = None) -> str:
    value = body.get(key, "")
    if not isinstance(value, str) or len(value) > TEXT_MAX:
        raise BadRequest(f"{key} must be a string of at most {TEXT_MAX} characters")
    if pattern is not None and not pattern.fullmatch(value):
        raise BadRequest(f"{key} {value[:40]!r} is not valid")
    return value


async def list_callbacks(request: web.Request) -> web.Response:
    raw = request.query.get("status")
    try:
        status = TaskStatus(raw) if raw else None
    except ValueError:
        raise BadRequest(f"status must be one of {', '.join(TaskStatus)}") from None
    limit = int_param(request.query.get("limit"), "limit", 50, 1, 500) or 50
    before = int_param(request.query.get("before_id"), "before_id", None, 1, 2**62)
    tasks = await request.app[CALLBACKS_KEY].recent(status, limit, before)
    return web.json_response({"callbacks": [task_json(t) for t in tasks]})


async def get_callback(request: web.Request) -> web.Response:
    task_id = int_param(request.match_info["task"], "task", None, 1, 2**62) or 0
    return web.json_response(task_json(await request.app[CALLBACKS_KEY].get(task_id)))


async def book_callback(request: web.Request) -> web.Response:
    service = request.app[CALLBACKS_KEY]
    body = await json_object(request)
    booked = CallbackRequest(
        key=f"api:{uuid.uuid4().hex}",
        number=_text(body, "number", NUMBER),
        name=_text(body, "name"),
        call=_text(body, "call"),
        queue=_text(body, "queue", NAME),
        source="agent",
        note=_text(body, "note"),
        requested_at=service.now(),
    )
    task = await service.book(booked)
    return web.json_response(task_json(task), status=201)


async def act_on_callback(request: web.Request) -> web.Response:
    service = request.app[CALLBACKS_KEY]
    task_id = int_param(request.match_info["task"], "task", None, 1, 2**62) or 0
    try:
        action = TaskAction(request.match_info["action"])
    except ValueError:
        raise BadRequest(f"unknown action; one of {', '.join(TaskAction)}") from None
    body = await json_object(request)
    task = await service.act(task_id, action, _text(body, "agent"), _text(body, "note"))
    return web.json_response(task_json(task))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/callbacks", list_callbacks)
    grant(app, app.router.add_post("/api/v1/callbacks", book_callback), Role.AGENT)
    app.router.add_get("/api/v1/callbacks/{task}", get_callback)
    app.router.add_post("/api/v1/callbacks/{task}/{action}", act_on_callback)
