"""HTTP side of the agent's desk: the desk websocket and the live pop (auth: middleware).

The websocket protocol (``GET /api/v1/desk/feed?agent=ID``, token as ``access_token``):

- server → desk, JSON text messages with a ``type``:
  ``snapshot`` (first, and after every reconnect: ``agent`` state and ``pops``, the pops of
  calls still ringing or connected), ``pop`` (a new offer: ``pop`` with caller, customer,
  history, IVR path and inputs, queue, seconds waited, status), ``pop_status`` (``id`` and
  ``status``: connected, withdrawn, ended), ``acked`` (``id``), ``state`` (``agent``),
  ``error`` (``message``).
  Callback tasks (:mod:`callcenter.callbacks`), to the agents who serve the task's queue:
  ``task`` (``task``: a task to take, new or given back; right after the snapshot, one per
  open task of the agent's queues), ``task_status`` (``id``, ``status``: taken, done,
  cancelled; ``by``: who claimed or closed it); to the desks a supervisor opened only:
  ``task_escalated`` (``task``: left unhandled for ``callbacks.escalate_after`` seconds).
  To every desk: ``fax_received`` (``fax``: id, caller, pages, remote station, status, at).
- desk → server: ``{"type": "ack", "id": POP_ID}`` acknowledges a pop.

An agent opens their own desk only (``agent`` defaults to theirs); supervisors may open any.
A client keys pops and tasks by ``id``: a snapshot replaces the pops it had, and a task seen
again replaces the one shown, so nothing shows twice.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from aiohttp import WSMsgType, web

from callcenter.desk.service import DeskClient, DeskService
from callcenter.errors import BadRequest, CallcenterError, NotFound
from callcenter.users.model import Role
from callcenter.web.auth import grant, principal_of, require_agent
from callcenter.web.websockets import check_origin, close_feeds_at_shutdown, track_feed

DESK_KEY = web.AppKey("desk", DeskService)
ORIGINS_KEY = web.AppKey("desk_origins", tuple[str, ...])


def _agent(request: web.Request) -> str:
    principal = principal_of(request)
    agent = request.query.get("agent") or principal.agent
    if not agent:
        raise BadRequest("agent is required")
    require_agent(request, agent)
    return agent


async def feed(request: web.Request) -> web.WebSocketResponse:
    desk = request.app[DESK_KEY]
    origins: tuple[str, ...] = request.app[ORIGINS_KEY]
    check_origin(request, origins)
    agent = _agent(request)
    ws = web.WebSocketResponse(heartbeat=30, max_msg_size=4096, compress=False)
    await ws.prepare(request)
    track_feed(request, ws)
    supervisor = principal_of(request).role.at_least(Role.SUPERVISOR)
    client = DeskClient(ws, request.transport, supervisor=supervisor)
    desk.attach(agent, client)
    await desk.opening(agent, client)
    try:
        async for message in ws:
            if message.type is not WSMsgType.TEXT:
                if message.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                    break
                continue
            await _handle(desk, agent, ws, message.data)
    finally:
        desk.detach(agent, client)
    return ws


async def _handle(desk: DeskService, agent: str, ws: web.WebSocketResponse, data: str) -> None:
    try:
        body = json.loads(data)
        if not isinstance(body, dict) or body.get("type") != "ack":
            raise BadRequest('send {"type": "ack", "id": POP_ID}')
        pop = body.get("id")
        if not isinstance(pop, str):
            raise BadRequest("id must be a string")
        desk.acknowledge(agent, pop)
    except ValueError:
        await ws.send_json({"type": "error", "message": "messages are JSON"})
    except CallcenterError as exc:
        await ws.send_json({"type": "error", "message": str(exc)})


async def live_pop(request: web.Request) -> web.Response:
    """The pop of the agent's call ringing or connected now (404 when there is none)."""
    agent = _agent(request)
    pop = await request.app[DESK_KEY].filled_pop(agent)
    if pop is None:
        raise _NoPop(f"{agent} has no call ringing or connected")
    return web.json_response(pop.json())


async def ack_pop(request: web.Request) -> web.Response:
    agent = _agent(request)
    request.app[DESK_KEY].acknowledge(agent, request.match_info["pop"])
    return web.json_response({"acked": request.match_info["pop"]})


class _NoPop(NotFound):
    code = "no_pop"


def add_routes(app: web.Application, desk: DeskService, origins: Sequence[str]) -> None:
    app[DESK_KEY] = desk
    app[ORIGINS_KEY] = tuple(origins)
    close_feeds_at_shutdown(app)
    grant(app, app.router.add_get("/api/v1/desk/feed", feed), Role.AGENT)
    grant(app, app.router.add_get("/api/v1/desk/pop", live_pop), Role.AGENT)
    grant(app, app.router.add_post("/api/v1/desk/pop/{pop}/ack", ack_pop), Role.AGENT)
