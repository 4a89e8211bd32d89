"""The aiohttp application: middlewares, routes of every feature package, health, OpenAPI."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from aiohttp import web

from callcenter.acd import http as acd_http
from callcenter.acd.service import AcdService
from callcenter.callbacks import http as callbacks_http
from callcenter.callbacks.service import CallbackService
from callcenter.calls import http as calls_http
from callcenter.calls.service import CallLedgerService
from callcenter.customers import http as customers_http
from callcenter.customers.service import CustomerService
from callcenter.desk import controls_http
from callcenter.desk import http as desk_http
from callcenter.desk.controls import DeskControls
from callcenter.desk.service import DeskService
from callcenter.errors import CallcenterError
from callcenter.fod import http as fax_http
from callcenter.fod.service import FaxService
from callcenter.ivr import http as ivr_http
from callcenter.ivr.library import ScriptLibrary
from callcenter.prompts import http as prompts_http
from callcenter.prompts.service import PromptService
from callcenter.stats import http as stats_http
from callcenter.stats.repository import SqlStatsRepository
from callcenter.stats.service import StatsService
from callcenter.users import http as users_http
from callcenter.users.service import UserService
from callcenter.voicemail import http as voicemail_http
from callcenter.voicemail.feed import Feed
from callcenter.voicemail.service import VoicemailService
from callcenter.web import pages
from callcenter.web.auth import Handler, make_auth_middleware
from callcenter.web.errors import error_response
from callcenter.web.health import CHECKS_KEY, Check, health
from callcenter.web.openapi import openapi

log = logging.getLogger(__name__)


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except CallcenterError as exc:
        return error_response(exc)
    except web.HTTPException:
        raise
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(CallcenterError("internal error"))


def build_web_app(
    tokens: Sequence[str],
    ledger: CallLedgerService,
    acd: AcdService,
    callbacks: CallbackService,
    customers: CustomerService,
    scripts: ScriptLibrary,
    checks: list[Check],
    prompts: PromptService | None = None,
    stats: tuple[StatsService, SqlStatsRepository] | None = None,
    ws_origins: Sequence[str] = (),
    voicemail: tuple[VoicemailService, Feed] | None = None,
    users: UserService | None = None,
    desk: DeskService | None = None,
    fax: FaxService | None = None,
    desk_controls: DeskControls | None = None,
) -> web.Application:
    app = web.Application(
        middlewares=[errors_middleware, make_auth_middleware(tokens, users)],
        client_max_size=1024 * 1024,
    )
    app[CHECKS_KEY] = checks
    app[calls_http.LEDGER_KEY] = ledger
    app[acd_http.ACD_KEY] = acd
    app[callbacks_http.CALLBACKS_KEY] = callbacks
    app[customers_http.CUSTOMERS_KEY] = customers
    app[ivr_http.SCRIPTS_KEY] = scripts
    app.router.add_get("/health", health)
    app.router.add_get("/openapi.json", openapi)
    calls_http.add_routes(app)
    if desk_controls is not None:  # first: the ACD's agents/{agent}/{action} would take /spy
        controls_http.add_routes(app, desk_controls)
    acd_http.add_routes(app)
    callbacks_http.add_routes(app)
    customers_http.add_routes(app)
    ivr_http.add_routes(app)
    if prompts is not None:
        app[prompts_http.PROMPTS_KEY] = prompts
        prompts_http.add_routes(app)
    if stats is not None:
        app[stats_http.STATS_KEY], app[stats_http.STATS_LOG_KEY] = stats
        app[stats_http.ORIGINS_KEY] = tuple(ws_origins)
        stats_http.add_routes(app)
        pages.add_routes(app)
    if voicemail is not None:
        voicemail_http.add_routes(app, *voicemail, ws_origins)
    if users is not None:
        users_http.add_routes(app, users)
    if desk is not None:
        desk_http.add_routes(app, desk, ws_origins)
        pages.add_desk_route(app)
    if fax is not None:
        fax_http.add_routes(app, fax)
    return app
