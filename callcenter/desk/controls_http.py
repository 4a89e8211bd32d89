"""HTTP handlers of the call controls: authenticate, parse, call :class:`DeskControls`.

An agent acts on their own call only (:func:`~callcenter.web.auth.require_agent`: another
agent's id answers 403); supervisors and admins act on any agent's call, and only they may
listen, whisper or barge.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from callcenter.desk.controls import DeskControls, SpyMode
from callcenter.errors import BadRequest
from callcenter.users.model import Role
from callcenter.web.auth import grant, require_agent
from callcenter.web.params import json_object

CONTROLS_KEY = web.AppKey("desk_controls", DeskControls)
CALL_ROUTE = "/api/v1/agents/{agent}/call/{action}"
SPY_ROUTE = "/api/v1/agents/{agent}/spy"

Action = Callable[[DeskControls, str, dict[str, Any]], Awaitable[dict[str, Any]]]


def _text(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise BadRequest(f"{key} must be a non-empty string")
    return value


def _flag(body: dict[str, Any], key: str) -> bool:
    value = body.get(key, False)
    if not isinstance(value, bool):
        raise BadRequest(f"{key} must be true or false")
    return value


async def _transfer(controls: DeskControls, agent: str, body: dict[str, Any]) -> dict[str, Any]:
    target = controls.check_target(_text(body, "kind"), _text(body, "target"), agent)
    return await controls.transfer(agent, target, attended=_flag(body, "attended"))


async def _conference(controls: DeskControls, agent: str, body: dict[str, Any]) -> dict[str, Any]:
    """``{"number": ...}`` or ``{"agent": ...}``: the third party."""
    kinds = [kind for kind in ("agent", "number") if kind in body]
    if len(kinds) != 1:
        raise BadRequest("give exactly one of agent or number")
    target = controls.check_target(kinds[0], _text(body, kinds[0]), agent)
    return await controls.conference(agent, target)


ACTIONS: dict[str, Action] = {
    "hold": lambda c, agent, body: c.hold(agent),
    "resume": lambda c, agent, body: c.resume(agent),
    "transfer": _transfer,
    "transfer_complete": lambda c, agent, body: c.transfer_complete(agent),
    "transfer_cancel": lambda c, agent, body: c.transfer_cancel(agent),
    "conference": _conference,
    "hangup": lambda c, agent, body: c.hangup(agent),
    "record_start": lambda c, agent, body: c.record_start(agent),
    "record_stop": lambda c, agent, body: c.record_stop(agent),
    "record_pause": lambda c, agent, body: c.record_pause(agent),
    "record_resume": lambda c, agent, body: c.record_resume(agent),
}


async def call_action(request: web.Request) -> web.Response:
    agent = request.match_info["agent"]
    require_agent(request, agent)
    action = ACTIONS.get(request.match_info["action"])
    if action is None:
        raise BadRequest(f"unknown call control; one of {', '.join(ACTIONS)}")
    body = await json_object(request)
    return web.json_response(await action(request.app[CONTROLS_KEY], agent, body))


async def spy(request: web.Request) -> web.Response:
    agent = request.match_info["agent"]
    body = await json_object(request)
    try:
        mode = SpyMode(body.get("mode", SpyMode.LISTEN.value))
    except ValueError:
        raise BadRequest("mode must be one of listen, whisper, barge") from None
    controls = request.app[CONTROLS_KEY]
    return web.json_response(await controls.spy(agent, mode, _text(body, "endpoint")))


def add_routes(app: web.Application, controls: DeskControls) -> None:
    """Register before the ACD's ``/api/v1/agents/{agent}/{action}``, which would otherwise
    take ``.../spy`` as an unknown agent action (routes match in the order added)."""
    app[CONTROLS_KEY] = controls
    grant(app, app.router.add_post(CALL_ROUTE, call_action), Role.AGENT)
    app.router.add_post(SPY_ROUTE, spy)
