"""HTTP handlers of the ACD: parse, call the service, serialise (auth: middleware).

Agent actions go through the same ACD state machine as the phone and supervisors; a request
that does not fit the agent's state answers 409 with the state machine's reason.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from callcenter.acd.model import (
    AcdEvent,
    AgentEndWrapUp,
    AgentLogin,
    AgentLogout,
    AgentPause,
    AgentPauseAfterCall,
    AgentUnpause,
    QueueChanged,
)
from callcenter.acd.schemas import agent_json, queue_json
from callcenter.acd.service import AcdService
from callcenter.acd.settings import QueueSettings
from callcenter.errors import BadRequest
from callcenter.users.model import Role
from callcenter.web.auth import grant, require_agent
from callcenter.web.params import json_object

ACD_KEY = web.AppKey("acd", AcdService)
REASON_MAX = 64


def _reason(body: dict[str, Any], default: str) -> str:
    reason = body.get("reason", default)
    if not isinstance(reason, str) or not reason or len(reason) > REASON_MAX:
        raise BadRequest(f"reason must be a non-empty string of at most {REASON_MAX} characters")
    return reason


ACTIONS: dict[str, Callable[[str, dict[str, Any], Any], AcdEvent]] = {
    "login": lambda agent, body, at: AgentLogin(agent, at),
    "logout": lambda agent, body, at: AgentLogout(agent, at),
    "pause": lambda agent, body, at: AgentPause(agent, _reason(body, "break"), at),
    "unpause": lambda agent, body, at: AgentUnpause(agent, at),
    "pause-after-call": lambda agent, body, at: AgentPauseAfterCall(
        agent, _reason(body, "break"), at
    ),
    "end-wrap-up": lambda agent, body, at: AgentEndWrapUp(agent, at),
}


async def list_agents(request: web.Request) -> web.Response:
    acd = request.app[ACD_KEY]
    return web.json_response({"agents": [agent_json(a) for a in acd.core.agents()]})


async def get_agent(request: web.Request) -> web.Response:
    acd = request.app[ACD_KEY]
    agent = request.match_info["agent"]
    require_agent(request, agent)
    return web.json_response(agent_json(acd.core.agent(agent)))


async def agent_action(request: web.Request) -> web.Response:
    acd = request.app[ACD_KEY]
    agent = request.match_info["agent"]
    require_agent(request, agent)
    make = ACTIONS.get(request.match_info["action"])
    if make is None:
        raise BadRequest(f"unknown action; one of {', '.join(ACTIONS)}")
    acd.core.agent(agent)  # 404 for an unknown agent
    await acd.apply(make(agent, await json_object(request), acd.now()))
    return web.json_response(agent_json(acd.core.agent(agent)))


async def list_queues(request: web.Request) -> web.Response:
    acd = request.app[ACD_KEY]
    return web.json_response({"queues": [queue_json(q) for q in acd.core.queues(acd.now())]})


async def get_queue(request: web.Request) -> web.Response:
    acd = request.app[ACD_KEY]
    return web.json_response(queue_json(acd.core.queue(request.match_info["queue"], acd.now())))


async def patch_queue(request: web.Request) -> web.Response:
    """Change a queue at run time (strategy included); effective from the next decision."""
    acd = request.app[ACD_KEY]
    queue_id = request.match_info["queue"]
    current = acd.core.queue_config(queue_id)
    changes = await json_object(request)
    try:
        merged = QueueSettings.model_validate({**_settings_of(current), **changes})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise BadRequest(problems) from None
    await acd.apply(QueueChanged(merged.to_core(queue_id), acd.now()))
    return web.json_response(queue_json(acd.core.queue(queue_id, acd.now())))


def _settings_of(config: Any) -> dict[str, Any]:
    values = dataclasses.asdict(config)
    values.pop("id")
    return {k: v for k, v in values.items() if v is not None}


async def call_trace(request: web.Request) -> web.Response:
    acd = request.app[ACD_KEY]
    decisions = acd.core.trace(request.match_info["linkedid"])
    return web.json_response({"decisions": [d.as_json() for d in decisions]})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/agents", list_agents)
    grant(app, app.router.add_get("/api/v1/agents/{agent}", get_agent), Role.AGENT)
    grant(app, app.router.add_post("/api/v1/agents/{agent}/{action}", agent_action), Role.AGENT)
    app.router.add_get("/api/v1/queues", list_queues)
    app.router.add_get("/api/v1/queues/{queue}", get_queue)
    grant(app, app.router.add_patch("/api/v1/queues/{queue}", patch_queue), Role.ADMIN)
    app.router.add_get("/api/v1/calls/{linkedid}/trace", call_trace)
