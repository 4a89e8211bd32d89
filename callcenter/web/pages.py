"""The web pages the engine serves (wallboard, reports, staffing forecast). A page holds no
data: it asks for a token and reads everything through the authenticated API and websocket, so
the page itself is public."""

from __future__ import annotations

from importlib import resources

from aiohttp import web

PAGES = {
    "/wallboard": "wallboard.html",
    "/reports": "reports.html",  # figures per interval, CSV, complaint rates
    "/forecast": "forecast.html",  # Erlang C staffing
}
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-inline'; "
    "style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def _page(name: str) -> bytes:
    return resources.files("callcenter.web").joinpath("static", name).read_bytes()


def add_routes(app: web.Application) -> None:
    for path, name in PAGES.items():
        body = _page(name)

        async def serve(request: web.Request, body: bytes = body) -> web.Response:
            return web.Response(
                body=body, content_type="text/html", charset="utf-8", headers=_SECURITY_HEADERS
            )

        app.router.add_get(path, serve)
