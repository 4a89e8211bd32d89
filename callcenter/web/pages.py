"""The web pages the engine serves (wallboard, reports, staffing forecast, the agent's desk). A
page holds no data: it asks for a token (the desk: a name and password, exchanged for a session
token) and reads everything through the authenticated API and websocket, so the page itself is
public."""

from __future__ import annotations

from importlib import resources

from aiohttp import web

PAGES = {
    "/wallboard": "wallboard.html",
    "/reports": "reports.html",  # figures per interval, CSV, complaint rates
    "/forecast": "forecast.html",  # Erlang C staffing
}
DESK_PATH = "/desk"
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-inline'; "
    "style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def _page(name: str) -> bytes:
    return resources.files("callcenter.web").joinpath("static", name).read_bytes()


def _add_page(app: web.Application, path: str, name: str) -> None:
    body = _page(name)

    async def serve(request: web.Request) -> web.Response:
        return web.Response(
            body=body, content_type="text/html", charset="utf-8", headers=_SECURITY_HEADERS
        )

    app.router.add_get(path, serve)


def add_routes(app: web.Application) -> None:
    for path, name in PAGES.items():
        _add_page(app, path, name)


def add_desk_route(app: web.Application) -> None:
    """The agent console: log-in, state, screen-pop, call controls, notes, callbacks."""
    _add_page(app, DESK_PATH, "desk.html")
