"""HTTP handlers of the call ledger: parse, call one service, serialise (auth: middleware)."""

from __future__ import annotations

from aiohttp import web

from callcenter.calls.schemas import call_json
from callcenter.calls.service import CallLedgerService
from callcenter.errors import NotFound
from callcenter.web.params import int_param

LEDGER_KEY = web.AppKey("call_ledger", CallLedgerService)


async def list_calls(request: web.Request) -> web.Response:
    limit = int_param(request.query.get("limit"), "limit", 50, 1, 500) or 50
    before = int_param(request.query.get("before_id"), "before_id", None, 1, 2**62)
    records = await request.app[LEDGER_KEY].recent(limit, before)
    return web.json_response({"calls": [call_json(r) for r in records]})


async def get_call(request: web.Request) -> web.Response:
    linkedid = request.match_info["linkedid"]
    record = await request.app[LEDGER_KEY].get(linkedid)
    if record is None:
        raise NotFound(f"no call {linkedid!r}")
    return web.json_response(call_json(record))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/calls", list_calls)
    app.router.add_get("/api/v1/calls/{linkedid}", get_call)
