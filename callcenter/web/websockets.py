"""Websocket plumbing shared by the live feeds: the Origin check and a sender per client.

A browser sends ``Origin`` with every websocket handshake; a page of another site must not be
able to open the feed with a user's token, so the origin must be this server's own (the Host
the client addressed) or one the settings allow. Tools that send no Origin (not a browser) are
let through: they authenticate with the token like any API client.

:class:`LatestFrameSender` keeps at most one frame waiting per client: a slow or stalled client
misses intermediate snapshots and never delays the others, nor grows the engine's memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Collection
from urllib.parse import urlsplit

from aiohttp import web

from callcenter.errors import Forbidden

log = logging.getLogger(__name__)


def check_origin(request: web.Request, allowed: Collection[str] = ()) -> None:
    origin = request.headers.get("Origin")
    if origin is None:
        return
    parts = urlsplit(origin)
    if parts.netloc and parts.netloc == request.host:
        return
    if origin.rstrip("/") in allowed:
        return
    raise Forbidden(f"websocket origin {origin[:80]!r} is not allowed")


class LatestFrameSender:
    """Sends the newest text frame to one websocket; older unsent frames are dropped."""

    def __init__(self, ws: web.WebSocketResponse, send_timeout: float = 5.0) -> None:
        self._ws = ws
        self._timeout = send_timeout
        self._frame: str | None = None
        self._ready = asyncio.Event()
        self.dropped = 0
        self._task = asyncio.create_task(self._send_forever())

    def offer(self, text: str) -> None:
        if self._frame is not None:
            self.dropped += 1
        self._frame = text
        self._ready.set()

    async def _send_forever(self) -> None:
        while not self._ws.closed:
            await self._ready.wait()
            self._ready.clear()
            frame, self._frame = self._frame, None
            if frame is None:
                continue
            try:
                async with asyncio.timeout(self._timeout):
                    await self._ws.send_str(frame)
            except (TimeoutError, ConnectionError, RuntimeError) as exc:
                log.info("websocket client dropped: %s", exc or type(exc).__name__)
                await self._ws.close()
                return

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
