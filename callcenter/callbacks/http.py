"""HTTP handlers of callback tasks: parse, call the service, serialise (auth: middleware).

Agents are granted every route here; what they may do is the model's rule
(:func:`~callcenter.callbacks.model.check_actor`): tasks of the queues they serve, as
themselves. ``agent`` in a body names the agent acted for (an agent's own by default; a
supervisor may name anyone).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from aiohttp import web

from callcenter.callbacks.model import Actor, CallbackRequest, TaskAction, TaskStatus
from callcenter.callbacks.schemas import task_json
from callcenter.callbacks.service import CallbackService
from callcenter.errors import BadRequest, Forbidden
from callcenter.users.model import Role
from callcenter.web.auth import grant, principal_of, require_agent
from callcenter.web.params import int_param, json_object

CALLBACKS_KEY = web.AppKey("callbacks", CallbackService)
NUMBER = re.compile(r"\+?[0-9*#]{1,32}")
NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
TEXT_MAX = 500
FLAGS = {"true": True, "false": False}


def _text(body: dict[str, Any], key: str, pattern: re.Pattern[str] | None = None) -> str:
    value = body.get(key, "")
    if not isinstance(value, str) or len(value) > TEXT_MAX:
        raise BadRequest(f"{key} must be a string of at most {TEXT_MAX} characters")
    if pattern is not None and not pattern.fullmatch(value):
        raise BadRequest(f"{key} {value[:40]!r} is not valid")
    return value


def _actor(request: web.Request, body: dict[str, Any], required: bool = False) -> Actor:
    principal = principal_of(request)
    agent = _text(body, "agent") or principal.agent
    if agent:
        if not NAME.fullmatch(agent):
            raise BadRequest(f"agent {agent[:40]!r} is not valid")
        require_agent(request, agent)
    elif required:
        raise BadRequest("agent is required")
    supervisor = principal.role.at_least(Role.SUPERVISOR)
    return request.app[CALLBACKS_KEY].actor(agent, supervisor)


def _task_id(request: web.Request) -> int:
    return int_param(request.match_info["task"], "task", None, 1, 2**62) or 0


async def list_callbacks(request: web.Request) -> web.Response:
    query = request.query
    raw = query.get("status")
    try:
        status = TaskStatus(raw) if raw else None
    except ValueError:
        raise BadRequest(f"status must be one of {', '.join(TaskStatus)}") from None
    escalated = FLAGS.get(query.get("escalated", ""))
    if query.get("escalated") and escalated is None:
        raise BadRequest("escalated must be true or false")
    limit = int_param(query.get("limit"), "limit", 50, 1, 500) or 50
    before = int_param(query.get("before_id"), "before_id", None, 1, 2**62)
    actor = _actor(request, {})
    queues: frozenset[str] | None = None if actor.supervisor else actor.queues
    if wanted := query.get("queue"):
        if queues is not None and wanted not in queues:
            raise Forbidden(f"{actor.agent or 'this user'} does not serve {wanted[:64]!r}")
        queues = frozenset({wanted})
    tasks = await request.app[CALLBACKS_KEY].recent(
        status, limit, before, escalated=escalated, queues=queues
    )
    return web.json_response({"callbacks": [task_json(t) for t in tasks]})


async def get_callback(request: web.Request) -> web.Response:
    service = request.app[CALLBACKS_KEY]
    task = await service.get(_task_id(request), _actor(request, {}))
    return web.json_response(task_json(task))


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
    task_id = _task_id(request)
    try:
        action = TaskAction(request.match_info["action"])
    except ValueError:
        raise BadRequest(f"unknown action; one of {', '.join(TaskAction)}") from None
    body = await json_object(request)
    actor = _actor(request, body, required=action is TaskAction.CLAIM)
    task = await service.act(task_id, action, actor, _text(body, "note"))
    return web.json_response(task_json(task))


async def dial_callback(request: web.Request) -> web.Response:
    service = request.app[CALLBACKS_KEY]
    task_id = _task_id(request)
    actor = _actor(request, await json_object(request))
    task, leg = await service.dial(task_id, actor)
    return web.json_response({"task": task_json(task), "channel_id": leg})


def add_routes(app: web.Application) -> None:
    grant(app, app.router.add_get("/api/v1/callbacks", list_callbacks), Role.AGENT)
    grant(app, app.router.add_post("/api/v1/callbacks", book_callback), Role.AGENT)
    grant(app, app.router.add_get("/api/v1/callbacks/{task}", get_callback), Role.AGENT)
    # Before {action}: the first matching route wins.
    dial = app.router.add_post("/api/v1/callbacks/{task}/dial", dial_callback)
    grant(app, dial, Role.AGENT)
    act = app.router.add_post("/api/v1/callbacks/{task}/{action}", act_on_callback)
    grant(app, act, Role.AGENT)
