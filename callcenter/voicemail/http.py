"""HTTP handlers of voicemail: messages per mailbox, their audio, heard, delete (audited), the
deliveries of a message, and the live feed of new messages per group (auth: middleware).

Agents are granted the reading routes and "heard" for the mailboxes whose group is a queue
they serve (:meth:`VoicemailService.readable`), as themselves; supervisors read everything;
deleting needs a supervisor (the route is not granted to agents)."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Sequence
from datetime import datetime

from aiohttp import WSCloseCode, WSMsgType, web

from callcenter.errors import BadRequest, Forbidden
from callcenter.users.model import Role
from callcenter.voicemail.feed import Feed, Subscriber
from callcenter.voicemail.schemas import delivery_json, message_json
from callcenter.voicemail.service import VoicemailService
from callcenter.web.auth import grant, principal_of, require_agent
from callcenter.web.params import int_param, json_object
from callcenter.web.websockets import check_origin, close_feeds_at_shutdown, track_feed

VOICEMAIL_KEY = web.AppKey("voicemail", VoicemailService)
FEED_KEY = web.AppKey("voicemail_feed", Feed)
ORIGINS_KEY = web.AppKey("voicemail_ws_origins", tuple[str, ...])
NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
SEND_TIMEOUT = 5.0


def _name(raw: str | None, what: str, required: bool = False) -> str | None:
    if raw is None or raw == "":
        if required:
            raise BadRequest(f"{what} is required")
        return None
    if not NAME.fullmatch(raw):
        raise BadRequest(f"{what} {raw[:40]!r} is not valid")
    return raw


def _allowed(request: web.Request) -> frozenset[str] | None:
    """The mailboxes the caller may read; None: every one (supervisors and admins)."""
    principal = principal_of(request)
    if principal.role.at_least(Role.SUPERVISOR):
        return None
    return request.app[VOICEMAIL_KEY].readable(principal.agent)


async def mailboxes(request: web.Request) -> web.Response:
    boxes = request.app[VOICEMAIL_KEY].mailboxes()
    allowed = _allowed(request)
    return web.json_response(
        {
            "mailboxes": [
                {"name": name, "group": box.group, "max_seconds": box.max_seconds}
                for name, box in sorted(boxes.items())
                if allowed is None or name in allowed
            ]
        }
    )


async def list_messages(request: web.Request) -> web.Response:
    query = request.query
    mailbox = _name(query.get("mailbox"), "mailbox")
    limit = int_param(query.get("limit"), "limit", 50, 1, 500) or 50
    before: datetime | None = None
    if raw := query.get("before"):
        try:
            before = datetime.fromisoformat(raw)
        except ValueError:
            raise BadRequest("before must be an ISO 8601 time") from None
        if before.tzinfo is None:
            raise BadRequest("before must carry a time zone")
    deleted = query.get("deleted", "false") == "true"
    allowed = _allowed(request)
    found = await request.app[VOICEMAIL_KEY].messages(mailbox, deleted, limit, before, allowed)
    return web.json_response({"messages": [message_json(m) for m in found]})


async def get_message(request: web.Request) -> web.Response:
    message = await request.app[VOICEMAIL_KEY].get(request.match_info["message"], _allowed(request))
    return web.json_response(message_json(message))


async def message_audio(request: web.Request) -> web.FileResponse:
    path = await request.app[VOICEMAIL_KEY].audio(request.match_info["message"], _allowed(request))
    return web.FileResponse(path, headers={"Content-Type": "audio/wav"})


async def mark_heard(request: web.Request) -> web.Response:
    body = await json_object(request)
    raw = body.get("by") if isinstance(body.get("by"), str) else None
    by = _name(raw or principal_of(request).agent or None, "by", True) or ""
    allowed = _allowed(request)
    if allowed is not None:
        require_agent(request, by)  # an agent marks as themselves
    message = await request.app[VOICEMAIL_KEY].mark_heard(
        request.match_info["message"], by, allowed
    )
    return web.json_response(message_json(message))


async def delete_message(request: web.Request) -> web.Response:
    by = _name(request.query.get("by"), "by", True) or ""
    message = await request.app[VOICEMAIL_KEY].delete(request.match_info["message"], by)
    return web.json_response(message_json(message))


async def message_deliveries(request: web.Request) -> web.Response:
    found = await request.app[VOICEMAIL_KEY].deliveries(
        request.match_info["message"], _allowed(request)
    )
    return web.json_response({"deliveries": [delivery_json(d) for d in found]})


async def feed(request: web.Request) -> web.WebSocketResponse:
    """Every new message of ``group`` (all groups without it), one JSON text frame each."""
    origins: tuple[str, ...] = request.app[ORIGINS_KEY]
    check_origin(request, origins)
    group = _name(request.query.get("group"), "group") or ""
    allowed = _allowed(request)
    if allowed is not None:
        boxes = request.app[VOICEMAIL_KEY].mailboxes()
        if not group or not any(boxes[name].group == group for name in allowed):
            raise Forbidden("agents follow the group of a mailbox they may read")
    ws = web.WebSocketResponse(heartbeat=30, max_msg_size=4096)
    await ws.prepare(request)
    track_feed(request, ws)
    subscriber, unsubscribe = request.app[FEED_KEY].subscribe(group)
    sender = asyncio.create_task(_send(ws, subscriber))
    try:
        async for message in ws:
            if message.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                break
    finally:
        unsubscribe()
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sender
    return ws


async def _send(ws: web.WebSocketResponse, subscriber: Subscriber) -> None:
    while not ws.closed:
        if subscriber.overflowed:  # too slow: it reconnects and reads the list instead
            await ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"too slow")
            return
        text = await subscriber.inbox.get()
        try:
            async with asyncio.timeout(SEND_TIMEOUT):
                await ws.send_str(text)
        except (TimeoutError, ConnectionError, RuntimeError):
            await ws.close()
            return


def add_routes(
    app: web.Application, service: VoicemailService, live: Feed, origins: Sequence[str]
) -> None:
    app[VOICEMAIL_KEY] = service
    app[FEED_KEY] = live
    app[ORIGINS_KEY] = tuple(origins)
    close_feeds_at_shutdown(app)
    router = app.router
    for route in (
        router.add_get("/api/v1/voicemail/mailboxes", mailboxes),
        router.add_get("/api/v1/voicemail/messages", list_messages),
        router.add_get("/api/v1/voicemail/messages/{message}", get_message),
        router.add_get("/api/v1/voicemail/messages/{message}/audio", message_audio),
        router.add_get("/api/v1/voicemail/messages/{message}/deliveries", message_deliveries),
        router.add_post("/api/v1/voicemail/messages/{message}/heard", mark_heard),
        router.add_get("/api/v1/voicemail/feed", feed),
    ):
        grant(app, route, Role.AGENT)
    router.add_delete("/api/v1/voicemail/messages/{message}", delete_message)  # supervisors
