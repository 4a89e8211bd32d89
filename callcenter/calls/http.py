"""HTTP handlers of the call ledger: parse, call one service, serialise (auth: middleware)."""

from __future__ import annotations

from aiohttp import web

from callcenter.calls.schemas import call_json
from callcenter.calls.service import CallLedgerService
from callcenter.errors import BadRequest, NotFound

LEDGER_KEY = web.AppKey("call_ledger", CallLedgerService)


def _int_param(
    request: web.Request, name: str, default: int | None, low: int, high: int
) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer") from None
    if not low <= value <= high:
        raise BadRequest(f"{name} must be between {low} and {high}")
    return value


async def list_calls(request: web.Request) -> web.Response:
    limit = _int_param(request, "limit", 50, 1, 500) or 50
    before = _int_param(request, "before_id", None, 1, 2**62)
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
