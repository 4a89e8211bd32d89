"""HTTP handlers of the statistics: live figures (REST and websocket), definitions, reports
with CSV export, complaint rates by product model and region, the Erlang C staffing
calculator, and Prometheus metrics."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import WSMsgType, web

from callcenter.calls.http import LEDGER_KEY
from callcenter.customers.http import CUSTOMERS_KEY
from callcenter.errors import BadRequest
from callcenter.stats import complaints
from callcenter.stats.complaints import complaint_calls, complaint_rates
from callcenter.stats.erlang import Staffing, erlang_c, occupancy, service_level, staffing
from callcenter.stats.erlang import asa as erlang_asa
from callcenter.stats.intervals import Granularity, report, to_csv
from callcenter.stats.kpi import Scope, figures
from callcenter.stats.model import Window
from callcenter.stats.repository import SqlStatsRepository
from callcenter.stats.service import StatsService
from callcenter.web.params import int_param
from callcenter.web.websockets import (
    FeedClient,
    check_origin,
    close_feeds_at_shutdown,
    track_feed,
)

STATS_KEY = web.AppKey("stats", StatsService)
STATS_LOG_KEY = web.AppKey("stats_log", SqlStatsRepository)
ORIGINS_KEY = web.AppKey("ws_origins", tuple[str, ...])
MAX_REPORT_DAYS = 400


async def live(request: web.Request) -> web.Response:
    return web.json_response(request.app[STATS_KEY].snapshot())


async def live_definitions(request: web.Request) -> web.Response:
    return web.json_response(request.app[STATS_KEY].definitions())


async def live_feed(request: web.Request) -> web.WebSocketResponse:
    """The snapshot at once, then every push; the client sends nothing (pings are answered)."""
    origins: tuple[str, ...] = request.app[ORIGINS_KEY]
    check_origin(request, origins)
    ws = web.WebSocketResponse(heartbeat=30, max_msg_size=4096, compress=False)
    await ws.prepare(request)
    track_feed(request, ws)
    client = FeedClient(ws, request.transport)
    unsubscribe = request.app[STATS_KEY].subscribe(client.offer)
    try:
        async for message in ws:
            if message.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                break
    finally:
        unsubscribe()
    return ws


def _time(raw: str | None, name: str, zone: ZoneInfo) -> datetime:
    if raw is None:
        raise BadRequest(f"{name} is required (ISO 8601 date or time)")
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise BadRequest(f"{name} {raw[:40]!r} is not an ISO 8601 date or time") from None
    return value if value.tzinfo else value.replace(tzinfo=zone)


def _range(request: web.Request) -> tuple[ZoneInfo, datetime, datetime]:
    """The report's zone and its [start, end) from the query (a date alone is local midnight)."""
    try:
        zone = ZoneInfo(request.query.get("timezone", request.app[STATS_KEY].timezone))
    except (ValueError, ZoneInfoNotFoundError):
        raise BadRequest("timezone is not a known time zone") from None
    start = _time(request.query.get("start"), "start", zone)
    end = _time(request.query.get("end"), "end", zone)
    if not start < end or (end - start).days > MAX_REPORT_DAYS:
        raise BadRequest(f"start must be before end, at most {MAX_REPORT_DAYS} days apart")
    return zone, start, end


async def reports(request: web.Request) -> web.StreamResponse:
    """Figures per interval (15min, hour, day, month) over [start, end), by overall, queue or
    agent; ``format=csv`` for a spreadsheet."""
    service = request.app[STATS_KEY]
    zone, start, end = _range(request)
    try:
        granularity = Granularity(request.query.get("granularity", "hour"))
        scope = Scope(request.query.get("scope", "overall"))
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    records = await request.app[STATS_LOG_KEY].between(start, end)
    buckets = report(records, Window(start, end), granularity, zone, service.kpi)
    if request.query.get("format") == "csv":
        return web.Response(
            text=to_csv(buckets, scope, service.kpi),
            content_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="report.csv"'},
        )
    rows: list[dict[str, Any]] = []
    for bucket in buckets:
        totals = {
            Scope.OVERALL: {"": bucket.report.overall},
            Scope.QUEUE: bucket.report.queues,
            Scope.AGENT: bucket.report.agents,
        }[scope]
        for key, value in sorted(totals.items()):
            rows.append(
                {
                    "start": bucket.bucket.start.isoformat(),
                    "end": bucket.bucket.end.isoformat(),
                    "key": key,
                    "figures": figures(value, scope, service.kpi),
                }
            )
    return web.json_response({"granularity": granularity.value, "scope": scope.value, "rows": rows})


# --- complaint rates (callcenter.stats.complaints) -----------------------------------------


async def complaint_report(request: web.Request) -> web.Response:
    """Complaint calls per 100 customers by product model, region and both, over [start, end);
    ``format=csv`` for a spreadsheet."""
    _, start, end = _range(request)
    window = Window(start, end)
    queues = request.app[STATS_KEY].complaint_queues
    records = await request.app[STATS_LOG_KEY].between(start, end)
    ledger = await request.app[LEDGER_KEY].by_linkedids(complaint_calls(records, window, queues))
    customers = request.app[CUSTOMERS_KEY]
    matched = await customers.by_phones(row.caller_num for row in ledger)
    result = complaint_rates(records, window, queues, ledger, matched, await customers.profiles())
    if request.query.get("format") == "csv":
        return web.Response(
            text=complaints.to_csv(result),
            content_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="complaints.csv"'},
        )
    return web.json_response(complaints.to_json(result))


# --- staffing ------------------------------------------------------------------------------

MAX_SWEEP = 20


def _number(request: web.Request, name: str, default: float | None = None) -> float:
    raw = request.query.get(name)
    if raw is None:
        if default is None:
            raise BadRequest(f"{name} is required")
        return default
    try:
        value = float(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a number") from None
    if not math.isfinite(value):
        raise BadRequest(f"{name} must be finite")
    return value


async def erlang(request: web.Request) -> web.Response:
    """Agents needed for a service level: Erlang C from forecast volume and handle time;
    ``sweep=k`` adds the figures for ``k`` fewer to ``k`` more agents (k <= 20)."""
    around = int_param(request.query.get("sweep"), "sweep", 0, 0, MAX_SWEEP) or 0
    result = staffing(
        calls=_number(request, "calls"),
        period_seconds=_number(request, "period", 1800),
        aht=_number(request, "aht"),
        threshold=_number(request, "threshold", 20),
        target=_number(request, "target", 0.8),
        shrinkage=_number(request, "shrinkage", 0),
    )
    return web.json_response(
        {
            "traffic_erlangs": result.traffic,
            "agents": result.agents,
            "positions": result.positions,
            "wait_probability": result.wait_probability,
            "service_level": result.service_level,
            "asa_seconds": result.asa,
            "occupancy": result.occupancy,
        }
        | ({"sweep": _sweep(request, result, around)} if around else {})
    )


def _sweep(request: web.Request, result: Staffing, around: int) -> list[dict[str, Any]]:
    """Pw, SL, ASA and occupancy for ``agents - around`` to ``agents + around`` agents; an
    ASA without bound (agents <= traffic) is null."""
    aht = _number(request, "aht")
    threshold = _number(request, "threshold", 20)
    rows: list[dict[str, Any]] = []
    for n in range(max(1, result.agents - around), result.agents + around + 1):
        wait = erlang_asa(result.traffic, n, aht)
        rows.append(
            {
                "agents": n,
                "wait_probability": erlang_c(result.traffic, n),
                "service_level": service_level(result.traffic, n, aht, threshold),
                "asa_seconds": wait if math.isfinite(wait) else None,
                "occupancy": occupancy(result.traffic, n),
            }
        )
    return rows


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text format: today's figures per queue and overall, live gauges."""
    snapshot = request.app[STATS_KEY].snapshot()
    lines: list[str] = []
    seen: set[str] = set()

    def metric(name: str, value: object, labels: dict[str, str]) -> None:
        if not isinstance(value, int | float) or isinstance(value, bool):
            return
        full = f"callcenter_{name}"
        if full not in seen:
            seen.add(full)
            lines.append(f"# TYPE {full} gauge")
        label = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
        lines.append(f"{full}{{{label}}} {value}")

    for name, value in snapshot["overall"].items():
        metric(f"today_{name}", value, {"queue": ""})
    for queue, values in snapshot["queues"].items():
        for name, value in values.items():
            metric(f"today_{name}", value, {"queue": queue})
    for queue, state in snapshot["live"]["queues"].items():
        metric("callers_waiting", state["waiting"], {"queue": queue})
        metric("longest_wait_seconds", state["longest_wait"], {"queue": queue})
        for agent_state, count in state["agents_by_state"].items():
            metric("agents", count, {"queue": queue, "state": agent_state})
    lines.sort(key=lambda line: line.startswith("#") is False)
    return web.Response(text="\n".join(_grouped(lines)) + "\n", content_type="text/plain")


def _grouped(lines: list[str]) -> list[str]:
    """Samples under their ``# TYPE`` line, as the text format wants."""
    types = [line for line in lines if line.startswith("# TYPE")]
    out: list[str] = []
    for type_line in types:
        name = type_line.split()[2]
        out.append(type_line)
        out += [line for line in lines if line.startswith(name + "{")]
    return out


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def add_routes(app: web.Application) -> None:
    close_feeds_at_shutdown(app)
    app.router.add_get("/api/v1/stats/live", live)
    app.router.add_get("/api/v1/stats/definitions", live_definitions)
    app.router.add_get("/api/v1/stats/feed", live_feed)
    app.router.add_get("/api/v1/reports", reports)
    app.router.add_get("/api/v1/reports/complaints", complaint_report)
    app.router.add_get("/api/v1/forecast/erlang", erlang)
    app.router.add_get("/metrics", metrics)
